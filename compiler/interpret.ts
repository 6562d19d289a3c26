// The reference interpreter: evaluates a graph in float64, one primitive at a
// time, with numpy semantics. It is the oracle every backend and every
// gradient is tested against, so each rule is written to be obviously right
// (materialise broadcasts, walk multi-indices) rather than fast.

import { randomUniform } from "../runtime/rng.ts";
import { dimEq, dimEval, dimVar, dimVars, type Dim } from "./dims.ts";
import { binaryFns, compareFns, toDType, unaryFns } from "./elementwise.ts";
import { printGraph, typeToString } from "./ir-print.ts";
import {
  binaryOps,
  compareOps,
  unaryOps,
  type BinaryOp,
  type CompareOp,
  type DType,
  type Eqn,
  type Graph,
  type Op,
  type OpParams,
  type UnaryOp,
  type Var,
} from "./ir.ts";
import {
  avgPoolGradImpl,
  avgPoolImpl,
  conv2dGradFilterImpl,
  conv2dGradInputImpl,
  conv2dImpl,
  maxPoolGradImpl,
  maxPoolImpl,
  maxPoolPickImpl,
} from "./interpret/window.ts";

/** Element storage: a plain (not shared) float64 buffer. */
export type F64 = Float64Array<ArrayBuffer>;

/** A dense row-major tensor; i32 and bool elements are held as numbers. */
export interface Tensor {
  dtype: DType;
  shape: number[];
  data: F64;
}

export function tensor(dtype: DType, shape: number[], data: ArrayLike<number>): Tensor {
  const n = size(shape);
  if (data.length !== n)
    throw new Error(`tensor of shape [${shape.join(", ")}] needs ${n} values, got ${data.length}`);
  return { dtype, shape: [...shape], data: Float64Array.from(data, (x) => toDType(x, dtype)) };
}

export function scalar(value: number, dtype: DType = "f32"): Tensor {
  return tensor(dtype, [], [value]);
}

// ---------------------------------------------------------------- index helpers

export function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** The multi-index of flat position `flat` in a row-major `shape`. */
function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    idx[i] = flat % d;
    flat = Math.floor(flat / d);
  }
  return idx;
}

function ravel(idx: readonly number[], st: readonly number[]): number {
  let f = 0;
  for (let i = 0; i < idx.length; i++) f += idx[i]! * st[i]!;
  return f;
}

/** Numpy broadcasting of concrete shapes. */
export function broadcastShape(shapes: number[][]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes)
    s.forEach((d, i) => {
      const j = rank - s.length + i;
      if (d === 1) return;
      if (out[j] !== 1 && out[j] !== d)
        throw new Error(`cannot broadcast ${shapes.map((x) => `[${x}]`).join(" and ")}`);
      out[j] = d;
    });
  return out;
}

/** The elements of `t` broadcast (right-aligned, size-1 axes stretched) to `shape`. */
function broadcastData(t: Tensor, shape: number[]): F64 {
  // Callers only read the result, so an unchanged shape can share the buffer.
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t.data;
  const off = shape.length - t.shape.length;
  const inSt = strides(t.shape);
  const out = new Float64Array(size(shape));
  for (let f = 0; f < out.length; f++) {
    const o = unravel(f, shape);
    let src = 0;
    for (let j = 0; j < t.shape.length; j++) if (t.shape[j] !== 1) src += o[j + off]! * inSt[j]!;
    out[f] = t.data[src]!;
  }
  return out;
}

// ---------------------------------------------------------------- rules

interface Ctx {
  /** Concrete value of a dimension under the run's dim bindings. */
  dim(d: Dim): number;
  /** The run's dim bindings themselves (a scan's body is interpreted under them). */
  env: Record<string, number>;
  /** The dtype the equation's output is declared with. */
  outDType: DType;
  /** Round f32 results to float32 (see `interpret`). */
  float32: boolean;
}

/** One result, or one per output for a multi-output primitive (scan). */
type Impl<P extends Op> = (params: OpParams[P], inputs: Tensor[], ctx: Ctx) => Tensor | Tensor[];

function make(dtype: DType, shape: number[], data: F64 = new Float64Array(size(shape))): Tensor {
  return { dtype, shape, data };
}

