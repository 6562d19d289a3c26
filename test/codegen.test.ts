// The JS backend against the reference interpreter: every primitive (the
// table below is exhaustive over `Op`), fused and unfused, on random inputs,
// plus fusion structure (what becomes one kernel) and the memory plan.

import { describe, expect, it } from "vitest";
import { lowerEntry } from "../compiler/emit.ts";
import { graphPlan } from "./js-graph.ts";
import { dimAdd, dimConst, dimMul, dimVar, dimVars, type Dim } from "../compiler/dims.ts";
import { interpret, tensor, type Tensor } from "../compiler/interpret.ts";
import { allOps, type Graph, type Op, type TensorType, type Var } from "../compiler/ir.ts";
import { programToString } from "../compiler/kernel.ts";
import { EntryRunner } from "../runtime/execute.ts";
import { checkStored, noteNonFinite, scratchF64 } from "../runtime/kernels.ts";
import type { Buffer, EntryPlan } from "../runtime/program.ts";
import { randomUniform } from "../runtime/rng.ts";
import { bool, build, f32, i32, uniform, type Emit } from "./graph-helpers.ts";
import { windowCases, type WindowOp } from "./window-fixture.ts";
import { scanExample, scanInputs } from "./scan-fixture.ts";
import { grad } from "../compiler/autodiff.ts";
import { simplify } from "../compiler/simplify.ts";

// ---------------------------------------------------------------- harness

/** All dim names a graph mentions, in a stable order. */
function graphDims(g: Graph): string[] {
  const names = new Set<string>();
  const add = (ds: readonly Dim[]) => ds.forEach((d) => dimVars(d).forEach((n) => names.add(n)));
  for (const v of g.inputs) add(v.type.shape);
  for (const e of g.eqns) {
    for (const o of e.outs) add(o.type.shape);
    const p = e.params as { dim?: Dim };
    if (p.dim) add([p.dim]);
  }
  return [...names].sort();
}

