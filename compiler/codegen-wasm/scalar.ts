// The kernel IR's scalar (SExpr) and index (IExpr) trees as WebAssembly, one
// element at a time (f32 / i32 on the stack) or four lanes of an inner loop
// at a time (one v128: f32x4, i32x4, bools as lane masks).
//
// Where the index variables live is the caller's (`Env`): each loop, `red`
// and `lin` leaf is an invariant part (`base`, code pushing an i32, e.g. a
// local.get) plus, when it `vary`s, the inner loop's `counter` local; at lane
// L of a vector that is counter + L. So a map kernel binds its innermost loop
// index as { vary: true } and `lin` as { base: row start, vary: true }; a
// matmul epilogue binds every loop to its local ({ base: [local.get i] }) and
// `acc` to its accumulator.
//
// What does not vary in the inner loop is hoisted (when the caller gives a
// `hoist` list, emitted before that loop): loads of broadcast operands, index
// arithmetic of outer loops, the byte address where a contiguous run starts.
// Loads whose index is linear in the counter with stride 1 are one
// v128.load; other strides and gathers load lane by lane; a node with no
// SIMD form (i32 division, pow, ...) is computed per lane and the lanes
// assembled. Bounds-checked selects (pad, concat, gather: a condition with
// an index comparison) must not execute an out-of-range load of the arm not
// taken (it could trap past memory): scalar, and in vectors whose check is
// the same for the four lanes, they are lazy like JS's `c ? a : b`; in
// vectors whose lanes differ both arms run with every address clamped into
// memory, and the check picks lanes.
//
// Semantics are the JS backend's (codegen-js/syntax.ts): f32 arithmetic is
// float32 (what JS's Math.fround of the float64 result gives for + - * /
// sqrt), i32 wraps, i32 division truncates and is 0 by zero, casts to i32 are
// ToInt32, max/min propagate NaN and order -0 below +0 (f32.max/min do).

import type { DType } from "../ir.ts";
import type { BufId, IExpr, SExpr } from "../kernel.ts";
import { someIExpr, someSExpr } from "../kernel-walk.ts";
import { nonNegative } from "../scalar-print.ts";
import { toDType } from "../elementwise.ts";
import { FnBuilder, get, i32, set, tee } from "./function.ts";
import type { Instr } from "./instr.ts";
import { Lanes, pow, toInt32 } from "./mathlib.ts";
import {
  compareOp,
  floatUnary,
  hash32,
  icompareOp,
  icompareOpV,
  intBinary,
  intBinaryV,
  intUnary,
  intUnaryV,
  pow2,
} from "./scalar-ops.ts";

/** An index variable: invariant code (`base`, absent: 0) plus, when `vary`, the inner loop's counter (+ lane). */
export interface IndexLeaf {
  base?: Instr[];
  vary?: boolean;
  /**
   * The variable changes inside the hoist region though not lane to lane
   * (an outer reduction's reduced indices, looped inside the vectors): what
   * reads it is never hoisted.
   */
  inner?: boolean;
}

/** A lane of the vector being computed (0..3), or "v": the whole v128. */
export type Lane = number | "v";

/** Where an expression's index variables and accumulator live. */
export interface Env {
  loop(i: number): IndexLeaf;
  red?(i: number): IndexLeaf;
  lin?(): IndexLeaf;
  /** The inner loop's counter, an i32 local (needed when a leaf varies). */
  counter?: number;
  /** The matmul accumulator at `lane` (f32), or as an f32x4 ("v"). */
  acc?(lane: Lane): Instr[];
  /** Whether `acc` differs lane to lane (a vectorised epilogue). */
  accVaries?: boolean;
}

type Node<K extends SExpr["k"]> = Extract<SExpr, { k: K }>;
type Op = Instr[0];

