// The emitted module end to end: emit a hand-built program, import the file,
// and drive createModel's API against the interpreter; the JS backend's
// synchronous path (createModelSync) against it; plus the guarantees of the
// text itself (standalone, injection-proof, a .d.ts that type-checks).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { Builder } from "../compiler/builder.ts";
import { dimConst, dimEval, dimMul, dimVar, shapeOf } from "../compiler/dims.ts";
import { jsBackend } from "../compiler/backends/js.ts";
import { emitProgram } from "../cli/node-host.ts";
import { interpret, tensor, type Tensor } from "../compiler/interpret.ts";
import {
  VarGen,
  type Entry,
  type InSlot,
  type OutSlot,
  type ProgramIR,
  type TensorType,
  type Var,
} from "../compiler/ir.ts";
import { stepSeed, type Model, type ModelOptions } from "../runtime/model.ts";
import { checkBackend } from "../runtime/model-core.ts";
import type { SyncModel } from "../runtime/model-sync.ts";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors.ts";
import { moduleDts } from "../compiler/emit/dts.ts";
import { uniform } from "./graph-helpers.ts";

const f32 = (...s: (number | string)[]): TensorType => ({ dtype: "f32", shape: shapeOf(...s) });
const i32 = (...s: (number | string)[]): TensorType => ({ dtype: "i32", shape: shapeOf(...s) });

interface Names {
  model: string;
  x: string;
  y: string;
  w: string;
  b: string;
  pred: string;
  cls: string;
  mae: string;
}

const plainNames: Names = {
  model: "linreg",
  x: "x",
  y: "y",
  w: "dense.w",
  b: "dense.b",
  pred: "pred",
  cls: "cls",
  mae: "mae",
};

/**
 * A two-output linear regression trained by SGD with momentum, written by
 * hand: pred = x @ w + b + noise * 0 (noise exercises the step seed),
 * loss = mean((pred - y)^2), metric mae, gradients derived by hand.
 */
