// Gradients checked against central finite differences in float64, one row
// per primitive (the `satisfies Record<Op, Row>` makes a new primitive without
// a row a type error), plus composite programs.

import { describe, expect, it } from "vitest";
import { grad } from "../compiler/autodiff.ts";
import { dimConst, dimEval, dimVar, shapeOf } from "../compiler/dims.ts";
import { interpret, tensor, type Tensor } from "../compiler/interpret.ts";
import { verify } from "../compiler/ir-verify.ts";
import type { Graph, Op, TensorType, Var, VarGen } from "../compiler/ir.ts";
import { bool, build, f32, i32, uniform, type Emit } from "./graph-helpers.ts";
import { scanExample, scanInputs } from "./scan-fixture.ts";
import { windowCases, type WindowOp } from "./window-fixture.ts";

/** How to fill one input: a float range, or integer/bool values in [0, n). */
interface In {
  type: TensorType;
  lo?: number;
  hi?: number;
  /** Keep |x| >= away (kinks of abs, sign, max). */
  away?: number;
}
const F = (type: TensorType, opts: Omit<In, "type"> = {}): In => ({ type, ...opts });
const I = (type: TensorType, lo: number, hi: number): In => ({ type, lo, hi });

interface Row {
  inputs: In[];
  body: (e: Emit, ...xs: Var[]) => Var;
  /** The gradient must be exactly zero (non-differentiable op), not matched to differences. */
  zero?: boolean;
}

const DIMS = { B: 2 };

function sample(spec: In, salt: number): Tensor {
  const shape = spec.type.shape.map((d) => dimEval(d, DIMS));
  const n = shape.reduce((p, d) => p * d, 1);
  const lo = spec.lo ?? -1;
  const hi = spec.hi ?? 1;
  let data = uniform(n, salt, lo, hi);
  if (spec.type.dtype !== "f32") data = data.map(Math.floor);
  else if (spec.away) data = data.map((v) => (v < 0 ? -spec.away! : spec.away!) + v);
  return tensor(spec.type.dtype, shape, data);
}

/** sum(y * w) for a fixed random w: a scalar loss whose gradient exercises every element of y. */
function withLoss(e: Emit, y: Var, w: Var): Var {
  const yf = y.type.dtype === "f32" ? y : e("cast", { dtype: "f32" }, y);
  const axes = [...y.type.shape.keys()];
  return e("reduce_sum", { axes }, e("mul", {}, yf, w));
}

interface Check {
  analytic: Tensor[];
  numeric: Tensor[];
}

/**
 * Gradients of the scalar first output of `graph` wrt `wrt` (f32 inputs of
 * it): by `grad` + the interpreter, and by central differences.
 */
function gradCheck(graph: Graph, gen: VarGen, wrt: Var[], values: Tensor[]): Check {
  const loss = graph.outputs[0]!;
  const lossOnly: Graph = { ...graph, outputs: [loss] };
  const r = grad(lossOnly, loss, wrt, gen);
  verify(r.graph);
  const analytic = interpret(r.graph, values, DIMS).slice(1);

  const h = 1e-5;
  const f = (vals: Tensor[]) => interpret(lossOnly, vals, DIMS)[0]!.data[0]!;
  const numeric = wrt.map((w) => {
    const k = graph.inputs.indexOf(w);
    const base = values[k]!;
    const out = tensor("f32", base.shape, new Float64Array(base.data.length));
    for (let j = 0; j < base.data.length; j++) {
      const at = (delta: number) => {
        const data = base.data.slice();
        data[j]! += delta;
        return f(values.map((v, i) => (i === k ? { ...base, data } : v)));
      };
      out.data[j] = (at(h) - at(-h)) / (2 * h);
    }
    return out;
  });
  return { analytic, numeric };
}

