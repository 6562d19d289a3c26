// analyze(): the editor's index. Definitions and uses (across imports, into
// std, block params through named arguments, signature dims, scan carries),
// the types the elaborator recorded per span, the parse cache, and that a
// half-written file still yields an index without throwing.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyze } from "../compiler/compile.ts";
import { STD_PRELUDE, stdPath } from "../compiler/elaborate.ts";
import type { Analysis, SymbolDef } from "../compiler/symbols.ts";
import { AnalysisCache } from "../compiler/symbols/cache.ts";
import { dlgLexer } from "../grammar/tokens.ts";
import type * as ast from "../grammar/index.ts";
import { loadCorpus } from "./fuzz/corpus.ts";
import { mutantArb } from "./fuzz/mutate.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const stdText = readFileSync(stdPath("prelude.dlg"), "utf8");

/** In-memory files; std from disk. */
function host(files: Record<string, string>) {
  return { readFile: (p: string) => files[p], readStd: () => stdText };
}

function run(files: Record<string, string>, entry = "main.dlg", cache?: AnalysisCache): Analysis {
  return analyze(entry, { host: host(files), ...(cache ? { cache } : {}) });
}

/** The text at a span of a file of the analysis. */
function at(a: Analysis, file: string, span: ast.Span): string {
  return a.sources.get(file)!.slice(span.start, span.end);
}

/** The `n`th (0-based) occurrence of `word` as a whole word in `file`: its span. */
function nth(a: Analysis, file: string, word: string, n = 0): ast.Span {
  const re = new RegExp(`\\b${word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`, "g");
  const all = [...a.sources.get(file)!.matchAll(re)];
  const m = all[n];
  if (!m) throw new Error(`no occurrence ${n} of ${word} in ${file}`);
  return { start: m.index, end: m.index + word.length };
}

/** Where the name at a span is defined (go to definition). */
function defAt(a: Analysis, file: string, span: ast.Span): SymbolDef | undefined {
  const r = a.symbols.refs.find(
    (x) => x.file === file && x.span.start === span.start && x.span.end === span.end,
  );
  return r && a.symbols.defs.get(r.def);
}

function defOf(a: Analysis, file: string, word: string, n = 0): SymbolDef {
  const d = defAt(a, file, nth(a, file, word, n));
  if (!d) throw new Error(`occurrence ${n} of ${word} in ${file} refers to nothing`);
  return d;
}

/** The one def of this name outside std. */
function named(a: Analysis, name: string): SymbolDef {
  const all = [...a.symbols.defs.values()].filter((d) => d.name === name && d.file !== STD_PRELUDE);
  expect(all.length).toBe(1);
  return all[0]!;
}

/** Every use of a def (find references), as `file:text@offset`. */
function usesOf(a: Analysis, def: SymbolDef): string[] {
  return a.symbols.refs
    .filter((r) => r.def === def.id)
    .map((r) => `${r.file}:${at(a, r.file, r.span)}@${r.span.start}`);
}

function typesAt(a: Analysis, file: string, text: string): string[] {
  return a.types
    .filter((t) => t.file === file && at(a, file, t.span) === text)
    .flatMap((t) => t.texts);
}

const layers = `dim F
const hidden = 32

/// Two dense layers with a ReLU between.
block mlp_block(x: [..., F], out: int) -> [..., out] {
  h = x |> dense(hidden) |> relu
  return h |> dense(units: out)
}

block head(x: [..., F]) -> [..., F] {
  return x * 2.0
}
`;

const main = `import "lib/layers.dlg"
dim B, T
const width = 16

block running(x: [b, t, i]) -> [b, t, i] {
  return scan xt in x along 1 carry (acc = zeros([b, i])) {
    acc = acc + xt
    yield acc
  }
}

model m {
  input x: [B, F]
  input s: [B, T, 3]
  y = x |> head |> mlp_block(width)
  z = s |> running
  output o = y
  output r = z
  loss mean(y)
}

train fast for m { optimizer sgd(lr: 0.1)  batch 8  epochs 1 }
`;

const files = { "main.dlg": main, "lib/layers.dlg": layers };

