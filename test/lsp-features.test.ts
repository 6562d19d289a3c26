// Completion, signature help and semantic tokens (lsp/), called directly on
// the samples and on half-written text, with the analysis of that very text.
// The cursor is written into each text as `‸`.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CompletionItemKind,
  type CompletionItem,
  type CompletionList,
  type SignatureHelp,
} from "vscode-languageserver";
import { nodeHost } from "../cli/node-host.ts";
import { analyze } from "../compiler/compile.ts";
import type { Analysis } from "../compiler/symbols.ts";
import { trainKeys } from "../compiler/elaborate/train-config.ts";
import { completions } from "../lsp/completion.ts";
import { semanticTokens, semanticTokensLegend } from "../lsp/semantic-tokens.ts";
import { signatureHelp } from "../lsp/signature-help.ts";
import { positionOf } from "../lsp/text.ts";
import { fileUri, LspClient } from "./lsp-client.ts";

const CURSOR = "‸";

/** `text` with the cursor marker taken out, where it was, and the analysis of the result as `file`. */
function at(file: string, marked: string): { text: string; offset: number; a: Analysis } {
  const offset = marked.indexOf(CURSOR);
  expect(offset, "the text has a cursor").toBeGreaterThanOrEqual(0);
  const text = marked.slice(0, offset) + marked.slice(offset + CURSOR.length);
  const host = { readFile: (p: string) => (p === file ? text : nodeHost.readFile(p)) };
  return { text, offset, a: analyze(file, { host }) };
}

/** A .dlg file's text with `from` replaced by `to` (which holds the cursor). */
function sample(path: string, from: string, to: string): string {
  const text = readFileSync(path, "utf8");
  expect(text, `${path} has ${from}`).toContain(from);
  return text.replace(from, to);
}

/** samples/mlp.dlg as it was at v1, so that tuning the sample leaves these positions be. */
const mlp = "test/fixtures/lsp/mlp.dlg";
const lenet = "samples/lenet.dlg";

function complete(file: string, marked: string): CompletionItem[] {
  const { text, offset, a } = at(file, marked);
  return completions(a, file, text, offset);
}

const labels = (items: CompletionItem[]) => items.map((i) => i.label);
const named = (items: CompletionItem[]) =>
  items.filter((i) => i.kind === CompletionItemKind.Field).map((i) => i.label);

