// Acceptance for `dlg lsp --stdio`: the server runs as a child process and
// a real protocol client (test/lsp-client.ts, vscode-jsonrpc over the
// child's stdio) drives it as an editor would: diagnostics that come and go
// as the text changes, hover, inlay hints, definition, references and rename
// across an import, document symbols, formatting and completion.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  CodeAction,
  CompletionItem,
  DocumentHighlight,
  DocumentSymbol,
  Hover,
  InlayHint,
  InitializeResult,
  Location,
  MarkupContent,
  Position,
  SymbolInformation,
  TextEdit,
  WorkspaceEdit,
} from "vscode-languageserver";
import { parse, printProgram } from "../grammar/index.ts";
import { dlgProcess } from "./dlg-process.ts";
import { fileUri, LspClient } from "./lsp-client.ts";

const root = resolve(import.meta.dirname, "..");
/** samples/mlp.dlg as it was at v1: tuning the sample leaves these positions be. */
const mlpFixture = "test/fixtures/lsp/mlp.dlg";

/** The LSP position of `offset` in `text` (no CR in these texts; UTF-16 like the protocol). */
function pos(text: string, offset: number): Position {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length - 1, character: before.at(-1)!.length };
}

/** The position of the `nth` occurrence of `needle` (plus `delta` characters into it). */
function posOf(text: string, needle: string, delta = 0, nth = 0): Position {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = text.indexOf(needle, at + 1);
  if (at < 0) throw new Error(`${needle} not in the text`);
  return pos(text, at + delta);
}

const range = (text: string, needle: string, nth = 0) => ({
  start: posOf(text, needle, 0, nth),
  end: posOf(text, needle, needle.length, nth),
});

/** The range of `length` characters starting `delta` into the first `needle`. */
const rangeIn = (text: string, needle: string, delta: number, length: number) => ({
  start: posOf(text, needle, delta),
  end: posOf(text, needle, delta + length),
});

const lib = `dim H

/// A hidden layer: dense, then relu.
block hidden(x: [..., n], units: int) -> [..., units] {
  return x |> dense(units) |> relu
}
`;

const main = `import "lib.dlg"

dim B

model net {
  input x: [B, 16]
  input z: [B, H]
  h = x |> hidden(32)
  output y = h |> dense(4)
}
`;

const shapeError = `dim B
model m {
  input x: [B, 3]
  input y: [B, 4]
  output z = x + y
}
`;

let dir: string;
let client: LspClient;
let init: InitializeResult;
const at = (name: string) => join(dir, name);
const uri = (name: string) => fileUri(at(name));
const doc = (name: string) => ({ textDocument: { uri: uri(name) } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "dlg-lsp-"));
  writeFileSync(at("lib.dlg"), lib);
  writeFileSync(at("main.dlg"), main);
  client = LspClient.start();
  init = await client.initialize(dir, {
    workspace: { inlayHint: { refreshSupport: true }, semanticTokens: { refreshSupport: true } },
  });
});

afterAll(async () => {
  const code = await client?.stop();
  rmSync(dir, { recursive: true, force: true });
  // The server lived through everything below and shut down cleanly.
  expect(code).toBe(0);
  expect(client.log.join("")).not.toMatch(/failed:/);
});

