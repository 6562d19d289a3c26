// The per-op rows of the WASM expression printer (scalar.ts): how each
// unary, binary and comparison op of the kernel IR is spelled for f32 and
// i32 operands, scalar and lanewise (absent: no SIMD form, computed per
// lane), with the JS backend's semantics (codegen-js/syntax.ts); and the
// counter RNG's hash.

import type { BinaryOp, CompareOp, DType, UnaryOp } from "../ir.ts";
import type { IExpr } from "../kernel.ts";
import type { ICompareOp } from "../scalar-print.ts";
import { FnBuilder, get, i32, set, tee } from "./function.ts";
import type { Instr } from "./instr.ts";
import { exp, Lanes, log, pow, sigmoid, sign, tanh, toInt32 } from "./mathlib.ts";

type Op = Instr[0];

/** log2 of a constant power-of-two divisor (below 2^31), else null. */
export function pow2(b: IExpr): number | null {
  if (b.k !== "const" || b.v <= 0 || b.v > 2 ** 30 || (b.v & (b.v - 1)) !== 0) return null;
  return Math.log2(b.v);
}

/** 32-bit lowbias32 finaliser (runtime/rng.ts hash32) of the i32 (or i32x4) on the stack. */
export function hash32(fn: FnBuilder, vector: boolean): void {
  const t = vector ? "v128" : "i32";
  const x = fn.temp(t);
  const p = vector ? "i32x4" : "i32";
  const c = (v: number): Instr =>
    vector ? ["v128.const", "i32x4", v | 0, v | 0, v | 0, v | 0] : i32(v);
  const xorShift = (s: number) =>
    fn.emit(tee(x), get(x), i32(s), [`${p}.shr_u` as Op], [vector ? "v128.xor" : "i32.xor"]);
  xorShift(16);
  fn.emit(c(0x7feb352d), [`${p}.mul` as Op]);
  xorShift(15);
  fn.emit(c(0x846ca68b), [`${p}.mul` as Op]);
  xorShift(16);
  fn.release(x, t);
}

export const floatUnary: { [P in UnaryOp]: (L: Lanes) => void } = {
  neg: (L) => L.fn.emit(L.neg()),
  abs: (L) => L.fn.emit(L.abs()),
  sqrt: (L) => L.fn.emit([L.vector ? "f32x4.sqrt" : "f32.sqrt"]),
  exp,
  log,
  tanh,
  sigmoid,
  sign,
};

/** i32 unary ops done in integers (the rest go through f32); `neg` finds a 0 pushed below its operand. */
export const intUnary: { [P in UnaryOp]?: (fn: FnBuilder) => void } = {
  neg: (fn) => fn.emit(["i32.sub"]),
  abs: (fn) => {
    // (x ^ (x >> 31)) - (x >> 31): INT_MIN stays INT_MIN, like Math.abs(x) | 0.
    const x = fn.temp("i32");
    fn.emit(
      tee(x),
      get(x),
      i32(31),
      ["i32.shr_s"],
      ["i32.xor"],
      get(x),
      i32(31),
      ["i32.shr_s"],
      ["i32.sub"],
    );
    fn.release(x, "i32");
  },
  sign: (fn) => {
    const x = fn.temp("i32");
    fn.emit(tee(x), i32(0), ["i32.gt_s"], get(x), i32(0), ["i32.lt_s"], ["i32.sub"]);
    fn.release(x, "i32");
  },
};

export const intUnaryV: { [P in UnaryOp]?: Op } = { neg: "i32x4.neg", abs: "i32x4.abs" };

export const intBinary: { [P in BinaryOp]: (fn: FnBuilder) => void } = {
  add: (fn) => fn.emit(["i32.add"]),
  sub: (fn) => fn.emit(["i32.sub"]),
  // Exact where JS's float64 product is (below 2^53), which is every index-sized product.
  mul: (fn) => fn.emit(["i32.mul"]),
  // JS's (a / b) | 0: truncating, 0 by a zero divisor, INT_MIN / -1 = INT_MIN (no trap either way).
  div: (fn) => {
    const [a, b] = [fn.temp("i32"), fn.temp("i32")];
    fn.emit(set(b), set(a));
    fn.ifElse(
      () => fn.emit(get(b), i32(-1), ["i32.eq"]),
      () => fn.emit(i32(0), get(a), ["i32.sub"]),
      () =>
        fn.ifElse(
          () => fn.emit(get(b), ["i32.eqz"]),
          () => fn.emit(i32(0)),
          () => fn.emit(get(a), get(b), ["i32.div_s"]),
          "i32",
        ),
      "i32",
    );
    fn.release(a, "i32");
    fn.release(b, "i32");
  },
  pow: (fn) => {
    const b = fn.temp("f32");
    fn.emit(["f32.convert_i32_s"], set(b), ["f32.convert_i32_s"], get(b));
    fn.release(b, "f32");
    pow(fn);
    toInt32(new Lanes(fn, false));
  },
  max: (fn) => minMax(fn, "i32.gt_s"),
  min: (fn) => minMax(fn, "i32.lt_s"),
};

function minMax(fn: FnBuilder, op: Op): void {
  const [a, b] = [fn.temp("i32"), fn.temp("i32")];
  fn.emit(set(b), tee(a), get(b), get(a), get(b), [op], ["select"]);
  fn.release(a, "i32");
  fn.release(b, "i32");
}

export const intBinaryV: { [P in BinaryOp]?: Op } = {
  add: "i32x4.add",
  sub: "i32x4.sub",
  mul: "i32x4.mul",
  max: "i32x4.max_s",
  min: "i32x4.min_s",
};

const fCompare: { [P in CompareOp]: string } = {
  eq: "eq",
  ne: "ne",
  lt: "lt",
  le: "le",
  gt: "gt",
  ge: "ge",
};
const iCompare: { [P in CompareOp]: string } = {
  eq: "eq",
  ne: "ne",
  lt: "lt_s",
  le: "le_s",
  gt: "gt_s",
  ge: "ge_s",
};

/** A comparison of operands of `type`: i32 0/1 (scalar) or a lane mask (vector). */
export function compareOp(op: CompareOp, type: DType, vector: boolean): Op {
  const p = type === "f32" ? (vector ? "f32x4" : "f32") : vector ? "i32x4" : "i32";
  return `${p}.${(type === "f32" ? fCompare : iCompare)[op]}` as Op;
}

export const icompareOp: { [P in ICompareOp]: Op } = {
  lt: "i32.lt_s",
  ge: "i32.ge_s",
  eq: "i32.eq",
};
export const icompareOpV: { [P in ICompareOp]: Op } = {
  lt: "i32x4.lt_s",
  ge: "i32x4.ge_s",
  eq: "i32x4.eq",
};
