// How each primitive lowers to the kernel IR, in one exhaustive table (a new
// op without a row fails tsc). An op either has an element rule, its value at
// one index from its inputs' elements, which fuse.ts inlines into whatever
// reads it (or, when the value is stored, turns into one map kernel), or
// kernels of its own (reductions, matmul, scatter, the window ops), whose
// result is always stored. `scan` is a loop of its body's kernels with
// several outputs, lowered by fuse.ts itself.

import { idim, type BufId, type IExpr, type Kernel, type SExpr } from "../kernel.ts";
import {
  binaryOps,
  compareOps,
  unaryOps,
  windowOps,
  type BinaryOp,
  type CompareOp,
  type DType,
  type Eqn,
  type Op,
  type UnaryOp,
  type Var,
  type WindowOp,
} from "../ir.ts";
import type { Dim } from "../dims.ts";
import { family } from "../shapes.ts";
import {
  broadcastIndex,
  concatElem,
  gatherElem,
  padElem,
  sliceElem,
  transposeElem,
} from "./movement.ts";

/** What a rule may ask of the graph being lowered (fuse.ts's Lowering). */
export interface Lowerer {
  /** Element `idx` of `v`: a load when it is stored, else its definition fused in. */
  elem(v: Var, idx: readonly IExpr[]): SExpr;
  /** Element at linear index `l` of `v` (no delinearising when `v` is stored or a reshape). */
  elemLinear(v: Var, l: IExpr): SExpr;
  /** Linear index of `idx` in `shape`. */
  linIndex(shape: readonly Dim[], idx: readonly IExpr[]): IExpr;
  /** The id kernels name `e` by, for run-time messages. */
  src(e: Eqn): number;
  reduceKernel(e: Eqn, out: BufId, op: "sum" | "max" | "argmax", axes: number[]): Kernel;
  matmulKernel(e: Eqn, out: BufId, epilogue: SExpr): Kernel;
  scatterKernel(e: Eqn<"scatter_add">, out: BufId): Kernel;
  windowKernels(e: Eqn<WindowOp>, out: BufId): Kernel[];
}

export type Lower<P extends Op> =
  /** The output's element at `idx` (fused into its readers). */
  | { elem: (e: Eqn<P>, idx: readonly IExpr[], L: Lowerer) => SExpr }
  /** Always stored: the kernels computing it into `out`, in order (the last one writes `out`). */
  | { kernels: (e: Eqn<P>, out: BufId, L: Lowerer) => Kernel[] }
  /** A loop over the kernels of its body (fuse.ts's scanKernel). */
  | { loop: true };

/** Element `idx` of `e`'s input k, broadcast numpy-style to `e`'s output. */
function operand(e: Eqn, k: number, idx: readonly IExpr[], L: Lowerer): SExpr {
  const x = e.inputs[k]!;
  return L.elem(x, broadcastIndex(x.type.shape, e.outs[0]!.type.shape, idx));
}

const dtypeOf = (e: Eqn) => e.outs[0]!.type.dtype;

/** The literal as an element of its type (as interpret's toDType), so `i32 + const 2.5` adds 2 fused too. */
function constValue(v: number, dtype: DType): number {
  if (dtype === "bool") return Number(v !== 0 && !Number.isNaN(v));
  if (dtype === "i32") return Number.isFinite(v) ? Math.trunc(v) | 0 : 0;
  return v;
}

const unary: Lower<UnaryOp> = {
  elem: (e, idx, L) => ({
    k: "unary",
    op: e.op,
    a: operand(e, 0, idx, L),
    dtype: dtypeOf(e),
    src: L.src(e),
  }),
};
/** The two operands of a binary op or comparison, at the output's index, and the output's dtype. */
const operands = (e: Eqn, idx: readonly IExpr[], L: Lowerer) => ({
  a: operand(e, 0, idx, L),
  b: operand(e, 1, idx, L),
  dtype: dtypeOf(e),
});
const binary: Lower<BinaryOp> = {
  elem: (e, idx, L) => ({ k: "binary", op: e.op, ...operands(e, idx, L), src: L.src(e) }),
};
const compare: Lower<CompareOp> = {
  elem: (e, idx, L) => ({ k: "compare", op: e.op, ...operands(e, idx, L) }),
};
/** The input read at the output's index: a broadcast is all index arithmetic, stop_gradient the identity. */
const passThrough = { elem: (e: Eqn, idx: readonly IExpr[], L: Lowerer) => operand(e, 0, idx, L) };

