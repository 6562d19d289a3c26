// Tensor arithmetic as the surface language sees it: implicit conversion of
// compile-time scalars and dims to tensors, dtype promotion, constant folding
// of compile-time values, and the lowering of what the primitives don't do
// directly (vector matmul, floor division). Every op goes through `emit`,
// which turns a shape rule's complaint into a diagnostic at the source span.

import type { BinaryOp as SurfaceOp, Span } from "../../grammar/index.ts";
import { CaptureBuilder, type Builder } from "../builder.ts";
import {
  dimAdd,
  dimAsConst,
  dimConst,
  dimEq,
  dimExactDiv,
  dimFloorDiv,
  dimMod,
  dimMul,
  dimSub,
  dimToString,
  shapeToString,
  type Dim,
} from "../dims.ts";
import type { DType, Op, OpParams, Var } from "../ir.ts";
import { ShapeError } from "../shapes.ts";
import { fail, Poisoned, type Ctx, type Extra } from "./context.ts";
import { checkBytes, checkShape, dimArith, failOverflow } from "./dim-checks.ts";
import { bool, describe, dimValue, float, int, type Arg, type Value } from "./values.ts";

/** Unwrap a value, aborting silently if it stands for an earlier error. */
export function need(v: Value): Value {
  if (v.kind === "poison") throw new Poisoned();
  return v;
}

export function builder(ctx: Ctx, span: Span): Builder {
  if (ctx.b === null)
    fail(ctx, "E2007", "tensors only exist inside a model", span, {
      notes: ["`const` values and train settings must be known at compile time"],
    });
  return ctx.b;
}

/**
 * Append one equation. A shape rule's complaint becomes a diagnostic at
 * `span`, with the rule's per-input labels moved onto `operandSpans`.
 */
export function emit<P extends Op>(
  ctx: Ctx,
  op: P,
  params: OpParams[P],
  inputs: Var[],
  span: Span,
  operandSpans: (Span | undefined)[] = [],
  hint?: string,
): Var {
  const b = builder(ctx, span);
  try {
    const opts: { span: Span; file: string; hint?: string } = { span, file: ctx.file };
    if (hint !== undefined) opts.hint = hint;
    const out = dimArith(
      ctx,
      span,
      () => `the shape of this ${op}`,
      () => b.emit(op, params, inputs, opts),
    );
    checkShape(ctx, out.type.shape, span, "this");
    checkBytes(ctx, out.type, span, "this value", "");
    return out;
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    const labels = e.labels.flatMap((l) => {
      const s = operandSpans[l.input];
      return s ? [{ span: s, message: l.message }] : [];
    });
    fail(ctx, e.code, e.message, span, { labels, notes: [...e.notes] });
  }
}

export function isStatic(
  v: Value,
): v is Extract<Value, { kind: "int" | "float" | "bool" | "dim" }> {
  return v.kind === "int" || v.kind === "float" || v.kind === "bool" || v.kind === "dim";
}

export function cast(ctx: Ctx, v: Var, dtype: DType, span: Span): Var {
  return v.type.dtype === dtype ? v : emit(ctx, "cast", { dtype }, [v], span);
}

/** A value as a tensor of `dtype` in the current graph: scalars become consts, dims `dimval`. */
export function toVar(ctx: Ctx, value: Value, span: Span, dtype: DType): Var {
  const b = builder(ctx, span);
  switch (value.kind) {
    case "tensor":
      // A scan body captures the enclosing graph's tensors; an initialiser has none to see.
      if (value.graph !== b && !(b instanceof CaptureBuilder))
        fail(ctx, "E2007", "a parameter initialiser cannot use tensors of the model", span, {
          notes: ["initialisers run once, before any input exists; use compile-time values"],
        });
      return cast(ctx, value.v, dtype, span);
    case "int":
    case "float":
      return emit(ctx, "const", { value: value.value, dtype, shape: [] }, [], span);
    case "bool":
      return emit(ctx, "const", { value: value.value ? 1 : 0, dtype, shape: [] }, [], span);
    case "dim": {
      const c = dimAsConst(value.dim);
      if (c !== null) return emit(ctx, "const", { value: c, dtype, shape: [] }, [], span);
      return emit(ctx, "dimval", { dim: value.dim, dtype }, [], span);
    }
    case "poison":
      throw new Poisoned();
    default:
      fail(ctx, "E2007", `expected a tensor, found ${describe(value)}`, span);
  }
}