const IOTA: Instr = ["v128.const", "i32x4", 0, 1, 2, 3];
const ZERO: Instr = ["v128.const", "i32x4", 0, 0, 0, 0];
const splatOf = (t: DType): Instr => [t === "f32" ? "f32x4.splat" : "i32x4.splat"];

/** A linear function of the counter: c * counter + sum of invariant terms + k. */
interface Linear {
  c: number;
  /** `inner`: the term reads an inner leaf (computed in place, not hoisted). */
  terms: { code: () => void; k: number; inner: boolean }[];
  k: number;
}

const has = (e: SExpr, k: SExpr["k"]) => someSExpr(e, { s: (x) => x.k === k });
const hasLoad = (e: SExpr | IExpr) =>
  "dtype" in e ? has(e, "load") : someIExpr(e, { s: (x) => x.k === "load" });
/** A select whose condition compares indices guards its arms' loads (pad, concat, gather). */
const guarded = (e: Node<"select">) => has(e.c, "icompare") && (hasLoad(e.a) || hasLoad(e.b));

/** Emits expressions of one kernel region into `fn`. */
export class Exprs {
  private cache = new Map<string, number>();
  private variesMemo = new WeakMap<object, boolean>();
  private innerMemo = new WeakMap<object, boolean>();
  /** Depth of lazy (guarded) select arms being emitted: no loads hoisted out of them. */
  private lazy = 0;
  /**
   * Depth of eagerly evaluated guarded arms (a vector select whose bounds
   * check differs lane to lane): every load's address is clamped into
   * memory, so the lanes the check rejects read something harmless.
   */
  private clamp = 0;

  constructor(
    readonly fn: FnBuilder,
    readonly env: Env,
    /** Where invariants of the inner loop go (null: nowhere, computed in place). */
    readonly hoist: Instr[] | null = null,
  ) {}

  /**
   * The same region with another counter (an unrolled loop's second vector):
   * invariants are shared, hoisted once.
   */
  withCounter(counter: number): Exprs {
    const x = new Exprs(this.fn, { ...this.env, counter }, this.hoist);
    x.cache = this.cache;
    x.variesMemo = this.variesMemo;
    x.innerMemo = this.innerMemo;
    return x;
  }

  // ------------------------------------------------------------ analyses

  /** Whether `e` differs from one iteration (or lane) of the inner loop to the next. */
  varies(e: SExpr | IExpr): boolean {
    let v = this.variesMemo.get(e);
    if (v !== undefined) return v;
    const leaf = (x: IExpr) => this.leafOf(x)?.vary === true;
    const acc = (x: SExpr) => x.k === "acc" && this.env.accVaries === true;
    v = "dtype" in e ? someSExpr(e, { s: acc, i: leaf }) : someIExpr(e, { s: acc, i: leaf });
    this.variesMemo.set(e, v);
    return v;
  }

  /** Whether `e` reads an `inner` leaf (so it cannot be hoisted). */
  private readsInner(e: SExpr | IExpr): boolean {
    let v = this.innerMemo.get(e);
    if (v !== undefined) return v;
    const leaf = (x: IExpr) => this.leafOf(x)?.inner === true;
    v = "dtype" in e ? someSExpr(e, { i: leaf }) : someIExpr(e, { i: leaf });
    this.innerMemo.set(e, v);
    return v;
  }

  private leafOf(e: IExpr): IndexLeaf | null {
    if (e.k === "loop") return this.env.loop(e.i);
    if (e.k === "red") return this.need(this.env.red, "red")(e.i);
    if (e.k === "lin") return this.need(this.env.lin, "lin")();
    return null;
  }

  private need<F>(f: F | undefined, what: string): F {
    if (f === undefined) throw new Error(`codegen-wasm: internal error: no ${what} in this kernel`);
    return f;
  }

