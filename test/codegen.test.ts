// The JS backend against the reference interpreter: every primitive (the
// table in op-cases.ts is exhaustive over `Op`), fused, unfused and with
// gathering scatters, on random inputs,
// plus fusion structure (what becomes one kernel) and the memory plan.

import { describe, expect, it } from "vitest";
import { grad } from "../compiler/autodiff.ts";
import { dimConst, dimVar } from "../compiler/dims.ts";
import { lowerEntry } from "../compiler/emit.ts";
import type { LowerOptions } from "../compiler/fuse.ts";
import { interpret, type Tensor } from "../compiler/interpret.ts";
import { allOps, type Graph, type TensorType, type Var } from "../compiler/ir.ts";
import type { Kernel } from "../compiler/kernel.ts";
import { programToString } from "../compiler/scalar-print/dump.ts";
import { boundBuffers } from "../compiler/fuse/split.ts";
import { simplify } from "../compiler/simplify.ts";
import { EntryRunner } from "../runtime/execute.ts";
import type { Buffer } from "../runtime/program.ts";
import { build, f32, type Emit } from "./graph-helpers.ts";
import { graphPlan } from "./js-graph.ts";
import { cases, expectClose, graphDims, randomInputs, type Case } from "./op-cases.ts";
import { scanExample, scanInputs } from "./scan-fixture.ts";

const B = dimVar("B");

// ---------------------------------------------------------------- harness

/** Compile `g` to JS (the same path emit uses) and run it on `inputs`. */
function runJs(
  g: Graph,
  inputs: Tensor[],
  dims: Record<string, number>,
  opts: LowerOptions = {},
): Buffer[] {
  const names = graphDims(g);
  const plan = graphPlan(g, names, opts);
  const D = names.map((n) => {
    const v = dims[n];
    if (v === undefined) throw new Error(`test: dim ${n} not given`);
    return v;
  });
  const bufs = inputs.map((t) =>
    t.dtype === "f32" ? Float32Array.from(t.data) : Int32Array.from(t.data),
  );
  return new EntryRunner(plan, () => false).run(D, bufs, new Map()).map((b) => b.slice());
}

/** Checks one case: interpreter vs JS fused vs JS one-kernel-per-primitive. */
function check(c: Case, seed = 1): void {
  const dims = c.dims ?? {};
  const { graph } = build(c.types, c.body);
  const inputs = randomInputs(c.types, dims, seed, c.range);
  const want = interpret(graph, inputs, dims);
  const fused = runJs(graph, inputs, dims);
  const unfused = runJs(graph, inputs, dims, { fuse: false });
  // Scatters as the parallel backends lower them: each output gathers what lands on it.
  const gathered = runJs(graph, inputs, dims, { scatter: "gather" });
  want.forEach((w, k) => {
    expectClose(fused[k]!, w, `${c.name} (fused) output ${k}`);
    expectClose(unfused[k]!, w, `${c.name} (unfused) output ${k}`);
    expectClose(gathered[k]!, w, `${c.name} (gathering scatters) output ${k}`);
  });
}

describe("codegen-js: backpropagation through time", () => {
  it("runs the reverse scan of a scan's gradient as the interpreter does", () => {
    const { graph, gen, inputs } = build(scanInputs, (e, w, u, h0, x) => {
      const y = scanExample(e, w!, u!, h0!, x!, false);
      return e("reduce_sum", { axes: [0, 1, 2] }, e("mul", {}, y, y));
    });
    const g = simplify(grad(graph, graph.outputs[0]!, inputs, gen).graph);
    expect(g.eqns.filter((e) => e.op === "scan")).toHaveLength(2);
    const dims = { B: 3 };
    const values = randomInputs(scanInputs, dims, 7, { lo: -1, hi: 1 });
    const want = interpret(g, values, dims);
    const got = runJs(g, values, dims);
    want.forEach((w, k) => expectClose(got[k]!, w, `output ${k}`));
  });
});

