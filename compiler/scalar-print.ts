// One printer of the kernel IR's scalar (SExpr) and index (IExpr) trees for
// every text backend. A backend is a `Syntax`: how its language spells each
// node, with rows keyed by op so that a new op without a row in some backend
// is a tsc error there. The printer owns the structure every backend shares:
// which nodes are conditions by nature (comparisons, `and`) and which are
// values (everything else), where a value converts to its dtype (`fit`), and
// when an index division may use the cheap truncating form. The kernel at
// hand supplies what only it knows (`PrintContext`): how a buffer is read,
// where a dim lives, what the accumulator is called.

import type { Dim } from "./dims.ts";
import type { BinaryOp, CompareOp, DType, UnaryOp } from "./ir.ts";
import type { BufId, IExpr, SExpr } from "./kernel.ts";
import { someIExpr } from "./kernel-walk.ts";

export type ICompareOp = Extract<SExpr, { k: "icompare" }>["op"];
type Node<K extends SExpr["k"]> = Extract<SExpr, { k: K }>;

/**
 * How one language spells the kernel IR. Operands arrive printed, and every
 * row must return text that is safe as an operand of any operator (bracketed
 * or a call). Values of dtype bool are in the backend's value form (JS: the
 * numbers 0/1; WGSL: `bool`); conditions (what `if`, `select` and `and`
 * take) are in its boolean form; `boolValue` and `truth` convert.
 */
export interface Syntax {
  /** A literal in value form. */
  lit(v: number, dtype: DType): string;
  /**
   * Brings the raw result of arithmetic (unary, binary, cast, the matmul
   * accumulator) to its dtype: JS computes in float64 and rounds (`Math.fround`,
   * `| 0`); where the arithmetic already has the dtype (WGSL), the identity.
   */
  fit(text: string, dtype: DType): string;
  /** `node` is the expression printed, for rows that specialise on literal operands. */
  unary: { [P in UnaryOp]: (a: string, dtype: DType, node: Node<"unary">) => string };
  binary: { [P in BinaryOp]: (a: string, b: string, dtype: DType, node: Node<"binary">) => string };
  /** A condition; `type` is the operands' dtype. */
  compare: { [P in CompareOp]: (a: string, b: string, type: DType) => string };
  /** A condition on two printed index expressions. */
  icompare: { [P in ICompareOp]: (a: string, b: string) => string };
  /** Conjunction of two conditions. */
  and(a: string, b: string): string;
  /** `c` a condition, `a` and `b` values. */
  select(c: string, a: string, b: string, dtype: DType): string;
  cast(a: string, from: DType, to: DType): string;
  /** A condition as a bool value. */
  boolValue(cond: string): string;
  /** A bool value as a condition. */
  truth(value: string): string;
  /** An index expression as a scalar of `dtype`. */
  index(i: string, dtype: DType): string;
  /** Counter-based uniform in [0, 1) (runtime/rng.ts) for element `index` (an index) of `stream`; `seed` a value of `seedType`. */
  random(seed: string, seedType: DType, stream: number, index: string, dtype: DType): string;
  /** An integer scalar value (of `dtype`) as an index. */
  toIndex(value: string, dtype: DType): string;
  ix: IndexSyntax;
}

/** How a language spells index arithmetic (integers; JS numbers or WGSL i32). */
export interface IndexSyntax {
  const(v: number): string;
  loop(i: number): string;
  red(i: number): string;
  lin(): string;
  /** The current step of scan `scan`. */
  iter(scan: number): string;
  add(a: string, b: string): string;
  mul(a: string, b: string): string;
  /**
   * Floor division and the floored remainder (the dims algebra's `div` and
   * `mod`; pad and shifted windows give negative dividends). `nonNeg`: the
   * dividend is known to be >= 0 and the divisor > 0, so C's truncating
   * forms agree and a backend may use them.
   */
  div(a: string, b: string, nonNeg: boolean): string;
  mod(a: string, b: string, nonNeg: boolean): string;
}

