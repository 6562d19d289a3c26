// The kernel IR: what fusion produces and what every codegen prints. It knows
// nothing of the graph IR's ops: a kernel is an iteration domain, loads through
// integer index expressions, a scalar expression tree per element and an
// optional reduction. JS and WGSL print the same kernels in two syntaxes.
//
// Index expressions (IExpr) are integer-valued: loop indices, run-time sizes
// (symbolic `Dim`s, bound per call), and + * floor-div mod. Scalar expressions
// (SExpr) are typed values computed per element. The two meet in `load` (an
// SExpr reading a buffer at an IExpr) and `val` (an IExpr made from an integer
// SExpr, for gather/scatter indices).

import type { BinaryOp, CompareOp, DType, UnaryOp } from "./ir.ts";
import { dimAsConst, dimEq, dimToOperand, dimToString, type Dim } from "./dims.ts";

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
  | { k: "icompare"; op: "lt" | "ge"; a: IExpr; b: IExpr; dtype: DType }
  /** Boolean conjunction (of bounds checks). */
  | { k: "and"; a: SExpr; b: SExpr; dtype: DType }
  | { k: "select"; c: SExpr; a: SExpr; b: SExpr; dtype: DType }
  | { k: "cast"; a: SExpr; dtype: DType }
  /** Counter-based uniform in [0, 1) (runtime/rng.ts) for element `index` of `stream`. */
  | { k: "random"; seed: SExpr; stream: number; index: IExpr; dtype: DType }
  /** The accumulated value of a matmul, in its epilogue. */
  | { k: "acc"; dtype: DType };

/** Elementwise: out[lin] = body for every point of `shape`. */
export interface MapKernel {
  kind: "map";
  out: BufId;
  shape: Dim[];
  body: SExpr;
}

/**
 * out[lin] = reduce over the `red` domain of body; body sees the output's
 * loop indices and the reduction indices. argmax yields the first index (in
 * row-major order of `red`) of the maximum.
 */
export interface ReduceKernel {
  kind: "reduce";
  op: "sum" | "max" | "argmax";
  out: BufId;
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
}

/**
 * out[batch..., i, j] = epilogue where acc = sum_p A[batch][i, p] * B[batch][p, j].
 * Loops 0..batch.length-1 are the batch axes, then i, then j; the epilogue
 * may load other buffers through them (bias add, activation).
 */