/** A value as a tensor in its own dtype (ints -> i32, floats -> f32, bools -> bool). */
export function asVar(ctx: Ctx, a: Arg): Var {
  const v = need(a.value);
  const d: DType =
    v.kind === "tensor"
      ? v.v.type.dtype
      : v.kind === "float"
        ? "f32"
        : v.kind === "bool"
          ? "bool"
          : v.kind === "int" || v.kind === "dim"
            ? "i32"
            : "f32";
  return toVar(ctx, v, a.span, d);
}

export function tensor(ctx: Ctx, v: Var): Value {
  return { kind: "tensor", v, graph: builder(ctx, { start: 0, end: 0 }) };
}

/**
 * The dtype an op over these values computes in. Tensors are "strong";
 * literals and dims are "weak" and adopt the tensors' type (as in JAX), except
 * that a float literal makes the result float. Arithmetic on bools counts in
 * f32 (masks become 0/1 floats); `float` ops always compute in f32.
 */
export function resultDType(values: Value[], kind: "arith" | "float" | "compare"): DType {
  if (kind === "float") return "f32";
  const strong = new Set<DType>();
  let weakFloat = false;
  let weakInt = false;
  for (const v of values) {
    if (v.kind === "tensor") strong.add(v.v.type.dtype);
    else if (v.kind === "float") weakFloat = true;
    else if (v.kind === "int" || v.kind === "dim") weakInt = true;
    else if (v.kind === "bool") strong.add("bool");
  }
  let d: DType = strong.has("f32")
    ? "f32"
    : strong.has("i32")
      ? "i32"
      : strong.has("bool")
        ? "bool"
        : weakFloat
          ? "f32"
          : "i32";
  if (weakFloat) d = "f32";
  if (d === "bool" && weakInt) d = kind === "compare" ? "i32" : "f32";
  if (d === "bool" && kind === "arith") d = "f32";
  return d;
}

const compareOps = {
  "==": "eq",
  "!=": "ne",
  "<": "lt",
  "<=": "le",
  ">": "gt",
  ">=": "ge",
} as const;
const arithOps = { "+": "add", "-": "sub", "*": "mul", "^": "pow" } as const;

function isCompare(op: SurfaceOp): op is keyof typeof compareOps {
  return op in compareOps;
}

function compareNumbers(op: keyof typeof compareOps, x: number, y: number): boolean {
  switch (op) {
    case "==":
      return x === y;
    case "!=":
      return x !== y;
    case "<":
      return x < y;
    case "<=":
      return x <= y;
    case ">":
      return x > y;
    case ">=":
      return x >= y;
  }
}

function asDim(v: Value): Dim | null {
  if (v.kind === "dim") return v.dim;
  if (v.kind === "int") return dimConst(v.value);
  return null;
}

const divHelp = "use `div` to round down, or make the sizes multiples of each other";

/**
 * Where a dimension is expected, an int division that left a remainder is
 * the dims' `/` failing (E3004), not a mysterious float.
 */
export function checkExactDivision(ctx: Ctx, v: Value, span: Span): void {
  if (v.kind === "float" && v.inexact !== undefined)
    fail(ctx, "E3004", `${v.inexact} does not divide exactly`, span, { help: divHelp });
}

/** Dimension arithmetic stays symbolic: `4 * H`, `(W - K) div S + 1`. Null: needs a run-time value. */
function foldDims(ctx: Ctx, op: SurfaceOp, a: Dim, b: Dim, span: Span): Value | null {
  return dimArith(
    ctx,
    span,
    () => `${dimToString(a)} ${op} ${dimToString(b)}`,
    () => foldDimsExact(ctx, op, a, b, span),
  );
}

/** Largest power a symbolic dim is raised to: `B ^ 64` already has 64 factors per term. */
const MAX_DIM_POWER = 64;