  /** `e` as a linear function of the counter, or null (a division, a gather, a product of variables). */
  linear(e: IExpr): Linear | null {
    if (e.k === "const") return { c: 0, terms: [], k: e.v };
    if (!this.varies(e))
      return { c: 0, terms: [{ code: () => this.ix(e), k: 1, inner: this.readsInner(e) }], k: 0 };
    const leaf = this.leafOf(e);
    if (leaf) {
      const base = leaf.base;
      const code = () => this.fn.emit(...base!);
      return { c: 1, terms: base ? [{ code, k: 1, inner: leaf.inner === true }] : [], k: 0 };
    }
    const scale = (l: Linear | null, s: number): Linear | null =>
      l && { c: l.c * s, terms: l.terms.map((t) => ({ ...t, k: t.k * s })), k: l.k * s };
    if (e.k === "add") {
      const [a, b] = [this.linear(e.a), this.linear(e.b)];
      return a && b && { c: a.c + b.c, terms: [...a.terms, ...b.terms], k: a.k + b.k };
    }
    if (e.k === "mul") {
      if (e.a.k === "const") return scale(this.linear(e.b), e.a.v);
      if (e.b.k === "const") return scale(this.linear(e.a), e.b.v);
    }
    return null;
  }

  // ------------------------------------------------------------ hoisting

  /** Pushes the local caching `key`, computing it in the hoist list on first use (push: emits the value). */
  private hoisted(key: string, t: "i32" | "f32" | "v128", push: () => void): void {
    let l = this.cache.get(key);
    if (l === undefined) {
      l = this.fn.local(t);
      // (What `push` hoists itself lands in the list first, so it is computed before this.)
      const code = this.fn.capture(push);
      this.hoist!.push(...code, set(l));
      this.cache.set(key, l);
    }
    this.fn.emit(get(l));
  }

  private canHoist(e: SExpr | IExpr): boolean {
    return (
      this.hoist !== null &&
      !this.varies(e) &&
      !this.readsInner(e) &&
      (this.lazy === 0 || !hasLoad(e))
    );
  }

  // ------------------------------------------------------------ index expressions

  /** Pushes index `e` (i32) at `lane`. */
  ix(e: IExpr, lane = 0): void {
    const compound =
      e.k === "add" || e.k === "mul" || e.k === "div" || e.k === "mod" || e.k === "val";
    if (compound && this.canHoist(e))
      return this.hoisted(`i${JSON.stringify(e)}`, "i32", () => this.ixNow(e, 0));
    this.ixNow(e, lane);
  }

  private ixNow(e: IExpr, lane: number): void {
    const fn = this.fn;
    switch (e.k) {
      case "const":
        return fn.emit(i32(e.v));
      case "loop":
      case "red":
      case "lin":
        return this.leaf(this.leafOf(e)!, lane);
      case "dim":
        return fn.dim(e.d);
      case "iter":
        return fn.emit(get(fn.step(e.scan)));
      case "add":
      case "mul":
        this.ix(e.a, lane);
        this.ix(e.b, lane);
        return fn.emit([e.k === "add" ? "i32.add" : "i32.mul"]);
      case "div":
      case "mod": {
        const p = pow2(e.b);
        if (p !== null) {
          // Floor division and floored remainder by 2^p of any sign: a shift, a mask.
          this.ix(e.a, lane);
          return e.k === "div"
            ? fn.emit(i32(p), ["i32.shr_s"])
            : fn.emit(i32(2 ** p - 1), ["i32.and"]);
        }
        return fn.floorDivMod(
          e.k,
          () => this.ix(e.a, lane),
          () => this.ix(e.b, lane),
          nonNegative(e),
        );
      }
      case "val":
        this.s(e.e, lane);
        return this.toIndex(e.e.dtype, false);
    }
  }

  private leaf(l: IndexLeaf, lane: number): void {
    const fn = this.fn;
    if (l.base) fn.emit(...l.base);
    if (l.vary) {
      fn.emit(get(this.need(this.env.counter, "counter")));
      if (lane !== 0) fn.emit(i32(lane), ["i32.add"]);
      if (l.base) fn.emit(["i32.add"]);
    } else if (!l.base) fn.emit(i32(0));
  }

