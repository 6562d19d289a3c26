// The WASM backend against the reference interpreter and the JS backend:
// every primitive (the table in op-cases.ts is exhaustive over `Op`, so an
// op without cases fails tsc), lowered with the wasm backend's options
// (gathering scatters), printed as one WebAssembly module and run by the
// WASM executor on the calling thread, within relative 1e-5 of the float64
// interpreter and of the JS backend. Then each kernel's work items split
// in two at every point give the same bits as one call (what threads rely
// on), and the math library's edge cases.

import { describe, expect, it } from "vitest";
import { wasmBackend } from "../compiler/backends/wasm.ts";
import { entryModuleText, lowerEntry } from "../compiler/emit.ts";
import { interpret, tensor } from "../compiler/interpret.ts";
import { allOps, type Graph } from "../compiler/ir.ts";
import type { Buffer, EntryPlan, WasmKernel, WasmProgram } from "../runtime/program.ts";
import { compileSync } from "../runtime/wasm/binary.ts";
import { residentLayout, WasmExecutor, type WasmPlan } from "../runtime/wasm/executor.ts";
import { PAGE, WasmMemory } from "../runtime/wasm/memory.ts";
import { EntryRunner } from "../runtime/execute.ts";
import { build, f32, i32 } from "./graph-helpers.ts";
import { dimConst } from "../compiler/dims.ts";
import type { Var } from "../compiler/ir.ts";
import { evalSize } from "../runtime/sizes.ts";
import { randomUniform } from "../runtime/rng.ts";
import { graphPlan } from "./js-graph.ts";
import { cases, expectClose, graphDims, randomInputs, type Case } from "./op-cases.ts";

/** `g` as a WASM entry the way emit compiles one (slots x0.., y0..), with its module. */
function wasmEntry(g: Graph, dims: readonly string[]) {
  const printer = wasmBackend.printer();
  const text = entryModuleText(
    wasmBackend,
    lowerEntry(g, wasmBackend.lower),
    dims,
    "k",
    {
      inSlots: g.inputs.map((_, k) => ({ kind: "input", name: `x${k}` })),
      outSlots: g.outputs.map((_, k) => ({ kind: "output", name: `y${k}` })),
    },
    { printer },
  );
  return new Function(`${text.decls}\n${printer.finish()}\nreturn [${text.plan}, wasm];`)() as [
    EntryPlan<WasmKernel>,
    WasmProgram,
  ];
}

/** The executor of one entry on the calling thread (as createModelSync opens it). */
function open(plan: EntryPlan<WasmKernel>, wasm: WasmProgram, dims: string[], D: number[]) {
  const p: WasmPlan = {
    ...{ model: "ops", inputs: [], outputs: [], metrics: [], hasLoss: false },
    ...{ dims, params: [], state: [], entries: { predict: plan } },
  };
  const chosen = compileSync(wasm, false);
  const layout = residentLayout(p, D, 1);
  const initial = Math.max(chosen.minPages, Math.ceil(layout.callAt / PAGE));
  const memory = new WasmMemory(
    new WebAssembly.Memory({ initial, maximum: wasm.maxPages }),
    wasm.maxPages,
  );
  const instance = new WebAssembly.Instance(chosen.module, { env: { memory: memory.memory } });
  const ex = new WasmExecutor(p, { instance, memory, threads: null, layout });
  return { ex, instance, memory: memory.memory, scratch: layout.scratch[0]! };
}

const host = (inputs: ReturnType<typeof randomInputs>): Buffer[] =>
  inputs.map((t) => (t.dtype === "f32" ? Float32Array.from(t.data) : Int32Array.from(t.data)));

function runWasm(g: Graph, inputs: ReturnType<typeof randomInputs>, dims: Record<string, number>) {
  const names = graphDims(g);
  const D = names.map((n) => dims[n]!);
  const [plan, wasm] = wasmEntry(g, names);
  const { ex } = open(plan, wasm, names, D);
  const got = ex.run("predict", D, new Map(host(inputs).map((b, k) => [k, b])));
  if (got instanceof Promise) throw new Error("a single-threaded run returned a promise");
  return g.outputs.map((_, k) => got.get(k)!);
}

function runJs(g: Graph, inputs: ReturnType<typeof randomInputs>, dims: Record<string, number>) {
  const names = graphDims(g);
  const plan = graphPlan(g, names, wasmBackend.lower);
  return new EntryRunner(plan, () => false).run(
    names.map((n) => dims[n]!),
    host(inputs),
    new Map(),
  );
}

function check(c: Case, seed = 1): void {
  const dims = c.dims ?? {};
  const { graph } = build(c.types, c.body);
  const inputs = randomInputs(c.types, dims, seed, c.range);
  const want = interpret(graph, inputs, dims);
  const got = runWasm(graph, inputs, dims);
  const js = runJs(graph, inputs, dims);
  want.forEach((w, k) => {
    expectClose(got[k]!, w, `${c.name} output ${k}`);
    const jsk = js[k]!;
    expectClose(got[k]!, tensor(w.dtype, w.shape, Array.from(jsk)), `${c.name} output ${k} vs js`);
  });
}

describe("codegen-wasm: every primitive matches the interpreter and the JS backend", () => {
  it("has cases for every op", () => {
    for (const op of allOps) expect(cases[op].length, op).toBeGreaterThan(0);
  });
  for (const op of allOps)
    describe(op, () => {
      for (const c of cases[op] as Case[]) it(c.name, () => check(c));
    });
});