describe("definitions and references", () => {
  const a = run(files);
  const L = "lib/layers.dlg";

  it("analyzes the fixture without diagnostics", () => {
    expect(a.diagnostics.map((d) => d.message)).toEqual([]);
    expect([...a.programs.keys()]).toEqual([STD_PRELUDE, L, "main.dlg"]);
  });

  it("goes to a block across an import, and into std", () => {
    const head = defOf(a, "main.dlg", "head");
    expect(head).toMatchObject({
      kind: "block",
      file: L,
      detail: "block head(x: [..., F]) -> [..., F]",
    });
    const mlp = defOf(a, "main.dlg", "mlp_block");
    expect(mlp.doc).toBe("Two dense layers with a ReLU between.");
    expect(at(a, L, mlp.span)).toBe("mlp_block");
    const dense = defOf(a, L, "dense", 1); // the 0th is in the doc comment
    expect(dense.file).toBe(STD_PRELUDE);
    expect(dense.detail).toBe(
      "block dense(x: [..., n], units: int, bias: bool = true) -> [..., units]",
    );
    expect(dense.doc).toMatch(/^Fully connected layer/);
    expect(at(a, STD_PRELUDE, dense.span)).toBe("dense");
  });

  it("goes to dims, consts, locals and a model", () => {
    expect(defOf(a, "main.dlg", "B", 1)).toMatchObject({ kind: "dim", detail: "dim B" });
    const F = defOf(a, "main.dlg", "F");
    expect(F).toMatchObject({ kind: "dim", file: L, detail: "dim F" });
    expect(defOf(a, "main.dlg", "width", 1)).toMatchObject({
      kind: "const",
      detail: "const width = 16",
    });
    expect(defOf(a, L, "hidden", 1)).toMatchObject({ kind: "const", file: L });
    const h = defOf(a, L, "h", 1);
    expect(h).toMatchObject({ kind: "local", detail: "h = x |> dense(hidden) |> relu" });
    expect(h.container).toBe(named(a, "mlp_block").id);
    expect(defOf(a, "main.dlg", "y", 1)).toMatchObject({ kind: "local" });
    expect(defOf(a, "main.dlg", "x", 3)).toMatchObject({
      kind: "input",
      detail: "input x: [B, F]",
    });
    // `train fast for m`: the model is a use; the train block's keys are not symbols.
    expect(defOf(a, "main.dlg", "m", 1)).toMatchObject({ kind: "model", detail: "model m" });
    const train = [...a.symbols.defs.values()].find((d) => d.kind === "train")!;
    expect(train.detail).toBe("train fast for m");
    expect(defAt(a, "main.dlg", nth(a, "main.dlg", "batch"))).toBeUndefined();
    // The optimizer is not a name in scope, even where a block has its name.
    const t = run({
      "main.dlg": `${main}\nconst rate = 0.5\nblock sgd(x: [...]) -> [...] {\n  return x\n}\ntrain slow for m { optimizer sgd(lr: rate) }\n`,
      "lib/layers.dlg": layers,
    });
    expect(defAt(t, "main.dlg", nth(t, "main.dlg", "sgd", 2))).toBeUndefined();
    expect(defOf(t, "main.dlg", "rate", 1).kind).toBe("const");
  });

  it("resolves a named argument to the callee block's param, in std too", () => {
    const out = defOf(a, L, "units");
    expect(out).toMatchObject({ kind: "block-param", file: STD_PRELUDE, detail: "units: int" });
    expect(out.container).toBe(defOf(a, L, "dense", 1).id);
    // `out` in `units: out` is mlp_block's own param.
    expect(defOf(a, L, "out", 2)).toMatchObject({
      kind: "block-param",
      file: L,
      detail: "out: int",
    });
    // An intrinsic's argument (`lr:` of sgd, `axis:`) has no definition to go to.
    expect(defAt(a, "main.dlg", nth(a, "main.dlg", "lr"))).toBeUndefined();
  });

  it("binds a signature's new dims in the block, and refers to a global dim there", () => {
    const b = defOf(a, "main.dlg", "b", 1); // `zeros([b, i])`
    expect(b).toMatchObject({ kind: "dim", detail: "dim b (bound by x: [b, t, i])" });
    expect(b.container).toBe(named(a, "running").id);
    expect(b.span).toEqual(nth(a, "main.dlg", "b", 0));
    // `F` in both blocks' signatures and the model's input is the one global dim.
    const F = named(a, "F");
    expect(usesOf(a, F).map((u) => u.replace(/@\d+$/, ""))).toEqual([
      `${L}:F`,
      `${L}:F`,
      `${L}:F`,
      "main.dlg:F",
    ]);
  });

  it("scopes a scan's item and carries to its body; assigning a carry is the same carry", () => {
    const acc = defOf(a, "main.dlg", "acc", 2); // `acc + xt`
    expect(acc).toMatchObject({ kind: "local", detail: "carry acc = zeros([b, i])" });
    expect(acc.span).toEqual(nth(a, "main.dlg", "acc", 0));
    expect(defOf(a, "main.dlg", "acc", 1).id).toBe(acc.id); // `acc = ...` in the body
    expect(defOf(a, "main.dlg", "acc", 3).id).toBe(acc.id); // `yield acc`
    expect(defOf(a, "main.dlg", "xt", 1)).toMatchObject({ kind: "local", detail: "xt in x" });
    // Hover on the carry and the item: their types in the body.
    const text = (n: number) => a.types.find((t) => t.span.start === n)?.texts;
    expect(text(acc.span.start)).toEqual(["acc: f32[B, 3]"]);
    expect(text(nth(a, "main.dlg", "xt").start)).toEqual(["xt: f32[B, 3]"]);
  });

  it("never lists a definition as a use, and every use names its def", () => {
    const defSpans = new Set([...a.symbols.defs.values()].map((d) => `${d.file}:${d.span.start}`));
    for (const r of a.symbols.refs) {
      expect(defSpans.has(`${r.file}:${r.span.start}`)).toBe(false);
      const d = a.symbols.defs.get(r.def)!;
      expect(at(a, r.file, r.span)).toBe(d.name);
      expect(at(a, d.file, d.span)).toBe(d.name);
    }
  });
});