  /** An integer value of `dtype` on the stack as an index (f32: ToInt32). */
  private toIndex(dtype: DType, vector: boolean): void {
    if (dtype === "f32") toInt32(new Lanes(this.fn, vector));
    else if (dtype === "bool" && vector) this.fn.emit(["i32x4.neg"]);
  }

  /** Pushes index `e` at the four lanes (i32x4). */
  ivec(e: IExpr): void {
    const fn = this.fn;
    if (!this.varies(e)) return this.splat(`i${JSON.stringify(e)}`, "i32", () => this.ix(e), e);
    const leaf = this.leafOf(e);
    if (leaf) {
      this.leaf(leaf, 0);
      return fn.emit(["i32x4.splat"], IOTA, ["i32x4.add"]);
    }
    switch (e.k) {
      case "add":
      case "mul":
        this.ivec(e.a);
        this.ivec(e.b);
        return fn.emit([e.k === "add" ? "i32x4.add" : "i32x4.mul"]);
      case "div":
      case "mod": {
        const p = pow2(e.b);
        if (p !== null) {
          const m = 2 ** p - 1;
          this.ivec(e.a);
          return e.k === "div"
            ? fn.emit(i32(p), ["i32x4.shr_s"])
            : fn.emit(["v128.const", "i32x4", m, m, m, m], ["v128.and"]);
        }
        return this.byLanes("i32", (l) => this.ix(e, l));
      }
      case "val":
        this.v(e.e);
        return this.toIndex(e.e.dtype, true);
      default:
        throw new Error(`codegen-wasm: internal error: index ${e.k} varies`);
    }
  }

  /** A v128 of four scalar lanes (`lane(L)` pushes lane L's value of type t). */
  private byLanes(t: DType, lane: (l: number) => void): void {
    const rep: Op = t === "f32" ? "f32x4.replace_lane" : "i32x4.replace_lane";
    this.fn.emit(ZERO);
    for (let l = 0; l < 4; l++) {
      lane(l);
      this.fn.emit([rep, l]);
    }
    if (t === "bool") this.fn.emit(["i32x4.neg"]);
  }

  /**
   * Pushes the scalar `push` pushes (of type t, bools 0/1) in every lane
   * (bools as masks), hoisted when possible (`key` names it in the cache).
   */
  private splat(key: string, t: DType, push: () => void, of: SExpr | IExpr): void {
    const all = () => {
      push();
      this.fn.emit(splatOf(t));
      if (t === "bool") this.fn.emit(["i32x4.neg"]);
    };
    if (this.hoist !== null && !this.readsInner(of) && (this.lazy === 0 || !hasLoad(of)))
      return this.hoisted(`v${key}`, "v128", all);
    all();
  }

  // ------------------------------------------------------------ scalar expressions

  /** Pushes `e` at `lane` as a scalar: f32, or i32 (bools 0/1). */
  s(e: SExpr, lane = 0): void {
    if (e.k !== "lit" && e.k !== "acc" && this.canHoist(e))
      return this.hoisted(`s${JSON.stringify(e)}`, e.dtype === "f32" ? "f32" : "i32", () =>
        this.sNow(e, 0),
      );
    this.once(`s${lane}`, e, e.dtype === "f32" ? "f32" : "i32", () => this.sNow(e, lane));
  }

  /**
   * One element's expressions with common subexpressions computed once (a
   * gradient's `s * (1 - s)` loads s once): within `f`, a repeated node
   * (not a literal) reuses the local its first evaluation set. Not inside
   * lazy arms, which may not have run.
   */
  element(f: () => void): void {
    const outer = this.seen;
    this.seen = new Map();
    try {
      f();
    } finally {
      for (const [l, t] of this.seen.values()) this.fn.release(l, t);
      this.seen = outer;
    }
  }