describe("completion", () => {
  it("offers the named arguments of the call being typed, with their types", () => {
    const items = complete(mlp, sample(mlp, "dense(256)", `dense(${CURSOR})`));
    // `x` is piped in (`x |> dense(...)`), so only units and bias are left.
    expect(named(items)).toEqual(["units:", "bias:"]);
    const bias = items.find((i) => i.label === "bias:")!;
    expect(bias.detail).toBe("bool = true");
    // Values in scope come along: the model's inputs, the blocks.
    expect(labels(items)).toEqual(expect.arrayContaining(["x", "y", "B", "relu", "softmax"]));
  });

  it("leaves out the arguments already given, by position or by name", () => {
    expect(named(complete(mlp, sample(mlp, "dense(256)", `dense(256, ${CURSOR})`)))).toEqual([
      "bias:",
    ]);
    expect(
      named(complete(mlp, sample(mlp, "dense(256)", `dense(bias: false, ${CURSOR})`))),
    ).toEqual(["units:"]);
  });

  it("offers no argument names where an argument's value is being typed", () => {
    const items = complete(mlp, sample(mlp, "dense(256)", `dense(256, bias: ${CURSOR})`));
    expect(named(items)).toEqual([]);
    expect(labels(items)).toContain("x");
  });

  it("offers conv2d's arguments, intrinsics' and those of a call not piped into", () => {
    const conv = complete(lenet, sample(lenet, "conv2d(16, kernel: 5)", `conv2d(16, ${CURSOR})`));
    expect(named(conv)).toEqual(["kernel:", "stride:", "padding:", "dilation:", "bias:"]);
    expect(conv.find((i) => i.label === "padding:")!.detail).toBe(
      'int | [int, int] | [top, bottom, left, right] | "same" | "valid" = 0',
    );
    const mean = complete(mlp, sample(mlp, "mean(argmax", `mean(${CURSOR}argmax`));
    expect(named(mean)).toEqual(["x:", "axis:", "keepdims:"]);
    const argmax = complete(
      mlp,
      sample(mlp, "argmax(logits, axis: -1)", `argmax(logits, ${CURSOR}`),
    );
    expect(named(argmax)).toEqual(["axis:"]);
  });

  it("offers std and user blocks with their signatures and docs, and locals defined so far", () => {
    const items = complete(
      "lib.dlg",
      [
        "dim B",
        "const width = 64",
        "/// Two dense layers.",
        "block mlp2(x: [B, n], hidden: int = 32) -> [B, 10] {",
        "  h = dense(x, hidden)",
        `  ${CURSOR}`,
        "  later = h",
        "  return dense(h, 10)",
        "}",
      ].join("\n"),
    );
    const byLabel = new Map(items.map((i) => [i.label, i]));
    expect(byLabel.get("dense")!.detail).toBe(
      "dense(x: [..., n], units: int, bias: bool = true) -> [..., units]",
    );
    expect(byLabel.get("dense")!.documentation).toMatchObject({
      value: expect.stringContaining("Fully connected"),
    });
    expect(byLabel.get("mlp2")!.detail).toBe("mlp2(x: [B, n], hidden: int = 32) -> [B, 10]");
    expect(byLabel.get("mlp2")!.documentation).toMatchObject({ value: "Two dense layers." });
    expect(byLabel.get("argmax")!.detail).toBe("argmax(x, axis: int = -1)");
    for (const [name, kind] of [
      ["x", CompletionItemKind.Variable],
      ["hidden", CompletionItemKind.Variable],
      ["h", CompletionItemKind.Variable],
      ["n", CompletionItemKind.TypeParameter],
      ["B", CompletionItemKind.TypeParameter],
      ["width", CompletionItemKind.Constant],
      ["dense", CompletionItemKind.Function],
      ["return", CompletionItemKind.Keyword],
    ] as const)
      expect(byLabel.get(name)?.kind, name).toBe(kind);
    // Defined after the cursor: not yet in scope.
    expect(byLabel.has("later")).toBe(false);
  });

  it("offers the dims in scope inside a type's brackets, a block's own dims included", () => {
    const text = ["dim B, T", "block f(x: [B, n]) -> [B, n] {", `  param w: [n, ${CURSOR}`].join(
      "\n",
    );
    const items = complete("f.dlg", text);
    expect(labels(items)).toEqual(expect.arrayContaining(["B", "T", "n"]));
    expect(items.filter((i) => i.kind === CompletionItemKind.Function)).toEqual([]);
    expect(
      labels(complete(mlp, sample(mlp, "input y: int[B]", `input y: int[${CURSOR}]`))),
    ).toEqual(expect.arrayContaining(["B"]));
  });

  it("offers the train keys not yet set inside a train block, and the optimizers after `optimizer`", () => {
    const keys = complete(mlp, sample(mlp, "batch 64  epochs 5 }", `batch 64  ${CURSOR} }`));
    // The keys are train-config.ts's, less the two the block sets.
    expect(labels(keys)).toEqual(trainKeys.filter((k) => k !== "optimizer" && k !== "batch"));
    const opts = complete(
      mlp,
      sample(mlp, "optimizer sgd(lr: 0.1, momentum: 0.9)", `optimizer ${CURSOR}`),
    );
    expect(labels(opts)).toEqual(["gd", "sgd", "adam", "adamw"]);
    expect(opts.find((i) => i.label === "adam")!.detail).toBe(
      "adam(lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0)",
    );
    const settings = complete(
      mlp,
      sample(mlp, "sgd(lr: 0.1, momentum: 0.9)", `sgd(lr: 0.1, ${CURSOR})`),
    );
    expect(named(settings)).toEqual(["momentum:", "nesterov:", "weight_decay:"]);
    expect(labels(complete(mlp, sample(mlp, "batch 64", `batch ${CURSOR}`)))).toEqual(["full"]);
  });

  it("offers keywords at the top level, models after `train NAME for`, nothing in comments", () => {
    expect(labels(complete(mlp, `${readFileSync(mlp, "utf8")}\n${CURSOR}`))).toEqual([
      "block",
      "model",
      "train",
      "dim",
      "const",
      "import",
    ]);
    expect(
      labels(complete(mlp, sample(mlp, "train sgd for mlp", `train sgd for ${CURSOR}`))),
    ).toEqual(["mlp"]);
    expect(complete(mlp, sample(mlp, "// Adam at", `// Adam${CURSOR} at`))).toEqual([]);
  });

  it("offers consts and dims in a const's value, and element types after `input x:`", () => {
    const consts = complete("c.dlg", `dim B\nconst a = 2\nconst b = ${CURSOR}`);
    expect(labels(consts)).toEqual(expect.arrayContaining(["a", "B"]));
    expect(labels(consts)).not.toContain("block");
    const types = complete(mlp, sample(mlp, "input y: int[B]", `input y: ${CURSOR}`));
    expect(labels(types)).toEqual(["f32", "int", "bool", "i32"]);
    expect(labels(complete("b.dlg", `block f(x: [3], n: ${CURSOR}`))).toEqual(
      expect.arrayContaining(["float", "dim", "int"]),
    );
    // A parameter's default is a value: the parameters before it are in scope.
    const dflt = complete("b.dlg", `block f(x: [3], size: int, stride: int = ${CURSOR}`);
    expect(labels(dflt)).toEqual(expect.arrayContaining(["size", "x"]));
    expect(labels(dflt)).not.toContain("float");
  });

  it("works without an analysis, from the text alone (the names it declares, the intrinsics)", () => {
    const text = "dim B\nmodel m {\n  input x: [B, 3]\n  h = x |> dense(";
    const items = completions(undefined, "m.dlg", text, text.length);
    expect(labels(items)).toEqual(expect.arrayContaining(["x", "B", "sum"]));
    // `h` is the name being defined: not yet a value (review R1-14).
    expect(labels(items)).not.toContain("h");
    expect(completions(undefined, "m.dlg", "x = 12", 6)).toEqual([]);
  });

  it("offers only what can go there: callables after `|>` and `init`, not the name being defined (review R1-14)", () => {
    const body = (s: string) => `dim B\nconst k = 3\nmodel m {\n  input x: [B, 3]\n  ${s}\n}\n`;
    const piped = complete("m.dlg", body(`h = x |> ${CURSOR}`));
    expect(labels(piped)).toEqual(expect.arrayContaining(["dense", "relu", "sum"]));
    expect(piped.every((i) => i.kind === CompletionItemKind.Function)).toBe(true);
    const prefix = complete("m.dlg", body(`h = x |> de${CURSOR}`));
    expect(labels(prefix)).not.toContain("B");
    const init = complete("m.dlg", body(`param w: [3, 4] init ${CURSOR}`));
    expect(labels(init)).toEqual(expect.arrayContaining(["zeros", "normal"]));
    expect(labels(init)).not.toContain("k");
    // The statement's own target is left out, across lines and behind `output`.
    const own = labels(complete("m.dlg", body(`hh = x\n  output y = h${CURSOR}`)));
    expect(own).toEqual(expect.arrayContaining(["hh", "x", "k"]));
    expect(own).not.toContain("y");
    const multi = labels(complete("m.dlg", body(`h = x |> dense(\n    ${CURSOR}`)));
    expect(multi).toEqual(expect.arrayContaining(["units:", "x", "k"]));
    expect(multi).not.toContain("h");
    // On the next statement, the previous one's name is in scope.
    expect(labels(complete("m.dlg", body(`h = x\n  y = ${CURSOR}`)))).toContain("h");
  });

  it("offers the .dlg files beside the file in an import's path", () => {
    const file = resolve("samples/mlp.dlg");
    const text = 'import "le"\n';
    const items = completions(undefined, file, text, text.indexOf('"') + 3);
    expect(labels(items)).toEqual(expect.arrayContaining(["lenet.dlg", "composed.dlg"]));
    expect(labels(items)).not.toContain("mlp.dlg");
    // The item replaces what the string holds so far.
    expect(items[0]!.textEdit).toMatchObject({
      range: { start: { line: 0, character: 8 }, end: { line: 0, character: 10 } },
    });
  });
});

