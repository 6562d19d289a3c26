// Scalar semantics of the elementwise primitives, in float64. The reference
// interpreter applies them per element and simplify uses them to fold
// constants, so a folded constant is by construction the value the program
// would have computed.

import type { BinaryOp, CompareOp, DType, UnaryOp } from "./ir.ts";

export const unaryFns: { [P in UnaryOp]: (x: number) => number } = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN),
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
};

export const binaryFns: { [P in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  max: Math.max,
  min: Math.min,
};

export const compareFns: { [P in CompareOp]: (a: number, b: number) => number } = {
  eq: (a, b) => Number(a === b),
  ne: (a, b) => Number(a !== b),
  lt: (a, b) => Number(a < b),
  le: (a, b) => Number(a <= b),
  gt: (a, b) => Number(a > b),
  ge: (a, b) => Number(a >= b),
};

/**
 * A float64 value as an element of `dtype`: bool is 0/1, i32 truncates toward
 * zero and wraps like an Int32Array store (so i32 division truncates as in
 * C and WGSL). f32 values are left in float64: the interpreter is an exact
 * oracle, and tests compare backends against it with a tolerance.
 */
export function toDType(x: number, dtype: DType): number {
  if (dtype === "f32") return x;
  if (dtype === "bool") return x !== 0 && !Number.isNaN(x) ? 1 : 0;
  return Number.isFinite(x) ? Math.trunc(x) | 0 : 0;
}