/** Apply `f` elementwise over the numpy broadcast of `inputs`. */
function zipWith(inputs: Tensor[], dtype: DType, f: (xs: number[]) => number): Tensor {
  const shape = broadcastShape(inputs.map((t) => t.shape));
  const cols = inputs.map((t) => broadcastData(t, shape));
  const out = make(dtype, shape);
  const xs = new Array<number>(inputs.length);
  for (let i = 0; i < out.data.length; i++) {
    for (let k = 0; k < cols.length; k++) xs[k] = cols[k]![i]!;
    out.data[i] = f(xs);
  }
  return out;
}

const unaryImpl =
  (op: UnaryOp): Impl<UnaryOp> =>
  (_p, [x], ctx) =>
    zipWith([x!], ctx.outDType, ([a]) => unaryFns[op](a!));

const binaryImpl =
  (op: BinaryOp): Impl<BinaryOp> =>
  (_p, [a, b], ctx) =>
    zipWith([a!, b!], ctx.outDType, ([x, y]) => binaryFns[op](x!, y!));

const compareImpl =
  (op: CompareOp): Impl<CompareOp> =>
  (_p, [a, b]) =>
    zipWith([a!, b!], "bool", ([x, y]) => compareFns[op](x!, y!));

function reduce(
  x: Tensor,
  axes: number[],
  init: number,
  combine: (acc: number, v: number) => number,
): Tensor {
  const keep = x.shape.map((_, i) => !axes.includes(i));
  const outShape = x.shape.filter((_, i) => keep[i]);
  const outSt = strides(outShape);
  const out = make(x.dtype, outShape, new Float64Array(size(outShape)).fill(init));
  for (let f = 0; f < x.data.length; f++) {
    const idx = unravel(f, x.shape).filter((_, i) => keep[i]);
    const o = ravel(idx, outSt);
    out.data[o] = combine(out.data[o]!, x.data[f]!);
  }
  return out;
}

/** Batch shapes broadcast; the last two axes multiply as matrices. */
const matmul: Impl<"matmul"> = (_p, [a, b], ctx) => {
  const [m, k] = a!.shape.slice(-2) as [number, number];
  const n = b!.shape[b!.shape.length - 1]!;
  const batch = broadcastShape([a!.shape.slice(0, -2), b!.shape.slice(0, -2)]);
  const A = broadcastData(a!, [...batch, m, k]);
  const B = broadcastData(b!, [...batch, k, n]);
  const out = make(ctx.outDType, [...batch, m, n]);
  for (let p = 0; p < size(batch); p++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += A[p * m * k + i * k + q]! * B[p * k * n + q * n + j]!;
        out.data[p * m * n + i * n + j] = s;
      }
  return out;
};

const transpose: Impl<"transpose"> = ({ perm }, [x]) => {
  const inSt = strides(x!.shape);
  const shape = perm.map((p) => x!.shape[p]!);
  const out = make(x!.dtype, shape);
  for (let f = 0; f < out.data.length; f++) {
    const o = unravel(f, shape);
    let src = 0;
    perm.forEach((p, j) => (src += o[j]! * inSt[p]!));
    out.data[f] = x!.data[src]!;
  }
  return out;
};

const slice: Impl<"slice"> = (p, [x], ctx) => {
  const start = p.start.map(ctx.dim);
  const stop = p.stop.map(ctx.dim);
  const shape = x!.shape.map((_, i) => Math.max(0, Math.ceil((stop[i]! - start[i]!) / p.step[i]!)));
  const inSt = strides(x!.shape);
  const out = make(x!.dtype, shape);
  for (let f = 0; f < out.data.length; f++) {
    const o = unravel(f, shape);
    const src = o.map((v, i) => start[i]! + v * p.step[i]!);
    if (src.some((v, i) => v < 0 || v >= x!.shape[i]!))
      throw new Error(`slice reads index [${src.join(", ")}] of a [${x!.shape.join(", ")}] tensor`);
    out.data[f] = x!.data[ravel(src, inSt)]!;
  }
  return out;
};