describe("v2: namespaces, state, fn parameters", () => {
  const lib = `const width = 8

/// A tower of two dense layers.
block tower(x: [b, n], units: int, act: fn = relu) -> [b, units] {
  return x |> dense(units) |> act |> dense(units)
}
`;
  const entry = `import "lib/enc.dlg" as enc
dim B

block running(x: [b, c]) -> [b, c] {
  state avg: [c] init zeros
  update avg = 0.9 * avg + 0.1 * mean(x, axis: 0)
  return x - avg
}

model m {
  input x: [B, 4]
  y = x |> enc.tower(enc.width, act: tanh) |> running
  z = x |> tower(2)
  loss mean(y)
}
`;
  const a = run({ "main.dlg": entry, "lib/enc.dlg": lib });
  const E = "lib/enc.dlg";

  it("a qualified name refers to the imported file's definition, at the name after the dot", () => {
    const tower = defOf(a, "main.dlg", "tower");
    expect(tower).toMatchObject({ kind: "block", file: E, name: "tower" });
    expect(defOf(a, "main.dlg", "width")).toMatchObject({ kind: "const", file: E });
    // Find references (and so rename) lists `tower` of `enc.tower`, not the namespace.
    expect(usesOf(a, tower)).toEqual([`main.dlg:tower@${nth(a, "main.dlg", "tower").start}`]);
    // A named argument through the namespace is the block's parameter.
    expect(defOf(a, "main.dlg", "act")).toMatchObject({ kind: "block-param", file: E });
  });

  it("an aliased import's names are not global: a plain `tower` refers to nothing", () => {
    expect(defAt(a, "main.dlg", nth(a, "main.dlg", "tower", 1))).toBeUndefined();
  });

  it("a state is defined like a param, and `update` refers to it", () => {
    const avg = named(a, "avg");
    expect(avg).toMatchObject({ kind: "param", detail: "state avg: [c]" });
    const offsets = usesOf(a, avg).map((u) => Number(u.split("@")[1]));
    // The update's target, then the use in its value, then the return.
    expect(offsets.sort((p, q) => p - q)).toEqual(
      [1, 2, 3].map((n) => nth(a, "main.dlg", "avg", n).start),
    );
  });

  it("keep best names the trained model's metric, even from a train block above the model", () => {
    const text = `train t for m { keep best acc  patience 2 }
dim B
model m {
  input x: [B, 4]
  metric acc = mean(x)
  loss mean(x)
}
`;
    const k = run({ "main.dlg": text });
    expect(defOf(k, "main.dlg", "acc")).toMatchObject({
      kind: "metric",
      container: named(k, "m").id,
    });
    const loss = run({ "main.dlg": text.replace("keep best acc", "keep best loss") });
    expect(defAt(loss, "main.dlg", nth(loss, "main.dlg", "loss"))).toBeUndefined();
  });

  it("a fn parameter is defined, and its uses refer to it", () => {
    const act = named(a, "act");
    expect(act).toMatchObject({ kind: "block-param", detail: "act: fn = relu" });
    expect(usesOf(a, act).map((u) => u.split(":")[0])).toEqual(["lib/enc.dlg", "main.dlg"]);
  });
});