describe("dlg lsp --stdio", () => {
  it("initializes with the features it serves", () => {
    const c = init.capabilities;
    expect(init.serverInfo?.name).toBe("dlg");
    expect(c.hoverProvider).toBe(true);
    expect(c.definitionProvider).toBe(true);
    expect(c.referencesProvider).toBe(true);
    expect(c.renameProvider).toEqual({ prepareProvider: true });
    expect(c.inlayHintProvider).toBe(true);
    expect(c.documentFormattingProvider).toBe(true);
    expect(c.completionProvider).toBeDefined();
    expect(c.semanticTokensProvider?.legend.tokenTypes.length).toBeGreaterThan(0);
  });

  it("publishes a shape error at its range, with each side's shape and where it came from, and clears it when fixed", async () => {
    await client.open(uri("bad.dlg"), shapeError);
    const [d, ...more] = await client.diagnostics(uri("bad.dlg"), (ds) => ds.length > 0);
    expect(more).toEqual([]);
    expect(d!.code).toBe("E3001");
    expect(d!.codeDescription?.href).toBe(
      `${fileUri(join(root, "docs/language.md"))}#e3001--shapes-cannot-be-broadcast-together`,
    );
    expect(readFileSync(join(root, "docs/language.md"), "utf8")).toContain(
      "### E3001 — shapes cannot be broadcast together",
    );
    expect(d!.severity).toBe(1);
    expect(d!.message).toContain("[B, 3] and [B, 4]");
    expect(d!.range).toEqual(range(shapeError, "x + y"));
    expect(d!.relatedInformation).toEqual([
      {
        location: { uri: uri("bad.dlg"), range: rangeIn(shapeError, "x + y", 0, 1) },
        message: "this is [B, 3]",
      },
      {
        location: { uri: uri("bad.dlg"), range: range(shapeError, "input x: [B, 3]") },
        message: "`x` is [B, 3] from here",
      },
      {
        location: { uri: uri("bad.dlg"), range: rangeIn(shapeError, "x + y", 4, 1) },
        message: "this is [B, 4]",
      },
      {
        location: { uri: uri("bad.dlg"), range: range(shapeError, "input y: [B, 4]") },
        message: "`y` is [B, 4] from here",
      },
    ]);
    await client.change(uri("bad.dlg"), shapeError.replace("[B, 4]", "[B, 3]"));
    expect(await client.diagnostics(uri("bad.dlg"), (ds) => ds.length === 0)).toEqual([]);
  });

  it("survives half-written text: a syntax error is a diagnostic and requests still answer", async () => {
    const broken = "dim B\nmodel m {\n  input x: [B,\n  h = x |> dense(\n";
    await client.change(uri("bad.dlg"), broken);
    const ds = await client.diagnostics(uri("bad.dlg"), (ds) => ds.some((d) => d.code === "E1001"));
    expect(ds.length).toBeGreaterThan(0);
    const h = await client.request<Hover | null>("textDocument/hover", {
      ...doc("bad.dlg"),
      position: posOf(broken, "dense"),
    });
    expect(h === null || typeof h.contents === "object").toBe(true);
    const f = await client.request("textDocument/formatting", {
      ...doc("bad.dlg"),
      options: { tabSize: 2, insertSpaces: true },
    });
    expect(f).toBeNull();
    await client.close(uri("bad.dlg"));
    expect(await client.diagnostics(uri("bad.dlg"), (ds) => ds.length === 0)).toEqual([]);
  });

  it("links an error raised inside std to the place in std", async () => {
    const text =
      "dim B\nmodel m {\n  input x: [B, 4, 6]\n  output y = x |> multi_head_attention(4)\n}\n";
    await client.open(uri("heads.dlg"), text);
    const [d] = await client.diagnostics(uri("heads.dlg"), (ds) => ds.length > 0);
    expect(d!.code).toBe("E3004");
    expect(d!.range).toEqual(range(text, "multi_head_attention(4)"));
    const inside = d!.relatedInformation?.find((r) => r.message === "inside std here");
    expect(inside?.location.uri).toBe(fileUri(join(root, "std/prelude.dlg")));
    // The whole expression the note quotes is underlined, not its first name (review R1-38).
    const quoted = /at `([^`]+)`/.exec(String(d!.message))?.[1];
    expect(quoted).toBeDefined();
    const prelude = readFileSync(join(root, "std/prelude.dlg"), "utf8").split("\n");
    const r = inside!.location.range;
    expect(r.start.line).toBe(r.end.line);
    expect(prelude[r.start.line]!.slice(r.start.character, r.end.character)).toBe(quoted);
    await client.close(uri("heads.dlg"));
  });

  it("underlines the token a syntax error found, not the line break before it", async () => {
    const text = "dim B\nmodel m {\n  input x: [B, 3]\n  h = x |> dense(32\n  output y = h\n}\n";
    await client.open(uri("syntax.dlg"), text);
    const [d] = await client.diagnostics(uri("syntax.dlg"), (ds) => ds.length > 0);
    expect(d!.code).toBe("E1001");
    expect(d!.message).toContain("found 'output'");
    expect(d!.range).toEqual(range(text, "output"));
    await client.close(uri("syntax.dlg"));
  });

  it("hovers a name with its shape, and a call with its block's doc comment", async () => {
    await client.open(uri("main.dlg"), main);
    await client.diagnostics(uri("main.dlg"));
    const h = await client.request<Hover>("textDocument/hover", {
      ...doc("main.dlg"),
      position: posOf(main, "h |>", 0),
    });
    expect((h.contents as MarkupContent).value).toContain("f32[B, 32]");
    expect(h.range).toEqual(rangeIn(main, "h |>", 0, 1));
    const call = await client.request<Hover>("textDocument/hover", {
      ...doc("main.dlg"),
      position: posOf(main, "hidden", 2),
    });
    expect((call.contents as MarkupContent).value).toContain("A hidden layer: dense, then relu.");
  });

  it("hovers a named argument as that argument, not as the call around it", async () => {
    const text = "dim B\nmodel m {\n  input x: [B, 4, 4]\n  output y = mean(x, axis: -1)\n}\n";
    await client.open(uri("named.dlg"), text);
    await client.diagnostics(uri("named.dlg"));
    const h = await client.request<Hover>("textDocument/hover", {
      ...doc("named.dlg"),
      position: posOf(text, "axis"),
    });
    expect((h.contents as MarkupContent).value).toContain("axis: int = -1");
    expect((h.contents as MarkupContent).value).not.toContain("f32[B, 4]");
    expect(h.range).toEqual(range(text, "axis"));
    await client.close(uri("named.dlg"));
  });

  it("goes to a definition in the imported file, to the file an import names, and into std", async () => {
    const def = await client.request<Location>("textDocument/definition", {
      ...doc("main.dlg"),
      position: posOf(main, "hidden", 1),
    });
    expect(def).toEqual({ uri: uri("lib.dlg"), range: range(lib, "hidden", 1) });
    const file = await client.request<Location>("textDocument/definition", {
      ...doc("main.dlg"),
      position: posOf(main, "lib.dlg"),
    });
    expect(file).toEqual({ uri: uri("lib.dlg"), range: { start: pos(lib, 0), end: pos(lib, 0) } });
    const std = await client.request<Location>("textDocument/definition", {
      ...doc("main.dlg"),
      position: posOf(main, "dense"),
    });
    const prelude = join(root, "std/prelude.dlg");
    expect(std.uri).toBe(fileUri(prelude));
    const text = readFileSync(prelude, "utf8");
    expect(std.range.start).toEqual(posOf(text, "block dense", "block ".length));
    // Opened, std shows no diagnostics, and its definitions are the ones its importers use.
    await client.open(std.uri, text);
    expect(await client.diagnostics(std.uri)).toEqual([]);
    const refs = await client.request<Location[]>("textDocument/references", {
      textDocument: { uri: std.uri },
      position: std.range.start,
      context: { includeDeclaration: false },
    });
    expect(refs).toContainEqual({ uri: uri("main.dlg"), range: range(main, "dense") });
    await client.close(std.uri);
  });

  it("renames a dim in both files, and refuses to rename std's names", async () => {
    const prep = await client.request<{ range: unknown; placeholder: string }>(
      "textDocument/prepareRename",
      { ...doc("main.dlg"), position: posOf(main, "H]") },
    );
    expect(prep).toEqual({
      range: rangeIn(main, "H]", 0, 1),
      placeholder: "H",
    });
    const edit = await client.request<WorkspaceEdit>("textDocument/rename", {
      ...doc("main.dlg"),
      position: posOf(main, "H]"),
      newName: "Hidden",
    });
    const one = (text: string, needle: string, delta: number): TextEdit => ({
      range: { start: posOf(text, needle, delta), end: posOf(text, needle, delta + 1) },
      newText: "Hidden",
    });
    expect(edit.changes?.[uri("lib.dlg")]).toEqual([one(lib, "dim H", 4)]);
    expect(edit.changes?.[uri("main.dlg")]).toEqual([one(main, "H]", 0)]);
    await expect(
      client.request("textDocument/prepareRename", {
        ...doc("main.dlg"),
        position: posOf(main, "dense"),
      }),
    ).rejects.toThrow(/std/);
    await expect(
      client.request("textDocument/rename", {
        ...doc("main.dlg"),
        position: posOf(main, "H]"),
        newName: "model",
      }),
    ).rejects.toThrow(/not a valid name/);
    // A new name that is taken would change the program: std's block, a dim, a name of the model, a built-in.
    const taken = async (at: Position, newName: string, why: RegExp) =>
      expect(
        client.request("textDocument/rename", { ...doc("main.dlg"), position: at, newName }),
      ).rejects.toThrow(why);
    await taken(posOf(main, "hidden"), "dense", /already a name here \(block `dense` in std\)/);
    await taken(posOf(main, "H]"), "B", /already a name here \(dim `B`\)/);
    await taken(posOf(main, "h = "), "x", /already a name here \(input `x`\)/);
    await taken(posOf(main, "H]"), "training", /a built-in name/);
    await taken(posOf(main, "H]"), "mean", /a built-in name/);
  });

  it("finds references with the declaration, from a file whose importer is closed", async () => {
    await client.close(uri("main.dlg"));
    await client.open(uri("lib.dlg"), lib);
    await client.diagnostics(uri("lib.dlg"));
    const refs = await client.request<Location[]>("textDocument/references", {
      ...doc("lib.dlg"),
      position: posOf(lib, "hidden", 0, 1),
      context: { includeDeclaration: true },
    });
    expect(refs).toEqual([
      { uri: uri("lib.dlg"), range: range(lib, "hidden", 1) },
      { uri: uri("main.dlg"), range: range(main, "hidden") },
    ]);
    const uses = await client.request<Location[]>("textDocument/references", {
      ...doc("lib.dlg"),
      position: posOf(lib, "hidden", 0, 1),
      context: { includeDeclaration: false },
    });
    expect(uses).toEqual([{ uri: uri("main.dlg"), range: range(main, "hidden") }]);
  });

  it("publishes an imported file's errors to its URI and at the importer's call, and clears them when the file is fixed on disk", async () => {
    await client.close(uri("lib.dlg"));
    writeFileSync(at("lib.dlg"), lib.replace("dense(units)", "dense(units, 3, 4)"));
    await client.open(uri("main.dlg"), main);
    const ds = await client.diagnostics(uri("lib.dlg"), (ds) => ds.length > 0);
    expect(ds[0]!.code).toBe("E2004");
    // The file being edited shows the call that leads there, pointing at the error itself.
    const [call] = await client.diagnostics(uri("main.dlg"), (ds) => ds.length > 0);
    expect(call!.code).toBe("E2004");
    expect(call!.range).toEqual(range(main, "hidden"));
    expect(call!.message).toContain("(in the block this calls)");
    expect(call!.relatedInformation?.[0]).toEqual({
      location: { uri: uri("lib.dlg"), range: ds[0]!.range },
      message: "the error is here",
    });
    writeFileSync(at("lib.dlg"), lib);
    await client.connection.sendNotification("workspace/didChangeWatchedFiles", {
      changes: [{ uri: uri("lib.dlg"), type: 2 }],
    });
    expect(await client.diagnostics(uri("lib.dlg"), (ds) => ds.length === 0)).toEqual([]);
    expect(await client.diagnostics(uri("main.dlg"), (ds) => ds.length === 0)).toEqual([]);
  });

  it("re-checks an open importer when the file it imports is edited", async () => {
    await client.open(uri("lib.dlg"), lib);
    const stricter = lib.replace("units: int)", "units: int, rate: float)");
    const asked = client.refreshes.length;
    await client.change(uri("lib.dlg"), stricter);
    const [d] = await client.diagnostics(uri("main.dlg"), (ds) => ds.length > 0);
    expect(d!.code).toBe("E2004");
    expect(d!.message).toContain("rate");
    // The importer's hints and tokens changed too: the client is asked to pull them again.
    expect(client.refreshes.slice(asked)).toContain("workspace/inlayHint/refresh");
    expect(client.refreshes.slice(asked)).toContain("workspace/semanticTokens/refresh");
    await client.change(uri("lib.dlg"), lib);
    expect(await client.diagnostics(uri("main.dlg"), (ds) => ds.length === 0)).toEqual([]);
    await client.close(uri("lib.dlg"));
  });

  it("re-checks an importer when the file it could not read is created", async () => {
    const importer =
      'import "later.dlg"\ndim B\nmodel m {\n  input x: [B, 3]\n  output y = x |> twice\n}\n';
    await client.open(uri("importer.dlg"), importer);
    const ds = await client.diagnostics(uri("importer.dlg"), (ds) => ds.length > 0);
    expect(ds.map((d) => d.code)).toContain("E2006");
    writeFileSync(at("later.dlg"), "block twice(x: [...]) -> [...] {\n  return x * 2\n}\n");
    await client.connection.sendNotification("workspace/didChangeWatchedFiles", {
      changes: [{ uri: uri("later.dlg"), type: 1 }],
    });
    expect(await client.diagnostics(uri("importer.dlg"), (ds) => ds.length === 0)).toEqual([]);
    await client.close(uri("importer.dlg"));
  });

  it("lists models, blocks and train blocks with their children", async () => {
    const syms = await client.request<DocumentSymbol[]>(
      "textDocument/documentSymbol",
      doc("main.dlg"),
    );
    expect(syms.map((s) => s.name)).toEqual(["B", "net"]);
    expect(syms[1]!.children!.map((c) => c.name)).toEqual(["x", "z", "h", "y"]);
    expect(syms[1]!.selectionRange).toEqual(range(main, "net"));
    const mlp = fileUri(join(root, mlpFixture));
    await client.open(mlp, readFileSync(join(root, mlpFixture), "utf8"));
    const all = await client.request<DocumentSymbol[]>("textDocument/documentSymbol", {
      textDocument: { uri: mlp },
    });
    expect(all.map((s) => `${s.name}:${s.detail}`)).toEqual([
      "B:dim",
      "mlp:model",
      "default:train for mlp",
      "sgd:train for mlp",
    ]);
    expect(all[2]!.children!.map((c) => c.name)).toEqual(["optimizer", "batch", "epochs"]);
    // A scan's item, carries and body nest under the statement holding it.
    const scan =
      "dim B\nmodel m {\n  input x: [B, 5, 3]\n  s = scan t in x along 1 carry (acc = zeros([B, 3])) {\n" +
      "    d = acc + t\n    acc = d\n    yield acc\n  }\n  output y = s\n}\n";
    await client.open(uri("scan.dlg"), scan);
    const [, m] = await client.request<DocumentSymbol[]>(
      "textDocument/documentSymbol",
      doc("scan.dlg"),
    );
    const tree = (ss: DocumentSymbol[]): unknown[] =>
      ss.map((x) => (x.children?.length ? [x.name, tree(x.children)] : x.name));
    expect(tree(m!.children!)).toEqual(["x", ["s", ["t", "acc", "d"]], "y"]);
    expect(m!.children![1]!.children![1]!.selectionRange).toEqual(range(scan, "acc"));
    await client.close(uri("scan.dlg"));
  });

  it("has nothing to rename at a built-in operation (no definition in any file)", async () => {
    const path = join(root, mlpFixture);
    const text = readFileSync(path, "utf8");
    const at = { textDocument: { uri: fileUri(path) }, position: posOf(text, "mean(") };
    expect(await client.request("textDocument/prepareRename", at)).toBeNull();
    expect(await client.request("textDocument/definition", at)).toBeNull();
  });

  it("shows inlay hints on mlp.dlg: each assignment's type and each |> stage's", async () => {
    const path = join(root, mlpFixture);
    const text = readFileSync(path, "utf8");
    const hints = await client.request<InlayHint[]>("textDocument/inlayHint", {
      textDocument: { uri: fileUri(path) },
      range: { start: { line: 0, character: 0 }, end: pos(text, text.length) },
    });
    const shown = hints.map((h) => [h.position, h.label]);
    expect(shown).toContainEqual([posOf(text, "logits =", 6), ": f32[B, 10]"]);
    expect(shown).toContainEqual([posOf(text, "dense(256)", 10), ": f32[B, 256]"]);
    expect(shown).toContainEqual([posOf(text, "|> relu", 7), ": f32[B, 256]"]);
    expect(shown).toContainEqual([posOf(text, "dropout(0.2)", 12), ": f32[B, 256]"]);
    expect(shown).toContainEqual([posOf(text, "probs =", 5), ": f32[B, 10]"]);
    expect(shown).toContainEqual([posOf(text, "accuracy =", 8), ": f32[]"]);
    // Hovering a `|>` shows the value flowing through it, not the next stage's result.
    const bar = await client.request<Hover>("textDocument/hover", {
      textDocument: { uri: fileUri(path) },
      position: posOf(text, "|> dense(10)"),
    });
    expect((bar.contents as MarkupContent).value).toContain("|> f32[B, 256]");
    expect(bar.range).toEqual(rangeIn(text, "|> dense(10)", 0, 2));
    // The chain's last stage is the assignment's type, shown once at the target.
    expect(shown.filter(([, l]) => l === ": f32[B, 10]")).toHaveLength(2);
  });

  it("formats a document as print.ts does, and refuses a file with syntax errors", async () => {
    const messy = "dim B\nmodel m {  input x: [B,3]\n    output z = x+x }\n";
    await client.open(uri("messy.dlg"), messy);
    const options = { tabSize: 2, insertSpaces: true };
    const edits = await client.request<TextEdit[]>("textDocument/formatting", {
      ...doc("messy.dlg"),
      options,
    });
    const formatted = printProgram(parse(messy).program);
    expect(formatted).not.toBe(messy);
    expect(edits).toEqual([
      { range: { start: pos(messy, 0), end: pos(messy, messy.length) }, newText: formatted },
    ]);
    await client.change(uri("messy.dlg"), formatted);
    expect(
      await client.request("textDocument/formatting", { ...doc("messy.dlg"), options }),
    ).toEqual([]);
  });

  it("keeps a CRLF file's line endings when formatting (review R1-29)", async () => {
    const crlf = "dim B\r\nmodel m {\r\n  input x: [B, 3]\r\n  output z = x + x\r\n}\r\n";
    const options = { tabSize: 2, insertSpaces: true };
    await client.open(uri("crlf.dlg"), crlf);
    // Canonical but for the line endings: nothing to do.
    expect(
      await client.request("textDocument/formatting", { ...doc("crlf.dlg"), options }),
    ).toEqual([]);
    const messy = "dim B\r\nmodel m {  input x: [B,3]\r\n    output z = x+x }\r\n";
    await client.change(uri("crlf.dlg"), messy);
    const edits = await client.request<TextEdit[]>("textDocument/formatting", {
      ...doc("crlf.dlg"),
      options,
    });
    expect(edits).toHaveLength(1);
    expect(edits[0]!.newText).toBe(crlf);
  });

  it("completes a block's named arguments inside its call", async () => {
    const text = "dim B\nmodel m {\n  input x: [B, 3]\n  h = x |> dense(\n}\n";
    await client.open(uri("typing.dlg"), text);
    const items = await client.request<CompletionItem[]>("textDocument/completion", {
      ...doc("typing.dlg"),
      position: posOf(text, "dense(", 6),
    });
    const labels = items.map((i) => i.label);
    expect(labels).toContain("units:");
    expect(labels).toContain("bias:");
  });

  /** Opens user.dlg, a model calling std's `dense`, and asks for the references of that `dense`. */
  async function referencesOfDense(): Promise<{ user: string; refs: Location[] }> {
    const user = "dim B\nmodel u {\n  input x: [B, 2]\n  output y = x |> dense(5)\n}\n";
    await client.open(uri("user.dlg"), user);
    const refs = await client.request<Location[]>("textDocument/references", {
      ...doc("user.dlg"),
      position: posOf(user, "dense"),
      context: { includeDeclaration: false },
    });
    return { user, refs };
  }

  it("finds uses of a std name in workspace files that import nothing", async () => {
    const solo = "dim B\nmodel solo {\n  input x: [B, 2]\n  output y = x |> dense(3)\n}\n";
    writeFileSync(at("solo.dlg"), solo);
    const { user, refs } = await referencesOfDense();
    expect(refs).toContainEqual({ uri: uri("solo.dlg"), range: range(solo, "dense") });
    expect(refs).toContainEqual({ uri: uri("user.dlg"), range: range(user, "dense") });
    await client.close(uri("user.dlg"));
  });

  it("leaves build outputs, hidden folders and .gitignore'd paths out of the search (review R1-31)", async () => {
    const use = "dim B\nmodel g {\n  input x: [B, 2]\n  output y = x |> dense(7)\n}\n";
    writeFileSync(at(".gitignore"), "# generated\ngen/\n*.bak.dlg\n/top-only.dlg\n");
    const placed = ["gen/a.dlg", "out/b.dlg", "node_modules/c.dlg", ".cache/d.dlg", "e.bak.dlg"];
    const kept = ["kept/f.dlg", "kept/top-only.dlg"];
    for (const f of [...placed, ...kept, "top-only.dlg"]) {
      mkdirSync(dirname(at(f)), { recursive: true });
      writeFileSync(at(f), use);
    }
    const { user, refs } = await referencesOfDense();
    const found = new Set(refs.map((r) => r.uri));
    for (const f of kept) expect(found, f).toContain(uri(f));
    for (const f of [...placed, "top-only.dlg"]) expect(found, f).not.toContain(uri(f));
    await client.close(uri("user.dlg"));
    for (const f of [...placed, ...kept, "top-only.dlg", ".gitignore"]) rmSync(at(f));
  });

  it("highlights a name's definition and uses in its file (review R1-33)", async () => {
    expect(init.capabilities.documentHighlightProvider).toBe(true);
    await client.open(uri("main.dlg"), main);
    const hl = await client.request<DocumentHighlight[]>("textDocument/documentHighlight", {
      ...doc("main.dlg"),
      position: posOf(main, "h |> dense"),
    });
    // The definition is a write (3), the use a read (2).
    expect(hl).toEqual([
      { range: rangeIn(main, "h = x", 0, 1), kind: 3 },
      { range: rangeIn(main, "h |> dense", 0, 1), kind: 2 },
    ]);
    // A block of the imported file: only this file's uses, no definition here.
    const hidden = await client.request<DocumentHighlight[]>("textDocument/documentHighlight", {
      ...doc("main.dlg"),
      position: posOf(main, "hidden"),
    });
    expect(hidden).toEqual([{ range: range(main, "hidden"), kind: 2 }]);
    await client.close(uri("main.dlg"));
  });

  it("offers a diagnostic's 'did you mean' as a quick fix (review R1-33)", async () => {
    const typo =
      "dim B\nmodel m {\n  input x: [B, 3]\n  output y = x |> rleu\n}\ntrain t for m { optimizer adm }\n";
    await client.open(uri("typo.dlg"), typo);
    const ds = await client.diagnostics(uri("typo.dlg"), (d) => d.length === 2);
    const actions = await client.request<CodeAction[]>("textDocument/codeAction", {
      ...doc("typo.dlg"),
      range: { start: pos(typo, 0), end: pos(typo, typo.length) },
      context: { diagnostics: ds },
    });
    expect(actions.map((a) => [a.title, a.edit?.changes?.[uri("typo.dlg")]])).toEqual([
      ["Change `rleu` to `relu`", [{ range: range(typo, "rleu"), newText: "relu" }]],
      ["Change `adm` to `adam`", [{ range: range(typo, "adm"), newText: "adam" }]],
    ]);
    await client.close(uri("typo.dlg"));
  });

  it("finds top-level names by part of their name across the open files' imports (review R1-33)", async () => {
    expect(init.capabilities.workspaceSymbolProvider).toBe(true);
    await client.open(uri("main.dlg"), main);
    const hid = await client.request<SymbolInformation[]>("workspace/symbol", { query: "HID" });
    expect(hid).toEqual([
      {
        name: "hidden",
        kind: 12,
        location: { uri: uri("lib.dlg"), range: rangeIn(lib, "block hidden", 6, 6) },
      },
    ]);
    const all = (await client.request<SymbolInformation[]>("workspace/symbol", { query: "" })).map(
      (s) => s.name,
    );
    // The user's names (other tests' open files' too) first, then std's.
    expect(all).toEqual(expect.arrayContaining(["B", "H", "hidden", "net", "dense"]));
    expect(all.indexOf("net")).toBeLessThan(all.indexOf("dense"));
    expect(all.indexOf("hidden")).toBeLessThan(all.indexOf("dense"));
    await client.close(uri("main.dlg"));
  });

  it("answers nothing for text features on a buffer over the size limit", async () => {
    const huge = "dim B\n" + "const c = 1\n".repeat(100_000);
    await client.open(uri("huge.dlg"), huge);
    const [d] = await client.diagnostics(uri("huge.dlg"), (ds) => ds.length > 0);
    expect(d!.code).toBe("E1005");
    // Valid text: without the guard it would be formatted and tokenized (for seconds).
    const options = { tabSize: 2, insertSpaces: true };
    expect(
      await client.request("textDocument/formatting", { ...doc("huge.dlg"), options }),
    ).toBeNull();
    const tokens = await client.request<{ data: number[] }>(
      "textDocument/semanticTokens/full",
      doc("huge.dlg"),
    );
    expect(tokens.data).toEqual([]);
    await client.close(uri("huge.dlg"));
  });

  it("is a command with help, and says how to start it when --stdio is missing", async () => {
    const [help, bare] = await Promise.all([dlgProcess("lsp", "--help"), dlgProcess("lsp")]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: dlg lsp --stdio");
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^error: dlg lsp: .*pass --stdio/);
  });

  it("ends when the client goes away without shutting it down", async () => {
    const orphan = LspClient.start();
    await orphan.initialize();
    const ended = new Promise<number | null>((r) => orphan.child.once("exit", (code) => r(code)));
    orphan.child.stdin.end();
    expect(await ended).toBe(1);
    orphan.connection.dispose();
  });
});