const pad: Impl<"pad"> = (p, [x], ctx) => {
  const lo = p.lo.map(ctx.dim);
  const hi = p.hi.map(ctx.dim);
  const shape = x!.shape.map((d, i) => lo[i]! + hi[i]! + d + Math.max(0, d - 1) * p.interior[i]!);
  const outSt = strides(shape);
  const out = make(x!.dtype, shape);
  for (let f = 0; f < x!.data.length; f++) {
    const dst = unravel(f, x!.shape).map((v, i) => lo[i]! + v * (p.interior[i]! + 1));
    // Negative padding crops: elements that land outside the result are dropped.
    if (dst.some((v, i) => v < 0 || v >= shape[i]!)) continue;
    out.data[ravel(dst, outSt)] = x!.data[f]!;
  }
  return out;
};

const concat: Impl<"concat"> = ({ axis }, xs) => {
  const shape = [...xs[0]!.shape];
  shape[axis] = xs.reduce((s, t) => s + t.shape[axis]!, 0);
  const outSt = strides(shape);
  const out = make(xs[0]!.dtype, shape);
  let offset = 0;
  for (const t of xs) {
    for (let f = 0; f < t.data.length; f++) {
      const idx = unravel(f, t.shape);
      idx[axis]! += offset;
      out.data[ravel(idx, outSt)] = t.data[f]!;
    }
    offset += t.shape[axis]!;
  }
  return out;
};

/** out[pre, j..., post] = x[pre, idx[j...], post]; out-of-range indices read 0. */
const gather: Impl<"gather"> = ({ axis }, [x, idx]) => {
  const shape = [...x!.shape.slice(0, axis), ...idx!.shape, ...x!.shape.slice(axis + 1)];
  const inSt = strides(x!.shape);
  const r = idx!.shape.length;
  const out = make(x!.dtype, shape);
  for (let f = 0; f < out.data.length; f++) {
    const o = unravel(f, shape);
    const j = ravel(o.slice(axis, axis + r), strides(idx!.shape));
    const at = idx!.data[j]!;
    if (at < 0 || at >= x!.shape[axis]!) continue;
    const src = [...o.slice(0, axis), at, ...o.slice(axis + r)];
    out.data[f] = x!.data[ravel(src, inSt)]!;
  }
  return out;
};

/** The transpose of gather: zeros of `shape`, each update added at its index; out-of-range ones are dropped. */
const scatterAdd: Impl<"scatter_add"> = (p, [upd, idx], ctx) => {
  const shape = p.shape.map(ctx.dim);
  const outSt = strides(shape);
  const r = idx!.shape.length;
  const out = make(upd!.dtype, shape);
  for (let f = 0; f < upd!.data.length; f++) {
    const u = unravel(f, upd!.shape);
    const at = idx!.data[ravel(u.slice(p.axis, p.axis + r), strides(idx!.shape))]!;
    if (at < 0 || at >= shape[p.axis]!) continue;
    const dst = [...u.slice(0, p.axis), at, ...u.slice(p.axis + r)];
    out.data[ravel(dst, outSt)]! += upd!.data[f]!;
  }
  return out;
};

/** Step `t` of `x` along `axis` (that axis removed). */
function takeStep(x: Tensor, axis: number, t: number): Tensor {
  const len = x.shape[axis]!;
  const inner = size(x.shape.slice(axis + 1));
  const shape = x.shape.filter((_, a) => a !== axis);
  const out = make(x.dtype, shape);
  for (let f = 0; f < out.data.length; f++) {
    const o = Math.floor(f / inner);
    out.data[f] = x.data[(o * len + t) * inner + (f % inner)]!;
  }
  return out;
}

/** The per-step tensors `steps` stacked along a new `axis`; `step` is one step's shape (for 0 steps). */
function stackSteps(steps: Tensor[], axis: number, dtype: DType, step: number[]): Tensor {
  const shape = [...step];
  shape.splice(axis, 0, steps.length);
  const inner = size(step.slice(axis));
  const out = make(dtype, shape);
  steps.forEach((s, t) => {
    for (let f = 0; f < s.data.length; f++) {
      const o = Math.floor(f / inner);
      out.data[(o * steps.length + t) * inner + (f % inner)] = s.data[f]!;
    }
  });
  return out;
}

