// The workspace's publishing (lsp/workspace.ts), driven in-process: after a
// re-check only the files whose diagnostics changed are published, and
// files left as they were keep the very diagnostics already converted
// (review R1-40: a keystroke must not re-convert every open file's).

import { describe, expect, it } from "vitest";
import type { Diagnostic } from "vscode-languageserver";
import { Workspace } from "../lsp/workspace.ts";
import { uriOf } from "../lsp/uris.ts";

const bad = (n: number) =>
  `dim B\nmodel m {\n  input x: [B, 3]\n  input y: [B, ${n}]\n  output z = x + y\n}\n`;
const good = "dim B\nmodel m {\n  input x: [B, 3]\n  output z = x + x\n}\n";

describe("workspace publishing", () => {
  it("publishes only what changed, reusing the other files' converted diagnostics", () => {
    const sent: [string, Diagnostic[]][] = [];
    const ws = new Workspace({ publish: (u, d) => sent.push([u, d]), log: (m) => expect.fail(m) });
    const files = ["/nowhere/a.dlg", "/nowhere/b.dlg", "/nowhere/c.dlg"];
    files.forEach((f, i) => ws.update(f, uriOf(f), bad(4 + i), true));
    const first = new Map(sent.map(([u, d]) => [u, d]));
    for (const f of files) expect(first.get(uriOf(f))).toHaveLength(1);
    expect(first.get(uriOf(files[2]!))![0]!.message).toContain("[B, 6]");

    // Fix a: only a is published (empty), b and c are not sent again.
    sent.length = 0;
    ws.update(files[0]!, uriOf(files[0]!), good, true);
    expect(sent).toEqual([[uriOf(files[0]!), []]]);

    // A new error in b: b alone, with the new shape.
    sent.length = 0;
    ws.update(files[1]!, uriOf(files[1]!), bad(7), true);
    expect(sent.map(([u]) => u)).toEqual([uriOf(files[1]!)]);
    expect(sent[0]![1][0]!.message).toContain("[B, 7]");

    // The same text again: a new analysis, the same diagnostics, nothing sent.
    sent.length = 0;
    ws.update(files[2]!, uriOf(files[2]!), `${bad(6)}\n`, true);
    expect(sent).toEqual([]);
  });
});
