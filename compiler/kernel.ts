// The kernel IR: what fusion produces and what every codegen prints. It knows
// nothing of the graph IR's ops: a kernel is an iteration domain, loads through
// integer index expressions, a scalar expression tree per element and an
// optional reduction. JS and WGSL print the same kernels in two syntaxes.
// Walks and analyses of these trees are kernel-walk.ts's; their text form
// (dumps, structure tests) is scalar-print/dump.ts's.
//
// Index expressions (IExpr) are integer-valued: loop indices, run-time sizes
// (symbolic `Dim`s, bound per call), and + * floor-div mod. Scalar expressions
// (SExpr) are typed values computed per element. The two meet in `load` (an
// SExpr reading a buffer at an IExpr) and `val` (an IExpr made from an integer
// SExpr, for gather/scatter indices).

import type { BinaryOp, CompareOp, DType, UnaryOp } from "./ir.ts";
import { dimAsConst, type Dim } from "./dims.ts";
import { mangle } from "./mangle.ts";

/** A buffer of one entry's plan, by index into `KernelProgram.buffers`. */
export type BufId = number;

export type IExpr =
  | { k: "const"; v: number }
  /** Index of loop `i` of the kernel's domain (outer to inner). */
  | { k: "loop"; i: number }
  /** Index of reduction loop `i` (reduce kernels only). */
  | { k: "red"; i: number }
  /** Row-major linear index of the current element of the domain. */
  | { k: "lin" }
  /** A size known only at run time. */
  | { k: "dim"; d: Dim }
  /** The current step t of the enclosing scan whose `id` is `scan` (counting down when reversed). */
  | { k: "iter"; scan: number }
  | { k: "add" | "mul" | "div" | "mod"; a: IExpr; b: IExpr }
  /** An integer scalar value used as an index (gather, scatter). */
  | { k: "val"; e: SExpr };

/**
 * `src` on the nodes that can make a finite value non-finite (literals, unary
 * and binary arithmetic) is the equation they compute, an index into
 * `KernelProgram.sources`: an instrumented build (`checkNumerics`) names it
 * when the value is NaN or infinite; the plain build ignores it.
 */
export type SExpr =
  | { k: "lit"; v: number; dtype: DType; src?: number }
  | { k: "load"; buf: BufId; index: IExpr; dtype: DType }
  /** An index expression as a scalar value (iota, dimval). */
  | { k: "index"; e: IExpr; dtype: DType }
  | { k: "unary"; op: UnaryOp; a: SExpr; dtype: DType; src?: number }
  | { k: "binary"; op: BinaryOp; a: SExpr; b: SExpr; dtype: DType; src?: number }
  /** Comparison of two scalars (dtype bool). */
  | { k: "compare"; op: CompareOp; a: SExpr; b: SExpr; dtype: DType }
  /** Comparison of two index expressions (bounds checks in pad/concat/gather). */
  | { k: "icompare"; op: "lt" | "ge" | "eq"; a: IExpr; b: IExpr; dtype: DType }
  /** Boolean conjunction (of bounds checks). */
  | { k: "and"; a: SExpr; b: SExpr; dtype: DType }
  | { k: "select"; c: SExpr; a: SExpr; b: SExpr; dtype: DType }
  | { k: "cast"; a: SExpr; dtype: DType }
  /** Counter-based uniform in [0, 1) (runtime/rng.ts) for element `index` of `stream`. */
  | { k: "random"; seed: SExpr; stream: number; index: IExpr; dtype: DType }
  /** The accumulated value of a matmul, in its epilogue. */
  | { k: "acc"; dtype: DType };

/**
 * What every kernel but a scan stores into: `out`, at element `outAt` plus
 * the kernel's own index (a scan body writing step t of a stacked output
 * has `outAt = t * n`; absent: 0).
 */
interface Stores {
  out: BufId;
  outAt?: IExpr;
}

/** Elementwise: out[lin] = body for every point of `shape`. */
export interface MapKernel extends Stores {
  kind: "map";
  shape: Dim[];
  body: SExpr;
}

