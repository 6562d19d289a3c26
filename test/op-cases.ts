// Every primitive's test cases, one table keyed by Op (tsc names an op
// without a row), with the random inputs and tolerances each backend's test
// runs them with: test/codegen.test.ts (JS) and test/webgpu-ops.test.ts.

import { expect } from "vitest";
import { dimAdd, dimConst, dimMul, dimVar, dimVars, type Dim } from "../compiler/dims.ts";
import { tensor, type Tensor } from "../compiler/interpret.ts";
import type { BinaryOp, CompareOp, Graph, Op, TensorType, UnaryOp, Var } from "../compiler/ir.ts";
import { bool, f32, i32, uniform, type Emit } from "./graph-helpers.ts";
import { windowCases, type WindowOp } from "./window-fixture.ts";
import { scanExample, scanInputs } from "./scan-fixture.ts";

/** All dim names a graph mentions, in a stable order. */
export function graphDims(g: Graph): string[] {
  const names = new Set<string>();
  const add = (ds: readonly Dim[]) => ds.forEach((d) => dimVars(d).forEach((n) => names.add(n)));
  for (const v of g.inputs) add(v.type.shape);
  for (const e of g.eqns) {
    for (const o of e.outs) add(o.type.shape);
    if (e.op === "dimval") add([e.params.dim]);
  }
  return [...names].sort();
}

/** Random inputs for `types` (f32 in [lo, hi), i32 in [0, intHi), bool 0/1), rounded to the storage type. */
export function randomInputs(
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

export interface Range {
  lo?: number;
  hi?: number;
  intLo?: number;
  intHi?: number;
}

/** Relative `rel` (1e-5: float32 storage), absolute near zero; NaNs must agree. */
export function expectClose(
  actual: ArrayLike<number>,
  want: Tensor,
  what: string,
  rel = 1e-5,
): void {
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
    const tol = rel * Math.max(1, Math.abs(b));
    if (Math.abs(a - b) > tol) expect.fail(`${what}[${i}]: got ${a}, want ${b} (tolerance ${tol})`);
  }
}

export interface Case {
  name: string;
  types: TensorType[];
  body: (e: Emit, ...xs: Var[]) => Var | Var[];
  dims?: Record<string, number>;
  range?: Range;
}

// ---------------------------------------------------------------- every primitive

const B = dimVar("B");
const unary = (op: UnaryOp, range?: Range): Case[] => [
  {
    name: `${op} [3, 4]`,
    types: [f32(3, 4)],
    body: (e, x) => e(op, {}, x),
    ...(range ? { range } : {}),
  },
  // Fused behind a broadcast add with a run-time batch.
  {
    name: `${op} after a broadcast add, [B, 4]`,
    types: [f32("B", 4), f32(4)],
    body: (e, x, b) => e(op, {}, e("add", {}, x, b)),
    dims: { B: 3 },
    range: range ?? {},
  },
];
const binary = (op: BinaryOp, range?: Range): Case[] => [
  {
    name: `${op} broadcasting [2, 3, 4] with [3, 1]`,
    types: [f32(2, 3, 4), f32(3, 1)],
    body: (e, a, b) => e(op, {}, a, b),
    ...(range ? { range } : {}),
  },
  {
    name: `${op} broadcasting both sides [B, 1] with [4]`,
    types: [f32("B", 1), f32(4)],
    body: (e, a, b) => e(op, {}, a, b),
    dims: { B: 5 },
    ...(range ? { range } : {}),
  },
];
// Small integers make ties, so equality is exercised.
const compare = (op: CompareOp): Case[] => [
  {
    name: `${op} on ties, [2, 3] with [3]`,
    types: [i32(2, 3), i32(3)],
    body: (e, a, b) => e(op, {}, e("cast", { dtype: "f32" }, a), e("cast", { dtype: "f32" }, b)),
    range: { intHi: 3 },
  },
];

/** The sliding-window cases of the shared fixture, with a batch of 2. */
const windowCodegen = (op: WindowOp): Case[] =>
  windowCases[op].map((c) => ({ ...c, name: `${op} ${c.name}`, dims: { B: 2, ...c.dims } }));

export const cases = {
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