describe("signature help", () => {
  function help(file: string, marked: string) {
    const { text, offset, a } = at(file, marked);
    const h = signatureHelp(a, file, text, offset);
    const sig = h?.signatures[0];
    const active = sig?.parameters?.[h!.activeParameter!]?.label;
    return {
      label: sig?.label,
      active: Array.isArray(active) ? sig!.label.slice(active[0], active[1]) : active,
    };
  }
  const m = (body: string) => `dim B\nmodel m {\n  input x: [B, 3]\n  ${body}\n}\n`;

  it("moves the active parameter with each comma", () => {
    expect(help("m.dlg", m(`y = dense(${CURSOR}x, 4)`))).toEqual({
      label: "dense(x: [..., n], units: int, bias: bool = true) -> [..., units]",
      active: "x: [..., n]",
    });
    expect(help("m.dlg", m(`y = dense(x, ${CURSOR}4)`)).active).toBe("units: int");
    expect(help("m.dlg", m(`y = dense(x, 4, ${CURSOR}`)).active).toBe("bias: bool = true");
  });

  it("follows the named argument being typed", () => {
    expect(help("m.dlg", m(`y = dense(x, bias: ${CURSOR}`)).active).toBe("bias: bool = true");
    expect(help("m.dlg", m(`y = dense(x, bias: true, units: 3${CURSOR})`)).active).toBe(
      "units: int",
    );
  });

  it("after a comma, highlights the first parameter not given yet (review R1-13)", () => {
    expect(help("m.dlg", m(`y = x |> dense(units: 3, ${CURSOR})`)).active).toBe(
      "bias: bool = true",
    );
    const conv = "dim B\nmodel m {\n  input x: [B, 1, 28, 28]\n  y = x |> conv2d(6, ";
    expect(help("m.dlg", `${conv}kernel: 3, ${CURSOR})\n}\n`).active).toBe("stride: int = 1");
    expect(help("m.dlg", `${conv}stride: 2, ${CURSOR})\n}\n`).active).toBe("kernel: int");
    const t = `${m("y = x")}train t for m { optimizer sgd(lr: 0.1, ${CURSOR}) }`;
    expect(help("m.dlg", t).active).toBe("momentum: float = 0");
  });

  it("counts a param's own shape as an init call's first argument (review R1-28)", () => {
    const text = m(`param w: [3, 4] init normal(${CURSOR}0.02)\n  y = x @ w`);
    expect(help("m.dlg", text).active).toBe("std: float = 1.0");
    const items = complete("m.dlg", text);
    expect(named(items)).toEqual(["std:", "mean:"]);
  });

  it("counts the piped value as the first argument", () => {
    expect(help("m.dlg", m(`y = x |> dense(${CURSOR}4)`)).active).toBe("units: int");
    expect(help("m.dlg", m(`y = x |> dense(4, ${CURSOR})`)).active).toBe("bias: bool = true");
  });

  it("answers for intrinsics, user blocks, optimizers and the inner call of a nested one", () => {
    expect(help("m.dlg", m(`y = sum(x, ${CURSOR}`))).toEqual({
      label: "sum(x, axis: int | [int] = all axes, keepdims: bool = false)",
      active: "axis: int | [int] = all axes",
    });
    const user = "block twice(x: [...], k: float = 2.0) -> [...] { return k * x }\n";
    expect(help("u.dlg", user + m(`y = twice(x, ${CURSOR}`))).toEqual({
      label: "twice(x: [...], k: float = 2.0) -> [...]",
      active: "k: float = 2.0",
    });
    expect(help("m.dlg", m(`y = dense(relu(${CURSOR}x), 4)`)).label).toBe(
      "relu(x: [...]) -> [...]",
    );
    expect(help("m.dlg", m(`y = dense(relu(x), ${CURSOR}4)`)).active).toBe("units: int");
    const t = `${m("y = x")}train t for m { optimizer adam(0.01, ${CURSOR}) }`;
    expect(help("m.dlg", t)).toEqual({
      label:
        "adam(lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0)",
      active: "beta1: float = 0.9",
    });
  });

  it("answers nothing outside a call or in an unknown one", () => {
    const { text, offset, a } = at("m.dlg", m(`y = x${CURSOR}`));
    expect(signatureHelp(a, "m.dlg", text, offset)).toBeNull();
    const unknown = at("m.dlg", m(`y = nope(x, ${CURSOR}`));
    expect(signatureHelp(unknown.a, "m.dlg", unknown.text, unknown.offset)).toBeNull();
  });
});