function relErr(a: Tensor, b: Tensor): number {
  let diff = 0;
  let scale = 1e-8;
  a.data.forEach((x, i) => {
    diff = Math.max(diff, Math.abs(x - b.data[i]!));
    scale = Math.max(scale, Math.abs(x), Math.abs(b.data[i]!));
  });
  return diff / scale;
}

/** A sliding-window primitive's row: its first (awkward-geometry) case from the shared fixture. */
function windowRow(op: WindowOp): Row {
  const c = windowCases[op][0]!;
  return { inputs: c.types.map((t) => F(t)), body: c.body };
}

const rows = {
  neg: { inputs: [F(f32("B", 3))], body: (e, x) => e("neg", {}, x!) },
  exp: { inputs: [F(f32(2, 3))], body: (e, x) => e("exp", {}, x!) },
  log: { inputs: [F(f32(3, 1, 2), { lo: 0.5, hi: 2 })], body: (e, x) => e("log", {}, x!) },
  sqrt: { inputs: [F(f32(4), { lo: 0.5, hi: 2 })], body: (e, x) => e("sqrt", {}, x!) },
  abs: { inputs: [F(f32(2, 3), { away: 0.1 })], body: (e, x) => e("abs", {}, x!) },
  sign: { inputs: [F(f32(2, 3), { away: 0.1 })], body: (e, x) => e("sign", {}, x!), zero: true },
  tanh: { inputs: [F(f32(2, 3), { lo: -2, hi: 2 })], body: (e, x) => e("tanh", {}, x!) },
  sigmoid: { inputs: [F(f32(2, 3), { lo: -3, hi: 3 })], body: (e, x) => e("sigmoid", {}, x!) },

  // Binary ops broadcast on both sides, so the sweep must un-broadcast both.
  add: { inputs: [F(f32("B", 1, 3)), F(f32(4, 1))], body: (e, a, b) => e("add", {}, a!, b!) },
  sub: { inputs: [F(f32(3)), F(f32("B", 3))], body: (e, a, b) => e("sub", {}, a!, b!) },
  mul: { inputs: [F(f32("B", 3, 1)), F(f32(1, 4))], body: (e, a, b) => e("mul", {}, a!, b!) },
  div: {
    inputs: [F(f32(2, 3)), F(f32(3), { lo: 0.5, hi: 2 })],
    body: (e, a, b) => e("div", {}, a!, b!),
  },
  pow: {
    inputs: [F(f32(2, 3), { lo: 0.5, hi: 2 }), F(f32(1, 3), { lo: -1.5, hi: 1.5 })],
    body: (e, a, b) => e("pow", {}, a!, b!),
  },
  max: { inputs: [F(f32(2, 3)), F(f32(3))], body: (e, a, b) => e("max", {}, a!, b!) },
  min: { inputs: [F(f32(2, 1)), F(f32(2, 3))], body: (e, a, b) => e("min", {}, a!, b!) },

  eq: { inputs: [F(f32(2, 3)), F(f32(3))], body: (e, a, b) => e("eq", {}, a!, b!), zero: true },
  ne: { inputs: [F(f32(2, 3)), F(f32(3))], body: (e, a, b) => e("ne", {}, a!, b!), zero: true },
  lt: { inputs: [F(f32(2, 3)), F(f32(3))], body: (e, a, b) => e("lt", {}, a!, b!), zero: true },
  le: { inputs: [F(f32(2, 3)), F(f32(3))], body: (e, a, b) => e("le", {}, a!, b!), zero: true },
  gt: { inputs: [F(f32(2, 3)), F(f32(3))], body: (e, a, b) => e("gt", {}, a!, b!), zero: true },
  ge: { inputs: [F(f32(2, 3)), F(f32(3))], body: (e, a, b) => e("ge", {}, a!, b!), zero: true },
  select: {
    inputs: [I(bool(2, 1), 0, 2), F(f32(2, 3)), F(f32(3))],
    body: (e, c, a, b) => e("select", {}, c!, a!, b!),
  },
  // f32 -> f32 passes the cotangent; the path through i32 contributes nothing.
  cast: {
    inputs: [F(f32(2, 3), { lo: 0.1, hi: 0.9 })],
    body: (e, x) =>
      e(
        "add",
        {},
        e("cast", { dtype: "f32" }, x!),
        e("cast", { dtype: "f32" }, e("cast", { dtype: "i32" }, e("mul", {}, x!, x!))),
      ),
  },
  // Sources have no inputs: check the gradient of x * source.
  const: {
    inputs: [F(f32("B", 3))],
    body: (e, x) => e("mul", {}, x!, e("const", { value: 2.5, dtype: "f32", shape: [] })),
  },
  dimval: {
    inputs: [F(f32("B", 3))],
    body: (e, x) => e("mul", {}, x!, e("dimval", { dim: dimVar("B"), dtype: "f32" })),
  },
  iota: {
    inputs: [F(f32("B", 3))],
    body: (e, x) => e("mul", {}, x!, e("iota", { shape: shapeOf("B", 3), axis: 1, dtype: "f32" })),
  },
  reduce_sum: {
    inputs: [F(f32(2, 3, 4))],
    body: (e, x) => e("reduce_sum", { axes: [0, 2] }, x!),
  },
  reduce_max: {
    inputs: [F(f32(2, 3, 4))],
    body: (e, x) => e("reduce_max", { axes: [1] }, x!),
  },
  argmax: { inputs: [F(f32(2, 5))], body: (e, x) => e("argmax", { axis: 1 }, x!), zero: true },
  matmul: {
    inputs: [F(f32(2, 1, 3, 4)), F(f32(3, 4, 5))],
    body: (e, a, b) => e("matmul", {}, a!, b!),
  },
  reshape: {
    inputs: [F(f32("B", 6))],
    body: (e, x) => e("reshape", { shape: shapeOf("B", 2, 3) }, x!),
  },
  transpose: {
    inputs: [F(f32(2, 3, 4))],
    body: (e, x) => e("transpose", { perm: [2, 0, 1] }, x!),
  },
  broadcast: {
    inputs: [F(f32(3, 1))],
    body: (e, x) => e("broadcast", { shape: shapeOf(2, 3, 4) }, x!),
  },
  slice: {
    inputs: [F(f32(5, 7))],
    body: (e, x) => e("slice", { start: shapeOf(1, 0), stop: shapeOf(5, 7), step: [2, 3] }, x!),
  },
  pad: {
    inputs: [F(f32(3, 2))],
    body: (e, x) => e("pad", { lo: shapeOf(1, 0), hi: shapeOf(2, 1), interior: [1, 2] }, x!),
  },
  concat: {
    inputs: [F(f32("B", 1)), F(f32("B", 3)), F(f32("B", 2))],
    body: (e, a, b, c) => e("concat", { axis: 1 }, a!, b!, c!),
  },
  // Repeated and out-of-range (-1, 4) indices: accumulation and dropping both matter.
  gather: {
    inputs: [F(f32(4, 3)), I(i32(2, 5), -1, 5)],
    body: (e, x, idx) => e("gather", { axis: 0 }, x!, idx!),
  },
  scatter_add: {
    inputs: [F(f32(2, 5, 3)), I(i32(5), 0, 4)],
    body: (e, u, idx) => e("scatter_add", { axis: 1, shape: shapeOf(2, 4, 3) }, u!, idx!),
  },
  random: {
    inputs: [F(f32("B", 3)), I(i32(), 0, 100)],
    body: (e, x, seed) =>
      e("mul", {}, x!, e("random", { shape: shapeOf("B", 3), stream: 7 }, seed!)),
  },
  stop_gradient: {
    inputs: [F(f32(2, 3))],
    body: (e, x) => e("stop_gradient", {}, x!),
    zero: true,
  },
  // Tuple carry, consts, xs, two ys, reverse: backpropagation through time via a reverse scan.
  scan: {
    inputs: scanInputs.map((t) => F(t)),
    body: (e, w, u, h0, x) => scanExample(e, w!, u!, h0!, x!),
  },
  conv2d: windowRow("conv2d"),
  conv2d_grad_input: windowRow("conv2d_grad_input"),
  conv2d_grad_filter: windowRow("conv2d_grad_filter"),
  max_pool: windowRow("max_pool"),
  max_pool_grad: windowRow("max_pool_grad"),
  max_pool_pick: windowRow("max_pool_pick"),
  avg_pool: windowRow("avg_pool"),
  avg_pool_grad: windowRow("avg_pool_grad"),
} satisfies Record<Op, Row>;