function foldDimsExact(ctx: Ctx, op: SurfaceOp, a: Dim, b: Dim, span: Span): Value | null {
  const zero = () =>
    fail(ctx, "E3004", `division by zero: ${dimToString(a)} ${op} ${dimToString(b)}`, span);
  switch (op) {
    case "+":
      return dimValue(dimAdd(a, b));
    case "-":
      return dimValue(dimSub(a, b));
    case "*":
      return dimValue(dimMul(a, b));
    case "/": {
      if (dimAsConst(b) === 0) zero();
      const q = dimExactDiv(a, b);
      if (q === null)
        fail(ctx, "E3004", `${dimToString(a)} / ${dimToString(b)} does not divide exactly`, span, {
          help: divHelp,
        });
      return dimValue(q);
    }
    case "div":
      if (dimAsConst(b) === 0) zero();
      return dimValue(dimFloorDiv(a, b));
    case "mod":
      if (dimAsConst(b) === 0) zero();
      return dimValue(dimMod(a, b));
    case "^": {
      const e = dimAsConst(b);
      if (e === null || e < 0) return null;
      const base = dimAsConst(a);
      if (base !== null) return dimValue(dimConst(base ** e));
      if (e > MAX_DIM_POWER)
        fail(ctx, "E3014", `${dimToString(a)} ^ ${e} is too large a power of a dimension`, span, {
          notes: [`a dimension can be raised to at most the power ${MAX_DIM_POWER}`],
        });
      let out = dimConst(1);
      for (let i = 0; i < e; i++) out = dimMul(out, a);
      return dimValue(out);
    }
    case "@":
      return null;
    default: {
      const x = dimAsConst(a);
      const y = dimAsConst(b);
      if (x !== null && y !== null) return bool(compareNumbers(op, x, y));
      if ((op === "==" || op === "!=") && dimEq(a, b)) return bool(op === "==");
      return null;
    }
  }
}

/** Compile-time numbers fold: ints stay ints where exact, floats follow IEEE. */
function foldNumbers(
  ctx: Ctx,
  op: SurfaceOp,
  x: number,
  y: number,
  ints: boolean,
  span: Span,
): Value | null {
  // Ints stay exact: a result past 2^53 (`2 ^ 1024`, `3 * 2 ^ 52`) is E3014 here, where it is made.
  const num = (n: number) => {
    if (!ints) return float(n);
    if (!Number.isSafeInteger(n))
      failOverflow(ctx, `integer arithmetic overflows in ${x} ${op} ${y}`, span);
    return int(n);
  };
  if ((op === "/" || op === "div" || op === "mod") && y === 0)
    fail(ctx, "E3004", `division by zero: ${x} ${op} ${y}`, span);
  switch (op) {
    case "+":
      return num(x + y);
    case "-":
      return num(x - y);
    case "*":
      return num(x * y);
    case "/":
      if (ints && !Number.isInteger(x / y))
        return { kind: "float", value: x / y, inexact: `${x} / ${y}` };
      return num(x / y);
    case "div":
      return num(Math.floor(x / y));
    case "mod":
      return num(x - y * Math.floor(x / y));
    case "^":
      return ints && y >= 0 ? num(x ** y) : float(x ** y);
    case "@":
      return null;
    default:
      return bool(compareNumbers(op, x, y));
  }
}

function foldStatic(ctx: Ctx, op: SurfaceOp, a: Value, b: Value, span: Span): Value | null {
  if (!isStatic(a) || !isStatic(b) || op === "@") return null;
  if (a.kind === "bool" || b.kind === "bool") {
    if (a.kind === "bool" && b.kind === "bool" && (op === "==" || op === "!="))
      return bool((a.value === b.value) === (op === "=="));
    fail(ctx, "E2007", `\`${op}\` cannot combine ${describe(a)} and ${describe(b)}`, span);
  }
  if (a.kind !== "float" && b.kind !== "float") {
    if (a.kind === "int" && b.kind === "int")
      return foldNumbers(ctx, op, a.value, b.value, true, span);
    // `/` between an int and a concrete dim is still a dim division: it must be exact.
    return foldDims(ctx, op, asDim(a)!, asDim(b)!, span);
  }
  const x = a.kind === "dim" ? dimAsConst(a.dim) : a.value;
  const y = b.kind === "dim" ? dimAsConst(b.dim) : b.value;
  if (x === null || y === null) return null; // a run-time dim times a float: computed in the graph
  return foldNumbers(ctx, op, x, y, false, span);
}