describe("codegen-js: every primitive matches the interpreter", () => {
  it("has cases for every op", () => {
    for (const op of allOps) expect(cases[op].length, op).toBeGreaterThan(0);
  });
  for (const op of allOps)
    describe(op, () => {
      for (const c of cases[op] as Case[]) it(c.name, () => check(c));
    });
});

// ---------------------------------------------------------------- fusion structure

function kernelsOf(types: TensorType[], body: (e: Emit, ...xs: Var[]) => Var | Var[], fuse = true) {
  const { graph } = build(types, body);
  return lowerEntry(graph, { fuse });
}

const zero = (e: Emit) => e("const", { value: 0, dtype: "f32", shape: [] });

describe("fusion", () => {
  it("fuses an elementwise chain into one kernel", () => {
    const body = (e: Emit, x: Var, y: Var) =>
      e("tanh", {}, e("mul", {}, e("exp", {}, x), e("add", {}, y, x)));
    const fused = kernelsOf([f32(4, 5), f32(5)], body);
    expect(fused.kernels.kernels.map((k) => k.kind)).toEqual(["map"]);
    expect(kernelsOf([f32(4, 5), f32(5)], body, false).kernels.kernels.length).toBe(4);
    check({ name: "chain", types: [f32(4, 5), f32(5)], body }, 7);
  });

  it("folds bias add and relu into the matmul epilogue, and transposes into the matmul variant", () => {
    const dense = (e: Emit, x: Var, w: Var, b: Var) =>
      e("max", {}, e("add", {}, e("matmul", {}, x, w), b), zero(e));
    const { kernels } = kernelsOf([f32("B", 8), f32(8, 4), f32(4)], dense);
    expect(kernels.kernels.map((k) => k.kind)).toEqual(["matmul"]);
    const grad = kernelsOf([f32("B", 8), f32("B", 4)], (e, x, dy) =>
      e("matmul", {}, e("transpose", { perm: [1, 0] }, x), dy),
    );
    const k = grad.kernels.kernels;
    expect(k.map((x) => x.kind)).toEqual(["matmul"]);
    expect(k[0]!.kind === "matmul" && k[0]!.a.transposed && !k[0]!.b.transposed).toBe(true);
  });

  it("input-fuses a softmax's elementwise producers into its reductions", () => {
    const softmax = (e: Emit, x: Var) => {
      const m = e("reduce_max", { axes: [1] }, x);
      const ex = e(
        "exp",
        {},
        e(
          "sub",
          {},
          x,
          e(
            "broadcast",
            { shape: [B, dimConst(10)] },
            e("reshape", { shape: [B, dimConst(1)] }, m),
          ),
        ),
      );
      const s = e("reduce_sum", { axes: [1] }, ex);
      return e("div", {}, ex, e("reshape", { shape: [B, dimConst(1)] }, s));
    };
    const { kernels } = kernelsOf([f32("B", 10)], softmax);
    // max, the shared exp (two consumers), sum, divide.
    expect(kernels.kernels.map((k) => k.kind)).toEqual(["reduce", "map", "reduce", "map"]);
    check({ name: "softmax", types: [f32("B", 10)], body: softmax, dims: { B: 3 } }, 3);
  });

  it("materialises a value with several consumers instead of recomputing it", () => {
    const body = (e: Emit, x: Var) => {
      const t = e("tanh", {}, e("exp", {}, x));
      return [e("add", {}, t, x), e("mul", {}, t, x)];
    };
    const { kernels } = kernelsOf([f32(6)], body);
    const text = programToString(kernels);
    expect(text.match(/tanh/g)?.length, text).toBe(1);
    check({ name: "shared", types: [f32(6)], body }, 5);
  });

  it("never recomputes an expensive value per broadcast element", () => {
    const body = (e: Emit, x: Var) =>
      e("broadcast", { shape: [dimConst(100), dimConst(3)] }, e("exp", {}, e("tanh", {}, x)));
    const { kernels } = kernelsOf([f32(3)], body);
    expect(kernels.kernels.length).toBe(2);
    expect(kernels.kernels[0]!.kind === "map" && kernels.kernels[0]!.shape.length).toBe(1);
  });

  it("copies an output that is an input or repeated", () => {
    const body = (e: Emit, x: Var) => {
      const y = e("exp", {}, x);
      return [x, y, y];
    };
    check({ name: "copies", types: [f32(3)], body }, 2);
  });
});

