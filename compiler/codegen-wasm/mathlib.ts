// The transcendental functions of the WASM target as inlined instruction
// sequences, one description for a scalar f32 and an f32x4 (the `Lanes`
// below spell each step either way). WebAssembly has no exp or log, and the
// module imports nothing, so these are Cephes' single-precision range
// reductions and polynomials (about 1-2 ulp, well within the 1e-5 of the
// float64 interpreter the tests hold them to), with the JS backend's edge
// cases: NaN in, NaN out; exp overflows to inf and underflows through the
// subnormals to 0; log(0) = -inf, log(x < 0) = NaN, log(inf) = inf;
// tanh(±0) = ±0; pow follows Math.pow (integral exponents exactly, in f64,
// by repeated squaring; a negative base with a fractional one is NaN).
//
// Each emitter takes its argument(s) from the stack and leaves the result.

import { FnBuilder, get, i32, set, tee } from "./function.ts";
import type { Instr, ValType } from "./instr.ts";

type Op = Instr[0];

/** Scalar (f32, i32) or vector (f32x4, i32x4) spellings of the steps the functions use. */
export class Lanes {
  readonly t: ValType;
  readonly it: ValType;
  constructor(
    readonly fn: FnBuilder,
    readonly vector: boolean,
  ) {
    this.t = vector ? "v128" : "f32";
    this.it = vector ? "v128" : "i32";
  }
  private f(op: string): Op {
    return (this.vector ? `f32x4.${op}` : `f32.${op}`) as Op;
  }
  private i(op: string): Op {
    return (this.vector ? `i32x4.${op}` : `i32.${op}`) as Op;
  }
  /** An f32 constant (splatted). */
  fc(x: number): Instr {
    return this.vector ? ["v128.const", x, x, x, x] : ["f32.const", x];
  }
  /** An i32 constant (splatted). */
  ic(x: number): Instr {
    return this.vector ? ["v128.const", "i32x4", x, x, x, x] : i32(x);
  }
  add = (): Instr => [this.f("add")];
  sub = (): Instr => [this.f("sub")];
  mul = (): Instr => [this.f("mul")];
  div = (): Instr => [this.f("div")];
  min = (): Instr => [this.f("min")];
  max = (): Instr => [this.f("max")];
  abs = (): Instr => [this.f("abs")];
  neg = (): Instr => [this.f("neg")];
  nearest = (): Instr => [this.f("nearest")];
  lt = (): Instr => [this.f("lt")];
  gt = (): Instr => [this.f("gt")];
  eq = (): Instr => [this.f("eq")];
  ne = (): Instr => [this.f("ne")];
  iadd = (): Instr => [this.i("add")];
  isub = (): Instr => [this.i("sub")];
  iand = (): Instr => [this.vector ? "v128.and" : "i32.and"];
  ior = (): Instr => [this.vector ? "v128.or" : "i32.or"];
  ishl = (): Instr => [this.i("shl")];
  ishrs = (): Instr => [this.i("shr_s")];
  ishru = (): Instr => [this.i("shr_u")];
  /** Conditions (i32 0/1, or lane masks) combine bitwise either way. */
  and = (): Instr => this.iand();
  or = (): Instr => this.ior();
  /** f32 bits as i32 (a no-op on v128). */
  bits = (): Instr[] => (this.vector ? [] : [["i32.reinterpret_f32"]]);
  float = (): Instr[] => (this.vector ? [] : [["f32.reinterpret_i32"]]);
  toInt = (): Instr => [this.vector ? "i32x4.trunc_sat_f32x4_s" : "i32.trunc_sat_f32_s"];
  toFloat = (): Instr => [this.vector ? "f32x4.convert_i32x4_s" : "f32.convert_i32_s"];
  /** [a, b, cond] -> cond ? a : b (lanewise on v128). */
  select = (): Instr => [this.vector ? "v128.bitselect" : "select"];
  /** A condition (0/1 or mask) that adds -1 where true: a mask itself, or the negated 0/1. */
  minusOne = (): Instr[] => (this.vector ? [] : [i32(-1), ["i32.mul"]]);
  /** [magnitude, sign] -> the magnitude with the sign's sign bit. */
  copysign(): Instr[] {
    if (!this.vector) return [["f32.copysign"]];
    const [m, g] = [this.tmp(), this.tmp()];
    this.free(m, g);
    return [set(g), set(m), get(g), get(m), this.ic(0x80000000 | 0), ["v128.bitselect"]];
  }
  tmp(): number {
    return this.fn.temp(this.t);
  }
  itmp(): number {
    return this.fn.temp(this.it);
  }
  free(...ls: number[]): void {
    for (const l of ls) this.fn.release(l, this.t);
  }
  ifree(...ls: number[]): void {
    for (const l of ls) this.fn.release(l, this.it);
  }
  /** Horner: the stack's value is consumed; leaves c[0] x^n + ... + c[n]. */
  poly(x: number, c: readonly number[]): Instr[] {
    const out: Instr[] = [this.fc(c[0]!)];
    for (const k of c.slice(1)) out.push(get(x), this.mul(), this.fc(k), this.add());
    return out;
  }
}