/** Names in a file: every identifier token that names one of the file's own defs. */
function identifiers(text: string): { image: string; start: number }[] {
  const tokens = dlgLexer.tokenize(text).tokens;
  // An optimizer's name (`optimizer sgd(...)`) is no name either (a train block may be `sgd`).
  return tokens
    .filter((t, i) => t.tokenType.name === "Identifier" && tokens[i - 1]?.image !== "optimizer")
    .map((t) => ({ image: t.image, start: t.startOffset }));
}

describe("samples", () => {
  const dir = join(root, "samples");
  for (const name of readdirSync(dir).filter((f) => f.endsWith(".dlg"))) {
    it(`${name}: every occurrence of a name the file defines is its def or a use of one`, () => {
      const file = join(dir, name);
      const a = analyze(file, { host: { readFile: (p) => readFileSync(p, "utf8") } });
      expect(a.diagnostics).toEqual([]);
      const text = a.sources.get(file)!;
      const mine = [...a.symbols.defs.values()].filter((d) => d.file === file);
      const names = new Set(mine.map((d) => d.name));
      const covered = new Set([
        ...mine.map((d) => d.span.start),
        ...a.symbols.refs.filter((r) => r.file === file).map((r) => r.span.start),
      ]);
      // Train keys and optimizer settings are not names: none of the samples' defs is called so.
      const missing = identifiers(text).filter((t) => names.has(t.image) && !covered.has(t.start));
      expect(missing).toEqual([]);
      // Each model, train block, input and output is indexed with its detail line.
      const kinds = new Set(mine.map((d) => d.kind));
      for (const k of ["model", "train", "input", "output"] as const) expect(kinds).toContain(k);
    });
  }

  it("std's own names resolve inside std (dense's `w` and `n`)", () => {
    const a = run({
      "main.dlg": "dim B\nmodel m {\n  input x: [B, 4]\n  output y = x |> dense(2)\n}",
    });
    const denseAt = stdText.indexOf("block dense(");
    const after = (word: string) => nthIn(stdText.slice(denseAt), word, 0).start + denseAt;
    const w = [...a.symbols.defs.values()].find(
      (x) => x.name === "w" && x.file === STD_PRELUDE && x.span.start > denseAt,
    )!;
    expect(w).toMatchObject({ kind: "param", detail: "param w: [n, units]" });
    const n = [...a.symbols.defs.values()].find(
      (x) => x.name === "n" && x.file === STD_PRELUDE && x.span.start === after("n"),
    )!;
    expect(n.kind).toBe("dim");
    expect(usesOf(a, n).length).toBeGreaterThanOrEqual(1); // `param w: [n, units]`
  });
});

function nthIn(text: string, word: string, n: number): ast.Span {
  const all = [...text.matchAll(new RegExp(`\\b${word}\\b`, "g"))];
  const m = all[n]!;
  return { start: m.index, end: m.index + word.length };
}

