// Reverse-mode automatic differentiation on the graph IR.
//
// One VJP rule per primitive, in one exhaustive table. A rule sees one
// equation and the cotangent of its output and returns one cotangent per
// input (null where an input gets none). Rules never think about
// broadcasting or about a var being used twice: the reverse sweep in `grad`
// sums cotangents over a broadcast back to each input's shape and adds up the
// contributions of every use, in one place.

import { Builder } from "./builder.ts";
import { dimAdd, dimAsConst, dimConst, dimMul, dimSub, shapeEq, type Dim } from "./dims.ts";
import {
  liveEqns,
  type DType,
  type Eqn,
  type Graph,
  type Op,
  type OpParams,
  type TensorType,
  type Var,
  type VarGen,
} from "./ir.ts";
import { scanVjp, withScanResiduals, type ScanPlans } from "./autodiff/scan.ts";
import type { ResidualOptions } from "./autodiff/scan-residuals.ts";
import { scansAlongAxis0 } from "./autodiff/scan-layout.ts";
import { windowVjpRules } from "./autodiff/window.ts";

/** What a VJP rule sees besides its equation: the output cotangents and emitters. */
interface Cotangents {
  /** The primal output (rules reuse it: exp' = exp, tanh' = 1 - tanh^2). */
  y: Var;
  /** Cotangent of `y`; same type as `y`. */
  ct: Var;
  o: Emit;
  /** Every output and its cotangent (null where none flows): scan has several outputs. */
  outs: Var[];
  cts: (Var | null)[];
  /** The builder `o` appends to (scan's rule emits a multi-output equation). */
  b: Builder;
  /** What the sweep planned for the scans it differentiates (scan's rule reuses its body's VJP). */
  scanPlans: ScanPlans;
}

/** Everything a VJP rule may look at: the equation, its output cotangent, and emitters. */
export interface VjpArgs<P extends Op> extends Cotangents {
  params: OpParams[P];
  /** The primal inputs. */
  x: Var[];
}

/** One cotangent per input; it may have the broadcast shape of the output (the sweep reduces it). */
export type VjpRule<P extends Op> = (a: VjpArgs<P>) => (Var | null)[];

/** Tiny emitters so rules read like the math. */
function emitters(b: Builder) {
  const e = <P extends Op>(op: P, params: OpParams[P], ...xs: Var[]) => b.emit(op, params, xs);
  const full = (value: number, shape: Dim[], dtype: DType = "f32") =>
    e("const", { value, dtype, shape });
  return {
    full,
    scalar: (value: number) => full(value, []),
    neg: (x: Var) => e("neg", {}, x),
    add: (x: Var, y: Var) => e("add", {}, x, y),
    sub: (x: Var, y: Var) => e("sub", {}, x, y),
    mul: (x: Var, y: Var) => e("mul", {}, x, y),
    div: (x: Var, y: Var) => e("div", {}, x, y),
    pow: (x: Var, y: Var) => e("pow", {}, x, y),
    log: (x: Var) => e("log", {}, x),
    sign: (x: Var) => e("sign", {}, x),
    eq: (x: Var, y: Var) => e("eq", {}, x, y),
    gt: (x: Var, y: Var) => e("gt", {}, x, y),
    lt: (x: Var, y: Var) => e("lt", {}, x, y),
    select: (c: Var, x: Var, y: Var) => e("select", {}, c, x, y),
    cast: (x: Var, dtype: DType) => e("cast", { dtype }, x),
    reshape: (x: Var, shape: Dim[]) => e("reshape", { shape }, x),
    broadcast: (x: Var, shape: Dim[]) => e("broadcast", { shape }, x),
    transpose: (x: Var, perm: number[]) => e("transpose", { perm }, x),
    reduceSum: (x: Var, axes: number[]) => e("reduce_sum", { axes }, x),
    matmul: (x: Var, y: Var) => e("matmul", {}, x, y),
    slice: (x: Var, start: Dim[], stop: Dim[], step: number[]) =>
      e("slice", { start, stop, step }, x),
    pad: (x: Var, lo: Dim[], hi: Dim[], interior: number[]) => e("pad", { lo, hi, interior }, x),
    gather: (x: Var, idx: Var, axis: number) => e("gather", { axis }, x, idx),
    scatterAdd: (x: Var, idx: Var, axis: number, shape: Dim[]) =>
      e("scatter_add", { axis, shape }, x, idx),
  };
}
export type Emit = ReturnType<typeof emitters>;

