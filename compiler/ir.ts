// The graph IR: a flat list of equations in A-normal form over typed
// variables. Every phase after elaboration (shapes, autodiff, simplify, the
// interpreter, fusion) reads and writes this one representation.
//
// Primitives stay few. Each primitive has typed params (OpParams) and every
// per-phase rule table is `{ [P in Op]: Rule<P> }`, so adding an op here makes
// the type checker list every table that still lacks a rule for it.

import type { Span } from "../grammar/index.ts";
import type { Dim } from "./dims.ts";
import type { InSlot, OutSlot } from "../runtime/program.ts";

export type DType = "f32" | "i32" | "bool";

export interface TensorType {
  dtype: DType;
  shape: Dim[];
}

export interface Var {
  /** Unique within a graph (and its sub-graphs). */
  id: number;
  type: TensorType;
  /** A readable hint for printing (`logits`, `dense_1.w`); not an identity. */
  hint?: string;
}

/** Elementwise unary ops on floats (output dtype = input dtype). */
export const unaryOps = ["neg", "exp", "log", "sqrt", "abs", "sign", "tanh", "sigmoid"] as const;
export type UnaryOp = (typeof unaryOps)[number];

/** Elementwise binary ops; operands broadcast numpy-style (right-aligned, size 1 stretches). */
export const binaryOps = ["add", "sub", "mul", "div", "pow", "max", "min"] as const;
export type BinaryOp = (typeof binaryOps)[number];

/** Elementwise comparisons; broadcast like binary ops; output dtype bool. */
export const compareOps = ["eq", "ne", "lt", "le", "gt", "ge"] as const;
export type CompareOp = (typeof compareOps)[number];

/** Sliding-window ops (convolution, pooling and their transposes); rules live in `X/window.ts`. */
export const windowOps = [
  "conv2d",
  "conv2d_grad_input",
  "conv2d_grad_filter",
  "max_pool",
  "max_pool_grad",
  "max_pool_pick",
  "avg_pool",
  "avg_pool_grad",
] as const;
export type WindowOp = (typeof windowOps)[number];

/**
 * Geometry of a 2-D sliding window over the last two axes (H, W), all
 * compile-time integers: `stride` [sh, sw] >= 1, `padding` [top, bottom,
 * left, right] >= 0 (asymmetric, so TF's "same" fits), `dilation` [dh, dw]
 * >= 1 (the gap between kernel taps).
 */
export interface Window2d {
  stride: number[];
  padding: number[];
  dilation: number[];
}

/** A pooling window: `window` [KH, KW] plus stride and padding as in Window2d (no dilation). */
export interface Pool2d {
  window: number[];
  stride: number[];
  padding: number[];
}

/**
 * Params of every primitive. Shapes and positions that may be symbolic are
 * `Dim`s; axes are always non-negative concrete integers (the elaborator
 * normalises `axis: -1`).
 */