describe("types", () => {
  const mlp = join(root, "test/fixtures/lsp/mlp.dlg"); // samples/mlp.dlg as it was at v1;
  const a = analyze(mlp, { host: { readFile: (p) => readFileSync(p, "utf8") } });

  it("gives each |> stage and each assignment its shape (mlp.dlg)", () => {
    expect(typesAt(a, mlp, "x |> dense(256)")).toEqual(["f32[B, 256]"]);
    expect(typesAt(a, mlp, "x |> dense(256) |> relu |> dropout(0.2)")).toEqual(["f32[B, 256]"]);
    const value = "x |> dense(256) |> relu |> dropout(0.2) |> dense(10)";
    expect(typesAt(a, mlp, value)).toEqual(["f32[B, 10]"]);
    expect(typesAt(a, mlp, "logits")).toContain("logits: f32[B, 10]");
    expect(typesAt(a, mlp, "argmax(logits, axis: -1) == y")).toEqual(["bool[B]"]);
    expect(typesAt(a, mlp, "256")).toEqual(["int = 256"]);
  });

  it("shows a call's signature and doc, and a block param's declared and concrete type", () => {
    const [dense, bound] = typesAt(a, mlp, "dense");
    expect(dense).toMatch(
      /^dense\(x: \[\.\.\., n\], units: int, bias: bool = true\) -> \[\.\.\., units\]\n\nFully connected layer/,
    );
    // And what this call bound and returned.
    expect(bound).toBe("n = 784, units = 256, bias = true → f32[B, 256]");
    expect(typesAt(a, mlp, "relu")).toContain("→ f32[B, 256]");
    expect(typesAt(a, mlp, "argmax")).toContain("→ i32[B]");
    // A named argument shows the value this call gives it; a list its items.
    expect(typesAt(a, mlp, "axis")).toEqual(["axis: int = -1"]);
    expect(typesAt(a, mlp, "params")).toEqual([
      "list [dense_1.w: f32[784, 256], dense_1.b: f32[256], dense_2.w: f32[256, 10], dense_2.b: f32[10]]",
    ]);
    // A dim read through its own name says nothing new (`B` in `[B, 784]` is B).
    expect(typesAt(a, mlp, "B")).toEqual([]);
    const x = a.types.find(
      (t) => t.file === STD_PRELUDE && t.span.start === stdText.indexOf("x: [..., n], units"),
    )!;
    expect(x.texts).toEqual(["x: [..., n]  — here f32[B, 784]", "x: [..., n]  — here f32[B, 256]"]);
  });

  it("keeps one text per shape for a block called twice", () => {
    const src = `dim B
block twice(x: [b, n]) -> [b, n] {
  y = x * 2.0
  return y
}
model m {
  input a: [B, 3]
  input c: [B, 5]
  output p = twice(a)
  output q = twice(c)
}`;
    const r = run({ "main.dlg": src });
    expect(r.diagnostics).toEqual([]);
    expect(typesAt(r, "main.dlg", "x * 2.0")).toEqual(["f32[B, 3]", "f32[B, 5]"]);
    const typeAt = (offset: number) => r.types.find((t) => t.span.start === offset)?.texts;
    expect(typeAt(src.indexOf("n]) ->"))).toEqual(["n: dim = 3", "n: dim = 5"]); // binds `n`
    // The result type's `n`, resolved after each call's body.
    expect(typeAt(src.indexOf("n] {"))).toEqual(["dim = 3", "dim = 5"]);
    expect(typesAt(r, "main.dlg", "y").slice(0, 2)).toEqual(["y: f32[B, 3]", "y: f32[B, 5]"]);
  });

  it("keeps the first four shapes of a block called with more, and says there were more", () => {
    const calls = [1, 2, 3, 4, 5, 6].map((k) => `  output o${k} = lin(x, ${k})`).join("\n");
    const src = `dim B\nconst c = 2 * 8\nblock lin(x: [b, n], u: int) -> [b, u] {\n  h = x |> dense(u)\n  return h\n}\nmodel m {\n  input x: [B, 3]\n${calls}\n}`;
    const r = run({ "main.dlg": src });
    expect(r.diagnostics).toEqual([]);
    expect(typesAt(r, "main.dlg", "x |> dense(u)")).toEqual([
      "f32[B, 1]",
      "f32[B, 2]",
      "f32[B, 3]",
      "f32[B, 4]",
      "…",
    ]);
    // A const's declaration shows its value.
    expect(typesAt(r, "main.dlg", "c")).toEqual(["c: int = 16"]);
  });
});