describe("codegen-wasm: vector loops, tails and math edge cases", () => {
  const special = [
    0,
    -0,
    1e-30,
    -1e-30,
    1e-40,
    0.5,
    -0.5,
    0.62,
    0.63,
    1,
    -1,
    2,
    10,
    -10,
    20,
    88,
    89,
    -87,
    -90,
    -104,
    1e30,
    -1e30,
    Infinity,
    -Infinity,
    NaN,
  ];
  const ops = ["exp", "log", "tanh", "sigmoid", "sign", "sqrt", "abs", "neg"] as const;
  for (const op of ops)
    it(`${op} on special values, vector lanes and the scalar tail`, () => {
      const n = special.length;
      const { graph } = build([f32(n)], (e, x) => e(op, {}, x));
      const inputs = [tensor("f32", [n], special.map(Math.fround))];
      // Rounded to f32 as a store rounds (exp(89) overflows there).
      const want = interpret(graph, inputs, {}, true);
      const got = runWasm(graph, inputs, {});
      expectClose(got[0]!, want[0]!, op);
    });
  it("a gather's far out-of-range indices, lane by lane, read nothing past memory", () => {
    const ix = [0, 4, -1, 2_000_000_000, -2_000_000_000, 3, 5, 1, 2_147_483_647];
    const { graph } = build([f32(3, 5), i32(ix.length)], (e, x, i) =>
      e("gather", { axis: 1 }, e("exp", {}, x), i),
    );
    const inputs = [randomInputs([f32(3, 5)], {}, 2)[0]!, tensor("i32", [ix.length], ix)];
    const want = interpret(graph, inputs, {});
    const got = runWasm(graph, inputs, {});
    expectClose(got[0]!, want[0]!, "gather");
  });
  it("random draws exactly runtime/rng.ts's bits, vector lanes and tail", () => {
    const n = 37;
    const { graph } = build([i32()], (e, seed) =>
      e("random", { shape: [dimConst(n)], stream: 5 }, seed),
    );
    for (const seed of [0, 7, -123456, 2147483647]) {
      const got = runWasm(graph, [tensor("i32", [], [seed])], {})[0]!;
      const want = Array.from({ length: n }, (_, i) => randomUniform(seed, 5, i));
      expect(Array.from(got), `seed ${seed}`).toEqual(want);
    }
  });
  it("pow on special bases and exponents", () => {
    const as = [0, -0, 2, -2, 0.5, -0.5, 1, -1, Infinity, -Infinity, NaN, 3];
    const bs = [0, -0, 1, 2, 3, -1, -2, 0.5, -0.5, 2.5, Infinity, -Infinity, NaN, 40];
    const a = as.flatMap((x) => bs.map(() => x));
    const b = as.flatMap(() => bs);
    const { graph } = build([f32(a.length), f32(b.length)], (e, x, y) => e("pow", {}, x, y));
    const inputs = [tensor("f32", [a.length], a), tensor("f32", [b.length], b)];
    const want = interpret(graph, inputs, {});
    const got = runWasm(graph, inputs, {});
    expectClose(got[0]!, want[0]!, "pow");
  });
});

describe("codegen-wasm: any split of a kernel's work items gives the same bits", () => {
  const splits: Case[] = [
    {
      name: "map by rows, broadcast and tail [37, 13] + [13]",
      types: [f32(37, 13), f32(13)],
      body: (e, x, b) => e("tanh", {}, e("add", {}, x, b)),
    },
    { name: "flat map [3001]", types: [f32(3001)], body: (e, x) => e("exp", {}, x) },
    {
      name: "inner reductions: softmax rows [9, 1030]",
      types: [f32(9, 1030)],
      body: (e, x) => {
        const m = e("reduce_max", { axes: [1] }, x);
        const col = (v: Var) => e("reshape", { shape: [dimConst(9), dimConst(1)] }, v);
        const ex = e("exp", {}, e("sub", {}, x, col(m)));
        return e("div", {}, ex, col(e("reduce_sum", { axes: [1] }, ex)));
      },
    },
    {
      name: "outer reduction: column sums [50, 37] over axis 0",
      types: [f32(50, 37)],
      body: (e, x) => e("reduce_sum", { axes: [0] }, x),
    },
    {
      name: "argmax [11, 9] along axis 1",
      types: [f32(11, 9)],
      body: (e, x) => e("argmax", { axis: 1 }, x),
    },
  ];
  for (const c of splits)
    it(c.name, () => {
      const { graph } = build(c.types, c.body);
      const [plan, wasm] = wasmEntry(graph, []);
      const { ex, instance, memory, scratch } = open(plan, wasm, [], []);
      const inputs = randomInputs(c.types, {}, 3);
      ex.run("predict", [], new Map(host(inputs).map((b, k) => [k, b])));
      const bytes = () => new Uint8Array(memory.buffer).slice();
      const restore = (m: Uint8Array) => new Uint8Array(memory.buffer).set(m);
      let splitsTried = 0;
      for (const k of plan.kernels) {
        const f = instance.exports[k.name] as (lo: number, hi: number, s: number) => void;
        const n = evalSize(k.items, []);
        const before = bytes();
        f(0, n, scratch);
        const whole = bytes();
        // Two and three pieces, run last first.
        for (const cut of [1, n >> 1, n - 1].filter((x) => x > 0 && x < n)) {
          restore(before);
          f(cut, n, scratch);
          f(0, cut, scratch);
          expect(bytes(), `${k.name} split at ${cut} of ${n}`).toEqual(whole);
          const third = Math.max(1, cut >> 1);
          restore(before);
          f(cut, n, scratch);
          f(third, cut, scratch);
          f(0, third, scratch);
          expect(bytes(), `${k.name} split at ${third}, ${cut} of ${n}`).toEqual(whole);
          splitsTried++;
        }
        restore(whole);
      }
      expect(splitsTried).toBeGreaterThan(0);
    });
});