export interface OpParams {
  // elementwise unary
  neg: {};
  exp: {};
  log: {};
  sqrt: {};
  abs: {};
  sign: {};
  tanh: {};
  sigmoid: {};
  // elementwise binary (broadcasting)
  add: {};
  sub: {};
  mul: {};
  div: {};
  pow: {};
  max: {};
  min: {};
  // comparisons (broadcasting, -> bool)
  eq: {};
  ne: {};
  lt: {};
  le: {};
  gt: {};
  ge: {};
  /** select(cond: bool, a, b): a where cond else b; all three broadcast. */
  select: {};
  /** Element type conversion; bool -> 0/1, float -> int truncates toward zero. */
  cast: { dtype: DType };
  /** A tensor filled with one value (no inputs). Scalar literals have shape []. */
  const: { value: number; dtype: DType; shape: Dim[] };
  /** The run-time value of a dimension expression, as a scalar (e.g. `B` in a mean over the batch). */
  dimval: { dim: Dim; dtype: DType };
  /** 0, 1, 2, ... along `axis` of `shape`, broadcast along the others (no inputs). */
  iota: { shape: Dim[]; axis: number; dtype: DType };
  /** Sum over `axes` (sorted, unique); those axes are removed from the shape. */
  reduce_sum: { axes: number[] };
  /** Max over `axes` (sorted, unique); those axes are removed from the shape. */
  reduce_max: { axes: number[] };
  /** Index of the first maximum along `axis` (removed); dtype i32. */
  argmax: { axis: number };
  /** Batched matmul: [...a, m, k] @ [...b, k, n] -> [...broadcast(a, b), m, n]; both rank >= 2. */
  matmul: {};
  /** Same elements, new shape (element counts must agree symbolically). */
  reshape: { shape: Dim[] };
  /** out.shape[i] = in.shape[perm[i]]. */
  transpose: { perm: number[] };
  /** Numpy-style broadcast of the input to `shape` (right-aligned; size-1 or missing axes stretch). */
  broadcast: { shape: Dim[] };
  /** Strided slice: per axis, elements start, start+step, ... < stop (step >= 1). */
  slice: { start: Dim[]; stop: Dim[]; step: number[] };
  /**
   * Zero padding: per axis, `lo` zeros before, `hi` after, and `interior`
   * zeros between neighbouring elements (the transpose of a strided slice).
   */
  pad: { lo: Dim[]; hi: Dim[]; interior: number[] };
  /** Concatenate all inputs along `axis`; other dims must agree. */
  concat: { axis: number };
  /**
   * gather(x, idx: i32): take along `axis` of x; out.shape =
   * x.shape[:axis] ++ idx.shape ++ x.shape[axis+1:]. Out-of-range indices read 0.
   */
  gather: { axis: number };
  /**
   * scatter_add(upd, idx: i32) -> zeros of `shape` with upd added at idx along
   * `axis` (the transpose of gather; used by its VJP).
   */
  scatter_add: { axis: number; shape: Dim[] };
  /**
   * Counter-based uniform random numbers in [0, 1) of `shape`, from a scalar
   * i32 `seed` input and a compile-time `stream` id (one per call site). Same
   * bits on every backend: see runtime/rng.ts.
   */
  random: { shape: Dim[]; stream: number };
  /** Identity whose gradient is zero. */
  stop_gradient: {};
  /**
   * 2-D convolution, channels first (cross-correlation, as in every DL
   * framework): x [N, C, H, W], w [O, C, KH, KW] -> [N, O, OH, OW] with
   * OH = (H + pt + pb - dh * (KH - 1) - 1) div sh + 1 (likewise OW). Padding
   * reads zeros. See Window2d.
   */
  conv2d: Window2d;
  /** The transpose of conv2d in x: (ct [N, O, OH, OW], w) -> [N, C, size[0], size[1]]. */
  conv2d_grad_input: Window2d & { size: Dim[] };
  /** The transpose of conv2d in w: (x, ct [N, O, OH, OW]) -> [O, C, size[0], size[1]]. */
  conv2d_grad_filter: Window2d & { size: Dim[] };
  /** Max over each window of x [N, C, H, W] -> [N, C, OH, OW]; padding never wins. */
  max_pool: Pool2d;
  /** (x, ct [N, C, OH, OW]) -> x's shape: each ct element added at its window's first maximum of x. */
  max_pool_grad: Pool2d;
  /** (x, g of x's shape) -> [N, C, OH, OW]: g read at each window's first maximum of x. */
  max_pool_pick: Pool2d;
  /** Sum over each window / (KH * KW): padding counts as zeros in the average. */
  avg_pool: Pool2d;
  /** The transpose of avg_pool: ct [N, C, OH, OW] -> [N, C, size[0], size[1]]. */
  avg_pool_grad: Pool2d & { size: Dim[] };
  /**
   * A loop over `length` steps of `body`, never unrolled. Inputs are
   * `[...consts, ...carryInit, ...xs]`; outputs `[...finalCarry, ...ys]`.
   * The body takes `[...consts, ...carry, ...xs_t]` (each xs sliced at step t
   * along `axis`) and returns `[...nextCarry, ...ys_t]`; each ys is the
   * stack of its per-step values along `axis`. `reverse` walks t from
   * `length - 1` down to 0 (the backward pass of a forward scan).
   */
  scan: {
    body: Graph;
    length: Dim;
    axis: number;
    reverse: boolean;
    nConsts: number;
    nCarry: number;
    nXs: number;
    /** What autodiff decided about the scan's residuals (stored or recomputed), for the dumps. */
    note?: string;
  };
}

export type Op = keyof OpParams;

export const isUnary = (op: Op): op is UnaryOp => (unaryOps as readonly Op[]).includes(op);
export const isBinary = (op: Op): op is BinaryOp => (binaryOps as readonly Op[]).includes(op);
export const isCompare = (op: Op): op is CompareOp => (compareOps as readonly Op[]).includes(op);
export const isWindow = (op: Op): op is WindowOp => (windowOps as readonly Op[]).includes(op);

/** The equations of `eqns` that `roots` depend on, in order. */
export function liveEqns(eqns: Eqn[], roots: Var[]): Eqn[] {
  const need = new Set(roots.map((v) => v.id));
  const kept: Eqn[] = [];
  for (let i = eqns.length - 1; i >= 0; i--) {
    const e = eqns[i]!;
    if (!e.outs.some((v) => need.has(v.id))) continue;
    kept.push(e);
    e.inputs.forEach((v) => need.add(v.id));
  }
  return kept.reverse();
}

