// Names from .dlg files in emitted code: mangle.ts's escapes as properties,
// then a model whose every name is hostile (prototype members, JS and WGSL
// keywords, the generated code's and runtime's own identifiers) compiled,
// loaded and run against the float64 interpreter, its .d.ts type-checked,
// and its code shown to hold no identifier the same model with plain names
// does not.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import fc from "fast-check";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../cli/node-host.ts";
import { dimEval } from "../compiler/dims.ts";
import { interpret } from "../compiler/interpret.ts";
import { commentText, jsData, jsString, mangle, unmangle } from "../compiler/mangle.ts";
import { stepSeed } from "../runtime/model.ts";
import { lcg, slotInputs, type Arr } from "./entry-inputs.ts";
import { strictCallerOptions } from "./tsc-options.ts";

const jsKeywords =
  "break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await async of get set arguments eval undefined NaN Infinity".split(
    " ",
  );
const wgslKeywords =
  "alias break case const const_assert continue continuing default diagnostic discard else enable false fn for if let loop override requires return struct switch true var while f32 i32 u32 bool array ptr vec2 mat4x4 texture_2d sampler atomic workgroup storage uniform private function".split(
    " ",
  );

describe("mangle", () => {
  it("gives every string an identifier of its own, safe in JS and WGSL, and reads it back", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const id = mangle(s);
        expect(id).toMatch(/^u_[A-Za-z0-9_]*$/);
        expect(id.startsWith("__")).toBe(false);
        expect(unmangle(id)).toBe(s);
      }),
      { numRuns: 2000 },
    );
    for (const k of [...jsKeywords, ...wgslKeywords, "__proto__", "constructor", "b", "D"]) {
      expect([...jsKeywords, ...wgslKeywords]).not.toContain(mangle(k));
      expect(unmangle(mangle(k))).toBe(k);
    }
    // Distinct names that an escape-free scheme would merge stay distinct.
    const names = ["a_b", "a.b", "a__b", "a_2e_b", "_", "__", "", "u_", "a b"];
    expect(new Set(names.map(mangle)).size).toBe(names.length);
  });

  it("refuses to read back text it never writes", () => {
    for (const bad of ["x", "u_a_", "u_a_zz_", "u_a_41_", "u_a_5f_", "u_a_02e_", "u_a_110000_"])
      expect(unmangle(bad)).toBeNull();
  });

  it("writes string literals that evaluate back to the string, in any context", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const lit = jsString(s);
        expect(new Function(`return ${lit};`)()).toBe(s);
        expect(lit).not.toMatch(/[\u2028\u2029<\n\r]/);
      }),
      { numRuns: 2000 },
    );
    expect(
      new Function(`return ${jsData(JSON.parse(`{"__proto__": 1, "</script>": [2]}`), 2)};`)(),
    ).toEqual(JSON.parse('{"__proto__": 1, "</script>": [2]}'));
  });

  it("writes comment text that cannot end a comment or a line", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const c = commentText(s);
        expect(c).not.toContain("*/");
        expect(c).toMatch(/^[\x20-\x7e]*$/);
        expect(new Function(`/* ${c} */ // ${c}\nreturn 1;`)()).toBe(1);
      }),
      { numRuns: 2000 },
    );
  });
});

/** Every hostile name the grammar allows, in every role a name has: dim, model, block, param, input, output, metric. */
const hostile = `dim constructor
block valueOf(x: [constructor, n], units: int) -> [constructor, units] {
  param __proto__: [n, units] init glorot_uniform
  param toString: [units] init zeros
  return x @ __proto__ + toString
}
model __proto__ {
  input toString: [constructor, 3]
  input hasOwnProperty: [constructor, 2]
  param var: [3, 4] init glorot_uniform
  function = tanh(toString @ var)
  this = function |> valueOf(2)
  output await = this
  output fn = function
  output let = sigmoid(this)
  output b = this * 2.0
  output D = this + 1.0
  output Math = exp(this)
  output constructor = this - 1.0
  output e0_0 = this * this
  output t0 = this / 3.0
  output lin = this + this
  output plan = this - this
  output createModel = this + 2.0
  output spec = this * 3.0
  output randomUniform = this * 4.0
  output checkStored = this * 5.0
  output u_x = this * 6.0
  output __proto__ = this * 7.0
  metric loop = mean(this)
  metric scratchF64 = mean(function)
  metric acc = mean(let)
  loss mean((this - hasOwnProperty) * (this - hasOwnProperty))
}
train t for __proto__ {
  optimizer sgd(lr: 0.1)
}
`;
/** The same program with every name of `renames` replaced by a plain one. */
function plainVersion(src: string, renames: string[]): string {
  return renames.reduce(
    (s, n, i) => s.replace(new RegExp(`(?<![\\w.])${n}(?![\\w])`, "g"), `name${i}`),
    src,
  );
}
const renamed = [
  "constructor",
  "valueOf",
  "__proto__",
  "toString",
  "hasOwnProperty",
  "var",
  "function",
  "this",
  "await",
  "fn",
  "let",
  "b",
  "D",
  "Math",
  "e0_0",
  "t0",
  "lin",
  "plan",
  "createModel",
  "spec",
  "randomUniform",
  "checkStored",
  "u_x",
  "loop",
  "scratchF64",
  "acc",
];