// ---------------------------------------------------------------- rule factories

/** Non-differentiable (piecewise constant, integer-valued or explicitly stopped): no cotangents. */
const noGradient: VjpRule<Op> = ({ x }) => x.map(() => null);

/** Ops that move values without changing them elementwise: the cotangent passes through. */
const identity: VjpRule<Op> = ({ ct }) => [ct];

/** Unary `y = f(x)` with `dy/dx` built from x and y: ct * f'(x). */
const unaryDeriv =
  (deriv: (x: Var, y: Var, o: Emit) => Var): VjpRule<Op> =>
  ({ x: [a], y, ct, o }) => [o.mul(ct, deriv(a!, y, o))];

/** `ct * w` with `w` = 1 where `pick` holds, 1/2 on ties, 0 elsewhere (max and min share ties). */
function tieSplit(o: Emit, pick: Var, tie: Var, ct: Var): Var {
  const w = o.select(pick, o.scalar(1), o.select(tie, o.scalar(0.5), o.scalar(0)));
  return o.mul(ct, w);
}

/** Shape with the reduced `axes` kept as size 1, so a reduction's result broadcasts back. */
function keepDims(shape: Dim[], axes: number[]): Dim[] {
  return shape.map((d, i) => (axes.includes(i) ? dimConst(1) : d));
}

function swapLastTwo(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
  return perm;
}

// ---------------------------------------------------------------- the table

export const vjpRules: { [P in Op]: VjpRule<P> } = {
  neg: ({ ct, o }) => [o.neg(ct)],
  exp: unaryDeriv((_x, y) => y),
  log: ({ x: [a], ct, o }) => [o.div(ct, a!)],
  sqrt: ({ y, ct, o }) => [o.div(ct, o.mul(o.scalar(2), y))],
  abs: unaryDeriv((x, _y, o) => o.sign(x)),
  sign: noGradient,
  tanh: unaryDeriv((_x, y, o) => o.sub(o.scalar(1), o.mul(y, y))),
  sigmoid: unaryDeriv((_x, y, o) => o.mul(y, o.sub(o.scalar(1), y))),

  add: ({ ct }) => [ct, ct],
  sub: ({ ct, o }) => [ct, o.neg(ct)],
  mul: ({ x: [a, b], ct, o }) => [o.mul(ct, b!), o.mul(ct, a!)],
  // d(a/b)/db = -a/b^2 = -y/b.
  div: ({ x: [, b], y, ct, o }) => [o.div(ct, b!), o.neg(o.div(o.mul(ct, y), b!))],
  pow: ({ x: [a, b], y, ct, o }) => [
    o.mul(ct, o.mul(b!, o.pow(a!, o.sub(b!, o.scalar(1))))),
    // d(a^b)/db = a^b log a; where a = 0 use log 1 so 0^b contributes 0, not NaN.
    o.mul(ct, o.mul(y, o.log(o.select(o.eq(a!, o.scalar(0)), o.scalar(1), a!)))),
  ],
  max: ({ x: [a, b], ct, o }) => [
    tieSplit(o, o.gt(a!, b!), o.eq(a!, b!), ct),
    tieSplit(o, o.lt(a!, b!), o.eq(a!, b!), ct),
  ],
  min: ({ x: [a, b], ct, o }) => [
    tieSplit(o, o.lt(a!, b!), o.eq(a!, b!), ct),
    tieSplit(o, o.gt(a!, b!), o.eq(a!, b!), ct),
  ],

  eq: noGradient,
  ne: noGradient,
  lt: noGradient,
  le: noGradient,
  gt: noGradient,
  ge: noGradient,
  select: ({ x: [c], ct, o }) => [
    null,
    o.select(c!, ct, o.scalar(0)),
    o.select(c!, o.scalar(0), ct),
  ],
  // Only float -> float casts are differentiable; the sweep never asks for the
  // cotangent of an int or bool input, and an int/bool output is never active.
  cast: identity,
  const: noGradient,
  dimval: noGradient,
  iota: noGradient,

  reduce_sum: ({ params: { axes }, x: [a], ct, o }) => [
    o.broadcast(o.reshape(ct, keepDims(a!.type.shape, axes)), a!.type.shape),
  ],
  // Every maximal element shares the cotangent equally (like JAX), so ties stay symmetric.
  reduce_max: ({ params: { axes }, x: [a], y, ct, o }) => {
    const shape = a!.type.shape;
    const back = (v: Var) => o.broadcast(o.reshape(v, keepDims(shape, axes)), shape);
    const mask = o.cast(o.eq(a!, back(y)), "f32");
    return [o.mul(mask, back(o.div(ct, o.reduceSum(mask, axes))))];
  },
  argmax: noGradient,
  matmul: ({ x: [a, b], ct, o }) => [
    o.matmul(ct, o.transpose(b!, swapLastTwo(b!.type.shape.length))),
    o.matmul(o.transpose(a!, swapLastTwo(a!.type.shape.length)), ct),
  ],

  reshape: ({ x: [a], ct, o }) => [o.reshape(ct, a!.type.shape)],
  transpose: ({ params: { perm }, ct, o }) => {
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [o.transpose(ct, inverse)];
  },
  // The sweep's un-broadcast is exactly the transpose of broadcast.
  broadcast: identity,
  // Scatter the cotangent back into the sliced positions: a pad whose interior
  // zeros fill the stride and whose `hi` restores the elements past the last one read.
  slice: ({ params: p, x: [a], ct, o }) => {
    const n = ct.type.shape;
    const hi = a!.type.shape.map((d, i) => {
      const last = dimAdd(p.start[i]!, dimMul(dimSub(n[i]!, dimConst(1)), dimConst(p.step[i]!)));
      return dimSub(d, dimAdd(last, dimConst(1)));
    });
    return [
      o.pad(
        ct,
        p.start,
        hi,
        p.step.map((s) => s - 1),
      ),
    ];
  },
  // Read the original elements back out of the padded cotangent.
  pad: ({ params: p, ct, o }) => {
    const out = ct.type.shape;
    return [
      o.slice(
        ct,
        p.lo,
        out.map((d, i) => dimSub(d, p.hi[i]!)),
        p.interior.map((k) => k + 1),
      ),
    ];
  },
  concat: ({ params: { axis }, x, ct, o }) => {
    let offset = dimConst(0);
    const shape = ct.type.shape;
    return x.map((part) => {
      const end = dimAdd(offset, part.type.shape[axis]!);
      const start = shape.map((_, i) => (i === axis ? offset : dimConst(0)));
      const stop = shape.map((d, i) => (i === axis ? end : d));
      offset = end;
      return o.slice(
        ct,
        start,
        stop,
        shape.map(() => 1),
      );
    });
  },
  gather: ({ params: { axis }, x: [a, idx], ct, o }) => [
    o.scatterAdd(ct, idx!, axis, a!.type.shape),
    null,
  ],
  scatter_add: ({ params: { axis }, x: [, idx], ct, o }) => [o.gather(ct, idx!, axis), null],
  random: noGradient,
  stop_gradient: noGradient,
  scan: scanVjp,
  ...windowVjpRules,
};