function linregProgram(
  n: Names = plainNames,
  opts: { lr?: number; momentum?: number } = {},
): ProgramIR {
  const lr = opts.lr ?? 0.1;
  const momentum = opts.momentum ?? 0.9;
  const gen = new VarGen();
  const B = dimVar("B");
  const c = (b: Builder, value: number) => b.emit("const", { value, dtype: "f32", shape: [] }, []);

  // Forward pieces shared by every entry, built fresh into each graph.
  const forward = (b: Builder, x: Var, w: Var, bias: Var, y: Var | null) => {
    const pred = b.emit("add", {}, [b.emit("matmul", {}, [x, w]), bias]);
    const cls = b.emit("argmax", { axis: 1 }, [pred]);
    if (!y) return { pred, cls };
    const d = b.emit("sub", {}, [pred, y]);
    const count = b.emit("dimval", { dim: dimMul(B, dimConst(2)), dtype: "f32" }, []);
    const loss = b.emit("div", {}, [
      b.emit("reduce_sum", { axes: [0, 1] }, [b.emit("mul", {}, [d, d])]),
      count,
    ]);
    const mae = b.emit("div", {}, [
      b.emit("reduce_sum", { axes: [0, 1] }, [b.emit("abs", {}, [d])]),
      count,
    ]);
    return { pred, cls, d, count, loss, mae };
  };
  const ins = () => ({
    x: gen.fresh(f32("B", 3)),
    y: gen.fresh(f32("B", 2)),
    w: gen.fresh(f32(3, 2)),
    b: gen.fresh(f32(2)),
  });

  const entries: Entry[] = [];
  {
    const b = new Builder(gen);
    const seed = gen.fresh(i32());
    const r = b.emit("random", { shape: shapeOf(3, 2), stream: 0 }, [seed]);
    const w = b.emit("sub", {}, [r, c(b, 0.5)]);
    const bias = b.emit("const", { value: 0, dtype: "f32", shape: shapeOf(2) }, []);
    entries.push({
      name: "init",
      graph: { inputs: [seed], eqns: b.eqns, outputs: [w, bias] },
      inSlots: [{ kind: "seed" }],
      outSlots: [
        { kind: "param", index: 0 },
        { kind: "param", index: 1 },
      ],
    });
  }
  const fwdSlots: InSlot[] = [
    { kind: "input", name: n.x },
    { kind: "param", index: 0 },
    { kind: "param", index: 1 },
  ];
  {
    const b = new Builder(gen);
    const v = ins();
    const f = forward(b, v.x, v.w, v.b, null);
    entries.push({
      name: "predict",
      graph: { inputs: [v.x, v.w, v.b], eqns: b.eqns, outputs: [f.pred, f.cls] },
      inSlots: fwdSlots,
      outSlots: [
        { kind: "output", name: n.pred },
        { kind: "output", name: n.cls },
      ],
    });
  }
  const evalSlots: InSlot[] = [
    { kind: "input", name: n.x },
    { kind: "input", name: n.y },
    { kind: "param", index: 0 },
    { kind: "param", index: 1 },
  ];
  const scoreSlots: OutSlot[] = [{ kind: "metric", name: n.mae }, { kind: "loss" }];
  {
    const b = new Builder(gen);
    const v = ins();
    const f = forward(b, v.x, v.w, v.b, v.y);
    entries.push({
      name: "evaluate",
      graph: { inputs: [v.x, v.y, v.w, v.b], eqns: b.eqns, outputs: [f.mae!, f.loss!] },
      inSlots: evalSlots,
      outSlots: scoreSlots,
    });
  }
  {
    const b = new Builder(gen);
    const v = ins();
    const vw = gen.fresh(f32(3, 2));
    const vb = gen.fresh(f32(2));
    const seed = gen.fresh(i32());
    const step = gen.fresh(f32());
    const f = forward(b, v.x, v.w, v.b, v.y);
    // d loss / d pred = 2 d / count; a zero-weighted random term makes the seed an input that matters to nothing numerically.
    const noise = b.emit("mul", {}, [
      b.emit("random", { shape: [B, dimConst(2)], stream: 1 }, [seed]),
      c(b, 0),
    ]);
    const dpred = b.emit("add", {}, [
      b.emit("div", {}, [b.emit("mul", {}, [f.d!, c(b, 2)]), f.count!]),
      noise,
    ]);
    const gw = b.emit("matmul", {}, [b.emit("transpose", { perm: [1, 0] }, [v.x]), dpred]);
    const gb = b.emit("reduce_sum", { axes: [0] }, [dpred]);
    const upd = (p: Var, vel: Var, g: Var) => {
      const nv = b.emit("add", {}, [b.emit("mul", {}, [vel, c(b, momentum)]), g]);
      return { nv, np: b.emit("sub", {}, [p, b.emit("mul", {}, [nv, c(b, lr)])]) };
    };
    const uw = upd(v.w, vw, gw);
    const ub = upd(v.b, vb, gb);
    // The step count only feeds a metric, to check it is 1-based.
    entries.push({
      name: "step",
      graph: {
        inputs: [v.x, v.y, v.w, v.b, vw, vb, seed, step],
        eqns: b.eqns,
        outputs: [f.mae!, f.loss!, uw.np, ub.np, uw.nv, ub.nv, b.emit("add", {}, [step, c(b, 0)])],
      },
      inSlots: [
        ...evalSlots,
        { kind: "state", index: 0 },
        { kind: "state", index: 1 },
        { kind: "seed" },
        { kind: "step" },
      ],
      outSlots: [
        ...scoreSlots,
        { kind: "param", index: 0 },
        { kind: "param", index: 1 },
        { kind: "state", index: 0 },
        { kind: "state", index: 1 },
        { kind: "metric", name: "step" },
      ],
    });
  }
  return {
    model: n.model,
    dims: ["B"],
    inputs: [
      { name: n.x, type: f32("B", 3) },
      { name: n.y, type: f32("B", 2) },
    ],
    outputs: [
      { name: n.pred, type: f32("B", 2) },
      { name: n.cls, type: i32("B") },
    ],
    metrics: [n.mae, "step"],
    hasLoss: true,
    params: [
      { path: n.w, type: f32(3, 2) },
      { path: n.b, type: f32(2) },
    ],
    state: [
      { name: `${n.w}.velocity`, type: f32(3, 2) },
      { name: `${n.b}.velocity`, type: f32(2) },
    ],
    entries,
  };
}