  private seen: Map<string, [number, "i32" | "f32" | "v128"]> | null = null;

  /** Emits `e` through `emit`, or the local that holds it already in this element. */
  private once(mode: string, e: SExpr, t: "i32" | "f32" | "v128", emit: () => void): void {
    if (this.seen === null || this.lazy > 0 || e.k === "lit" || e.k === "acc") return emit();
    const key = `${mode}${JSON.stringify(e)}`;
    const hit = this.seen.get(key);
    if (hit) return this.fn.emit(get(hit[0]));
    emit();
    const l = this.fn.temp(t);
    this.fn.emit(tee(l));
    this.seen.set(key, [l, t]);
  }

  private sNow(e: SExpr, lane: number): void {
    const fn = this.fn;
    switch (e.k) {
      case "lit":
        return fn.emit(
          e.dtype === "f32" ? ["f32.const", Math.fround(e.v)] : i32(toDType(e.v, e.dtype)),
        );
      case "acc":
        return fn.emit(...this.need(this.env.acc, "acc")(lane));
      case "load":
        this.address(e.buf, e.index, lane);
        return fn.emit([e.dtype === "f32" ? "f32.load" : "i32.load", 0]);
      case "index":
        this.ix(e.e, lane);
        if (e.dtype === "f32") fn.emit(["f32.convert_i32_s"]);
        else if (e.dtype === "bool") fn.emit(i32(0), ["i32.ne"]);
        return;
      case "unary":
        return this.unary(e, lane);
      case "binary":
        return this.binary(e, lane);
      case "compare":
        this.s(e.a, lane);
        this.s(e.b, lane);
        return fn.emit([compareOp(e.op, e.a.dtype, false)]);
      case "icompare":
        this.ix(e.a, lane);
        this.ix(e.b, lane);
        return fn.emit([icompareOp[e.op]]);
      case "and":
        if (has(e.a, "icompare") && hasLoad(e.b)) {
          // A bounds check before a load that relies on it (a max-pool gradient's
          // argmax read): JS's `&&` short-circuits, and so does this.
          this.lazy++;
          fn.ifElse(
            () => this.s(e.a, lane),
            () => this.s(e.b, lane),
            () => fn.emit(i32(0)),
            "i32",
          );
          this.lazy--;
          return;
        }
        this.s(e.a, lane);
        this.s(e.b, lane);
        return fn.emit(["i32.and"]);
      case "select": {
        const t = e.dtype === "f32" ? "f32" : "i32";
        if (guarded(e)) {
          this.lazy++;
          fn.ifElse(
            () => this.s(e.c, lane),
            () => this.s(e.a, lane),
            () => this.s(e.b, lane),
            t,
          );
          this.lazy--;
          return;
        }
        this.s(e.a, lane);
        this.s(e.b, lane);
        this.s(e.c, lane);
        return fn.emit(["select"]);
      }
      case "cast":
        this.s(e.a, lane);
        return this.cast(e.a.dtype, e.dtype, false);
      case "random":
        return this.random(
          e,
          () => {
            this.ix(e.index, lane);
            fn.emit(i32(0x85ebca6b), ["i32.mul"]);
          },
          false,
        );
    }
  }

  /** Pushes the byte address of element `index` of `buf` at `lane`. */
  address(buf: BufId, index: IExpr, lane: number): void {
    const fn = this.fn;
    const lin = this.hoist !== null && this.varies(index) ? this.linear(index) : null;
    if (lin && lin.c > 0) {
      this.base(buf, index, lin);
      fn.emit(get(this.need(this.env.counter, "counter")));
      if (lane !== 0) fn.emit(i32(lane), ["i32.add"]);
      fn.emit(i32(4 * lin.c), ["i32.mul"], ["i32.add"]);
    } else {
      fn.emit(get(fn.buf(buf)));
      this.ix(index, lane);
      fn.emit(i32(2), ["i32.shl"], ["i32.add"]);
    }
    this.clamped(4);
  }