// ---------------------------------------------------------------- the sweep

/** `e`'s rule applied: generic in the op, so the table's rule for it takes `e.params`. */
function applyVjp<P extends Op>(e: Eqn<P>, a: Cotangents): (Var | null)[] {
  return vjpRules[e.op]({ ...a, params: e.params, x: e.inputs });
}

/**
 * Sum `ct` over the axes that broadcasting added or stretched so it has
 * `target`'s shape: leading extra axes, and axes where the target has a literal 1.
 */
function unbroadcast(o: Emit, ct: Var, target: TensorType): Var {
  const from = ct.type.shape;
  const to = target.shape;
  if (shapeEq(from, to)) return ct;
  const extra = from.length - to.length;
  if (extra < 0)
    throw new Error(`autodiff: cotangent of rank ${from.length} for a rank ${to.length} input`);
  const axes = from
    .map((d, i) => i)
    .filter((i) => i < extra || (dimAsConst(to[i - extra]!) === 1 && dimAsConst(from[i]!) !== 1));
  const summed = axes.length ? o.reduceSum(ct, axes) : ct;
  return shapeEq(summed.type.shape, to) ? summed : o.reshape(summed, to);
}

/**
 * Reverse-mode gradients of the scalar (or any-shape, seeded with ones) `loss`
 * with respect to `wrt`. The result computes everything `g` does plus the
 * gradients: outputs are `g.outputs ++ grads`. A `wrt` var the loss does not
 * depend on gets a zero gradient. `opts`: what scans may store for their
 * reverse scans (a memory budget, and the sizes to weigh symbolic dims at).
 */