/** Run the body once per step, threading the carries; the plain loop the compiled code must match. */
const scanImpl: Impl<"scan"> = (p, ins, ctx) => {
  const { body, nConsts, nCarry, axis } = p;
  const length = ctx.dim(p.length);
  const consts = ins.slice(0, nConsts);
  let carry = ins.slice(nConsts, nConsts + nCarry);
  const xs = ins.slice(nConsts + nCarry);
  const yVars = body.outputs.slice(nCarry);
  const ys: Tensor[][] = yVars.map(() => new Array<Tensor>(length));
  for (let s = 0; s < length; s++) {
    const t = p.reverse ? length - 1 - s : s;
    const slices = xs.map((x) => takeStep(x, axis, t));
    const outs = interpret(body, [...consts, ...carry, ...slices], ctx.env, ctx.float32);
    carry = outs.slice(0, nCarry);
    outs.slice(nCarry).forEach((y, j) => (ys[j]![t] = y));
  }
  const stacked = ys.map((steps, j) => {
    const v = yVars[j]!;
    return stackSteps(steps, axis, v.type.dtype, v.type.shape.map(ctx.dim));
  });
  return [...carry, ...stacked];
};

export const implRules: { [P in Op]: Impl<P> } = {
  ...(Object.fromEntries(unaryOps.map((o) => [o, unaryImpl(o)])) as {
    [P in UnaryOp]: Impl<P>;
  }),
  ...(Object.fromEntries(binaryOps.map((o) => [o, binaryImpl(o)])) as {
    [P in BinaryOp]: Impl<P>;
  }),
  ...(Object.fromEntries(compareOps.map((o) => [o, compareImpl(o)])) as {
    [P in CompareOp]: Impl<P>;
  }),
  select: (_p, [c, a, b], ctx) => zipWith([c!, a!, b!], ctx.outDType, ([k, x, y]) => (k ? x! : y!)),
  cast: ({ dtype }, [x]) =>
    make(
      dtype,
      [...x!.shape],
      x!.data.map((v) => toDType(v, dtype)),
    ),
  const: (p, _xs, ctx) => {
    const shape = p.shape.map(ctx.dim);
    return make(p.dtype, shape, new Float64Array(size(shape)).fill(toDType(p.value, p.dtype)));
  },
  dimval: (p, _xs, ctx) => make(p.dtype, [], Float64Array.of(toDType(ctx.dim(p.dim), p.dtype))),
  iota: (p, _xs, ctx) => {
    const shape = p.shape.map(ctx.dim);
    const out = make(p.dtype, shape);
    for (let f = 0; f < out.data.length; f++) out.data[f] = unravel(f, shape)[p.axis]!;
    return out;
  },
  reduce_sum: ({ axes }, [x]) => reduce(x!, axes, 0, (a, v) => a + v),
  reduce_max: ({ axes }, [x]) => reduce(x!, axes, -Infinity, (a, v) => Math.max(a, v)),
  argmax: ({ axis }, [x]) => {
    // Walk the axis in order and keep the first strict maximum.
    const best = reduce(x!, [axis], -Infinity, (a, v) => Math.max(a, v));
    const outShape = best.shape;
    const outSt = strides(outShape);
    const out = make("i32", outShape, new Float64Array(size(outShape)).fill(-1));
    for (let f = 0; f < x!.data.length; f++) {
      const idx = unravel(f, x!.shape);
      const o = ravel(
        idx.filter((_, i) => i !== axis),
        outSt,
      );
      if (out.data[o] === -1 && x!.data[f] === best.data[o]) out.data[o] = idx[axis]!;
    }
    // A slice of NaNs has no maximum; report index 0 rather than -1.
    return { ...out, data: out.data.map((v) => (v < 0 ? 0 : v)) };
  },
  matmul,
  reshape: (p, [x], ctx) => make(x!.dtype, p.shape.map(ctx.dim), x!.data.slice()),
  transpose,
  broadcast: (p, [x], ctx) => {
    const shape = p.shape.map(ctx.dim);
    return make(x!.dtype, shape, broadcastData(x!, shape));
  },
  slice,
  pad,
  concat,
  gather,
  scatter_add: scatterAdd,
  random: (p, [seed], ctx) => {
    const shape = p.shape.map(ctx.dim);
    const out = make("f32", shape);
    const s = seed!.data[0]!;
    for (let i = 0; i < out.data.length; i++) out.data[i] = randomUniform(s, p.stream, i);
    return out;
  },
  stop_gradient: (_p, [x]) => make(x!.dtype, [...x!.shape], x!.data.slice()),
  conv2d: conv2dImpl,
  conv2d_grad_input: conv2dGradInputImpl,
  conv2d_grad_filter: conv2dGradFilterImpl,
  max_pool: maxPoolImpl,
  max_pool_grad: maxPoolGradImpl,
  max_pool_pick: maxPoolPickImpl,
  avg_pool: avgPoolImpl,
  avg_pool_grad: avgPoolGradImpl,
  scan: scanImpl,
};