export const lowerRules: { [P in Op]: Lower<P> } = {
  ...family(unaryOps, unary),
  ...family(binaryOps, binary),
  ...family(compareOps, compare),
  select: {
    elem: (e, idx, L) => ({
      k: "select",
      c: operand(e, 0, idx, L),
      a: operand(e, 1, idx, L),
      b: operand(e, 2, idx, L),
      dtype: dtypeOf(e),
    }),
  },
  cast: { elem: (e, idx, L) => ({ k: "cast", a: operand(e, 0, idx, L), dtype: dtypeOf(e) }) },
  const: {
    elem: (e, _idx, L) => {
      const dtype = dtypeOf(e);
      return { k: "lit", v: constValue(e.params.value, dtype), dtype, src: L.src(e) };
    },
  },
  dimval: { elem: (e) => ({ k: "index", e: idim(e.params.dim), dtype: dtypeOf(e) }) },
  iota: { elem: (e, idx) => ({ k: "index", e: idx[e.params.axis]!, dtype: dtypeOf(e) }) },
  reduce_sum: { kernels: (e, out, L) => [L.reduceKernel(e, out, "sum", e.params.axes)] },
  reduce_max: { kernels: (e, out, L) => [L.reduceKernel(e, out, "max", e.params.axes)] },
  argmax: { kernels: (e, out, L) => [L.reduceKernel(e, out, "argmax", [e.params.axis])] },
  matmul: { kernels: (e, out, L) => [L.matmulKernel(e, out, { k: "acc", dtype: dtypeOf(e) })] },
  reshape: {
    elem: (e, idx, L) => L.elemLinear(e.inputs[0]!, L.linIndex(e.outs[0]!.type.shape, idx)),
  },
  transpose: { elem: transposeElem },
  broadcast: passThrough,
  slice: { elem: sliceElem },
  pad: { elem: padElem },
  concat: { elem: concatElem },
  gather: { elem: gatherElem },
  scatter_add: { kernels: (e, out, L) => [L.scatterKernel(e, out)] },
  random: {
    elem: (e, idx, L) => ({
      k: "random",
      seed: L.elem(e.inputs[0]!, []),
      stream: e.params.stream,
      index: L.linIndex(e.outs[0]!.type.shape, idx),
      dtype: dtypeOf(e),
    }),
  },
  stop_gradient: passThrough,
  ...family(windowOps, {
    kernels: (e: Eqn<WindowOp>, out: BufId, L: Lowerer) => L.windowKernels(e, out),
  }),
  scan: { loop: true },
};

/** Whether `op`'s value is always stored: it has kernels of its own. */
export const hasKernels = (op: Op): boolean => "kernels" in lowerRules[op];

/** The element of `e`'s output at `idx`, its inputs fused in. */
export function lowerElem<P extends Op>(e: Eqn<P>, idx: readonly IExpr[], L: Lowerer): SExpr {
  const rule = lowerRules[e.op];
  if (!("elem" in rule)) throw new Error(`fuse: ${e.op} cannot be inlined`);
  return rule.elem(e, idx, L);
}

/** `e`'s own kernels into `out` (the last one writes it); null for an op with an element rule. */
export function ownKernels<P extends Op>(e: Eqn<P>, out: BufId, L: Lowerer): Kernel[] | null {
  const rule = lowerRules[e.op];
  return "kernels" in rule ? rule.kernels(e, out, L) : null;
}