/** The output type of a row's body, found by building it once. */
function outType(row: Row): TensorType {
  return build(
    row.inputs.map((s) => s.type),
    row.body,
  ).outputs[0]!.type;
}

describe("vjp rules match central differences", () => {
  for (const [op, row] of Object.entries(rows) as [Op, Row][]) {
    it(op, () => {
      // loss = sum(y * w), with w a fixed random input of y's shape.
      const wType: TensorType = { dtype: "f32", shape: outType(row).shape };
      const { graph, gen, inputs } = build([...row.inputs.map((s) => s.type), wType], (e, ...xs) =>
        withLoss(e, row.body(e, ...xs.slice(0, -1)), xs[xs.length - 1]!),
      );
      const values = [...row.inputs.map((s, i) => sample(s, i + 1)), sample(F(wType), 99)];
      const wrt = inputs.slice(0, -1).filter((v) => v.type.dtype === "f32");
      const { analytic, numeric } = gradCheck(graph, gen, wrt, values);
      expect(analytic.length).toBe(wrt.length);
      analytic.forEach((a, k) => {
        if (row.zero) expect([...a.data].every((v) => v === 0)).toBe(true);
        else expect(relErr(a, numeric[k]!)).toBeLessThan(1e-6);
      });
    });
  }
});

describe("composite programs", () => {
  it("softmax cross-entropy written from primitives: grad is (softmax - onehot) / B", () => {
    const B = dimVar("B");
    const col = [B, dimConst(1)];
    const { graph, gen, inputs } = build([f32("B", 5), i32("B")], (e, z, y) => {
      const zs = e("sub", {}, z!, e("reshape", { shape: col }, e("reduce_max", { axes: [1] }, z!)));
      const lse = e("log", {}, e("reduce_sum", { axes: [1] }, e("exp", {}, zs)));
      const classes = e("iota", { shape: shapeOf("B", 5), axis: 1, dtype: "i32" });
      const onehot = e(
        "cast",
        { dtype: "f32" },
        e("eq", {}, classes, e("reshape", { shape: col }, y!)),
      );
      const picked = e("reduce_sum", { axes: [1] }, e("mul", {}, zs, onehot));
      const total = e("reduce_sum", { axes: [0] }, e("sub", {}, lse, picked));
      return e("div", {}, total, e("dimval", { dim: B, dtype: "f32" }));
    });
    const z = sample(F(f32("B", 5), { lo: -2, hi: 2 }), 3);
    const y = tensor("i32", [2], [4, 1]);
    const { analytic, numeric } = gradCheck(graph, gen, [inputs[0]!], [z, y]);
    expect(relErr(analytic[0]!, numeric[0]!)).toBeLessThan(1e-6);
    const expected = [0, 1].flatMap((r) => {
      const row = [...z.data.slice(r * 5, r * 5 + 5)];
      const sum = row.reduce((s, v) => s + Math.exp(v), 0);
      return row.map((v, c) => (Math.exp(v) / sum - (c === y.data[r] ? 1 : 0)) / 2);
    });
    [...analytic[0]!.data].forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
  });

  it("a two-layer MLP with relu, wrt every parameter", () => {
    const { graph, gen, inputs } = build(
      [f32("B", 4), f32(4, 8), f32(8), f32(8, 3), f32(3), f32("B", 3)],
      (e, x, w1, b1, w2, b2, target) => {
        const zero = e("const", { value: 0, dtype: "f32", shape: [] });
        const h = e("max", {}, e("add", {}, e("matmul", {}, x!, w1!), b1!), zero);
        const out = e("add", {}, e("matmul", {}, h, w2!), b2!);
        const d = e("sub", {}, out, target!);
        const sse = e("reduce_sum", { axes: [0, 1] }, e("mul", {}, d, d));
        return e("div", {}, sse, e("dimval", { dim: dimVar("B"), dtype: "f32" }));
      },
      { names: ["x", "w1", "b1", "w2", "b2", "target"] },
    );
    const values = graph.inputs.map((v, i) => sample(F(v.type), 10 + i));
    const wrt = inputs.slice(1, 5);
    const { analytic, numeric } = gradCheck(graph, gen, wrt, values);
    expect(analytic).toHaveLength(4);
    analytic.forEach((a, k) => expect(relErr(a, numeric[k]!)).toBeLessThan(1e-6));
  });

  it("adds the cotangents of a var used several times", () => {
    const { graph, gen, inputs } = build([f32(3)], (e, x) =>
      e("reduce_sum", { axes: [0] }, e("add", {}, e("mul", {}, x!, x!), x!)),
    );
    const x = tensor("f32", [3], [-1, 0.5, 2]);
    const { analytic } = gradCheck(graph, gen, inputs, [x]);
    expect([...analytic[0]!.data]).toEqual([-1, 2, 5]);
  });
});