describe("a library of uncalled blocks", () => {
  it("reports nothing that only the stand-in arguments cause (std itself, opened as a file)", () => {
    // rnn/lstm/gru init `orthogonal` params of [hidden, hidden]: fixed at each call, symbolic alone.
    const a = analyze(stdPath("prelude.dlg"), {
      host: { readFile: (p) => readFileSync(p, "utf8") },
    });
    expect(a.diagnostics.map((d) => d.message)).toEqual([]);
  });

  it("says nothing of a signature dim that only a stand-in binds", () => {
    const a = run({ "main.dlg": "block f(x: [..., n]) -> [..., n] {\n  return x * 2.0\n}\n" });
    const n = nth(a, "main.dlg", "n");
    expect(a.types.filter((t) => t.span.start === n.start)).toEqual([]);
    expect(defAt(a, "main.dlg", nth(a, "main.dlg", "n", 1))?.detail).toBe(
      "dim n (bound by x: [..., n])",
    );
  });
});

describe("a file with syntax errors", () => {
  it("still gives definitions and uses from the recovered AST", () => {
    const broken = main.replace("z = s |> running", "z = s |> running(");
    const a = run({ ...files, "main.dlg": broken });
    expect(a.diagnostics.some((d) => d.code.startsWith("E1"))).toBe(true);
    expect(defOf(a, "main.dlg", "head")).toMatchObject({ kind: "block", file: "lib/layers.dlg" });
    expect(defOf(a, "main.dlg", "acc", 2).kind).toBe("local");
    expect(defOf(a, "main.dlg", "width", 1).kind).toBe("const");
    // The model still runs for its types (its diagnostics beyond the syntax error are dropped).
    expect(typesAt(a, "main.dlg", "x |> head |> mlp_block(width)")).toEqual(["f32[B, 16]"]);
    expect(a.diagnostics.every((d) => d.code.startsWith("E1"))).toBe(true);
  });

  it("never throws on mutants of the corpus, and every use names an existing def", () => {
    const corpus = loadCorpus();
    fc.assert(
      fc.property(mutantArb(corpus), (c) => {
        const a = run({ ...corpus, [c.file]: c.text }, c.file);
        expect(a.diagnostics.every((d) => d.code !== "E9001" || d.file === STD_PRELUDE)).toBe(true);
        for (const r of a.symbols.refs) {
          const d = a.symbols.defs.get(r.def);
          expect(d?.name).toBe(at(a, r.file, r.span));
        }
      }),
      { numRuns: 40, seed: 9 },
    );
  });
});

describe("the analysis cache", () => {
  it("parses an unchanged file once, and hands back the same Program", () => {
    const cache = new AnalysisCache();
    const a = run(files, "main.dlg", cache);
    expect(cache.parses).toBe(3); // std, layers, main
    const b = run(files, "main.dlg", cache);
    expect(cache.parses).toBe(3);
    expect(b.programs.get("lib/layers.dlg")).toBe(a.programs.get("lib/layers.dlg"));
    expect(b.programs.get(STD_PRELUDE)).toBe(a.programs.get(STD_PRELUDE));
    const edited = main.replace("const width = 16", "const width = 24");
    const c = run({ ...files, "main.dlg": edited }, "main.dlg", cache);
    expect(cache.parses).toBe(4); // main alone
    expect(c.programs.get("lib/layers.dlg")).toBe(a.programs.get("lib/layers.dlg"));
    expect(typesAt(c, "main.dlg", "x |> head |> mlp_block(width)")).toEqual(["f32[B, 24]"]);
    // Cached parses give the same index as fresh ones.
    const fresh = run({ ...files, "main.dlg": edited });
    expect(c.symbols.refs).toEqual(fresh.symbols.refs);
    expect([...c.symbols.defs.values()]).toEqual([...fresh.symbols.defs.values()]);
    expect(c.types).toEqual(fresh.types);
  });
});
