// Reading source files (compiler/source-file.ts, elaborate's readSource):
// imports read only .dlg files and never quote anything else, unreadable
// and oversized files are one diagnostic each, binary files one E1004, and
// the renderer shows CRLF and control characters safely. Files are real,
// in a temporary directory, read through nodeHost as the CLI reads them.

import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../cli/main.ts";
import { check, dump } from "../cli/node-host.ts";
import { positionAt, renderDiagnostics } from "../compiler/diagnostics.ts";
import { decodeSource, MAX_SOURCE_BYTES } from "../compiler/source-file.ts";

const dir = mkdtempSync(join(tmpdir(), "dlg-source-"));

function file(name: string, data: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

const model = "dim B\nmodel m {\n  input x: [B, 2]\n  output y = x\n}\n";

/** Codes and rendered text of `check` on a file. */
function checked(path: string): { codes: string[]; text: string } {
  const r = check(path);
  return {
    codes: r.diagnostics.map((d) => d.code),
    text: renderDiagnostics(r.diagnostics, r.sources),
  };
}

describe("imports", () => {
  const secret = file("secret.txt", "root:x:0:0:the secret first line\n");

  it("refuses a file that is not .dlg before reading it, and never quotes it", () => {
    const { codes, text } = checked(file("a.dlg", `import "secret.txt"\n${model}`));
    expect(codes).toEqual(["E2010"]);
    expect(text).not.toContain("secret first line");
    const etc = checked(file("b.dlg", `import "../../../../../../etc/passwd"\n${model}`));
    expect(etc.codes).toEqual(["E2010"]);
    expect(etc.text).not.toContain("root:");
  });

  it("refuses a .dlg link to a file that is not .dlg", () => {
    symlinkSync(secret, join(dir, "link.dlg"));
    const { codes, text } = checked(file("c.dlg", `import "link.dlg"\n${model}`));
    expect(codes).toEqual(["E2010"]);
    expect(text).toContain("c.dlg:1:8");
    expect(text).not.toContain("secret first line");
  });

  it("reports a directory named x.dlg, a missing file and a huge file at the import", () => {
    mkdirSync(join(dir, "folder.dlg"));
    file("huge.dlg", "// " + "x".repeat(MAX_SOURCE_BYTES) + "\n");
    const text = `import "folder.dlg"\nimport "missing.dlg"\nimport "huge.dlg"\n${model}`;
    const r = check(file("d.dlg", text));
    expect(
      r.diagnostics.map((d) => [d.code, positionAt(text, d.span.start).line, d.message]),
    ).toEqual([
      ["E2006", 1, "cannot read imported file `folder.dlg`: it is a directory"],
      ["E2006", 2, "cannot read imported file `missing.dlg`: no such file"],
      ["E1005", 3, "imported file `huge.dlg` is 1.0 MiB; source files may be at most 1.0 MiB"],
    ]);
  });

  it("reads a NUL in a path as a binary file: one E1004, nothing opened", () => {
    const { codes } = checked(file("e.dlg", `import "a\0.dlg"\n${model}`));
    expect(codes).toEqual(["E1004"]);
  });
});

describe("file contents", () => {
  it("is one E1004 for a binary file, at the first bad byte", () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const r = checked(file("image.dlg", png));
    expect(r.codes).toEqual(["E1004"]);
    expect(r.text).toContain("image.dlg:1:1");
    // Invalid UTF-8 in a comment on line 2, after `// caf`.
    const latin1 = new Uint8Array([...Buffer.from("dim B\n// caf"), 0xe9, 0x0a]);
    const l = checked(file("latin1.dlg", latin1));
    expect(l.codes).toEqual(["E1004"]);
    expect(l.text).toContain("is not UTF-8 text: invalid UTF-8 at byte 12");
    expect(l.text).toContain("latin1.dlg:2:7");
    expect(dump(join(dir, "latin1.dlg"), "ast").diagnostics.map((d) => d.code)).toEqual(["E1004"]);
  });

  it("finds the first bad byte after valid multi-byte characters and at a cut-off end", () => {
    const bytes = new Uint8Array([...Buffer.from("é".repeat(3000)), 0xff]);
    expect(decodeSource(bytes)).toMatchObject({ reason: "not-text", byte: 6000 });
    const cut = Buffer.from("dim B // é").subarray(0, -1);
    expect(decodeSource(cut)).toMatchObject({ reason: "not-text", prefix: "dim B // " });
    expect(decodeSource(Buffer.from("dim B // é"))).toBe("dim B // é");
  });

  it("names the size of a file over the limit without reading it", () => {
    const path = file("big.dlg", "dim B\n" + " ".repeat(2 * MAX_SOURCE_BYTES));
    const r = check(path);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["E1005"]);
    expect(r.diagnostics[0]!.message).toContain("is 2.0 MiB");
    expect(r.sources.has(path)).toBe(false);
  });

  it("renders a CRLF file without carriage returns, at the right columns", () => {
    const text = "dim B\r\nmodel m {\r\n  input x: [B]\r\n  output y = x # 2\r\n}\r\n";
    const { codes, text: shown } = checked(file("crlf.dlg", text));
    expect(codes).toEqual(["E1003"]);
    expect(shown).not.toContain("\r");
    expect(shown).toContain("crlf.dlg:4:16");
    expect(shown).toContain("4 |   output y = x # 2\n  |                ^");
  });

  it("never sends a control character from the file to the terminal", () => {
    const { text } = checked(file("esc.dlg", "dim B // \u001b[2J\nmodel m { output y = q }\n"));
    expect(text).toContain("unknown name `q`");
    expect(text).not.toContain("\u001b");
  });
});

describe("dlg check with several files", () => {
  it("prints the JSON for all files, a missing one included as a diagnostic", async () => {
    const ok = file("ok.dlg", model);
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(["check", ok, join(dir, "absent.dlg"), "--json"], {
      out: (t) => void out.push(t),
      err: (t) => void err.push(t),
    });
    expect(code).toBe(1);
    const json = JSON.parse(out.join("")) as { ok: boolean; diagnostics: { code: string }[] };
    expect(json.ok).toBe(false);
    expect(json.diagnostics.map((d) => d.code)).toEqual(["E2006"]);
    expect(err.join("")).toContain("absent.dlg`: no such file");
  });
});