const dir = mkdtempSync(join(tmpdir(), "dlg-mangle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function build(src: string, name: string) {
  const file = join(dir, `${name}.dlg`);
  writeFileSync(file, src);
  const r = compile(file);
  expect(r.diagnostics).toEqual([]);
  return { r, file };
}

/** The identifiers of a script's code (strings, templates and comments are not code). */
function identifiers(js: string): Set<string> {
  const ids = new Set<string>();
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n) || ts.isPrivateIdentifier(n)) ids.add(n.text);
    ts.forEachChild(n, visit);
  };
  visit(ts.createSourceFile("m.js", js, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS));
  return ids;
}

describe("hostile names in a compiled model", () => {
  it("the grammar refuses the names it reserves", () => {
    const file = join(dir, "yield.dlg");
    writeFileSync(file, "dim B\nmodel m {\n  input yield: [B, 2]\n}\n");
    expect(compile(file).diagnostics.map((d) => d.code)).toEqual(["E1001"]);
  });

  it("reach the code only mangled: its identifiers are those of the same model with plain names", () => {
    const a = build(hostile, "hostile").r.js!;
    const b = build(plainVersion(hostile, renamed), "plain").r.js!;
    const norm = (s: Set<string>) => [...s].map((i) => i.replace(/_u_\w*$/, "_u_")).sort();
    expect(norm(identifiers(a))).toEqual(norm(identifiers(b)));
    // No identifier of the generated code or the bundled runtime starts as a mangled name does.
    expect([...identifiers(b)].filter((i) => i.startsWith("u_"))).toEqual([]);
    // Kernel names end in what they compute, mangled: the names read back.
    const shown = [...identifiers(a)].flatMap((i) => {
      const m = /^e\d+(?:_\d+)+_(u_\w*)$/.exec(i);
      return m ? [unmangle(m[1]!)] : [];
    });
    expect(shown).toEqual(expect.arrayContaining(["function", "this", "__proto__", "createModel"]));
  });

  it("keep every output, metric and param, and compute what the interpreter computes", async () => {
    const { r } = build(hostile, "run");
    const prog = r.program!;
    const file = join(dir, "run.mjs");
    writeFileSync(file, r.js!);
    const mod = await import(pathToFileURL(file).href);
    const model = await mod.createModel({ seed: 7 });
    const dims = { constructor: 3 };
    const rand = lcg(5);
    const batch: Record<string, Arr> = {};
    for (const inp of prog.inputs) {
      const n = inp.type.shape.reduce((a, d) => a * dimEval(d, dims), 1);
      batch[inp.name] = Float32Array.from({ length: n }, () => rand() - 0.5);
    }
    const initial = await model.params();
    expect(Object.keys(initial)).toEqual(["var", "valueOf_1.__proto__", "valueOf_1.toString"]);
    const before = prog.params.map((p) => Float64Array.from(initial[p.path]));
    const step = prog.entries.find((e) => e.name === "step")!;
    const want = interpret(
      step.graph,
      slotInputs(prog, step, dims, batch, before, stepSeed(7, 1)),
      dims,
    );
    const got = await model.step(batch);
    expect(Object.keys(got.metrics)).toEqual(["loop", "scratchF64", "acc"]);
    step.outSlots.forEach((sl, i) => {
      const w = want[i]!.data[0]!;
      if (sl.kind === "loss") expect(got.loss).toBeCloseTo(w, 5);
      if (sl.kind === "metric") expect(got.metrics[sl.name]).toBeCloseTo(w, 5);
    });
    const now = await model.params();
    const after = prog.params.map((p) => Float64Array.from(now[p.path]!));
    const pred = prog.entries.find((e) => e.name === "predict")!;
    const pw = interpret(pred.graph, slotInputs(prog, pred, dims, batch, after, 0), dims);
    const out = await model.predict(batch);
    expect(Object.keys(out)).toEqual(prog.outputs.map((o) => o.name));
    pred.outSlots.forEach((sl, i) => {
      if (sl.kind !== "output") return;
      const g = out[sl.name] as Float32Array;
      pw[i]!.data.forEach((v, k) => expect(g[k]!).toBeCloseTo(v, 4));
    });
    expect(mod.spec.model).toBe("__proto__");
  });

  it("give a .d.ts that type-checks, with every name a property", () => {
    const { r } = build(hostile, "types");
    const files: Record<string, string> = {
      "/m.d.ts": r.dts!,
      "/use.ts": `import { createModel, type Outputs, type Metrics, type Params } from "./m";
const model = await createModel({ seed: 1, dims: { constructor: 2 } });
const x = new Float32Array(6);
const o: Outputs = await model.predict({ toString: x });
const a: Float32Array = o.__proto__.length ? o.await : o["constructor"];
const m: Metrics = (await model.step({ toString: x, hasOwnProperty: new Float32Array(4) })).metrics;
const l: number = m.loop + m.scratchF64 + m.acc;
const p: Params = await model.params();
const w: Float32Array = p["valueOf_1.__proto__"];
export { a, l, w };
`,
    };
    const options: ts.CompilerOptions = { ...strictCallerOptions, skipDefaultLibCheck: true };
    const host = ts.createCompilerHost(options);
    const read = host.readFile.bind(host);
    host.readFile = (f) => files[f] ?? read(f);
    host.fileExists = (f) => f in files || ts.sys.fileExists(f);
    const getSource = host.getSourceFile.bind(host);
    host.getSourceFile = (f, lang) =>
      f in files ? ts.createSourceFile(f, files[f]!, lang) : getSource(f, lang);
    const program = ts.createProgram(["/use.ts"], options, host);
    const diags = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(diags).toEqual([]);
  });
});