// ---------------------------------------------------------------- driver

/**
 * Bind dims that appear on their own in an input's type (`[B, 784]` binds B)
 * from the actual tensors, so callers only pass dims that no input spells.
 */
function bindDims(g: Graph, inputs: Tensor[], given: Record<string, number>) {
  const dims = { ...given };
  g.inputs.forEach((v, i) => {
    v.type.shape.forEach((d, j) => {
      const [name, ...more] = dimVars(d);
      const actual = inputs[i]?.shape[j];
      // Only a bare name binds: `2 * B` would need solving, and is checked later instead.
      if (name === undefined || more.length || actual === undefined) return;
      if (dims[name] === undefined && dimEq(d, dimVar(name))) dims[name] = actual;
    });
  });
  return dims;
}

/** `e`'s impl applied: generic in the op, so the table's impl for it takes `e.params`. */
function applyImpl<P extends Op>(e: Eqn<P>, ins: Tensor[], ctx: Ctx): Tensor | Tensor[] {
  return implRules[e.op](e.params, ins, ctx);
}

function checkType(v: Var, t: Tensor, dim: (d: Dim) => number, what: string): void {
  const shape = v.type.shape.map(dim);
  if (
    v.type.dtype !== t.dtype ||
    shape.length !== t.shape.length ||
    shape.some((d, i) => d !== t.shape[i])
  )
    throw new Error(
      `${what}: expected ${typeToString(v.type)} = ${v.type.dtype}[${shape.join(", ")}], ` +
        `got ${t.dtype}[${t.shape.join(", ")}]`,
    );
}

/**
 * Evaluate `g` on `inputs` (one per graph input, in order). `dims` gives the
 * values of named dimensions not fixed by an input's shape. With `float32`,
 * every f32 result is rounded to float32 as a module stores it: an emulation
 * of float32 arithmetic, one primitive at a time, that tells the fuzzer where a
 * program's result hangs on float32 rounding rather than on the backend.
 */
export function interpret(
  g: Graph,
  inputs: Tensor[],
  dims: Record<string, number> = {},
  float32 = false,
): Tensor[] {
  if (inputs.length !== g.inputs.length)
    throw new Error(`the graph takes ${g.inputs.length} inputs, got ${inputs.length}`);
  const env = bindDims(g, inputs, dims);
  const dim = (d: Dim) => dimEval(d, env);
  const vals = new Map<number, Tensor>();
  g.inputs.forEach((v, i) => {
    const t = inputs[i]!;
    checkType(v, t, dim, `input ${i}${v.hint ? ` (${v.hint})` : ""}`);
    vals.set(v.id, t);
  });
  const read = (v: Var): Tensor => {
    const t = vals.get(v.id);
    if (!t)
      throw new Error(`interpret: var ${v.id} is used before it is defined\n${printGraph(g)}`);
    return t;
  };
  for (const e of g.eqns) {
    const ins = e.inputs.map(read);
    const r = applyImpl(e, ins, { dim, env, outDType: e.outs[0]!.type.dtype, float32 });
    (Array.isArray(r) ? r : [r]).forEach((t, k) => {
      const out = e.outs[k]!;
      // Round results into their element type (i32 arithmetic truncates) and
      // check the rule agrees with the declared type: a cheap, strong self-test.
      const round = float32 && t.dtype === "f32" ? Math.fround : (x: number) => toDType(x, t.dtype);
      const res: Tensor = { ...t, data: t.data.map(round) };
      checkType(out, res, dim, `interpret: ${e.op} result`);
      vals.set(out.id, res);
    });
  }
  return g.outputs.map(read);
}