/**
 * out[lin] = reduce over the `red` domain of body; body sees the output's
 * loop indices and the reduction indices. argmax yields the first index (in
 * row-major order of `red`) of the maximum.
 */
export interface ReduceKernel extends Stores {
  kind: "reduce";
  op: "sum" | "max" | "argmax";
  shape: Dim[];
  red: Dim[];
  body: SExpr;
}

/** One matmul operand, a materialised buffer. */
export interface MatmulOperand {
  buf: BufId;
  /** Stored with its last two axes swapped ([..., k, m] for A, [..., n, k] for B). */
  transposed: boolean;
  /** Which matrix of the buffer, from the batch loop indices (broadcasting folded in). */
  batch: IExpr;
  /** Element offset of matrix 0 (a scan body reading step t of a scanned input); absent: 0. */
  at?: IExpr;
}

/**
 * out[batch..., i, j] = epilogue where acc = sum_p A[batch][i, p] * B[batch][p, j].
 * Loops 0..batch.length-1 are the batch axes, then i, then j; the epilogue
 * may load other buffers through them (bias add, activation).
 */
export interface MatmulKernel extends Stores {
  kind: "matmul";
  batch: Dim[];
  m: Dim;
  n: Dim;
  k: Dim;
  a: MatmulOperand;
  b: MatmulOperand;
  epilogue: SExpr;
}

/**
 * out = zeros(shape); then for every point of `domain`, when `valid`:
 * out[target] += value (the transpose of gather).
 */
export interface ScatterKernel extends Stores {
  kind: "scatter";
  shape: Dim[];
  domain: Dim[];
  target: IExpr;
  valid: SExpr;
  value: SExpr;
}

/**
 * A scan: `length` runs of the `body` kernels, never unrolled. Step t (the
 * index expression `{ k: "iter", scan: id }`, counting down when `reverse`)
 * of a scanned input is read in place, at offset t * n of the buffer that
 * stacks the steps (the scanned axis first), and a stacked output is written
 * the same way (its kernel's `outAt`): no views, no copies, so every step's
 * kernels index plain buffers and may run in parallel. Carries are
 * double-buffered: `cur` starts as a copy of `init`, the body reads `cur` and
 * writes `next`, `next` becomes `cur` after every step (a backend copies or
 * swaps), and `final` (when something reads it) gets `cur` after the loop.
 * `stacked` lists the buffers of the scanned inputs and stacked outputs, for
 * liveness.
 */
export interface ScanKernel {
  kind: "scan";
  /** Unique among the scans of one KernelProgram (nested ones included). */
  id: number;
  length: Dim;
  reverse: boolean;
  carries: { init: BufId; cur: BufId; next: BufId; final: BufId | null }[];
  stacked: { buf: BufId; write: boolean }[];
  body: Kernel[];
  /** What autodiff decided for this scan (residuals stored for the reverse scan, or recomputed), for dumps. */
  note?: string;
}

/**
 * The equation a kernel stores the value of (index into `KernelProgram.sources`),
 * blamed for a non-finite result no fused node explains (a sum or matmul that
 * overflowed); absent on copies and scans.
 */
export type Kernel = (MapKernel | ReduceKernel | MatmulKernel | ScatterKernel | ScanKernel) & {
  src?: number;
};

/** Where a buffer's contents come from and go to. */
export type BufferRole =
  /** Bound by the caller before the run (an InSlot of the entry). */
  | { kind: "in"; slot: number }
  /** Written by the run and handed to an OutSlot of the entry. */
  | { kind: "out"; slot: number }
  /** An intermediate, pooled by the memory plan. */
  | { kind: "temp" };

export interface BufferDecl {
  id: BufId;
  dtype: DType;
  shape: Dim[];
  role: BufferRole;
}

/** An equation as a run-time numerics check names it: its primitive and .dlg location. */
export interface KernelSource {
  op: string;
  /** The name (hint) of the value it computes, as the .dlg source spells it, if any. */
  name?: string;
  /** The primitive whose gradient emitted this equation (autodiff), if any. */
  vjpOf?: string;
  /** Where in the .dlg source the equation came from (offsets; emit resolves line and column). */
  file?: string;
  span?: { start: number; end: number };
}