describe("binding limits (fuse/split.ts)", () => {
  /** Every kernel of a lowered entry, scan bodies included. */
  const flat = (ks: readonly Kernel[]): Kernel[] =>
    ks.flatMap((k) => (k.kind === "scan" ? [k, ...flat(k.body)] : [k]));

  it("splits a kernel binding more buffers than allowed, and computes the same", () => {
    // A concat of ten inputs fuses into one kernel reading ten buffers.
    const types = Array.from({ length: 10 }, () => f32("B", 2));
    const body = (e: Emit, ...xs: Var[]) => e("concat", { axis: 1 }, ...xs);
    const { graph } = build(types, body);
    const wide = lowerEntry(graph).kernels;
    expect(Math.max(...wide.kernels.map((k) => boundBuffers(k).length))).toBe(11);
    const split = lowerEntry(graph, { maxStorageBuffers: 8 }).kernels;
    for (const k of split.kernels) expect(boundBuffers(k).length).toBeLessThanOrEqual(8);
    const dims = { B: 3 };
    const inputs = randomInputs(types, dims, 3);
    const want = interpret(graph, inputs, dims);
    const got = runJs(graph, inputs, dims, { maxStorageBuffers: 8 });
    expectClose(got[0]!, want[0]!, "concat of ten");
  });

  // Every primitive again under a limit of 4 (an output and three reads),
  // with gathering scatters, as a device with few bindings would lower it.
  for (const op of allOps)
    it(`${op}: every kernel fits 4 bindings and matches the interpreter`, () => {
      for (const c of cases[op] as Case[]) {
        const dims = c.dims ?? {};
        const { graph } = build(c.types, c.body);
        const opts: LowerOptions = { scatter: "gather", maxStorageBuffers: 4 };
        for (const k of flat(lowerEntry(graph, opts).kernels.kernels))
          if (k.kind !== "scan") expect(boundBuffers(k).length, c.name).toBeLessThanOrEqual(4);
        const inputs = randomInputs(c.types, dims, 2, c.range);
        const want = interpret(graph, inputs, dims);
        const got = runJs(graph, inputs, dims, opts);
        want.forEach((w, k) => expectClose(got[k]!, w, `${c.name} output ${k}`));
      }
    });
});

describe("memory plan", () => {
  it("reuses the storage of dead temporaries", () => {
    // A chain of reductions and matmuls: each temporary dies right after its consumer.
    const body = (e: Emit, x: Var, w: Var) => {
      let h = x;
      for (let i = 0; i < 4; i++) h = e("matmul", {}, e("tanh", {}, e("matmul", {}, h, w)), w);
      return h;
    };
    const { kernels, memory } = kernelsOf([f32("B", 8), f32(8, 8)], body);
    const temps = kernels.buffers.filter((b) => b.role.kind === "temp").length;
    expect(temps).toBeGreaterThan(4);
    expect(memory.slots.length).toBeLessThanOrEqual(2);
    check(
      {
        name: "chain of matmuls",
        types: [f32("B", 8), f32(8, 8)],
        body,
        dims: { B: 3 },
        range: { lo: -0.5, hi: 0.5 },
      },
      4,
    );
  });
});

describe("run-time dims", () => {
  it("runs one compiled graph at several batch sizes", () => {
    const c: Case = {
      name: "batch",
      types: [f32("B", 4), f32(4, 2)],
      body: (e, x, w) => e("reduce_sum", { axes: [0] }, e("sigmoid", {}, e("matmul", {}, x, w))),
    };
    for (const b of [1, 7, 2]) check({ ...c, dims: { B: b } }, b);
  });
});