/** Drop equations no output depends on (simplify's DCE, and autodiff's pruning of scan bodies). */
export function dce(g: Graph): Graph {
  return { inputs: g.inputs, eqns: liveEqns(g.eqns, g.outputs), outputs: g.outputs };
}

export const allOps = Object.keys({
  neg: 0,
  exp: 0,
  log: 0,
  sqrt: 0,
  abs: 0,
  sign: 0,
  tanh: 0,
  sigmoid: 0,
  add: 0,
  sub: 0,
  mul: 0,
  div: 0,
  pow: 0,
  max: 0,
  min: 0,
  eq: 0,
  ne: 0,
  lt: 0,
  le: 0,
  gt: 0,
  ge: 0,
  select: 0,
  cast: 0,
  const: 0,
  dimval: 0,
  iota: 0,
  reduce_sum: 0,
  reduce_max: 0,
  argmax: 0,
  matmul: 0,
  reshape: 0,
  transpose: 0,
  broadcast: 0,
  slice: 0,
  pad: 0,
  concat: 0,
  gather: 0,
  scatter_add: 0,
  random: 0,
  stop_gradient: 0,
  conv2d: 0,
  conv2d_grad_input: 0,
  conv2d_grad_filter: 0,
  max_pool: 0,
  max_pool_grad: 0,
  max_pool_pick: 0,
  avg_pool: 0,
  avg_pool_grad: 0,
  scan: 0,
} satisfies Record<Op, 0>) as Op[];

/** One equation of primitive P: `outs = P[params](inputs)`. */
interface EqnOf<P extends Op> {
  op: P;
  params: OpParams[P];
  inputs: Var[];
  outs: Var[];
  /** Where in the .dlg source this came from (for diagnostics and dumps). */
  span?: Span;
  /** Source file of `span`. */
  file?: string;
  /** The primitive whose VJP rule emitted this equation (with that equation's span), for run-time messages. */
  vjpOf?: Op;
}

/**
 * An equation of one of the ops P: with no argument, the union over every op,
 * discriminated by `op`, so `e.op === "transpose"` narrows `e.params` to
 * `{ perm }`. It is a mapped type indexed by P rather than a conditional type
 * because then, for a P a function is generic in, it stays `EqnOf<P>`: a rule
 * table `{ [P in Op]: Rule<P> }` indexed by `e.op` accepts `e` and `e.params`.
 */
export type Eqn<P extends Op = Op> = { [Q in P]: EqnOf<Q> }[P];

/**
 * An equation of a generic op as the union it belongs to: tsc cannot prove
 * that `EqnOf<P>` for an unknown P is a member of `Eqn`, so builders that
 * check params against their op (`<P extends Op>(op: P, params: OpParams[P])`)
 * hand their equation over through this one cast.
 */
export const anyEqn = <P extends Op>(e: Eqn<P>): Eqn => e as Eqn;

/** A graph in A-normal form: every var is defined once, before use. */
export interface Graph {
  inputs: Var[];
  eqns: Eqn[];
  outputs: Var[];
}

/** The largest var id in `graphs`, scan bodies included (they draw from the same generator); -1 if none. */
export function largestId(...graphs: Graph[]): number {
  let max = -1;
  const visit = (g: Graph): void => {
    for (const v of g.inputs) max = Math.max(max, v.id);
    for (const e of g.eqns) {
      for (const v of e.outs) max = Math.max(max, v.id);
      if (e.op === "scan") visit(e.params.body);
    }
  };
  graphs.forEach(visit);
  return max;
}

/** Hands out fresh var ids; one per compilation so ids stay unique across graphs. */
export class VarGen {
  private next = 0;
  constructor(start = 0) {
    this.next = start;
  }
  fresh(type: TensorType, hint?: string): Var {
    const v: Var = { id: this.next++, type };
    if (hint !== undefined) v.hint = hint;
    return v;
  }
  /** Keep ids unique after importing vars made elsewhere. */
  reserve(id: number): void {
    if (id >= this.next) this.next = id + 1;
  }
}

// ---------------------------------------------------------------- models and programs

/** A model after elaboration: one forward graph plus what its vars mean. */
/**
 * A condition on run-time dims that the checker could not prove (`B >= 4`
 * for `x[3]` on `[B]`, a size within the byte limit): the runtime tests
 * `min <= dim <= max` when it binds the dims, before anything runs, and
 * throws `message` with the dims' values and where they came from.
 */
export interface DimCheck {
  dim: Dim;
  min: number;
  /** Absent: no upper bound. */
  max?: number;
  /** Names the quantity `dim` measures when it is not the condition itself ("bytes"). */
  unit?: string;
  message: string;
}