  /** In an eager guarded arm, the address on the stack clamped (unsigned) to memory's end less `bytes`. */
  private clamped(bytes: number): void {
    if (this.clamp === 0) return;
    const fn = this.fn;
    const [a, lim] = [fn.temp("i32"), fn.temp("i32")];
    fn.emit(set(a), get(fn.memEnd()), i32(bytes), ["i32.sub"], set(lim));
    fn.emit(get(a), get(lim), get(a), get(lim), ["i32.lt_u"], ["select"]);
    fn.release(a, "i32");
    fn.release(lim, "i32");
  }

  /** Pushes the byte address of lane 0 of `index` in `buf`, which must be contiguous in the counter (a vector store). */
  vaddress(buf: BufId, index: IExpr): void {
    const lin = this.linear(index);
    if (!lin || lin.c !== 1)
      throw new Error("codegen-wasm: internal error: a vector store that is not contiguous");
    this.base(buf, index, lin);
    this.fn.emit(get(this.need(this.env.counter, "counter")), i32(2), ["i32.shl"], ["i32.add"]);
  }

  /** Pushes the invariant part of a linear load's address: buf + 4 * (terms + k), hoisted. */
  private base(buf: BufId, index: IExpr, lin: Linear): void {
    const fn = this.fn;
    const terms = (inner: boolean) => {
      for (const t of lin.terms) {
        if (t.inner !== inner) continue;
        t.code();
        fn.emit(i32(4 * t.k), ["i32.mul"], ["i32.add"]);
      }
    };
    const push = () => {
      fn.emit(get(fn.buf(buf)));
      terms(false);
      if (lin.k !== 0) fn.emit(i32(4 * lin.k), ["i32.add"]);
    };
    // Address arithmetic cannot trap: hoisted even out of a lazy arm, unless a gathered index
    // loads; the terms of inner leaves are added in place.
    if (this.hoist !== null && (this.lazy === 0 || !hasLoad(index)))
      this.hoisted(`a${buf}:${JSON.stringify(index)}`, "i32", push);
    else push();
    terms(true);
  }

  private unary(e: Node<"unary">, lane: number): void {
    const fn = this.fn;
    const L = new Lanes(fn, false);
    if (e.dtype !== "f32") {
      const int = intUnary[e.op];
      if (int) {
        if (e.op === "neg") fn.emit(i32(0));
        this.s(e.a, lane);
        return int(fn);
      }
      // A float function of an integer: through f32, then ToInt32.
      this.s(e.a, lane);
      fn.emit(["f32.convert_i32_s"]);
      floatUnary[e.op](L);
      return toInt32(L);
    }
    this.s(e.a, lane);
    floatUnary[e.op](L);
  }

  private binary(e: Node<"binary">, lane: number): void {
    const fn = this.fn;
    if (e.op === "pow" && e.b.k === "lit" && e.b.v === 2 && e.dtype === "f32") {
      // Math.pow(x, 2) is exactly x * x.
      this.s(e.a, lane);
      const t = fn.temp("f32");
      fn.emit(tee(t), get(t), ["f32.mul"]);
      return fn.release(t, "f32");
    }
    this.s(e.a, lane);
    this.s(e.b, lane);
    if (e.dtype === "f32") return e.op === "pow" ? pow(fn) : fn.emit([`f32.${e.op}` as Op]);
    intBinary[e.op](fn);
  }