/** Compile `g` to JS (the same path emit uses) and run it on `inputs`. */
function runJs(g: Graph, inputs: Tensor[], dims: Record<string, number>, fuse = true): Buffer[] {
  const names = graphDims(g);
  const plan = graphPlan(g, names, { fuse });
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

/** Random inputs for `types` (f32 in [lo, hi), i32 in [0, intHi), bool 0/1), rounded to the storage type. */
function randomInputs(
  types: TensorType[],
  dims: Record<string, number>,
  seed: number,
  range: Range = {},
): Tensor[] {
  return types.map((t, k) => {
    const shape = t.shape.map((d) => evalDim(d, dims));
    const n = shape.reduce((p, d) => p * d, 1);
    const u = uniform(n, seed * 31 + k, 0, 1);
    const lo = range.lo ?? -2;
    const hi = range.hi ?? 2;
    const data =
      t.dtype === "f32"
        ? u.map((x) => Math.fround(lo + (hi - lo) * x))
        : t.dtype === "i32"
          ? u.map(
              (x) => (range.intLo ?? 0) + Math.floor(x * ((range.intHi ?? 5) - (range.intLo ?? 0))),
            )
          : u.map((x) => (x < 0.5 ? 1 : 0));
    return tensor(t.dtype, shape, data);
  });
}

function evalDim(d: Dim, dims: Record<string, number>): number {
  let sum = 0;
  for (const t of d.terms)
    sum += t.atoms.reduce((p, a) => {
      if (a.kind !== "var") throw new Error("test dims are plain names");
      return p * dims[a.name]!;
    }, t.coeff);
  return sum;
}

interface Range {
  lo?: number;
  hi?: number;
  intLo?: number;
  intHi?: number;
}

/** Relative 1e-5 (float32 storage), absolute near zero; NaNs must agree. */
function expectClose(actual: ArrayLike<number>, want: Tensor, what: string): void {
  expect(actual.length, `${what}: element count`).toBe(want.data.length);
  for (let i = 0; i < want.data.length; i++) {
    const a = actual[i]!;
    const b = want.data[i]!;
    if (Number.isNaN(b) || Number.isNaN(a)) {
      expect(Number.isNaN(a), `${what}[${i}]: got ${a}, want ${b}`).toBe(Number.isNaN(b));
      continue;
    }
    if (!Number.isFinite(b)) {
      expect(a, `${what}[${i}]`).toBe(b);
      continue;
    }
    const tol = 1e-5 * Math.max(1, Math.abs(b));
    if (Math.abs(a - b) > tol) expect.fail(`${what}[${i}]: got ${a}, want ${b} (tolerance ${tol})`);
  }
}

interface Case {
  name: string;
  types: TensorType[];
  body: (e: Emit, ...xs: Var[]) => Var | Var[];
  dims?: Record<string, number>;
  range?: Range;
}

/** Checks one case: interpreter vs JS fused vs JS one-kernel-per-primitive. */
function check(c: Case, seed = 1): void {
  const dims = c.dims ?? {};
  const { graph } = build(c.types, c.body);
  const inputs = randomInputs(c.types, dims, seed, c.range);
  const want = interpret(graph, inputs, dims);
  const fused = runJs(graph, inputs, dims, true);
  const unfused = runJs(graph, inputs, dims, false);
  want.forEach((w, k) => {
    expectClose(fused[k]!, w, `${c.name} (fused) output ${k}`);
    expectClose(unfused[k]!, w, `${c.name} (unfused) output ${k}`);
  });
}

// ---------------------------------------------------------------- every primitive

const B = dimVar("B");
const unary = (op: Op, range?: Range): Case[] => [
  {
    name: `${op} [3, 4]`,
    types: [f32(3, 4)],
    body: (e, x) => e(op as "exp", {}, x),
    ...(range ? { range } : {}),
  },
  // Fused behind a broadcast add with a run-time batch.
  {
    name: `${op} after a broadcast add, [B, 4]`,
    types: [f32("B", 4), f32(4)],
    body: (e, x, b) => e(op as "exp", {}, e("add", {}, x, b)),
    dims: { B: 3 },
    range: range ?? {},
  },
];
const binary = (op: Op, range?: Range): Case[] => [
  {
    name: `${op} broadcasting [2, 3, 4] with [3, 1]`,
    types: [f32(2, 3, 4), f32(3, 1)],
    body: (e, a, b) => e(op as "add", {}, a, b),
    ...(range ? { range } : {}),
  },
  {
    name: `${op} broadcasting both sides [B, 1] with [4]`,
    types: [f32("B", 1), f32(4)],
    body: (e, a, b) => e(op as "add", {}, a, b),
    dims: { B: 5 },
    ...(range ? { range } : {}),
  },
];
// Small integers make ties, so equality is exercised.
const compare = (op: Op): Case[] => [
  {
    name: `${op} on ties, [2, 3] with [3]`,
    types: [i32(2, 3), i32(3)],
    body: (e, a, b) =>
      e(op as "eq", {}, e("cast", { dtype: "f32" }, a), e("cast", { dtype: "f32" }, b)),
    range: { intHi: 3 },
  },
];

/** The sliding-window cases of the shared fixture, with a batch of 2. */
const windowCodegen = (op: WindowOp): Case[] =>
  windowCases[op].map((c) => ({ ...c, name: `${op} ${c.name}`, dims: { B: 2, ...c.dims } }));

const cases = {
  neg: [...unary("neg"), { name: "neg i32", types: [i32(5)], body: (e, x) => e("neg", {}, x) }],
  exp: unary("exp"),
  log: unary("log", { lo: 0.1, hi: 3 }),
  sqrt: unary("sqrt", { lo: 0.1, hi: 3 }),
  abs: [
    ...unary("abs"),
    { name: "abs i32", types: [i32(5)], body: (e, x) => e("abs", {}, x), range: { intLo: -3 } },
  ],
  sign: unary("sign"),
  tanh: unary("tanh"),
  sigmoid: unary("sigmoid"),
  add: binary("add"),
  sub: binary("sub"),
  mul: binary("mul"),
  div: [
    ...binary("div", { lo: 0.5, hi: 2 }),
    // i32 division truncates toward zero; division by zero gives 0.
    {
      name: "div i32",
      types: [i32(6), i32(6)],
      body: (e, a, b) => e("div", {}, a, b),
      range: { intLo: -7, intHi: 7 },
    },
  ],
  pow: binary("pow", { lo: 0.2, hi: 2 }),
  max: binary("max"),
  min: binary("min"),
  eq: compare("eq"),
  ne: compare("ne"),
  lt: compare("lt"),
  le: compare("le"),
  gt: compare("gt"),
  ge: compare("ge"),
  select: [
    {
      name: "select broadcasting all three",
      types: [bool(2, 1, 3), f32(4, 3), f32(1)],
      body: (e, c, a, b) => e("select", {}, c, a, b),
    },
    {
      name: "select with a computed condition (dropout-like)",
      types: [f32(3, 4)],
      body: (e, x) =>
        e(
          "select",
          {},
          e("gt", {}, x, e("const", { value: 0, dtype: "f32", shape: [] })),
          e("exp", {}, x),
          e("neg", {}, x),
        ),
    },
  ],
  cast: [
    {
      name: "cast f32 -> i32 truncates",
      types: [f32(8)],
      body: (e, x) =>
        e(
          "cast",
          { dtype: "i32" },
          e("mul", {}, x, e("const", { value: 3, dtype: "f32", shape: [] })),
        ),
    },
    { name: "cast bool -> f32", types: [bool(6)], body: (e, x) => e("cast", { dtype: "f32" }, x) },
    {
      name: "cast f32 -> bool",
      types: [i32(6)],
      body: (e, x) => e("cast", { dtype: "bool" }, e("cast", { dtype: "f32" }, x)),
      range: { intHi: 2 },
    },
  ],
  const: [
    {
      name: "const i32 from a fractional value truncates before use",
      types: [i32(6)],
      body: (e, x) => e("add", {}, x, e("const", { value: -2.5, dtype: "i32", shape: [] })),
      range: { intLo: -3, intHi: 3 },
    },
    {
      name: "const of a run-time shape",
      types: [],
      body: (e) => e("const", { value: 2.5, dtype: "f32", shape: [dimConst(2), B] }),
      dims: { B: 3 },
    },
    {
      name: "const scalar broadcast into an add",
      types: [f32(2, 3)],
      body: (e, x) => e("add", {}, x, e("const", { value: -1.5, dtype: "f32", shape: [] })),
    },
  ],
  dimval: [
    {
      name: "dimval of 2 * B + 1, used in a mean",
      types: [f32("B", 2)],
      body: (e, x) =>
        e(
          "div",
          {},
          e("reduce_sum", { axes: [0, 1] }, x),
          e("dimval", { dim: dimAdd(dimMul(dimConst(2), B), dimConst(1)), dtype: "f32" }),
        ),
      dims: { B: 4 },
    },
  ],
  iota: [
    {
      name: "iota along axis 1",
      types: [],
      body: (e) => e("iota", { shape: [dimConst(3), dimConst(4)], axis: 1, dtype: "i32" }),
    },
    {
      name: "iota along a run-time axis as f32",
      types: [],
      body: (e) => e("iota", { shape: [B, dimConst(2)], axis: 0, dtype: "f32" }),
      dims: { B: 3 },
    },
  ],
  reduce_sum: [
    {
      name: "sum over axes 0 and 2",
      types: [f32(2, 3, 4)],
      body: (e, x) => e("reduce_sum", { axes: [0, 2] }, x),
    },
    {
      name: "sum of everything, input-fused exp",
      types: [f32("B", 3)],
      body: (e, x) => e("reduce_sum", { axes: [0, 1] }, e("exp", {}, x)),
      dims: { B: 4 },
    },
    {
      name: "sum over no axes",
      types: [f32(2, 2)],
      body: (e, x) => e("reduce_sum", { axes: [] }, x),
    },
  ],
  reduce_max: [
    {
      name: "max over axis 1",
      types: [f32(3, 5, 2)],
      body: (e, x) => e("reduce_max", { axes: [1] }, x),
    },
    {
      name: "max over a transposed input",
      types: [f32(3, 4)],
      body: (e, x) => e("reduce_max", { axes: [1] }, e("transpose", { perm: [1, 0] }, x)),
    },
  ],
  argmax: [
    {
      name: "argmax with ties picks the first",
      types: [i32(4, 5)],
      body: (e, x) => e("argmax", { axis: 1 }, e("cast", { dtype: "f32" }, x)),
      range: { intHi: 3 },
    },
    { name: "argmax over axis 0", types: [f32(4, 3)], body: (e, x) => e("argmax", { axis: 0 }, x) },
  ],
  matmul: [
    {
      name: "matmul [3, 4] @ [4, 5]",
      types: [f32(3, 4), f32(4, 5)],
      body: (e, a, b) => e("matmul", {}, a, b),
    },
    {
      name: "matmul with a run-time batch [B, 4] @ [4, 3]",
      types: [f32("B", 4), f32(4, 3)],
      body: (e, a, b) => e("matmul", {}, a, b),
      dims: { B: 5 },
    },
    {
      name: "batched matmul broadcasting [2, 1, 3, 4] @ [3, 4, 5]",
      types: [f32(2, 1, 3, 4), f32(3, 4, 5)],
      body: (e, a, b) => e("matmul", {}, a, b),
    },
    {
      name: "A^T B (transposed left operand)",
      types: [f32(4, 3), f32(4, 5)],
      body: (e, a, b) => e("matmul", {}, e("transpose", { perm: [1, 0] }, a), b),
    },
    {
      name: "A B^T (transposed right operand)",
      types: [f32(3, 4), f32(5, 4)],
      body: (e, a, b) => e("matmul", {}, a, e("transpose", { perm: [1, 0] }, b)),
    },
    {
      name: "A^T B^T, batched",
      types: [f32(2, 4, 3), f32(2, 5, 4)],
      body: (e, a, b) =>
        e(
          "matmul",
          {},
          e("transpose", { perm: [0, 2, 1] }, a),
          e("transpose", { perm: [0, 2, 1] }, b),
        ),
    },
    {
      name: "matmul of computed operands with a bias+relu epilogue",
      types: [f32("B", 6), f32(6, 4), f32(4)],
      body: (e, x, w, b) =>
        e(
          "max",
          {},
          e("add", {}, e("matmul", {}, e("tanh", {}, x), w), b),
          e("const", { value: 0, dtype: "f32", shape: [] }),
        ),
      dims: { B: 3 },
    },
    {
      // Rows in blocks of four plus a remainder; ReLU zeros take the sparse paths.
      name: "matmul of a sparse (ReLU) operand, plain and transposed",
      types: [f32(7, 5), f32(5, 6), f32(7, 9)],
      body: (e, x, w, v) => {
        const r = e("max", {}, x, e("const", { value: 0, dtype: "f32", shape: [] }));
        return [e("matmul", {}, r, w), e("matmul", {}, e("transpose", { perm: [1, 0] }, r), v)];
      },
    },
    {
      name: "matmul of a reshaped (flattened) operand",
      types: [f32("B", 2, 3), f32(6, 4)],
      body: (e, x, w) => e("matmul", {}, e("reshape", { shape: [B, dimConst(6)] }, x), w),
      dims: { B: 2 },
    },
  ],
  reshape: [
    {
      name: "reshape [2, 3, 4] -> [6, 4] of a computed value",
      types: [f32(2, 3, 4)],
      body: (e, x) => e("reshape", { shape: [dimConst(6), dimConst(4)] }, e("exp", {}, x)),
    },
    {
      name: "reshape then broadcast add",
      types: [f32("B", 6), f32(3, 1)],
      body: (e, x, y) =>
        e(
          "add",
          {},
          e("reshape", { shape: [B, dimConst(2), dimConst(3)] }, x),
          e("reshape", { shape: [dimConst(1), dimConst(3)] }, y),
        ),
      dims: { B: 2 },
    },
  ],
  transpose: [
    {
      name: "transpose [2, 0, 1] of a computed value",
      types: [f32(2, 3, 4)],
      body: (e, x) => e("transpose", { perm: [2, 0, 1] }, e("exp", {}, x)),
    },
  ],
  broadcast: [
    {
      name: "broadcast [3, 1] -> [2, 3, 4]",
      types: [f32(3, 1)],
      body: (e, x) => e("broadcast", { shape: [dimConst(2), dimConst(3), dimConst(4)] }, x),
    },
    {
      name: "broadcast of a computed value to a run-time shape",
      types: [f32(3)],
      body: (e, x) => e("broadcast", { shape: [B, dimConst(3)] }, e("exp", {}, x)),
      dims: { B: 4 },
    },
  ],
  slice: [
    {
      name: "strided slice",
      types: [f32(5, 7)],
      body: (e, x) =>
        e(
          "slice",
          { start: [dimConst(1), dimConst(0)], stop: [dimConst(5), dimConst(7)], step: [2, 3] },
          x,
        ),
    },
    {
      name: "slice along a run-time axis",
      types: [f32("B", 4)],
      body: (e, x) =>
        e(
          "slice",
          { start: [dimConst(0), dimConst(1)], stop: [B, dimConst(3)], step: [1, 1] },
          e("neg", {}, x),
        ),
      dims: { B: 3 },
    },
  ],
  pad: [
    {
      name: "pad with interior (transpose of a strided slice)",
      types: [f32(3, 2)],
      body: (e, x) =>
        e(
          "pad",
          { lo: [dimConst(1), dimConst(0)], hi: [dimConst(0), dimConst(2)], interior: [1, 0] },
          x,
        ),
    },
    {
      name: "negative padding crops",
      types: [f32(4, 3)],
      body: (e, x) =>
        e(
          "pad",
          { lo: [dimConst(-1), dimConst(2)], hi: [dimConst(1), dimConst(-1)], interior: [0, 1] },
          e("exp", {}, x),
        ),
    },
  ],
  concat: [
    {
      name: "concat of three along axis 1",
      types: [f32(2, 1), f32(2, 3), f32(2, 2)],
      body: (e, a, b, c) => e("concat", { axis: 1 }, a, e("exp", {}, b), c),
    },
    {
      name: "concat along a run-time axis 0",
      types: [f32("B", 2), f32(3, 2)],
      body: (e, a, b) => e("concat", { axis: 0 }, a, b),
      dims: { B: 2 },
    },
  ],
  gather: [
    {
      name: "gather rows with out-of-range indices",
      types: [f32(5, 3), i32(2, 2)],
      body: (e, x, ix) => e("gather", { axis: 0 }, x, ix),
      range: { intLo: -1, intHi: 6 },
    },
    {
      name: "gather along axis 1 of a computed table (embedding-like)",
      types: [f32(2, 4, 3), i32(5)],
      body: (e, x, ix) => e("gather", { axis: 1 }, e("exp", {}, x), ix),
      range: { intHi: 4 },
    },
  ],
  scatter_add: [
    {
      name: "scatter_add with repeated and out-of-range indices",
      types: [f32(2, 2, 3), i32(2, 2)],
      body: (e, u, ix) => e("scatter_add", { axis: 0, shape: [dimConst(5), dimConst(3)] }, u, ix),
      range: { intLo: -1, intHi: 6 },
    },
    {
      name: "scatter_add along axis 1 of a computed update",
      types: [f32(2, 4), i32(4)],
      body: (e, u, ix) =>
        e("scatter_add", { axis: 1, shape: [dimConst(2), dimConst(3)] }, e("exp", {}, u), ix),
      range: { intHi: 3 },
    },
  ],
  random: [
    {
      name: "random of a run-time shape, thresholded like dropout",
      types: [i32(), f32("B", 4)],
      body: (e, s, x) => {
        const r = e("random", { shape: [B, dimConst(4)], stream: 3 }, s);
        return [
          r,
          e(
            "select",
            {},
            e("ge", {}, r, e("const", { value: 0.3, dtype: "f32", shape: [] })),
            x,
            e("const", { value: 0, dtype: "f32", shape: [] }),
          ),
        ];
      },
      dims: { B: 3 },
      range: { intHi: 1000 },
    },
  ],
  stop_gradient: [
    {
      name: "stop_gradient",
      types: [f32(3)],
      body: (e, x) => e("stop_gradient", {}, e("exp", {}, x)),
    },
  ],
  // Along axis 1, so the loop reads steps of a transposed copy and stacks back.
  scan: [
    {
      name: "scan, tuple carry, two ys, reverse, [B, 4, 2]",
      types: scanInputs,
      body: (e, w, u, h0, x) => scanExample(e, w, u, h0, x, true),
      dims: { B: 3 },
      range: { lo: -1, hi: 1 },
    },
    {
      name: "scan forward, odd length (carries swap back)",
      types: scanInputs,
      body: (e, w, u, h0, x) => scanExample(e, w, u, h0, x, false),
      dims: { B: 2 },
      range: { lo: -1, hi: 1 },
    },
  ],
  conv2d: windowCodegen("conv2d"),
  conv2d_grad_input: windowCodegen("conv2d_grad_input"),
  conv2d_grad_filter: windowCodegen("conv2d_grad_filter"),
  max_pool: windowCodegen("max_pool"),
  max_pool_grad: windowCodegen("max_pool_grad"),
  max_pool_pick: windowCodegen("max_pool_pick"),
  avg_pool: windowCodegen("avg_pool"),
  avg_pool_grad: windowCodegen("avg_pool_grad"),
} satisfies Record<Op, Case[]>;

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