interface ModuleApi {
  createModel(o?: ModelOptions): Promise<Model>;
  createModelSync(o?: ModelOptions): SyncModel;
  spec: {
    model: string;
    inputs: { name: string; shape: (string | number)[] }[];
    outputs: { name: string }[];
    metrics: string[];
    params: { name: string }[];
  };
}

const dir = mkdtempSync(join(tmpdir(), "dlg-emit-"));
const dtsDirs: string[] = [];
afterAll(() => {
  for (const d of [dir, ...dtsDirs]) rmSync(d, { recursive: true, force: true });
});
let counter = 0;

async function load(p: ProgramIR): Promise<{ mod: ModuleApi; js: string; dts: string }> {
  const { js, dts } = emitProgram(p, jsBackend, { modelName: p.model });
  const file = join(dir, `m${counter++}.js`);
  writeFileSync(file, js);
  const mod = (await import(pathToFileURL(file).href)) as ModuleApi;
  return { mod, js, dts };
}

const batch = (n: number, salt = 0) => ({
  x: Float32Array.from(uniform(n * 3, 10 + salt)),
  y: Float32Array.from(uniform(n * 2, 20 + salt)),
});

const T = (type: TensorType, data: ArrayLike<number>, dims: Record<string, number>): Tensor =>
  tensor(
    type.dtype,
    type.shape.map((d) => dimEval(d, dims)),
    Array.from(data),
  );