/** One entry (init, predict, ...) lowered: buffers and kernels in execution order. */
export interface KernelProgram {
  buffers: BufferDecl[];
  kernels: Kernel[];
  /** The equations kernels and scalar nodes name through `src`, scan bodies' included. */
  sources: KernelSource[];
}

// ---------------------------------------------------------------- memory plan (computed by memory.ts)

/** Storage class: bool and i32 both live in Int32Arrays (WGSL has no bool buffers either). */
export type ArrayClass = "f32" | "i32";

export interface PoolSlot {
  cls: ArrayClass;
  /** Temporaries stored here, in allocation order; their live ranges are disjoint. */
  members: BufId[];
  /** Distinct element counts of the members (the slot holds the largest). */
  sizes: Dim[];
}

export interface MemoryPlan {
  /** Pool slot of each buffer, or -1 for inputs and outputs. */
  poolOf: number[];
  slots: PoolSlot[];
}

// ---------------------------------------------------------------- index expression builders
// Smart constructors fold constants and identities so that the common
// contiguous and broadcast cases print as plain `lin` or `i1`.

export const iconst = (v: number): IExpr => ({ k: "const", v });
export const iloop = (i: number): IExpr => ({ k: "loop", i });
export const ired = (i: number): IExpr => ({ k: "red", i });

export function idim(d: Dim): IExpr {
  const c = dimAsConst(d);
  return c !== null ? iconst(c) : { k: "dim", d };
}

export function iadd(a: IExpr, b: IExpr): IExpr {
  if (a.k === "const" && b.k === "const") return iconst(a.v + b.v);
  if (a.k === "const" && a.v === 0) return b;
  if (b.k === "const" && b.v === 0) return a;
  return { k: "add", a, b };
}

export function imul(a: IExpr, b: IExpr): IExpr {
  if (a.k === "const" && b.k === "const") return iconst(a.v * b.v);
  if ((a.k === "const" && a.v === 0) || (b.k === "const" && b.v === 0)) return iconst(0);
  if (a.k === "const" && a.v === 1) return b;
  if (b.k === "const" && b.v === 1) return a;
  return { k: "mul", a, b };
}

export function idiv(a: IExpr, b: IExpr): IExpr {
  if (b.k === "const" && b.v === 1) return a;
  if (a.k === "const" && b.k === "const" && b.v !== 0) return iconst(Math.floor(a.v / b.v));
  return { k: "div", a, b };
}

export function imod(a: IExpr, b: IExpr): IExpr {
  if (b.k === "const" && b.v === 1) return iconst(0);
  if (a.k === "const" && b.k === "const" && b.v !== 0)
    return iconst(a.v - b.v * Math.floor(a.v / b.v));
  return { k: "mod", a, b };
}

/** Row-major linear index of `idx` in `shape`. */
export function linearize(shape: readonly Dim[], idx: readonly IExpr[]): IExpr {
  let out: IExpr = iconst(0);
  for (let a = 0; a < shape.length; a++) {
    out = iadd(imul(out, idim(shape[a]!)), idx[a]!);
  }
  return out;
}

/** The multi-index of linear index `l` in `shape`. */
export function delinearize(shape: readonly Dim[], l: IExpr): IExpr[] {
  const idx: IExpr[] = new Array(shape.length);
  let rest = l;
  for (let a = shape.length - 1; a >= 0; a--) {
    const d = idim(shape[a]!);
    idx[a] = a === 0 ? rest : imod(rest, d);
    rest = idiv(rest, d);
  }
  return idx;
}

// ---------------------------------------------------------------- scalar expression helpers

export function lit(v: number, dtype: DType): SExpr {
  return { k: "lit", v, dtype };
}

/**
 * A kernel's name: its unique path (`e2_5`, `e2_5_0` for a scan's
 * first body kernel), then what it computes, mangled. Mangled names start
 * with `u_` and paths never contain a `u`, so names stay unique.
 */
export function kernelName(path: string, k: Kernel, sources: readonly KernelSource[]): string {
  const s = k.src === undefined ? undefined : sources[k.src];
  return s ? `${path}_${mangle(s.name ?? s.op)}` : path;
}
