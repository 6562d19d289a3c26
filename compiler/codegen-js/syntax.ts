// How JavaScript spells the kernel IR's scalars, for the shared printer
// (scalar-print.ts). JS computes in float64, so every f32 result is rounded
// to float32 (`Math.fround`), as storing it would: a value fusion inlines
// into one kernel then equals the stored copy another kernel reads (`x -
// mean(x)` of a one-element row is 0, not the float64 residue of x); i32
// results wrap like an Int32Array store (`| 0`). Bools are the numbers 0/1
// as values and JS booleans as conditions.

import type { DType } from "../ir.ts";
import type { Syntax } from "../scalar-print.ts";

/** A number as a JS literal, including the values String() would not round-trip as code. */
export function jsNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "(-Infinity)";
  if (Object.is(v, -0)) return "(-0)";
  return v < 0 ? `(${v})` : String(v);
}

const math = (f: string) => (a: string) => `Math.${f}(${a})`;
const math2 = (f: string) => (a: string, b: string) => `Math.${f}(${a}, ${b})`;
const infix = (op: string) => (a: string, b: string) => `(${a} ${op} ${b})`;
const fit = (text: string, dtype: DType) =>
  dtype === "f32" ? `Math.fround(${text})` : dtype === "i32" ? `(${text} | 0)` : text;

export const jsSyntax: Syntax = {
  lit: (v) => jsNumber(v),
  fit,
  unary: {
    neg: (a) => `(-${a})`,
    exp: math("exp"),
    log: math("log"),
    sqrt: math("sqrt"),
    abs: math("abs"),
    // Like the interpreter: sign(±0) = 0, sign(NaN) = NaN.
    sign: math("sign"),
    tanh: math("tanh"),
    sigmoid: (a) => `(1 / (1 + Math.exp(-${a})))`,
  },
  binary: {
    add: infix("+"),
    sub: infix("-"),
    mul: infix("*"),
    div: infix("/"),
    pow: math2("pow"),
    max: math2("max"),
    min: math2("min"),
  },
  // f32 operands are float32 values already, so a recomputed side still ties
  // with its stored copy (the max VJP's `x == max(x)`).
  compare: {
    eq: infix("==="),
    ne: infix("!=="),
    lt: infix("<"),
    le: infix("<="),
    gt: infix(">"),
    ge: infix(">="),
  },
  icompare: { lt: infix("<"), ge: infix(">="), eq: infix("===") },
  and: infix("&&"),
  select: (c, a, b) => `(${c} ? ${a} : ${b})`,
  // The printer fits the result (fround, | 0); NaN and ±0 are false, like the interpreter's toDType.
  cast: (a, _from, to) => (to === "bool" ? `(${a} ? 1 : 0)` : a),
  boolValue: (c) => `(${c} ? 1 : 0)`,
  truth: (v) => `(${v} !== 0)`,
  index: (i) => i,
  random: (seed, _t, stream, index) => `randomUniform(${seed}, ${stream}, ${index})`,
  toIndex: (v) => v,
  ix: {
    const: jsNumber,
    loop: (i) => `i${i}`,
    red: (i) => `r${i}`,
    lin: () => "lin",
    // A local the kernel's prologue reads once from T (codegen-js.ts), not a load per element.
    iter: (scan) => `step${scan}`,
    add: infix("+"),
    mul: infix("*"),
    // Floor division and a floored remainder, as in the dims algebra (operands may be negative in pad).
    div: (a, b, nonNeg) => (nonNeg ? `((${a} / ${b}) | 0)` : `Math.floor(${a} / ${b})`),
    // Bracketed whole: `k * (x % b + b) % b` would take the remainder of the product.
    mod: (a, b, nonNeg) => (nonNeg ? `(${a} % ${b})` : `(((${a} % ${b}) + ${b}) % ${b})`),
  },
};