function expectNear(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    expect(Math.abs(a[i]! - b[i]!), `${what}[${i}]: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(
      1e-5 * Math.max(1, Math.abs(b[i]!)),
    );
}

describe("emit: the module text", () => {
  it("is one ES module with no imports or requires", async () => {
    const { js, mod } = await load(linregProgram());
    expect(js).not.toMatch(/^\s*import[\s{*]/m);
    expect(js).not.toMatch(/\bimport\s*\(/);
    expect(js).not.toMatch(/\brequire\s*\(/);
    expect(typeof mod.createModel).toBe("function");
    expect(mod.spec).toMatchObject({
      model: "linreg",
      inputs: [
        { name: "x", shape: ["B", 3] },
        { name: "y", shape: ["B", 2] },
      ],
      outputs: [{ name: "pred" }, { name: "cls" }],
      metrics: ["mae", "step"],
      params: [{ name: "dense.w" }, { name: "dense.b" }],
    });
  });

  it("comes with a .d.ts that type-checks a caller", () => {
    const { dts } = emitProgram(linregProgram(), jsBackend, { modelName: "linreg" });
    expect(dts).toContain('/** f32[B, 3] */\n  "x": Tensor<"f32", ["B", 3]>;');
    expect(dts).toContain('"cls": FreshTensor<"i32", ["B"]>;');
    const diags = typecheck(
      dts,
      `const m = await createModel({ seed: 1 });\nconst p: Float32Array = (await m.predict({ x: new Float32Array(3) })).pred;\nconst l: number = (await m.step({ x: new Float32Array(3), y: new Float32Array(2) })).metrics.mae;\nconst w: Float32Array = (await m.params())["dense.w"];\nconst s = createModelSync({ seed: 1 });\nconst q: Float32Array = s.predict({ x: new Float32Array(3) }).pred;\nconst v: Float32Array = s.params["dense.w"];\nm.dispose();\nexport { p, l, w, q, v };`,
    );
    expect(diags).toEqual([]);
    const bad = typecheck(
      dts,
      `const m = await createModel();\nawait m.predict({ z: new Float32Array(3) });\nconst x: number = m.predict({ x: new Float32Array(3) }).pred.length;\nawait createModel({ backend: "webgpu" });\nexport { x };`,
    );
    expect(bad.join("\n")).toMatch(/'z' does not exist in type 'PredictInputs'/);
    // predict() is a Promise: its result has no outputs until awaited.
    expect(bad.join("\n")).toMatch(/Property 'pred' does not exist on type 'Promise<Outputs>'/);
    // A JS module's createModel takes backend "js" only (another backend throws at run time too).
    expect(bad.join("\n")).toMatch(/'"webgpu"' is not assignable to type '"js"'/);
  });

  it("types a webgpu module's device options, and gives it no synchronous path", () => {
    const dts = moduleDts(linregProgram(), "linreg", "webgpu");
    const diags = typecheck(
      dts,
      `declare const gpu: { requestAdapter(o?: object): Promise<unknown> };\nconst m = await createModel({ seed: 1, backend: "webgpu", gpu });\nconst b: "webgpu" = m.backend;\nconst p: Float32Array = (await m.predict({ x: new Float32Array(3) })).pred;\nawait createModel({ backend: "js" });\nexport { b, p };`,
    );
    // The caller's file imports createModelSync too: a webgpu module has none.
    expect(diags).toEqual([
      `'"./model.js"' has no exported member named 'createModelSync'. Did you mean 'createModel'?`,
      `Type '"js"' is not assignable to type '"webgpu"'.`,
    ]);
  });
});

/** Lib files parsed once for every type-check in this file (parsing lib.d.ts dominates otherwise). */
const libCache = new Map<string, ts.SourceFile | undefined>();
const tsOptions: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2022.d.ts"],
  types: [],
};

/** Type-check `caller` against the module's .d.ts; returns the error messages. */
function typecheck(dts: string, caller: string): string[] {
  const d = mkdtempSync(join(tmpdir(), "dlg-dts-"));
  dtsDirs.push(d);
  writeFileSync(join(d, "model.d.ts"), dts);
  writeFileSync(
    join(d, "main.ts"),
    `import { createModel, createModelSync } from "./model.js";\n${caller}\n`,
  );
  const host = ts.createCompilerHost(tsOptions);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError) => {
    if (!name.includes("node_modules/typescript/lib/")) return read(name, lang, onError);
    if (!libCache.has(name)) libCache.set(name, read(name, lang, onError));
    return libCache.get(name);
  };
  const program = ts.createProgram([join(d, "main.ts")], tsOptions, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map((x) => ts.flattenDiagnosticMessageText(x.messageText, "\n"));
}

describe("emit: createModel", () => {
  it("initialises deterministically from the seed", async () => {
    const { mod } = await load(linregProgram());
    const a = await (await mod.createModel({ seed: 5 })).params();
    const b = await (await mod.createModel({ seed: 5 })).params();
    const c = await (await mod.createModel({ seed: 6 })).params();
    expect([...a["dense.w"]!]).toEqual([...b["dense.w"]!]);
    expect([...a["dense.w"]!]).not.toEqual([...c["dense.w"]!]);
    expect([...a["dense.b"]!]).toEqual([0, 0]);
    // The init graph is random(seed) - 0.5.
    const p = linregProgram();
    const init = interpret(p.entries[0]!.graph, [tensor("i32", [], [5])]);
    expectNear(a["dense.w"]!, init[0]!.data, "init w");
  });

  it("predict, evaluate and step agree with the interpreter", async () => {
    const p = linregProgram();
    const { mod } = await load(p);
    const m = await mod.createModel({ seed: 3 });
    expect(m.backend).toBe("js");
    const dims = { B: 4 };
    const data = batch(4);
    const p0 = await m.params();
    const w0 = p0["dense.w"]!;
    const b0 = p0["dense.b"]!;
    const [, predict, evaluate, step] = p.entries as [Entry, Entry, Entry, Entry];

    const out = await m.predict(data);
    const want = interpret(predict.graph, [
      T(f32("B", 3), data.x, dims),
      T(f32(3, 2), w0, dims),
      T(f32(2), b0, dims),
    ]);
    expectNear(out.pred!, want[0]!.data, "pred");
    expect(out.cls).toBeInstanceOf(Int32Array);
    expect([...out.cls!]).toEqual([...want[1]!.data]);

    const ev = await m.evaluate(data);
    const wantEv = interpret(evaluate.graph, [
      T(f32("B", 3), data.x, dims),
      T(f32("B", 2), data.y, dims),
      T(f32(3, 2), w0, dims),
      T(f32(2), b0, dims),
    ]);
    expectNear([ev.metrics.mae!, ev.loss], [wantEv[0]!.data[0]!, wantEv[1]!.data[0]!], "evaluate");

    // Two steps: the second reads the velocity the first wrote.
    let w: ArrayLike<number> = w0;
    let b: ArrayLike<number> = b0;
    let vw = new Float64Array(6);
    let vb = new Float64Array(2);
    for (let s = 1; s <= 2; s++) {
      const r = await m.step(data);
      const got = interpret(step.graph, [
        T(f32("B", 3), data.x, dims),
        T(f32("B", 2), data.y, dims),
        T(f32(3, 2), w, dims),
        T(f32(2), b, dims),
        T(f32(3, 2), vw, dims),
        T(f32(2), vb, dims),
        tensor("i32", [], [stepSeed(3, s)]),
        tensor("f32", [], [s]),
      ]);
      expectNear(
        [r.metrics.mae!, r.loss, r.metrics.step!],
        [got[0]!.data[0]!, got[1]!.data[0]!, s],
        `step ${s} scores`,
      );
      const now = await m.params();
      expectNear(now["dense.w"]!, got[2]!.data, `step ${s} w`);
      expectNear(now["dense.b"]!, got[3]!.data, `step ${s} b`);
      w = now["dense.w"]!;
      b = now["dense.b"]!;
      vw = got[4]!.data;
      vb = got[5]!.data;
    }
    expect(m.steps).toBe(2);
  });

  it("params() hands out copies: writing one changes nothing", async () => {
    const { mod } = await load(linregProgram());
    const m = await mod.createModel({ seed: 3 });
    const first = await m.params();
    const kept = first["dense.w"]!.slice();
    first["dense.w"]!.fill(7);
    expect([...(await m.params())["dense.w"]!]).toEqual([...kept]);
    await m.step(batch(4));
    expect([...(await m.params())["dense.w"]!]).not.toEqual([...kept]);
  });

  it("runs calls in the order they were made, even when not awaited one by one", async () => {
    const { mod } = await load(linregProgram());
    const data = batch(4, 2);
    const awaited = await mod.createModel({ seed: 8 });
    const one = [];
    for (let i = 0; i < 3; i++) one.push((await awaited.step(data)).loss);
    const queued = await mod.createModel({ seed: 8 });
    const all = await Promise.all([queued.step(data), queued.step(data), queued.step(data)]);
    expect(all.map((r) => r.loss)).toEqual(one);
    expect(queued.steps).toBe(3);
    // A call that fails in the middle of the queue rejects alone and counts nothing.
    const [ok, bad, after] = await Promise.allSettled([
      queued.step(data),
      queued.step({ x: new Float32Array(5), y: new Float32Array(2) }),
      queued.evaluate(data),
    ]);
    expect(ok.status).toBe("fulfilled");
    expect(bad.status).toBe("rejected");
    expect(after.status).toBe("fulfilled");
    expect(queued.steps).toBe(4);
  });

  it("dispose() ends the model: later calls reject", async () => {
    const { mod } = await load(linregProgram());
    const m = await mod.createModel({ seed: 1 });
    const pending = m.predict(batch(2));
    m.dispose();
    // A call made before dispose() still completes.
    expect((await pending).pred!.length).toBe(4);
    await expect(m.predict(batch(2))).rejects.toThrow(/model linreg has been disposed/);
    await expect(m.save()).rejects.toThrow(/has been disposed/);
  });

  it("refuses a backend the module was not compiled for, saying how to compile for it", async () => {
    const { mod } = await load(linregProgram());
    await expect(mod.createModel({ backend: "webgpu" })).rejects.toThrow(
      /compiled for the js backend, so it cannot run on webgpu; compile the model for webgpu with `dlg compile --target webgpu`/,
    );
    expect(() => mod.createModelSync({ backend: "webgpu" })).toThrow(/dlg compile --target webgpu/);
    await expect(
      mod.createModel({ backend: "cuda" as unknown as ModelOptions["backend"] }),
    ).rejects.toThrow(/unknown backend "cuda"; backends: "js", "webgpu", "wasm"/);
    expect((await mod.createModel({ backend: "js" })).backend).toBe("js");
    // The same check in a webgpu module's core, the other way round.
    expect(() => checkBackend({ backend: "js" }, "webgpu")).toThrow(
      /compiled for the webgpu backend, so it cannot run on js; .*`dlg compile --target js`/,
    );
  });

  it("trains: the loss goes down", async () => {
    const { mod } = await load(linregProgram(plainNames, { lr: 0.05 }));
    const m = await mod.createModel({ seed: 1 });
    const data = batch(32, 7);
    const first = (await m.evaluate(data)).loss;
    for (let i = 0; i < 50; i++) await m.step(data);
    expect((await m.evaluate(data)).loss).toBeLessThan(first * 0.8);
  });

  it("runs at several batch sizes from one module", async () => {
    const { mod } = await load(linregProgram());
    const m = await mod.createModel({ seed: 2 });
    for (const n of [1, 5, 64, 5]) {
      const out = await m.predict(batch(n, n));
      expect(out.pred!.length).toBe(2 * n);
      expect(out.cls!.length).toBe(n);
    }
  });
});

describe("emit: createModelSync, the JS backend's synchronous path", () => {
  it("gives createModel's numbers, bit for bit, with results returned directly", async () => {
    const { mod } = await load(linregProgram());
    const a = await mod.createModel({ seed: 3 });
    const s = mod.createModelSync({ seed: 3 });
    expect(s.backend).toBe("js");
    const data = batch(4, 1);
    for (let i = 0; i < 3; i++) {
      const ra = await a.step(data);
      const rs = s.step(data);
      expect(rs).toEqual(ra);
    }
    expect(s.evaluate(data)).toEqual(await a.evaluate(data));
    expect([...s.predict(data).pred!]).toEqual([...(await a.predict(data)).pred!]);
    expect(s.steps).toBe(3);
    expect([...s.save()]).toEqual([...(await a.save())]);
  });

  it("params are live views: the same arrays, updated in place by step() and load()", async () => {
    const { mod } = await load(linregProgram());
    const s = mod.createModelSync({ seed: 3 });
    const w = s.params["dense.w"]!;
    const w0 = w.slice();
    const bytes = s.save();
    s.step(batch(4));
    expect(s.params["dense.w"]).toBe(w);
    expect([...w]).not.toEqual([...w0]);
    s.load(bytes);
    expect(s.params["dense.w"]).toBe(w);
    expect([...w]).toEqual([...w0]);
    expect(s.steps).toBe(0);
    // A checkpoint moves between the two APIs.
    const a = await mod.createModel({ seed: 50 });
    await a.load(bytes);
    expect([...(await a.params())["dense.w"]!]).toEqual([...w0]);
  });
});

describe("emit: checkpoints", () => {
  it("save/load round-trips params, optimizer state and the step count", async () => {
    const { mod } = await load(linregProgram());
    const a = await mod.createModel({ seed: 4 });
    const data = batch(8, 3);
    await a.step(data);
    await a.step(data);
    const bytes = await a.save();
    // safetensors: 8-byte little-endian header length, then a JSON header.
    const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header.__metadata__.step).toBe("2");
    expect(header["dense.w"]).toMatchObject({ dtype: "F32", shape: [3, 2] });
    expect(header["__state__.dense.w.velocity"]).toMatchObject({ dtype: "F32", shape: [3, 2] });
    expect((8 + n) % 8).toBe(0);

    const b = await mod.createModel({ seed: 99 });
    await b.load(bytes);
    expect(b.steps).toBe(2);
    expect([...(await b.params())["dense.w"]!]).toEqual([...(await a.params())["dense.w"]!]);
    // Same params and momentum: the next step matches exactly.
    const ra = await a.step(data);
    const rb = await b.step(data);
    expect(rb.loss).toBe(ra.loss);
    expect([...(await b.params())["dense.w"]!]).toEqual([...(await a.params())["dense.w"]!]);
  });

  it("rejects checkpoints with wrong shapes, missing or unknown tensors, and garbage", async () => {
    const { mod } = await load(linregProgram());
    const other = linregProgram();
    other.params[0] = { path: "dense.w", type: f32(4, 2) };
    other.state[0] = { name: "dense.w.velocity", type: f32(4, 2) };
    // A model with a differently shaped w cannot be built from our init graph; forge its checkpoint instead.
    const m = await mod.createModel({ seed: 1 });
    const good = await m.save();
    const forged = forge(good, (h) => {
      h["dense.w"].shape = [2, 3];
    });
    const before = (await m.params())["dense.w"]!;
    await expect(m.load(forged)).rejects.toThrow(/"dense.w" is F32\[2, 3\], expected F32\[3, 2\]/);
    expect([...(await m.params())["dense.w"]!]).toEqual([...before]);
    const stored = decodeSafetensors(good);
    const withoutB = encodeSafetensors(
      [...stored.tensors.values()].filter((t) => t.name !== "dense.b"),
      stored.metadata,
    );
    await expect(m.load(withoutB)).rejects.toThrow(/no tensor "dense.b"/);
    // Dropping the entry but not its bytes leaves a hole in the data: malformed.
    await expect(m.load(forge(good, (h) => delete h["dense.b"]))).rejects.toThrow(
      /belong to no tensor/,
    );
    const withExtra = encodeSafetensors(
      [...stored.tensors.values(), { ...stored.tensors.get("dense.b")!, name: "extra" }],
      stored.metadata,
    );
    await expect(m.load(withExtra)).rejects.toThrow(/"extra" is not a parameter/);
    await expect(m.load(forge(good, (h) => (h["extra"] = h["dense.b"])))).rejects.toThrow(
      /overlaps/,
    );
    await expect(m.load(new Uint8Array([1, 2, 3]))).rejects.toThrow(/not a valid safetensors/);
    expect(other.params[0]!.path).toBe("dense.w");
  });
});

/** Rewrite a checkpoint's JSON header (data untouched). */
function forge(bytes: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  edit(h);
  const json = new TextEncoder().encode(
    JSON.stringify(h).padEnd(Math.ceil(JSON.stringify(h).length / 8) * 8, " "),
  );
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

describe("emit: input validation", () => {
  it("names the input and both shapes when lengths disagree", async () => {
    const { mod } = await load(linregProgram());
    const m = await mod.createModel();
    await expect(m.predict({ x: new Float32Array(7) })).rejects.toThrow(
      /input "x" has 7 elements, which does not fit f32\[B, 3\]/,
    );
    await expect(m.evaluate({ x: new Float32Array(12), y: new Float32Array(6) })).rejects.toThrow(
      /input "(x|y)" has \d+ elements but f32\[B, (2|3)\] is \[\d, (2|3)\] = \d+ elements with B = \d \(from input "(x|y)"\)/,
    );
    await expect(m.predict({ x: new Float64Array(3) as unknown as Float32Array })).rejects.toThrow(
      /input "x" must be a Float32Array \(f32\[B, 3\]\); got Float64Array/,
    );
    await expect(m.predict({})).rejects.toThrow(
      /input "x" must be a Float32Array .* it is missing/,
    );
    await expect(m.predict({ x: new Float32Array(3), q: new Float32Array(1) })).rejects.toThrow(
      /unknown input "q"/,
    );
  });

  it("accepts explicit dims", async () => {
    const { mod } = await load(linregProgram());
    const m = await mod.createModel();
    expect((await m.predict({ x: new Float32Array(6) }, { B: 2 })).pred!.length).toBe(4);
    await expect(m.predict({ x: new Float32Array(6) }, { B: 3 })).rejects.toThrow(
      /"x" has 6 elements but f32\[B, 3\] is \[3, 3\] = 9 elements with B = 3/,
    );
  });
});

describe("emit: untrusted names cannot inject code", () => {
  const evil = (tag: string) =>
    `${tag}*/"'\`\${globalThis.pwned=1}\n});globalThis.pwned=2;//\u2028</script>`;
  it("quotes every name; the module parses, runs, and round-trips the names", async () => {
    const names: Names = {
      model: evil("m"),
      x: evil("x"),
      y: evil("y"),
      w: evil("w"),
      b: evil("b"),
      pred: evil("p"),
      cls: evil("c"),
      mae: evil("a"),
    };
    const p = linregProgram(names);
    const { mod, js, dts } = await load(p);
    expect((globalThis as { pwned?: unknown }).pwned).toBeUndefined();
    expect(js).not.toContain("globalThis.pwned=2;//\n");
    expect(mod.spec.model).toBe(names.model);
    expect(mod.spec.params.map((q) => q.name)).toEqual([names.w, names.b]);
    const m = await mod.createModel({ seed: 1 });
    const data = batch(2);
    const out = await m.predict({ [names.x]: data.x });
    expect(Object.keys(out)).toEqual([names.pred, names.cls]);
    const r = await m.step({ [names.x]: data.x, [names.y]: data.y });
    expect(Object.keys(r.metrics)).toEqual([names.mae, "step"]);
    const again = await mod.createModel();
    await again.load(await m.save());
    expect(Object.keys(await again.params())).toEqual([names.w, names.b]);
    expect([...(await again.params())[names.w]!]).toEqual([...(await m.params())[names.w]!]);
    expect(Object.keys(mod.createModelSync().params)).toEqual([names.w, names.b]);
    expect((globalThis as { pwned?: unknown }).pwned).toBeUndefined();
    // The .d.ts parses and its interfaces carry the names as string keys.
    expect(
      typecheck(
        dts,
        `const m = await createModel();\nconst k: number = (await m.params())[${JSON.stringify(names.w)}].length;\nexport { k };`,
      ),
    ).toEqual([]);
  });
});

