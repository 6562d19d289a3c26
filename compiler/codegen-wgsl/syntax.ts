// The WGSL rows of the shared scalar printer (compiler/scalar-print.ts).
// Values have their WGSL types (f32, i32, bool), so `fit` is the identity:
// f32 arithmetic is float32 and i32 arithmetic wraps like JS's `| 0`. Where a
// builtin's edge cases differ from JS, a row calls a library function
// (library.ts) instead.

import type { DType } from "../ir.ts";
import type { Syntax } from "../scalar-print.ts";
import { UNIFORM_DIMS, UNIFORM_SCANS } from "../../runtime/program.ts";

/** i32 slot `s` of the uniform record (dims, then scan steps: runtime/program.ts GpuKernel). */
export const uniformSlot = (s: number): string => `u[${s >> 2}].${"xyzw"[s & 3]}`;

const nonFinite = (v: number): string | null =>
  Number.isNaN(v)
    ? "f_bits(0x7fc00000u)"
    : v === Infinity
      ? "f_bits(0x7f800000u)"
      : v === -Infinity
        ? "f_bits(0xff800000u)"
        : null;

/** An f32 literal: the float32 nearest `v`, exactly (shortest round-trip digits), non-finite values through their bits. */
export function wgslF32(v: number): string {
  const f = Math.fround(v);
  const special = nonFinite(f);
  if (special) return special;
  // Constant folding on SwiftShader loses the sign of a -0.0f literal.
  if (Object.is(f, -0)) return "f_bits(0x80000000u)";
  const text = `${String(Math.abs(f))}f`;
  return f < 0 ? `(-${text})` : text;
}

export function wgslI32(v: number): string {
  // `-2147483648i` would negate an out-of-range literal; an abstract int converts.
  return v < 0 ? `i32(${v})` : `${v}i`;
}

function lit(v: number, dtype: DType): string {
  if (dtype === "f32") return wgslF32(v);
  if (dtype === "i32") return wgslI32(v | 0);
  return v !== 0 && !Number.isNaN(v) ? "true" : "false";
}

/** A call for f32 operands, the builtin spelling (or `int`) for i32. */
const f32Or =
  (f: (a: string) => string, int: (a: string) => string) =>
  (a: string, dtype: DType): string =>
    dtype === "f32" ? f(a) : int(a);

/** A unary float function on an i32 value: through f32, then JS's `| 0`. */
const viaF32 = (fn: string) => (a: string) => `f_to_i32(${fn}(f32(${a})))`;

const call = (fn: string) => (a: string) => `${fn}(${a})`;

/** Operands of a comparison as something `<` applies to (WGSL orders no bools). */
const ordered = (a: string, type: DType) => (type === "bool" ? `i32(${a})` : a);

export const wgslSyntax: Syntax = {
  lit,
  fit: (text) => text,
  unary: {
    neg: (a) => `(-${a})`,
    exp: f32Or(call("f_exp"), viaF32("f_exp")),
    log: f32Or(call("f_log"), viaF32("f_log")),
    sqrt: f32Or(call("f_sqrt"), viaF32("f_sqrt")),
    abs: (a) => `abs(${a})`,
    sign: f32Or(call("f_sign"), call("i_sign")),
    tanh: f32Or(call("f_tanh"), viaF32("f_tanh")),
    sigmoid: f32Or(call("f_sigmoid"), viaF32("f_sigmoid")),
  },
  binary: {
    add: (a, b) => `(${a} + ${b})`,
    sub: (a, b) => `(${a} - ${b})`,
    mul: (a, b) => `(${a} * ${b})`,
    div: (a, b, t) => (t === "f32" ? `(${a} / ${b})` : `i_tdiv(${a}, ${b})`),
    // x^2 is common (squared errors) and Math.pow(x, 2) is exactly x * x.
    pow: (a, b, t, node) =>
      t !== "f32"
        ? `f_to_i32(f_pow(f32(${a}), f32(${b})))`
        : node.b.k === "lit" && node.b.v === 2
          ? `(${a} * ${a})`
          : `f_pow(${a}, ${b})`,
    max: (a, b, t) => (t === "f32" ? `f_max(${a}, ${b})` : `max(${a}, ${b})`),
    min: (a, b, t) => (t === "f32" ? `f_min(${a}, ${b})` : `min(${a}, ${b})`),
  },
  compare: {
    eq: (a, b, t) => (t === "f32" ? `f_eq(${a}, ${b})` : `(${a} == ${b})`),
    ne: (a, b, t) => (t === "f32" ? `(!f_eq(${a}, ${b}))` : `(${a} != ${b})`),
    lt: (a, b, t) => (t === "f32" ? `f_lt(${a}, ${b})` : `(${ordered(a, t)} < ${ordered(b, t)})`),
    le: (a, b, t) => (t === "f32" ? `f_le(${a}, ${b})` : `(${ordered(a, t)} <= ${ordered(b, t)})`),
    gt: (a, b, t) => (t === "f32" ? `f_lt(${b}, ${a})` : `(${ordered(a, t)} > ${ordered(b, t)})`),
    ge: (a, b, t) => (t === "f32" ? `f_le(${b}, ${a})` : `(${ordered(a, t)} >= ${ordered(b, t)})`),
  },
  icompare: {
    lt: (a, b) => `(${a} < ${b})`,
    ge: (a, b) => `(${a} >= ${b})`,
    eq: (a, b) => `(${a} == ${b})`,
  },
  and: (a, b) => `(${a} && ${b})`,
  select: (c, a, b) => `select(${b}, ${a}, ${c})`,
  cast: (a, from, to) => {
    if (from === to) return a;
    if (to === "f32") return `f32(${a})`;
    if (to === "i32") return from === "f32" ? `f_to_i32(${a})` : `i32(${a})`;
    return from === "f32" ? `f_truthy(${a})` : `(${a} != 0)`;
  },
  boolValue: (c) => c,
  truth: (v) => v,
  index: (i, dtype) => (dtype === "f32" ? `f32(${i})` : dtype === "i32" ? i : `(${i} != 0)`),
  random: (seed, seedType, stream, index) =>
    `rng_uniform(${seedType === "f32" ? `f_to_i32(${seed})` : seedType === "bool" ? `i32(${seed})` : seed}, ${stream >>> 0}u, ${index})`,
  toIndex: (v, dtype) => (dtype === "i32" ? v : dtype === "bool" ? `i32(${v})` : `f_to_i32(${v})`),
  ix: {
    const: wgslI32,
    loop: (i) => `i${i}`,
    red: (i) => `r${i}`,
    lin: () => "lin",
    iter: (scan) => {
      if (scan >= UNIFORM_SCANS)
        throw new Error(
          `codegen-wgsl: scan ${scan} is past the ${UNIFORM_SCANS} the uniform record holds`,
        );
      return uniformSlot(UNIFORM_DIMS + scan);
    },
    add: (a, b) => `(${a} + ${b})`,
    mul: (a, b) => `(${a} * ${b})`,
    div: (a, b, nonNeg) => (nonNeg ? `(${a} / ${b})` : `i_div(${a}, ${b})`),
    mod: (a, b, nonNeg) => (nonNeg ? `(${a} % ${b})` : `i_mod(${a}, ${b})`),
  },
};