export interface MatmulKernel {
  kind: "matmul";
  out: BufId;
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
export interface ScatterKernel {
  kind: "scatter";
  out: BufId;
  shape: Dim[];
  domain: Dim[];
  target: IExpr;
  valid: SExpr;
  value: SExpr;
}

/**
 * A scan: `length` runs of the `body` kernels, never unrolled. At step t
 * (counting down when `reverse`), each slice binds buffer `view` to elements
 * [t * n, (t + 1) * n) of `of`, with no copy: step t of a scanned input
 * (stored with the scanned axis first), or the slot of step t in a stacked
 * output (`write`). Carries are double-buffered: `cur` starts as a copy of
 * `init`, the body reads `cur` and writes `next`, the two swap after every
 * step, and `final` (when something reads it) gets `cur` after the loop.
 */
export interface ScanKernel {
  kind: "scan";
  length: Dim;
  reverse: boolean;
  slices: { view: BufId; of: BufId; n: Dim; write: boolean }[];
  carries: { init: BufId; cur: BufId; next: BufId; final: BufId | null }[];
  body: Kernel[];
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
  | { kind: "temp" }
  /** A window of another buffer, bound by a scan at every step (no storage of its own). */
  | { kind: "view" };

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

export function iexprEq(a: IExpr, b: IExpr): boolean {
  if (a.k !== b.k) return false;
  switch (a.k) {
    case "const":
      return a.v === (b as typeof a).v;
    case "loop":
    case "red":
      return a.i === (b as typeof a).i;
    case "lin":
      return true;
    case "dim":
      return dimEq(a.d, (b as typeof a).d);
    case "val":
      return false;
    default: {
      const o = b as typeof a;
      return iexprEq(a.a, o.a) && iexprEq(a.b, o.b);
    }
  }
}

// ---------------------------------------------------------------- scalar expression helpers

export function lit(v: number, dtype: DType): SExpr {
  return { k: "lit", v, dtype };
}

/** Number of arithmetic nodes: what recomputing one element costs (loads and literals are free). */
export function sexprCost(e: SExpr): number {
  switch (e.k) {
    case "lit":
    case "acc":
      return 0;
    case "load":
    case "index":
    case "icompare":
      return 0;
    case "unary":
    case "cast":
      return 1 + sexprCost(e.a);
    case "binary":
    case "compare":
    case "and":
      return 1 + sexprCost(e.a) + sexprCost(e.b);
    case "select":
      return 1 + sexprCost(e.c) + sexprCost(e.a) + sexprCost(e.b);
    case "random":
      return 4 + sexprCost(e.seed);
  }
}

/** Every buffer an index expression reads (through the values it embeds), in first-use order. */
function indexBuffers(i: IExpr, out: BufId[]): void {
  if (i.k === "val") sexprBuffers(i.e, out);
  else if (i.k === "add" || i.k === "mul" || i.k === "div" || i.k === "mod") {
    indexBuffers(i.a, out);
    indexBuffers(i.b, out);
  }
}

/** Every buffer an expression reads, in first-use order. */
export function sexprBuffers(e: SExpr, out: BufId[] = []): BufId[] {
  const visitI = (i: IExpr): void => indexBuffers(i, out);
  switch (e.k) {
    case "load":
      if (!out.includes(e.buf)) out.push(e.buf);
      visitI(e.index);
      break;
    case "index":
      visitI(e.e);
      break;
    case "icompare":
      visitI(e.a);
      visitI(e.b);
      break;
    case "unary":
    case "cast":
      sexprBuffers(e.a, out);
      break;
    case "binary":
    case "compare":
    case "and":
      sexprBuffers(e.a, out);
      sexprBuffers(e.b, out);
      break;
    case "select":
      sexprBuffers(e.c, out);
      sexprBuffers(e.a, out);
      sexprBuffers(e.b, out);
      break;
    case "random":
      sexprBuffers(e.seed, out);
      visitI(e.index);
      break;
    case "lit":
    case "acc":
      break;
  }
  return out;
}

/** Buffers a kernel reads (its output excluded unless it also reads it). */
export function kernelInputs(k: Kernel): BufId[] {
  const out: BufId[] = [];
  switch (k.kind) {
    case "map":
    case "reduce":
      sexprBuffers(k.body, out);
      break;
    case "matmul":
      out.push(k.a.buf);
      if (!out.includes(k.b.buf)) out.push(k.b.buf);
      sexprBuffers(k.epilogue, out);
      break;
    case "scatter":
      sexprBuffers(k.valid, out);
      sexprBuffers(k.value, out);
      indexBuffers(k.target, out);
      break;
    case "scan":
      // Everything the loop reads, its own carries and windows included.
      for (const c of k.carries) out.push(c.init);
      for (const s of k.slices) if (!s.write) out.push(s.of);
      for (const b of k.body) for (const x of kernelInputs(b)) if (!out.includes(x)) out.push(x);
      break;
  }
  return out;
}

/** Buffers a kernel writes that outlive it: a scan writes its stacked outputs and final carries. */
export function kernelOutputs(k: Kernel): BufId[] {
  if (k.kind !== "scan") return [k.out];
  return [
    ...k.slices.filter((s) => s.write).map((s) => s.of),
    ...k.carries.flatMap((c) => (c.final === null ? [] : [c.final])),
  ];
}

// ---------------------------------------------------------------- printing (dumps and tests)

export function iexprToString(e: IExpr): string {
  switch (e.k) {
    case "const":
      return String(e.v);
    case "loop":
      return `i${e.i}`;
    case "red":
      return `r${e.i}`;
    case "lin":
      return "lin";
    case "dim":
      // `i0*(B + 1)`: a sum or a div/mod dim must not bind to a neighbouring `*`.
      return dimToOperand(e.d);
    case "val":
      return `int(${sexprToString(e.e)})`;
    case "add":
      return `(${iexprToString(e.a)} + ${iexprToString(e.b)})`;
    case "mul":
      return `${iexprToString(e.a)}*${iexprToString(e.b)}`;
    case "div":
      return `(${iexprToString(e.a)} div ${iexprToString(e.b)})`;
    case "mod":
      return `(${iexprToString(e.a)} mod ${iexprToString(e.b)})`;
  }
}

export function sexprToString(e: SExpr): string {
  switch (e.k) {
    case "lit":
      return `${e.v}`;
    case "load":
      return `b${e.buf}[${iexprToString(e.index)}]`;
    case "index":
      return `${e.dtype}(${iexprToString(e.e)})`;
    case "unary":
      return `${e.op}(${sexprToString(e.a)})`;
    case "binary":
    case "compare":
      return `${e.op}(${sexprToString(e.a)}, ${sexprToString(e.b)})`;
    case "icompare":
      return `${e.op}(${iexprToString(e.a)}, ${iexprToString(e.b)})`;
    case "and":
      return `and(${sexprToString(e.a)}, ${sexprToString(e.b)})`;
    case "select":
      return `select(${sexprToString(e.c)}, ${sexprToString(e.a)}, ${sexprToString(e.b)})`;
    case "cast":
      return `${e.dtype}(${sexprToString(e.a)})`;
    case "random":
      return `random(${sexprToString(e.seed)}, ${e.stream}, ${iexprToString(e.index)})`;
    case "acc":
      return "acc";
  }
}

const shapeStr = (s: readonly Dim[]) => `[${s.map(dimToString).join(", ")}]`;

/** One line per kernel, for `dlg dump --stage kernels` and structure tests. */
export function kernelToString(k: Kernel): string {
  switch (k.kind) {
    case "map":
      return `b${k.out} = map ${shapeStr(k.shape)} ${sexprToString(k.body)}`;
    case "reduce":
      return `b${k.out} = reduce_${k.op} ${shapeStr(k.shape)} over ${shapeStr(k.red)} ${sexprToString(k.body)}`;
    case "matmul": {
      const t = (o: MatmulOperand) => `b${o.buf}${o.transposed ? "^T" : ""}`;
      const batch = k.batch.length > 0 ? `${shapeStr(k.batch)} x ` : "";
      return `b${k.out} = matmul ${batch}[${dimToString(k.m)}, ${dimToString(k.k)}] @ [${dimToString(k.k)}, ${dimToString(k.n)}] ${t(k.a)} ${t(k.b)} then ${sexprToString(k.epilogue)}`;
    }
    case "scatter":
      return `b${k.out} = scatter_add ${shapeStr(k.shape)} from ${shapeStr(k.domain)} at ${iexprToString(k.target)} if ${sexprToString(k.valid)} += ${sexprToString(k.value)}`;
    case "scan": {
      const slices = k.slices.map(
        (s) => `b${s.view} = ${s.write ? "out " : ""}b${s.of}[t * ${dimToString(s.n)}...]`,
      );
      const carries = k.carries.map(
        (c) =>
          `b${c.cur} <- b${c.init}, next b${c.next}${c.final === null ? "" : `, final b${c.final}`}`,
      );
      const head = `scan t in ${k.reverse ? "reversed " : ""}0..${dimToString(k.length)}: ${[...slices, ...carries].join("; ")}`;
      const body = k.body.flatMap((b) =>
        kernelToString(b)
          .split("\n")
          .map((l) => `  ${l}`),
      );
      return [head, ...body].join("\n");
    }
  }
}

export function programToString(p: KernelProgram): string {
  const bufs = p.buffers.map(
    (b) =>
      `b${b.id}: ${b.dtype}${shapeStr(b.shape)} ${b.role.kind}${"slot" in b.role ? ` ${b.role.slot}` : ""}`,
  );
  return [...bufs, ...p.kernels.map(kernelToString)].join("\n");
}