/** `floor(x)` for f32 tensors, from the primitives: truncate, then step down where that rounded up. */
function floorVar(ctx: Ctx, x: Var, span: Span): Var {
  const t = emit(
    ctx,
    "cast",
    { dtype: "f32" },
    [emit(ctx, "cast", { dtype: "i32" }, [x], span)],
    span,
  );
  const roundedUp = emit(ctx, "cast", { dtype: "f32" }, [emit(ctx, "lt", {}, [x, t], span)], span);
  return emit(ctx, "sub", {}, [t, roundedUp], span);
}

/** `a op b` for any two values: folds compile-time operands, else builds graph ops. */
export function binaryOp(ctx: Ctx, op: SurfaceOp, a: Arg, b: Arg, span: Span): Value {
  const av = need(a.value);
  const bv = need(b.value);
  const folded = foldStatic(ctx, op, av, bv, span);
  if (folded) return folded;
  for (const [v, s] of [
    [av, a.span],
    [bv, b.span],
  ] as const)
    if (!isStatic(v) && v.kind !== "tensor")
      fail(ctx, "E2007", `\`${op}\` needs numbers or tensors, but this is ${describe(v)}`, s);
  const spans = [a.span, b.span];
  if (op === "@") return matmul(ctx, a, b, span);
  if (isCompare(op)) {
    const d = resultDType([av, bv], "compare");
    const x = toVar(ctx, av, a.span, d);
    const y = toVar(ctx, bv, b.span, d);
    return tensor(ctx, emit(ctx, compareOps[op], {}, [x, y], span, spans));
  }
  if (op === "/") {
    const x = toVar(ctx, av, a.span, "f32");
    const y = toVar(ctx, bv, b.span, "f32");
    return tensor(ctx, emit(ctx, "div", {}, [x, y], span, spans));
  }
  if (op === "div" || op === "mod") {
    // Floor semantics (like Python), computed in f32, back to int for ints.
    const d = resultDType([av, bv], "arith");
    const x = toVar(ctx, av, a.span, "f32");
    const y = toVar(ctx, bv, b.span, "f32");
    const q = floorVar(ctx, emit(ctx, "div", {}, [x, y], span, spans), span);
    const r =
      op === "div" ? q : emit(ctx, "sub", {}, [x, emit(ctx, "mul", {}, [y, q], span)], span);
    return tensor(ctx, cast(ctx, r, d, span));
  }
  const d = resultDType([av, bv], "arith");
  const x = toVar(ctx, av, a.span, d);
  const y = toVar(ctx, bv, b.span, d);
  return tensor(ctx, emit(ctx, arithOps[op], {}, [x, y], span, spans));
}

/** Elementwise max/min of two values (`maximum`, `minimum`, and `relu` through them). */
export function extremum(ctx: Ctx, op: "max" | "min", a: Arg, b: Arg, span: Span): Value {
  const av = need(a.value);
  const bv = need(b.value);
  if (isStatic(av) && isStatic(bv) && av.kind !== "bool" && bv.kind !== "bool") {
    const x = av.kind === "dim" ? dimAsConst(av.dim) : av.value;
    const y = bv.kind === "dim" ? dimAsConst(bv.dim) : bv.value;
    if (x !== null && y !== null) {
      const r = op === "max" ? Math.max(x, y) : Math.min(x, y);
      return av.kind === "float" || bv.kind === "float" ? float(r) : int(r);
    }
  }
  const d = resultDType([av, bv], "arith");
  const x = toVar(ctx, av, a.span, d);
  const y = toVar(ctx, bv, b.span, d);
  return tensor(ctx, emit(ctx, op, {}, [x, y], span, [a.span, b.span]));
}

export function negate(ctx: Ctx, a: Arg, span: Span): Value {
  const v = need(a.value);
  switch (v.kind) {
    case "int":
      return int(-v.value);
    case "float":
      return float(-v.value);
    case "dim":
      return dimValue(dimSub(dimConst(0), v.dim));
    case "tensor": {
      const d = v.v.type.dtype === "bool" ? "f32" : v.v.type.dtype;
      return tensor(ctx, emit(ctx, "neg", {}, [cast(ctx, v.v, d, span)], span, [a.span]));
    }
    default:
      fail(ctx, "E2007", `cannot negate ${describe(v)}`, span);
  }
}