  /** A value of `from` on the stack as `to` (scalar: bools 0/1; vector: bools lane masks). */
  private cast(from: DType, to: DType, vector: boolean): void {
    const fn = this.fn;
    if (from === to) return;
    const L = new Lanes(fn, vector);
    if (to === "i32") {
      if (from === "f32") return toInt32(L);
      if (vector) fn.emit(["i32x4.neg"]); // bool mask -> 0/1
      return;
    }
    if (to === "f32") {
      if (from === "bool" && vector) return fn.emit(["v128.const", 1, 1, 1, 1], ["v128.and"]);
      return fn.emit([vector ? "f32x4.convert_i32x4_s" : "f32.convert_i32_s"]);
    }
    // to bool: nonzero and not NaN (JS's `x ? 1 : 0`).
    if (from === "f32") {
      const x = fn.temp(L.t);
      fn.emit(tee(x), L.fc(0), L.ne(), get(x), get(x), L.eq(), L.and());
      return fn.release(x, L.t);
    }
    fn.emit(vector ? ZERO : i32(0), [vector ? "i32x4.ne" : "i32.ne"]);
  }

  /** runtime/rng.ts's randomUniform; `scaled` pushes index * 0x85ebca6b (i32 or i32x4). */
  private random(e: Node<"random">, scaled: () => void, vector: boolean): void {
    const fn = this.fn;
    const key = () => {
      this.s(e.seed);
      if (e.seed.dtype === "f32") toInt32(new Lanes(fn, false));
      fn.emit(i32(Math.imul(e.stream + 1, 0x9e3779b9)), ["i32.xor"]);
      hash32(fn, false);
    };
    // The key is the same for every element: hoisted (or computed here).
    if (this.hoist !== null && !this.varies(e.seed) && !this.readsInner(e.seed) && this.lazy === 0)
      this.hoisted(`k${JSON.stringify(e.seed)}:${e.stream}`, "i32", key);
    else key();
    if (vector) fn.emit(["i32x4.splat"]);
    scaled();
    fn.emit([vector ? "i32x4.add" : "i32.add"]);
    hash32(fn, vector);
    fn.emit(i32(8), [vector ? "i32x4.shr_u" : "i32.shr_u"]);
    fn.emit([vector ? "f32x4.convert_i32x4_s" : "f32.convert_i32_s"]);
    fn.emit(
      vector ? ["v128.const", 2 ** -24, 2 ** -24, 2 ** -24, 2 ** -24] : ["f32.const", 2 ** -24],
    );
    fn.emit([vector ? "f32x4.mul" : "f32.mul"]);
  }

  // ------------------------------------------------------------ vector expressions

  /** Pushes `e` at the four lanes of the inner loop: f32x4, i32x4, or lane masks for bools. */
  v(e: SExpr): void {
    if (!this.varies(e)) {
      return this.splat(`s${JSON.stringify(e)}`, e.dtype, () => this.s(e), e);
    }
    this.once("v", e, "v128", () => this.vNow(e));
  }