const LOG2E = 1.44269504088896341;
const C1 = 0.693359375;
const C2 = -2.1219444e-4;
const EXP_P = [
  1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
  5.0000001201e-1,
];

/** e^x. */
export function exp(L: Lanes): void {
  const [x, n, r] = [L.tmp(), L.tmp(), L.tmp()];
  const [ni, h] = [L.itmp(), L.itmp()];
  // Past these bounds the result is inf or 0 anyway; within them 2^n splits into two normal halves.
  L.fn.emit(L.fc(-104), L.max(), L.fc(89), L.min(), set(x));
  L.fn.emit(get(x), L.fc(LOG2E), L.mul(), L.nearest(), tee(n));
  L.fn.emit(L.toInt(), set(ni));
  L.fn.emit(get(x), get(n), L.fc(C1), L.mul(), L.sub(), get(n), L.fc(C2), L.mul(), L.sub(), set(r));
  // p = poly(r) * r^2 + r + 1
  L.fn.emit(
    ...L.poly(r, EXP_P),
    get(r),
    get(r),
    L.mul(),
    L.mul(),
    get(r),
    L.add(),
    L.fc(1),
    L.add(),
  );
  // * 2^(n >> 1) * 2^(n - (n >> 1)), each built from its exponent bits.
  L.fn.emit(
    get(ni),
    i32(1),
    L.ishrs(),
    tee(h),
    L.ic(127),
    L.iadd(),
    i32(23),
    L.ishl(),
    ...L.float(),
  );
  L.fn.emit(
    L.mul(),
    get(ni),
    get(h),
    L.isub(),
    L.ic(127),
    L.iadd(),
    i32(23),
    L.ishl(),
    ...L.float(),
  );
  L.fn.emit(L.mul());
  L.free(x, n, r);
  L.ifree(ni, h);
}

const SQRTHF = 0.707106781186547524;
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
];
const MIN_NORMAL = 1.17549435e-38;

/** Natural logarithm. */
export function log(L: Lanes): void {
  const [x, s, m, z, ef] = [L.tmp(), L.tmp(), L.tmp(), L.tmp(), L.tmp()];
  const [e, lt] = [L.itmp(), L.itmp()];
  const emit = (...c: Instr[]) => L.fn.emit(...c);
  emit(set(x));
  // Subnormals scaled into the normal range first (exponent 23 lower).
  emit(
    get(x),
    L.fc(8388608),
    L.mul(),
    get(x),
    get(x),
    L.fc(MIN_NORMAL),
    L.lt(),
    L.select(),
    set(s),
  );
  emit(get(s), ...L.bits(), i32(23), L.ishru(), L.ic(126), L.isub());
  emit(L.ic(-23), L.ic(0), get(x), L.fc(MIN_NORMAL), L.lt(), L.select(), L.iadd(), set(e));
  // Mantissa m in [0.5, 1); below sqrt(1/2) it doubles (2m - 1 exact) and the exponent drops.
  emit(
    get(s),
    ...L.bits(),
    L.ic(0x007fffff),
    L.iand(),
    L.ic(0x3f000000),
    L.ior(),
    ...L.float(),
    set(m),
  );
  emit(get(m), L.fc(SQRTHF), L.lt(), set(lt));
  emit(get(e), get(lt), ...L.minusOne(), L.iadd(), L.toFloat(), set(ef));
  emit(get(m), L.fc(1), L.sub(), get(m), L.fc(0), get(lt), L.select(), L.add(), set(m));
  emit(get(m), get(m), L.mul(), set(z));
  emit(...L.poly(m, LOG_P), get(m), L.mul(), get(z), L.mul());
  emit(get(ef), L.fc(C2), L.mul(), L.add(), get(z), L.fc(0.5), L.mul(), L.sub());
  emit(get(m), L.add(), get(ef), L.fc(C1), L.mul(), L.add());
  // Edge cases: log(0) = -inf, log(inf) = inf, log(x < 0) = log(NaN) = NaN.
  emit(set(s));
  const edge = (v: number, cond: Instr[]) => emit(L.fc(v), get(s), ...cond, L.select(), set(s));
  edge(-Infinity, [get(x), L.fc(0), L.eq()]);
  edge(Infinity, [get(x), L.fc(Infinity), L.eq()]);
  edge(NaN, [get(x), L.fc(0), L.lt(), get(x), get(x), L.ne(), L.or()]);
  emit(get(s));
  L.free(x, s, m, z, ef);
  L.ifree(e, lt);
}

const TANH_P = [
  -5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1,
];

/** Hyperbolic tangent: Cephes' odd polynomial below |x| = 0.625, 1 - 2 / (e^2|x| + 1) above, the sign copied. */
export function tanh(L: Lanes): void {
  const [x, z, y] = [L.tmp(), L.tmp(), L.tmp()];
  const emit = (...c: Instr[]) => L.fn.emit(...c);
  emit(set(x), get(x), get(x), L.mul(), set(z));
  emit(...L.poly(z, TANH_P), get(z), L.mul(), get(x), L.mul(), get(x), L.add(), set(y));
  emit(get(x), L.abs(), L.fc(2), L.mul());
  exp(L);
  emit(L.fc(1), L.add(), set(z), L.fc(1), L.fc(2), get(z), L.div(), L.sub(), get(x));
  emit(...L.copysign());
  emit(set(z), get(y), get(z), get(x), L.abs(), L.fc(0.625), L.lt(), L.select());
  L.free(x, z, y);
}