/** Elementwise math on a tensor, or folded on a compile-time number (`sqrt(d)`). */
export function unaryMath(
  ctx: Ctx,
  op: "exp" | "log" | "sqrt" | "abs" | "sign" | "tanh" | "sigmoid",
  a: Arg,
  span: Span,
  fold: (x: number) => number,
): Value {
  const v = need(a.value);
  if (v.kind === "int" || v.kind === "float" || (v.kind === "dim" && dimAsConst(v.dim) !== null)) {
    const x = v.kind === "dim" ? dimAsConst(v.dim)! : v.value;
    const r = fold(x);
    return (op === "abs" || op === "sign") && v.kind !== "float" ? int(r) : float(r);
  }
  // abs and sign keep ints; the others are float functions.
  const keepsInt =
    (op === "abs" || op === "sign") && v.kind === "tensor" && v.v.type.dtype === "i32";
  const x = toVar(ctx, v, a.span, keepsInt ? "i32" : "f32");
  return tensor(ctx, emit(ctx, op, {}, [x], span, [a.span]));
}

export function reshapeVar(ctx: Ctx, v: Var, shape: Dim[], span: Span): Var {
  return emit(ctx, "reshape", { shape }, [v], span);
}

/**
 * `a @ b` with numpy's vector rules, lowered to the rank >= 2 primitive:
 * `[..., k] @ [k]` drops the last axis, `[k] @ [..., k, n]` the
 * second-to-last. The inner sizes are checked here, with the shapes as the
 * user wrote them rather than the reshaped ones the primitive would see.
 */
export function matmul(ctx: Ctx, a: Arg, b: Arg, span: Span): Value {
  const av = need(a.value);
  const bv = need(b.value);
  const d = resultDType([av, bv], "arith");
  const x = toVar(ctx, av, a.span, d);
  const y = toVar(ctx, bv, b.span, d);
  const xs = x.type.shape;
  const ys = y.type.shape;
  const labels = [
    { span: a.span, message: `this is ${shapeToString(xs)}` },
    { span: b.span, message: `this is ${shapeToString(ys)}` },
  ];
  if (xs.length === 0 || ys.length === 0)
    fail(ctx, "E3003", "`@` needs tensors of rank 1 or more; use `*` to scale by a scalar", span, {
      labels,
    });
  const k1 = xs[xs.length - 1]!;
  const k2 = ys.length === 1 ? ys[0]! : ys[ys.length - 2]!;
  if (!dimEq(k1, k2)) {
    const which = ys.length === 1 ? "its only" : "the second-to-last";
    const extra: Extra = {
      labels,
      notes: [
        `\`@\` pairs the last dimension of the left operand (${dimToString(k1)}) with ${which} dimension of the right one (${dimToString(k2)})`,
      ],
    };
    if (ys.length >= 2 && dimEq(k1, ys[ys.length - 1]!))
      extra.help = "the right operand looks transposed: try `transpose(...)` on it";
    fail(ctx, "E3002", "inner dimensions of matmul don't match", span, extra);
  }
  const spans = [a.span, b.span];
  const one = dimConst(1);
  if (xs.length >= 2 && ys.length >= 2)
    return tensor(ctx, emit(ctx, "matmul", {}, [x, y], span, spans));
  // Vector cases: make the vector a matrix, multiply, drop the unit axis again.
  const xm = xs.length === 1 ? reshapeVar(ctx, x, [one, k1], span) : x;
  const ym = ys.length === 1 ? reshapeVar(ctx, y, [k2, one], span) : y;
  const prod = emit(ctx, "matmul", {}, [xm, ym], span, spans);
  const ps = prod.type.shape;
  let out: Dim[];
  if (xs.length === 1 && ys.length === 1) out = [];
  else if (ys.length === 1) out = ps.slice(0, -1);
  else out = [...ps.slice(0, -2), ps[ps.length - 1]!];
  return tensor(ctx, reshapeVar(ctx, prod, out, span));
}

/** Normalise a possibly negative axis against `rank`. */
export function normAxis(ctx: Ctx, axis: number, rank: number, span: Span): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= rank)
    fail(
      ctx,
      "E3005",
      `axis ${axis} is out of range for a tensor of rank ${rank}`,
      span,
      rank > 0 ? { notes: [`valid axes are ${-rank} to ${rank - 1}`] } : {},
    );
  return a;
}