describe("semantic tokens", () => {
  interface Decoded {
    text: string;
    line: number;
    char: number;
    type: string;
    modifiers: string[];
  }
  function decode(text: string, data: number[]): Decoded[] {
    expect(data.length % 5).toBe(0);
    const lines = text.split(/\r\n|\r|\n/);
    const out: Decoded[] = [];
    let line = 0;
    let char = 0;
    for (let i = 0; i < data.length; i += 5) {
      const [dl, dc, len, type, mods] = data.slice(i, i + 5) as [
        number,
        number,
        number,
        number,
        number,
      ];
      line += dl;
      char = dl === 0 ? char + dc : dc;
      out.push({
        text: lines[line]!.slice(char, char + len),
        line,
        char,
        type: semanticTokensLegend.tokenTypes[type]!,
        modifiers: semanticTokensLegend.tokenModifiers.filter((_, k) => mods & (1 << k)),
      });
    }
    return out;
  }

  it("classifies keywords, numbers, comments, types and names by what they resolve to", () => {
    const file = "samples/lenet.dlg";
    const text = readFileSync(file, "utf8");
    const a = analyze(file, { host: nodeHost });
    const toks = decode(text, semanticTokens(text, a, file));
    const first = (t: string) => toks.find((d) => d.text === t)!;
    expect(toks[0]).toMatchObject({ line: 0, char: 0, type: "comment" });
    expect(first("dim")).toMatchObject({ type: "keyword" });
    expect(first("B")).toMatchObject({ type: "typeParameter", modifiers: ["declaration"] });
    expect(first("lenet")).toMatchObject({ type: "class", modifiers: ["declaration"] });
    expect(first("int")).toMatchObject({ type: "type" });
    expect(first("28")).toMatchObject({ type: "number" });
    expect(first("conv2d")).toMatchObject({ type: "function", modifiers: ["defaultLibrary"] });
    expect(first("flatten")).toMatchObject({ type: "function", modifiers: ["defaultLibrary"] });
    // conv2d is an intrinsic: its named argument is a parameter, declared by no std block.
    expect(first("kernel")).toMatchObject({ type: "parameter", modifiers: [] });
    expect(first("|>")).toMatchObject({ type: "operator" });
    expect(first("logits")).toMatchObject({ type: "variable", modifiers: ["declaration"] });
    expect(first("default")).toMatchObject({ type: "event", modifiers: ["declaration"] });
    expect(first("optimizer")).toMatchObject({ type: "keyword" });
    // Every token decodes to exactly its text's place: no token is empty or crosses a line.
    for (const d of toks) expect(d.text.length, JSON.stringify(d)).toBeGreaterThan(0);
  });

  it("gives a soft keyword used as a name (std's dim `batch` in conv2d_layer) the name's class", () => {
    const a = analyze("samples/lenet.dlg", { host: nodeHost });
    const std = a.sources.get("std/prelude.dlg")!;
    const toks = decode(std, semanticTokens(std, a, "std/prelude.dlg"));
    const conv = toks.findIndex((d) => d.text === "conv2d_layer");
    expect(toks.slice(conv).find((d) => d.text === "batch")).toMatchObject({
      type: "typeParameter",
      modifiers: ["declaration", "defaultLibrary"],
    });
    expect(toks.find((d) => d.text === "block")).toMatchObject({ type: "keyword" });
  });

  it("marks consts readonly and params as properties, and splits a multi-line comment per line", () => {
    const text = [
      "const k = 2",
      "/* one",
      "   two */ dim D",
      "block f(x: [D]) -> [D] {",
      "  param w: [D] init zeros",
      "  return x * w * k",
      "}",
    ].join("\r\n");
    const a = analyze("c.dlg", {
      host: { readFile: (p) => (p === "c.dlg" ? text : nodeHost.readFile(p)) },
    });
    const toks = decode(text, semanticTokens(text, a, "c.dlg"));
    const all = (t: string) => toks.filter((d) => d.text === t);
    expect(all("k").map((d) => d.modifiers)).toEqual([["declaration", "readonly"], ["readonly"]]);
    expect(all("w").map((d) => d.type)).toEqual(["property", "property"]);
    // An init intrinsic is a std function, not a variable (review R1-22).
    expect(all("zeros")).toMatchObject([{ type: "function", modifiers: ["defaultLibrary"] }]);
    expect(all("x").map((d) => d.type)).toEqual(["parameter", "parameter"]);
    expect(toks.filter((d) => d.type === "comment")).toEqual([
      { text: "/* one", line: 1, char: 0, type: "comment", modifiers: [] },
      { text: "   two */", line: 2, char: 0, type: "comment", modifiers: [] },
    ]);
    expect(all("D")[0]).toMatchObject({ line: 2, char: 14, type: "typeParameter" });
  });

  it("answers from an analysis an edit behind, names moved past the edit (review R1-32)", () => {
    const old = "const k = 2\ndim D\nblock f(x: [D]) -> [D] {\n  return x * k\n}\n";
    const a = analyze("c.dlg", {
      host: { readFile: (p) => (p === "c.dlg" ? old : nodeHost.readFile(p)) },
    });
    // Typed since: a new const in the middle, not yet analysed.
    const text = old.replace("dim D\n", "dim D\nconst extra = k\n");
    const toks = decode(text, semanticTokens(text, a, "c.dlg"));
    const all = (t: string) => toks.filter((d) => d.text === t);
    // Before and after the edit: the analysis's classes, at their new places.
    expect(all("k").map((d) => [d.line, d.modifiers])).toEqual([
      [0, ["declaration", "readonly"]],
      [2, []], // inside the edit: the lexer's guess (a plain variable)
      [4, ["readonly"]],
    ]);
    expect(all("x").map((d) => d.type)).toEqual(["parameter", "parameter"]);
    expect(all("D").every((d) => d.type === "typeParameter")).toBe(true);
    expect(all("extra")).toMatchObject([{ type: "variable", modifiers: [] }]);
  });

  it("classifies from the lexer alone without an analysis, also on broken text", () => {
    const text = 'model m { x = relu(1.5 "open\n /* never closed';
    const toks = decode(text, semanticTokens(text));
    expect(toks.map((d) => [d.text, d.type])).toEqual([
      ["model", "keyword"],
      ["m", "variable"],
      ["x", "variable"],
      ["=", "operator"],
      ["relu", "function"],
      ["1.5", "number"],
      ['"open', "string"],
      ["/* never closed", "comment"],
    ]);
  });
});

describe("through the server", () => {
  it("completes the named arguments inside a call and helps with its signature", async () => {
    const client = LspClient.start();
    try {
      await client.initialize(resolve("."));
      const uri = fileUri(resolve("samples/lenet.dlg"));
      const marked = sample(lenet, "conv2d(16, kernel: 5)", `conv2d(16, ${CURSOR}`);
      const offset = marked.indexOf(CURSOR);
      const text = marked.replace(CURSOR, "");
      await client.open(uri, text);
      const position = positionOf(text, offset);
      const r = await client.request<CompletionItem[] | CompletionList>("textDocument/completion", {
        textDocument: { uri },
        position,
      });
      const items = Array.isArray(r) ? r : r.items;
      expect(named(items)).toEqual(["kernel:", "stride:", "padding:", "dilation:", "bias:"]);
      const h = await client.request<SignatureHelp>("textDocument/signatureHelp", {
        textDocument: { uri },
        position,
      });
      expect(h.signatures[0]!.label).toMatch(
        /^conv2d\(x: \[batch, channels, height, width\], filters: int/,
      );
      expect(h.activeParameter).toBe(2);
    } finally {
      await client.stop();
    }
  }, 60_000);
});