/** What only the kernel being printed knows. */
export interface PrintContext {
  /** Element `index` (printed) of buffer `buf`, a value of `dtype`. */
  load(buf: BufId, index: string, dtype: DType): string;
  /** A run-time size, as an index. */
  dim(d: Dim): string;
  /** The matmul accumulator (in the epilogue), raw (the printer fits it). */
  acc(dtype: DType): string;
  /** A hook on every printed value (a checkNumerics build notes non-finite results); identity if absent. */
  noted?(e: SExpr, text: string): string;
}

/**
 * True when `e` is known to be >= 0: loop indices and sizes are, and so are
 * sums, products and quotients of them; a negative constant or coefficient
 * (pad's offsets) or a gathered value may not be.
 */
export function nonNegative(e: IExpr): boolean {
  return !someIExpr(e, {
    i: (x) =>
      x.k === "val" ||
      (x.k === "const" && x.v < 0) ||
      (x.k === "dim" && x.d.terms.some((t) => t.coeff < 0)),
  });
}

/** Prints expressions of one kernel in one backend's syntax. */
export class ScalarPrinter {
  constructor(
    readonly syntax: Syntax,
    readonly ctx: PrintContext,
  ) {}

  /**
   * `e` in value form. `fit = false` leaves the outermost conversion out,
   * for a store that converts anyway (a JS Float32Array store rounds).
   */
  val(e: SExpr, fit = true): string {
    const text = this.value(e, fit);
    return this.ctx.noted ? this.ctx.noted(e, text) : text;
  }

  /** A bool expression as a condition. */
  cond(e: SExpr): string {
    const s = this.syntax;
    switch (e.k) {
      case "compare":
        return s.compare[e.op](this.val(e.a), this.val(e.b), e.a.dtype);
      case "icompare":
        return s.icompare[e.op](this.ix(e.a), this.ix(e.b));
      case "and":
        return s.and(this.cond(e.a), this.cond(e.b));
      default:
        return s.truth(this.val(e));
    }
  }

  ix(e: IExpr): string {
    const x = this.syntax.ix;
    switch (e.k) {
      case "const":
        return x.const(e.v);
      case "loop":
        return x.loop(e.i);
      case "red":
        return x.red(e.i);
      case "lin":
        return x.lin();
      case "iter":
        return x.iter(e.scan);
      case "dim":
        return this.ctx.dim(e.d);
      case "add":
        return x.add(this.ix(e.a), this.ix(e.b));
      case "mul":
        return x.mul(this.ix(e.a), this.ix(e.b));
      case "div":
        return x.div(this.ix(e.a), this.ix(e.b), nonNegative(e));
      case "mod":
        return x.mod(this.ix(e.a), this.ix(e.b), nonNegative(e));
      case "val":
        return this.syntax.toIndex(this.val(e.e), e.e.dtype);
    }
  }

  private value(e: SExpr, fit: boolean): string {
    const s = this.syntax;
    const fitted = (text: string) => (fit ? s.fit(text, e.dtype) : text);
    switch (e.k) {
      case "lit":
        return s.lit(e.v, e.dtype);
      case "load":
        return this.ctx.load(e.buf, this.ix(e.index), e.dtype);
      case "index":
        return s.index(this.ix(e.e), e.dtype);
      case "acc":
        return fitted(this.ctx.acc(e.dtype));
      case "unary":
        return fitted(s.unary[e.op](this.val(e.a), e.dtype, e));
      case "binary":
        return fitted(s.binary[e.op](this.val(e.a), this.val(e.b), e.dtype, e));
      case "compare":
      case "icompare":
      case "and":
        return s.boolValue(this.cond(e));
      case "select":
        return s.select(this.cond(e.c), this.val(e.a), this.val(e.b), e.dtype);
      case "cast":
        return fitted(s.cast(this.val(e.a), e.a.dtype, e.dtype));
      case "random":
        return s.random(this.val(e.seed), e.seed.dtype, e.stream, this.ix(e.index), e.dtype);
    }
  }
}