  private vNow(e: SExpr): void {
    const fn = this.fn;
    const lanes = () => this.byLanes(e.dtype, (l) => this.s(e, l));
    switch (e.k) {
      case "lit":
        return lanes(); // never varies
      case "acc":
        return fn.emit(...this.need(this.env.acc, "acc")("v"));
      case "load":
        return this.vload(e);
      case "index":
        this.ivec(e.e);
        if (e.dtype === "f32") fn.emit(["f32x4.convert_i32x4_s"]);
        else if (e.dtype === "bool") fn.emit(ZERO, ["i32x4.ne"]);
        return;
      case "unary": {
        const row = e.dtype === "f32" ? floatUnary[e.op] : null;
        const int = e.dtype === "i32" ? intUnaryV[e.op] : undefined;
        if (int) {
          this.v(e.a);
          return fn.emit([int]);
        }
        if (!row) return lanes();
        this.v(e.a);
        return row(new Lanes(fn, true));
      }
      case "binary": {
        if (e.dtype === "f32" && e.op === "pow") {
          if (e.b.k !== "lit" || e.b.v !== 2) return lanes();
          this.v(e.a);
          const t = fn.temp("v128");
          fn.emit(tee(t), get(t), ["f32x4.mul"]);
          return fn.release(t, "v128");
        }
        const op = e.dtype === "f32" ? (`f32x4.${e.op}` as Op) : intBinaryV[e.op];
        if (!op) return lanes();
        this.v(e.a);
        this.v(e.b);
        return fn.emit([op]);
      }
      case "compare":
        if (e.a.dtype === "bool") return lanes();
        this.v(e.a);
        this.v(e.b);
        return fn.emit([compareOp(e.op, e.a.dtype, true)]);
      case "icompare":
        this.ivec(e.a);
        this.ivec(e.b);
        return fn.emit([icompareOpV[e.op]]);
      case "and": {
        // Loads after a bounds check lane by lane: clamped, as in a guarded select's arms.
        const check = has(e.a, "icompare") && hasLoad(e.b);
        this.v(e.a);
        if (check) this.clamp++;
        this.v(e.b);
        if (check) this.clamp--;
        return fn.emit(["v128.and"]);
      }
      case "select":
        if (guarded(e) && !this.varies(e.c)) {
          this.lazy++;
          fn.ifElse(
            () => this.s(e.c),
            () => this.v(e.a),
            () => this.v(e.b),
            "v128",
          );
          this.lazy--;
          return;
        }
        if (guarded(e)) this.clamp++;
        this.v(e.a);
        this.v(e.b);
        if (guarded(e)) this.clamp--;
        this.v(e.c);
        return fn.emit(["v128.bitselect"]);
      case "cast":
        if (e.a.dtype === "f32" && e.dtype === "i32") return lanes();
        this.v(e.a);
        return this.cast(e.a.dtype, e.dtype, true);
      case "random":
        return this.random(
          e,
          () => {
            this.ivec(e.index);
            fn.emit([
              "v128.const",
              "i32x4",
              0x85ebca6b | 0,
              0x85ebca6b | 0,
              0x85ebca6b | 0,
              0x85ebca6b | 0,
            ]);
            fn.emit(["i32x4.mul"]);
          },
          true,
        );
    }
  }

  /** A load of four lanes: one v128.load when contiguous, else lane by lane. */
  private vload(e: Node<"load">): void {
    const fn = this.fn;
    const isF = e.dtype === "f32";
    const lin = this.linear(e.index);
    const toMask = () => {
      if (e.dtype === "bool") fn.emit(["i32x4.neg"]);
    };
    if (lin && lin.c > 0) {
      this.base(e.buf, e.index, lin);
      fn.emit(
        get(this.need(this.env.counter, "counter")),
        i32(4 * lin.c),
        ["i32.mul"],
        ["i32.add"],
      );
      if (lin.c === 1) {
        this.clamped(16);
        fn.emit(["v128.load", 0]);
        return toMask();
      }
      const a = fn.temp("i32");
      this.clamped(12 * lin.c + 4);
      fn.emit(tee(a), ["v128.load32_zero", 0]);
      for (let l = 1; l < 4; l++)
        fn.emit(
          get(a),
          [isF ? "f32.load" : "i32.load", 4 * lin.c * l],
          [isF ? "f32x4.replace_lane" : "i32x4.replace_lane", l],
        );
      fn.release(a, "i32");
      return toMask();
    }
    // A gather: the four indices, then a load per lane.
    const iv = fn.temp("v128");
    this.ivec(e.index);
    fn.emit(set(iv), ZERO);
    const b = fn.buf(e.buf);
    for (let l = 0; l < 4; l++) {
      fn.emit(get(b), get(iv), ["i32x4.extract_lane", l], i32(2), ["i32.shl"], ["i32.add"]);
      this.clamped(4);
      fn.emit(
        [isF ? "f32.load" : "i32.load", 0],
        [isF ? "f32x4.replace_lane" : "i32x4.replace_lane", l],
      );
    }
    fn.release(iv, "v128");
    toMask();
  }
}
