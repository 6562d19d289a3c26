// The workspace's publishing (lsp/workspace.ts), driven in-process: after a
// re-check only the files whose diagnostics changed are published, and
// files left as they were keep the very diagnostics already converted
// (review R1-40: a keystroke must not re-convert every open file's); and,
// through the server, the folders searched follow the window's folders.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Diagnostic, Location } from "vscode-languageserver";
import { Workspace } from "../lsp/workspace.ts";
import { uriOf } from "../lsp/uris.ts";
import { fileUri, LspClient } from "./lsp-client.ts";

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

describe("workspace folders", () => {
  it("searches a folder added to the window after initialize (review R1-33)", async () => {
    const [a, b] = [
      mkdtempSync(join(tmpdir(), "dlg-ws-a-")),
      mkdtempSync(join(tmpdir(), "dlg-ws-b-")),
    ];
    const client = LspClient.start();
    try {
      await client.initialize(a, { workspace: { workspaceFolders: true } });
      writeFileSync(join(b, "other.dlg"), good.replace("x + x", "x |> dense(2)"));
      const user = "dim B\nmodel u {\n  input x: [B, 3]\n  output y = x |> dense(5)\n}\n";
      const uri = fileUri(join(a, "user.dlg"));
      await client.open(uri, user);
      const refs = () =>
        client.request<Location[]>("textDocument/references", {
          textDocument: { uri },
          position: { line: 3, character: 19 },
          context: { includeDeclaration: false },
        });
      const other = fileUri(join(b, "other.dlg"));
      expect((await refs()).map((r) => r.uri)).not.toContain(other);
      await client.connection.sendNotification("workspace/didChangeWorkspaceFolders", {
        event: { added: [{ uri: fileUri(b), name: "b" }], removed: [] },
      });
      expect((await refs()).map((r) => r.uri)).toContain(other);
      await client.connection.sendNotification("workspace/didChangeWorkspaceFolders", {
        event: { added: [], removed: [{ uri: fileUri(b), name: "b" }] },
      });
      expect((await refs()).map((r) => r.uri)).not.toContain(other);
    } finally {
      await client.stop();
      for (const d of [a, b]) rmSync(d, { recursive: true, force: true });
    }
  }, 60_000);
});