export interface ModelIR {
  name: string;
  /** Named dims bound at run time from input shapes (e.g. the batch `B`). */
  dims: string[];
  inputs: { name: string; var: Var; span?: Span }[];
  /** Parameters and (v2) state tensors, in a stable order; shapes are concrete. */
  params: ModelParam[];
  /**
   * v2 `update name = expr`: the value each state param (by index into
   * `params`) takes after a step(), computed by the forward graph with
   * training = true. A state param without an update keeps its value.
   */
  updates: { index: number; var: Var; span?: Span }[];
  /** i32 scalar: per-call random seed (dropout masks). */
  seed: Var;
  /** bool scalar: true in step(), false in predict() and evaluate(). */
  training: Var;
  /**
   * inputs: [...inputs, ...params, seed, training];
   * outputs: [...outputs, ...metrics, loss?] (the vars listed below).
   */
  forward: Graph;
  outputs: { name: string; var: Var; span?: Span }[];
  metrics: { name: string; var: Var; span?: Span }[];
  /** f32 scalar, or null when the model declares no loss. */
  loss: Var | null;
  /** inputs: [seed]; outputs: one initial value per param, in `params` order. */
  init: Graph;
  /** What the runtime must check about the dims; absent: nothing. */
  checks?: DimCheck[];
}

/** One entry of ModelIR.params. */
export interface ModelParam {
  path: string;
  var: Var;
  span?: Span;
  /** v2 `state`: not trained (no gradient, no optimizer buffers); initialised, saved and loaded like a param. */
  state?: true;
  /**
   * v2 `repeat(f, n)` lowered to a scan: the param holds the n copies' params
   * stacked on axis 0 (nested repeats: one level per entry, outermost first).
   * Copy i of a level is named `${prefix}${i}.` + the rest of the path in
   * checkpoints and params(); `path` itself is `${prefix}` + the rest.
   */
  stack?: { prefix: string; n: number }[];
}

export type OptimizerKind = "gd" | "sgd" | "adam" | "adamw";

/** v2 learning-rate schedules (the lr of step t, 1-based, in epoch e); the plan's copy is data the runtime evaluates. */
export type { Schedule } from "../runtime/program.ts";

export interface OptimizerConfig {
  kind: OptimizerKind;
  /** The base learning rate (a schedule's first argument). */
  lr: number;
  /** v2: how lr varies over the run; `{ kind: "constant", lr }` when `lr:` is a number. */
  schedule: import("../runtime/program.ts").Schedule;
  /** sgd/gd: heavy-ball momentum (0 = none). */
  momentum: number;
  nesterov: boolean;
  /** adam */
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay (0 = none). */
  weightDecay: number;
}

export interface TrainConfig {
  name: string;
  model: string;
  optimizer: OptimizerConfig;
  /** Examples per step, or "full" for full-batch gradient descent. */
  batch: number | "full";
  epochs: number;
  seed: number;
  /** v2 `clip_norm C`: the gradients scaled by min(1, C / global L2 norm) before the update; null = none. */
  clipNorm: number | null;
  /** v2 `keep best METRIC`: the epoch kept (restored and saved) is the best by validation `metric` (`"loss"`: lowest; a metric: highest). */
  keepBest: { metric: string; mode: "min" | "max"; span?: Span } | null;
  /** v2 `patience N`: stop after N epochs without a better `keepBest` value (needs `keep best`); null = never. */
  patience: number | null;
  span?: Span;
}

// Where an entry's inputs come from and its outputs go: the runtime's own
// types, so the compiler and the emitted program cannot drift apart.
export type { InSlot, OutSlot } from "../runtime/program.ts";

/** One callable of the emitted module (init, predict, evaluate, step). */
export interface Entry {
  name: "init" | "predict" | "evaluate" | "step";
  graph: Graph;
  /** Where graph input k comes from at run time. */
  inSlots: InSlot[];
  outSlots: OutSlot[];
  /** Keep every input even when nothing reads it (init: the runtime always passes its seed). */
  keepInputs?: boolean;
}

/** Everything the back end needs to emit a standalone module for one model. */
export interface ProgramIR {
  model: string;
  dims: string[];
  inputs: { name: string; type: TensorType }[];
  outputs: { name: string; type: TensorType }[];
  metrics: string[];
  hasLoss: boolean;
  params: { path: string; type: TensorType; stack?: ModelParam["stack"] }[];
  /** Optimizer state buffers (momentum, Adam moments), concrete shapes. */
  state: { name: string; type: TensorType }[];
  entries: Entry[];
  /** What the runtime must check about the dims before running any entry; absent: nothing. */
  checks?: DimCheck[];
}