/** 1 / (1 + e^-x), as the JS backend computes it. */
export function sigmoid(L: Lanes): void {
  L.fn.emit(L.neg());
  exp(L);
  const t = L.tmp();
  L.fn.emit(set(t), L.fc(1), L.fc(1), get(t), L.add(), L.div());
  L.free(t);
}

/** sign: ±1, and ±0 and NaN themselves (Math.sign). */
export function sign(L: Lanes): void {
  const x = L.tmp();
  L.fn.emit(set(x), L.fc(1), get(x));
  L.fn.emit(...L.copysign());
  L.fn.emit(get(x), get(x), L.fc(0), L.ne(), get(x), get(x), L.eq(), L.and(), L.select());
  L.free(x);
}

/**
 * JS's ToInt32 of an f32 (what `x | 0` and an Int32Array store do): truncate,
 * wrap modulo 2^32, NaN and infinities 0. Below 2^31 in magnitude the
 * saturating truncation is exact; above, x is an integer whose residue
 * x - 2^32 floor(x / 2^32) is exact in f32 and fits a u32.
 */
export function toInt32(L: Lanes): void {
  const x = L.tmp();
  const v = L.vector;
  L.fn.emit(tee(x), L.toInt());
  L.fn.emit(get(x), get(x), L.fc(2 ** -32), L.mul(), [v ? "f32x4.floor" : "f32.floor"]);
  L.fn.emit(L.fc(2 ** 32), L.mul(), L.sub(), [
    v ? "i32x4.trunc_sat_f32x4_u" : "i32.trunc_sat_f32_u",
  ]);
  L.fn.emit(get(x), L.abs(), L.fc(2 ** 31), L.lt(), L.select());
  L.free(x);
}

/**
 * Math.pow(a, b) for f32 a and b on the stack (scalar only). An integral
 * exponent below 2^31 in magnitude: repeated squaring in f64 (exact for the
 * small integer powers models use, 0 and NaN bases included); otherwise
 * e^(b log a), which is NaN for a negative finite base as Math.pow is, and
 * -inf's powers by hand.
 */
export function pow(fn: FnBuilder): void {
  const L = new Lanes(fn, false);
  const [a, b] = [fn.temp("f32"), fn.temp("f32")];
  const [n] = [fn.temp("i32")];
  const [base, r] = [fn.temp("f64"), fn.temp("f64")];
  const emit = (...c: Instr[]) => fn.emit(...c);
  emit(set(b), set(a));
  fn.ifElse(
    () =>
      emit(
        get(b),
        ["f32.trunc"],
        get(b),
        ["f32.eq"],
        get(b),
        ["f32.abs"],
        ["f32.const", 2 ** 31],
        ["f32.lt"],
        ["i32.and"],
      ),
    () => {
      emit(get(b), ["f32.abs"], ["i32.trunc_f32_s"], set(n));
      emit(get(a), ["f64.promote_f32"], set(base), ["f64.const", 1], set(r));
      fn.whileLoop(
        () => emit(get(n)),
        () => {
          fn.ifElse(
            () => emit(get(n), i32(1), ["i32.and"]),
            () => emit(get(r), get(base), ["f64.mul"], set(r)),
          );
          emit(get(base), get(base), ["f64.mul"], set(base), get(n), i32(1), ["i32.shr_u"], set(n));
        },
      );
      emit(["f64.const", 1], get(r), ["f64.div"], get(r), get(b), ["f32.const", 0], ["f32.lt"]);
      emit(["select"], ["f32.demote_f64"]);
    },
    () =>
      fn.ifElse(
        () => emit(get(a), ["f32.const", -Infinity], ["f32.eq"]),
        () => {
          // (-inf)^b for a fractional b: inf above 0, 0 below, NaN for NaN.
          emit(["f32.const", Infinity], ["f32.const", 0], ["f32.const", NaN], get(b), [
            "f32.const",
            0,
          ]);
          emit(["f32.lt"], ["select"], get(b), ["f32.const", 0], ["f32.gt"], ["select"]);
        },
        () => {
          // An infinite exponent: |a|^±inf (0, 1 -> NaN, or inf) even for a negative base.
          emit(
            get(a),
            ["f32.abs"],
            get(a),
            get(b),
            ["f32.abs"],
            ["f32.const", Infinity],
            ["f32.eq"],
          );
          emit(["select"]);
          log(L);
          emit(get(b), ["f32.mul"]);
          exp(L);
        },
        "f32",
      ),
    "f32",
  );
  fn.release(a, "f32");
  fn.release(b, "f32");
  fn.release(n, "i32");
  fn.release(base, "f64");
  fn.release(r, "f64");
}