describe("emit: dims fixed at createModel", () => {
  /** pred = x @ theta with theta: [F], as in samples/linreg.dlg. */
  function thetaProgram(): ProgramIR {
    const gen = new VarGen();
    const F = dimVar("F");
    const init = new Builder(gen);
    const seed = gen.fresh(i32());
    const theta0 = init.emit("const", { value: 0.5, dtype: "f32", shape: [F] }, []);
    const fwd = new Builder(gen);
    const x = gen.fresh(f32("B", "F"));
    const theta = gen.fresh(f32("F"));
    const pred = fwd.emit("matmul", {}, [
      x,
      fwd.emit("reshape", { shape: [F, dimConst(1)] }, [theta]),
    ]);
    return {
      model: "lin",
      dims: ["B", "F"],
      inputs: [{ name: "x", type: f32("B", "F") }],
      outputs: [{ name: "pred", type: f32("B", 1) }],
      metrics: [],
      hasLoss: false,
      params: [{ path: "theta", type: f32("F") }],
      state: [],
      entries: [
        {
          name: "init",
          graph: { inputs: [seed], eqns: init.eqns, outputs: [theta0] },
          inSlots: [{ kind: "seed" }],
          outSlots: [{ kind: "param", index: 0 }],
        },
        {
          name: "predict",
          graph: { inputs: [x, theta], eqns: fwd.eqns, outputs: [pred] },
          inSlots: [
            { kind: "input", name: "x" },
            { kind: "param", index: 0 },
          ],
          outSlots: [{ kind: "output", name: "pred" }],
        },
      ],
    };
  }

  it("sizes params from createModel's dims and holds them fixed", async () => {
    const { mod } = await load(thetaProgram());
    await expect(mod.createModel()).rejects.toThrow(
      /needs dimension F to size "theta" \(f32\[F\]\).*createModel\(\{ dims: \{ F: \.\.\. \} \}\)/,
    );
    const m = await mod.createModel({ dims: { F: 3 } });
    expect([...(await m.params()).theta!]).toEqual([0.5, 0.5, 0.5]);
    // B is read from x's length now that F is known.
    expect([...(await m.predict({ x: Float32Array.of(1, 2, 3, 4, 5, 6) })).pred!]).toEqual([
      3, 7.5,
    ]);
    await expect(m.predict({ x: new Float32Array(6) }, { F: 2 })).rejects.toThrow(
      /dimension F is 3 for this model/,
    );
    const header = await m.save();
    const n = new DataView(header.buffer, header.byteOffset).getUint32(0, true);
    expect(JSON.parse(new TextDecoder().decode(header.subarray(8, 8 + n))).theta.shape).toEqual([
      3,
    ]);
    await expect(m.step({ x: new Float32Array(3) })).rejects.toThrow(
      /declares no loss, so step\(\) is not available/,
    );
  });
});