describe("the reverse sweep", () => {
  it("differentiates only equations on a path from wrt to the loss", () => {
    const { graph, gen, inputs, outputs } = build([f32(3), f32(3)], (e, x, c) => {
      const off = e("exp", {}, c!); // does not depend on x
      const aux = e("tanh", {}, x!); // does not reach the loss
      return [e("reduce_sum", { axes: [0] }, e("mul", {}, x!, off)), aux];
    });
    const [loss, aux] = outputs as [Var, Var];
    const r = grad(graph, loss, [inputs[0]!], gen);
    verify(r.graph);
    const backward = r.graph.eqns.slice(graph.eqns.length);
    // seed, reduce_sum's reshape + broadcast, mul's ct * exp(c): nothing for tanh or exp.
    expect(backward.map((e) => e.op)).toEqual(["const", "reshape", "broadcast", "mul"]);
    expect(backward.some((e) => e.inputs.includes(aux))).toBe(false);
    expect(r.graph.outputs).toEqual([...graph.outputs, ...r.grads]);
  });

  it("gives a zero gradient to a var the loss does not depend on, and none through stop_gradient", () => {
    const { graph, gen, inputs } = build([f32(2), f32(2, 2)], (e, x, _w) =>
      e("reduce_sum", { axes: [0] }, e("stop_gradient", {}, e("exp", {}, x!))),
    );
    const r = grad(graph, graph.outputs[0]!, inputs, gen);
    verify(r.graph);
    const vals = interpret(r.graph, [
      tensor("f32", [2], [1, 2]),
      tensor("f32", [2, 2], [1, 2, 3, 4]),
    ]);
    expect([...vals[1]!.data]).toEqual([0, 0]);
    expect(vals[2]!.shape).toEqual([2, 2]);
    expect([...vals[2]!.data]).toEqual([0, 0, 0, 0]);
    expect(r.graph.eqns.slice(graph.eqns.length).every((e) => e.op === "const")).toBe(true);
  });

  it("refuses to differentiate with respect to an integer var", () => {
    const { graph, gen, inputs } = build([i32(2)], (e, x) =>
      e("reduce_sum", { axes: [0] }, e("cast", { dtype: "f32" }, x!)),
    );
    expect(() => grad(graph, graph.outputs[0]!, inputs, gen)).toThrow(/i32/);
  });
});