export function grad(
  g: Graph,
  loss: Var,
  wrt: Var[],
  gen: VarGen,
  opts: ResidualOptions = {},
): { graph: Graph; grads: Var[] } {
  return vjp(g, (o) => [[loss, o.full(1, loss.type.shape)]], wrt, gen, opts);
}

/**
 * Reverse mode seeded with given cotangents of some vars of `g` (built by
 * `seeds` in the backward graph): what `grad` does for a loss, and what a
 * scan's rule does for its body, whose outputs get the incoming cotangents.
 * `forward`: the equations of `given` as the result computes them (its scans
 * also stacking their residuals).
 */
export function vjp(
  given: Graph,
  seeds: (o: Emit) => [Var, Var][],
  wrt: Var[],
  gen: VarGen,
  opts: ResidualOptions = {},
): { graph: Graph; grads: Var[]; forward: Eqn[] } {
  for (const w of wrt)
    if (w.type.dtype !== "f32")
      throw new Error(`autodiff: cannot differentiate with respect to a ${w.type.dtype} var`);
  // Scans walk axis 0 so their residuals and cotangents can be stacked (see scan-layout.ts).
  const g0 = scansAlongAxis0(given, gen);

  // Forward: vars that depend on `wrt` through differentiable edges.
  const active = new Set(wrt.map((v) => v.id));
  for (const e of g0.eqns) {
    if (vjpRules[e.op] === noGradient) continue;
    if (!e.inputs.some((v) => active.has(v.id))) continue;
    for (const v of e.outs) if (v.type.dtype === "f32") active.add(v.id);
  }
  // Backward: vars the loss depends on. An equation gets a backward equation
  // only if it lies on a path from `wrt` to `loss`.
  const b = new Builder(gen);
  const o = emitters(b);
  const seeded = seeds(o);
  const reaches = new Set(seeded.map(([v]) => v.id));
  for (let i = g0.eqns.length - 1; i >= 0; i--) {
    const e = g0.eqns[i]!;
    if (e.outs.some((v) => reaches.has(v.id))) e.inputs.forEach((v) => reaches.add(v.id));
  }
  const onPath = (v: Var) => active.has(v.id) && reaches.has(v.id);
  // Scans on the path also stack their per-step carries and the residuals
  // their reverse step reads (it sees them by differentiating the body, and
  // its own scans under the same options): their rule reads them back.
  const sweep = (h: Graph, s: (o: Emit) => [Var, Var][], w: Var[], n: VarGen) =>
    vjp(h, s, w, n, opts);
  const { graph: g, plans: scanPlans } = withScanResiduals(g0, onPath, gen, sweep, opts);

  const cts = new Map<number, Var>();
  const accumulate = (x: Var, ct: Var) => {
    const c = unbroadcast(o, ct, x.type);
    const prev = cts.get(x.id);
    cts.set(x.id, prev ? o.add(prev, c) : c);
  };
  for (const [v, ct] of seeded) if (onPath(v)) accumulate(v, ct);

  for (let i = g.eqns.length - 1; i >= 0; i--) {
    const e = g.eqns[i]!;
    const outCts = e.outs.map((v) => (onPath(v) ? (cts.get(v.id) ?? null) : null));
    const first = outCts.findIndex((c) => c !== null);
    if (first < 0) continue;
    const [y, ct] = [e.outs[first]!, outCts[first]!];
    const made = b.eqns.length;
    const inCts = applyVjp(e, { y, ct, o, outs: e.outs, cts: outCts, b, scanPlans });
    e.inputs.forEach((x, k) => {
      const c = inCts[k];
      if (c && onPath(x)) accumulate(x, c);
    });
    // The backward equations answer for the primal one: a NaN in them points at its source.
    for (const d of b.eqns.slice(made)) {
      d.vjpOf = e.op;
      if (e.span) d.span = e.span;
      if (e.file !== undefined) d.file = e.file;
    }
  }

  const grads = wrt.map((w) => {
    const c = cts.get(w.id) ?? o.full(0, w.type.shape);
    // The same var can be the gradient of several params (loss = a + b); keep the first name.
    if (w.hint && !c.hint) c.hint = `grad(${w.hint})`;
    return c;
  });
  // The backward pass computes some cotangents no one reads.
  const backward = liveEqns(b.eqns, grads);
  return {
    graph: { inputs: g.inputs, eqns: [...g.eqns, ...backward], outputs: [...g.outputs, ...grads] },
    grads,
    forward: g.eqns,
  };
}
