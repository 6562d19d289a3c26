// Expressions to values. Compile-time values fold as they go; tensor values
// append equations to the current graph. Calls bind their arguments here and
// dispatch to intrinsics (TypeScript) or blocks (inlined .dlg, see block.ts).

import type * as ast from "../../grammar/index.ts";
import type { Span } from "../../grammar/index.ts";
import {
  dimAdd,
  dimAsConst,
  dimConst,
  dimSub,
  DimOverflow,
  dimToString,
  shapeToString,
  type Dim,
} from "../dims.ts";
import type { TensorType, Var } from "../ir.ts";
import { blockSignature } from "../symbols/resolve.ts";
import { fail, type Ctx } from "./context.ts";
import { checkSafeInt, failOverflow, requireAtLeast, sourceRef } from "./dim-checks.ts";
import { BLOCK_CALL_DEPTH, callBlock, checkBoundArgs } from "./block.ts";
import { isTrainingFlag, trainingIf } from "./mode.ts";
import { unknownName } from "./names.ts";
import { elabScan } from "./scan.ts";
import { didYouMean } from "./suggest.ts";
import {
  binaryOp,
  checkExactDivision,
  emit,
  need,
  negate,
  reshapeVar,
  tensor,
} from "./tensor-ops.ts";
import { entryValue } from "./types.ts";
import {
  describe,
  fnText,
  hoverText,
  namesItself,
  typeText,
  type Arg,
  type BlockFn,
  type Callable,
  type CallSite,
  type IntrinsicFn,
  type Value,
} from "./values.ts";

/**
 * How deep evaluation may go, across inlined blocks: each expression level
 * counts 1 and each block call BLOCK_CALL_DEPTH (block.ts). Measured on
 * Node's default stack, the elaborator overflows near 1,700 levels of its
 * costliest expression (`x[:][:]…`) or 550 nested calls; this keeps every
 * mix of the two under ~60% of that. test/nesting.test.ts runs programs at
 * the limit.
 */
export const MAX_EVAL_DEPTH = 1000;

export function evalExpr(ctx: Ctx, e: ast.Expr): Value {
  try {
    if (++ctx.s.depth > MAX_EVAL_DEPTH)
      fail(
        ctx,
        "E2011",
        `expressions nest more than ${MAX_EVAL_DEPTH} levels deep here, counting each block call as ${BLOCK_CALL_DEPTH}`,
        e.span,
        { notes: ["give intermediate values names, or call fewer blocks inside one another"] },
      );
    const v = evalNode(ctx, e);
    const text = e.kind === "Name" && namesItself(e.name, v) ? null : valueText(v);
    if (text !== null) ctx.s.type(ctx.file, e.span, text);
    return v;
  } catch (err) {
    // Every int value is made exact (literals, folded arithmetic), but the
    // sizes computed from them can still pass 2^53 (`reshape`, `one_hot`,
    // slices): E3014 at the innermost expression, never an internal error.
    if (!(err instanceof DimOverflow)) throw err;
    failOverflow(ctx, `dimension arithmetic overflows: ${err.value} is beyond 2^53`, e.span);
  } finally {
    ctx.s.depth--;
  }
}

/**
 * Tensor types as hover text, by type object: a name evaluated again, or a
 * block's body inlined at another call, mostly sees types already printed
 * (types are never mutated).
 */
const printed = new WeakMap<TensorType, string>();

function tensorText(t: TensorType): string {
  let text = printed.get(t);
  if (text === undefined) printed.set(t, (text = typeText(t)));
  return text;
}

/** A list's items, the first few: `[B, 16]`, `[dense_1.w: f32[784, 256], ...]`. */
function listText(items: Value[]): string {
  const item = (v: Value): string => {
    switch (v.kind) {
      case "tensor":
        return v.v.hint ? `${v.v.hint}: ${tensorText(v.v.type)}` : tensorText(v.v.type);
      case "int":
      case "float":
      case "bool":
        return String(v.value);
      case "dim":
        return dimToString(v.dim);
      case "list":
        return listText(v.items);
      case "fn":
        return fnText(v.fn);
      case "string":
        return JSON.stringify(v.value);
      case "poison":
        return "?";
    }
  };
  const shown = items.slice(0, 4).map(item);
  if (items.length > 4) shown.push(`… (${items.length} in all)`);
  return `[${shown.join(", ")}]`;
}

/** What hover shows for a value: `f32[B, 512]`, `int = 3`, `dim = 784`, a signature. */
export function valueText(v: Value): string | null {
  switch (v.kind) {
    case "tensor":
      return tensorText(v.v.type);
    case "int":
    case "float":
    case "bool":
      return `${v.kind} = ${v.value}`;
    case "dim":
      return `dim = ${dimToString(v.dim)}`;
    case "fn":
      return calleeText(v.fn);
    case "list":
      return `list ${listText(v.items)}`;
    case "string":
      return "string";
    case "poison":
      return null;
  }
}

function evalNode(ctx: Ctx, e: ast.Expr): Value {
  switch (e.kind) {
    case "Number":
      if (!e.isInt) return { kind: "float", value: e.value };
      checkSafeInt(ctx, e.value, e.span, e.raw, "integer");
      return { kind: "int", value: e.value };
    case "String":
      return { kind: "string", value: e.value };
    case "Bool":
      return { kind: "bool", value: e.value };
    case "Name":
      return lookupValue(ctx, e.name, e.span);
    case "Binary":
      return binaryOp(ctx, e.op, argOf(ctx, e.left), argOf(ctx, e.right), e.span);
    case "Unary":
      return negate(ctx, argOf(ctx, e.operand), e.span);
    case "Call":
      return callExpr(ctx, e.callee, e.args, null, e.span);
    case "Pipe": {
      // `x |> f(a)` is `f(x, a)`; `x |> f` is `f(x)`.
      const left = argOf(ctx, e.left);
      need(left.value);
      if (e.right.kind === "Call")
        return callExpr(ctx, e.right.callee, e.right.args, left, e.right.span);
      const fn = resolveCallee(ctx, e.right);
      const site = { name: fn.name, span: e.right.span, callee: e.right.span };
      return apply(ctx, fn, [left], new Map(), site);
    }
    case "Index":
      return indexExpr(ctx, e);
    case "List":
      return {
        kind: "list",
        items: e.items.map((i) => need(evalExpr(ctx, i))),
        spans: e.items.map((i) => i.span),
      };
    case "If": {
      const c = need(evalExpr(ctx, e.cond));
      if (isTrainingFlag(ctx, c)) return trainingIf(ctx, e);
      if (c.kind !== "bool")
        fail(
          ctx,
          "E2007",
          `the condition of \`if\` must be a compile-time bool, but it is ${describe(c)}`,
          e.cond.span,
          {
            help:
              c.kind === "tensor"
                ? "to choose between tensors element by element, use `where(cond, a, b)`"
                : undefined,
          },
        );
      // Only the chosen branch is elaborated, so the other may use what this configuration lacks.
      return evalExpr(ctx, c.value ? e.then : e.else);
    }
    case "Scan":
      return elabScan(ctx, e);
  }
}

export function argOf(ctx: Ctx, e: ast.Expr): Arg {
  return { value: evalExpr(ctx, e), span: e.span };
}

function lookupValue(ctx: Ctx, name: string, span: Span): Value {
  const entry = ctx.scope.lookup(name);
  if (!entry) {
    const names = () => [...ctx.scope.entries()].map(([k]) => k).filter((k) => k !== "...");
    const u = unknownName(ctx.scope, name, "name", names);
    fail(ctx, "E2001", u.message, span, { help: u.help, notes: u.notes });
  }
  return need(entryValue(ctx, entry, span));
}

/** All callable names in scope, for suggestions. */
function callableNames(ctx: Ctx): string[] {
  const out: string[] = [];
  for (const [k, e] of ctx.scope.entries())
    if (typeof e.value !== "function" && e.value.kind === "fn") out.push(k);
  return out;
}

export function unknownCallee(ctx: Ctx, name: string, span: Span): never {
  const u = unknownName(ctx.scope, name, "function or block", () => callableNames(ctx));
  fail(ctx, "E2003", u.message, span, { help: u.help, notes: u.notes });
}

export function resolveCallee(ctx: Ctx, callee: ast.Expr): Callable {
  if (callee.kind === "Name") {
    const entry = ctx.scope.lookup(callee.name);
    if (!entry) unknownCallee(ctx, callee.name, callee.span);
    const v = need(entryValue(ctx, entry, callee.span));
    if (v.kind !== "fn")
      fail(ctx, "E2007", `\`${callee.name}\` is ${describe(v)}, not a function`, callee.span);
    ctx.s.type(ctx.file, callee.span, calleeText(v.fn));
    return v.fn;
  }
  const v = need(evalExpr(ctx, callee));
  if (v.kind !== "fn") fail(ctx, "E2007", `this is ${describe(v)}, not a function`, callee.span);
  return v.fn;
}

/** Hovering a call shows the signature with its result type, and a block's doc comment. */
function calleeText(fn: Callable): string {
  switch (fn.kind) {
    case "intrinsic":
      return fn.sig + (fn.doc ? `\n\n${fn.doc}` : "");
    case "block": {
      const doc = fn.decl.doc;
      return blockSignature(fn.decl) + (doc ? `\n\n${doc}` : "");
    }
    case "partial":
      return `fn = ${fn.text}\n\n${calleeText(fn.base)}`;
    case "shared":
      return `fn ${fn.name} = ${fnText(fn.fn)} (shared: one param set, \`${fn.path}*\`)`;
  }
}

/** `f(a, b, name: v)`, with an optional leading argument from a pipe or a param initialiser. */
export function callExpr(
  ctx: Ctx,
  callee: ast.Expr,
  args: ast.Arg[],
  leading: Arg | null,
  span: Span,
): Value {
  const fn = resolveCallee(ctx, callee);
  const positional: Arg[] = leading ? [leading] : [];
  const named = new Map<string, Arg & { nameSpan: Span }>();
  for (const a of args) {
    if (a.name === null) {
      if (named.size > 0)
        fail(ctx, "E2004", "positional arguments must come before named ones", a.span);
      positional.push(argOf(ctx, a.value));
      continue;
    }
    if (named.has(a.name.name))
      fail(ctx, "E2004", `argument \`${a.name.name}\` is given twice`, a.name.span);
    const arg = argOf(ctx, a.value);
    named.set(a.name.name, { ...arg, nameSpan: a.name.span });
    // Hover on `units:` shows the value this call gives it.
    if (arg.value.kind !== "poison")
      ctx.s.type(ctx.file, a.name.span, hoverText(a.name.name, arg.value));
  }
  for (const a of [...positional, ...named.values()]) need(a.value);
  const site = { name: fn.name, span, callee: callee.span };
  if (!leading && leavesOutTensor(fn, positional, named))
    return partial(ctx, fn, positional, named, site);
  return apply(ctx, fn, positional, named, site);
}

interface ParamInfo {
  name: string;
  optional: boolean;
  /** Only for blocks: whether it takes a tensor or a compile-time value (intrinsics do not say). */
  tensor?: boolean;
}

/**
 * The parameters of an intrinsic that a partial application may leave out:
 * its first one, when it is the tensor it works on (`sum(x, ...)`,
 * `where(cond, ...)`), not a shape or a list (`zeros(shape)`, `concat(xs)`).
 */
const INTRINSIC_TENSOR_PARAMS = new Set(["x", "a", "cond", "labels"]);

function paramsOf(fn: Callable): ParamInfo[] {
  switch (fn.kind) {
    case "block":
      return fn.decl.params.map((p) => ({
        name: p.name.name,
        optional: p.default !== null,
        tensor: p.type.kind === "TensorType",
      }));
    case "intrinsic":
      return fn.params.map((p) => ({ name: p.name, optional: p.optional === true }));
    case "partial":
      return paramsOf(fn.base);
    case "shared":
      return paramsOf(fn.fn);
  }
}

/** The tensor a partial application leaves out: the first parameter, when it is a tensor without a default. */
function tensorParam(fn: Callable): string | null {
  if (fn.kind === "partial") return tensorParam(fn.base);
  if (fn.kind === "shared") return tensorParam(fn.fn);
  const first = paramsOf(fn)[0];
  if (!first || first.optional) return null;
  if (fn.kind === "intrinsic") return INTRINSIC_TENSOR_PARAMS.has(first.name) ? first.name : null;
  return first.tensor === true ? first.name : null;
}

/**
 * Whether a call (not a pipe's) leaves out the callee's tensor, making a
 * function value: the tensor is not named, and the positional arguments are
 * one fewer than the parameters it needs, so they bind from the second one
 * on. `dense(10)` is a function (`units` = 10); `dense(x, 10)` a call. A
 * tensor given where the second parameter takes a compile-time value
 * (`dense(x)`) is a call missing `units`. A function value called with no
 * positional argument (`encode(act: relu)`) is a function again.
 */
function leavesOutTensor(fn: Callable, positional: Arg[], named: Map<string, Arg>): boolean {
  const t = tensorParam(fn);
  if (t === null || named.has(t)) return false;
  if (fn.kind === "shared") return leavesOutTensor(fn.fn, positional, named);
  if (fn.kind === "partial") return positional.length === 0;
  const params = paramsOf(fn);
  const required = params.filter((p) => !p.optional && !named.has(p.name));
  if (positional.length !== required.length - 1) return false;
  const first = positional[0];
  return !(first && first.value.kind === "tensor" && params[1]?.tensor === false);
}

/** The source text of a call, for a function value's hover (`leaky_relu(alpha: 0.2)`). */
function callText(ctx: Ctx, fn: Callable, span: Span): string {
  const text = ctx.s.sources.get(ctx.file)?.slice(span.start, span.end) ?? "";
  return text.length > 0 && text.length <= 80 && !text.includes("\n") ? text : `${fn.name}(…)`;
}

/**
 * A call that leaves out its tensor: the arguments are checked now (where
 * they are written), and the call happens when the value is applied.
 */
function partial(
  ctx: Ctx,
  fn: Callable,
  positional: Arg[],
  named: Map<string, Arg & { nameSpan?: Span }>,
  site: CallSite,
): Value {
  if (fn.kind === "partial") {
    const merged = mergeNamed(ctx, fn, fn.named, named);
    return { kind: "fn", fn: { ...fn, named: merged, text: callText(ctx, fn, site.span) } };
  }
  if (fn.kind === "block" || fn.kind === "intrinsic") {
    const args = bindArgs(ctx, fn, positional, named, site, 1);
    if (fn.kind === "block") checkBoundArgs(ctx, fn, args);
  }
  const text = callText(ctx, fn, site.span);
  return {
    kind: "fn",
    fn: { kind: "partial", name: fn.name, base: fn, bound: positional, named, text },
  };
}

function mergeNamed(
  ctx: Ctx,
  fn: Callable,
  a: Map<string, Arg & { nameSpan?: Span }>,
  b: Map<string, Arg & { nameSpan?: Span }>,
): Map<string, Arg & { nameSpan?: Span }> {
  const out = new Map(a);
  for (const [name, arg] of b) {
    if (out.has(name))
      fail(
        ctx,
        "E2004",
        `argument \`${name}\` of \`${fnText(fn)}\` is already given`,
        arg.nameSpan ?? arg.span,
      );
    out.set(name, arg);
  }
  return out;
}

/** `dense(x: [..., n], units: int, bias: bool = true)`, for notes. */
export function signatureText(ctx: Ctx, fn: Callable): string {
  switch (fn.kind) {
    case "intrinsic":
      return fn.sig;
    case "block": {
      const src = ctx.s.sources.get(fn.file) ?? "";
      return `${fn.name}(${fn.decl.params.map((p) => src.slice(p.span.start, p.span.end)).join(", ")})`;
    }
    case "partial":
      return signatureText(ctx, fn.base);
    case "shared":
      return signatureText(ctx, fn.fn);
  }
}

/**
 * Match positional and named arguments to a function's parameters; the
 * positional ones from parameter `from` on (1 for a partial application,
 * whose tensor comes later, and which is not missing then).
 */
function bindArgs(
  ctx: Ctx,
  fn: BlockFn | IntrinsicFn,
  positional: Arg[],
  named: Map<string, Arg & { nameSpan?: Span }>,
  site: CallSite,
  from = 0,
): Map<string, Arg> {
  const params = paramsOf(fn);
  const sig = { notes: [`the signature is \`${signatureText(ctx, fn)}\``] };
  const out = new Map<string, Arg>();
  positional.forEach((a, i) => {
    const p = params[i + from];
    if (!p)
      fail(
        ctx,
        "E2004",
        `\`${fn.name}\` takes ${params.length} argument${params.length === 1 ? "" : "s"}, but ${positional.length + from} were given`,
        a.span,
        sig,
      );
    out.set(p.name, a);
  });
  for (const [name, a] of named) {
    if (!params.some((p) => p.name === name))
      fail(ctx, "E2004", `\`${fn.name}\` has no argument named \`${name}\``, a.nameSpan ?? a.span, {
        ...sig,
        help: didYouMean(
          name,
          params.map((p) => p.name),
        ),
      });
    if (out.has(name))
      fail(
        ctx,
        "E2004",
        `argument \`${name}\` of \`${fn.name}\` is given twice`,
        a.nameSpan ?? a.span,
        sig,
      );
    out.set(name, a);
  }
  const missing = params
    .filter((p, i) => !p.optional && !out.has(p.name) && i >= from)
    .map((p) => `\`${p.name}\``);
  if (missing.length > 0)
    fail(
      ctx,
      "E2004",
      `missing argument${missing.length > 1 ? "s" : ""} ${missing.join(", ")} in the call to \`${fn.name}\``,
      site.span,
      sig,
    );
  return out;
}

export function apply(
  ctx: Ctx,
  fn: Callable,
  positional: Arg[],
  named: Map<string, Arg & { nameSpan?: Span }>,
  site: CallSite,
): Value {
  switch (fn.kind) {
    case "partial": {
      // The tensor comes first, positionally or by name; the bound arguments follow it.
      const all = mergeNamed(ctx, fn, fn.named, named);
      const [tensor, ...rest] = positional;
      if (tensor) return apply(ctx, fn.base, [tensor, ...fn.bound, ...rest], all, site);
      if (fn.base.kind === "block" || fn.base.kind === "intrinsic")
        return call(ctx, fn.base, bindArgs(ctx, fn.base, fn.bound, all, site, 1), site);
      return apply(ctx, fn.base, fn.bound, all, site);
    }
    case "shared":
      if (leavesOutTensor(fn, positional, named)) return partial(ctx, fn, positional, named, site);
      return apply(ctx, fn.fn, positional, named, { ...site, path: fn.path, shared: fn });
    case "block":
    case "intrinsic":
      return call(ctx, fn, bindArgs(ctx, fn, positional, named, site), site);
  }
}

function call(ctx: Ctx, fn: BlockFn | IntrinsicFn, args: Map<string, Arg>, site: CallSite): Value {
  if (fn.kind === "block") return callBlock(ctx, fn, args, site);
  const v = fn.impl(ctx, args, site);
  const text = site.callee && valueText(v);
  if (text) ctx.s.type(ctx.file, site.callee!, `→ ${text}`);
  return v;
}

/**
 * Apply a function value to positional arguments, its tensor first (for
 * intrinsics written in TypeScript that take a function: `repeat`). A shared
 * binding reuses its params; any other function makes fresh ones per call.
 */
export function applyFn(ctx: Ctx, f: Value, args: Arg[], site: CallSite): Value {
  f = need(f);
  if (f.kind !== "fn")
    fail(ctx, "E2007", `expected a function, but this is ${describe(f)}`, site.span);
  return apply(ctx, f.fn, args, new Map(), site);
}

// ---------------------------------------------------------------- indexing

function indexExpr(ctx: Ctx, e: ast.IndexExpr): Value {
  const target = need(evalExpr(ctx, e.target));
  if (target.kind === "list") {
    const [i, ...rest] = e.indices;
    if (!i || rest.length > 0 || i.kind === "Slice")
      fail(ctx, "E2007", "a list takes exactly one integer index", e.span);
    const k = staticInt(ctx, evalExpr(ctx, i), i.span, "a list index");
    const n = target.items.length;
    const item = target.items[k < 0 ? k + n : k];
    if (!item) fail(ctx, "E3011", `index ${k} is out of range for a list of ${n}`, i.span);
    return item;
  }
  if (target.kind !== "tensor")
    fail(ctx, "E2007", `cannot index ${describe(target)}`, e.target.span);
  return indexTensor(ctx, target.v, e);
}

export function staticInt(ctx: Ctx, v: Value, span: Span, what: string): number {
  v = need(v);
  if (v.kind === "int") return v.value;
  if (v.kind === "dim") {
    const c = dimAsConst(v.dim);
    if (c !== null) return c;
  }
  checkExactDivision(ctx, v, span);
  fail(ctx, "E2007", `${what} must be a compile-time integer, but it is ${describe(v)}`, span);
}

function indexDim(ctx: Ctx, v: Value, span: Span): Dim {
  v = need(v);
  if (v.kind === "int") return dimConst(v.value);
  if (v.kind === "dim") return v.dim;
  fail(ctx, "E2007", `an index must be an integer or a dimension, but it is ${describe(v)}`, span);
}

/** `x[i, :, 1:3]`: a strided slice, then a gather for a tensor index, then a reshape dropping integer-indexed axes. */
function indexTensor(ctx: Ctx, x: Var, e: ast.IndexExpr): Value {
  const shape = x.type.shape;
  if (e.indices.length > shape.length)
    fail(
      ctx,
      "E3011",
      `too many indices: the tensor is ${shapeToString(shape)}, rank ${shape.length}`,
      e.span,
    );
  const start: Dim[] = [];
  const stop: Dim[] = [];
  const step: number[] = [];
  /** Per axis of the sliced tensor: dropped (integer index), gathered, or kept. */
  const role: ("drop" | "gather" | "keep")[] = [];
  let gather: { axis: number; idx: Var } | null = null;
  let sliced = false;
  // A negative position counts from the end, as in numpy.
  const position = (d: Dim, size: Dim): Dim => {
    const c = dimAsConst(d);
    return c !== null && c < 0 ? dimAdd(size, d) : d;
  };
  shape.forEach((size, axis) => {
    const ix = e.indices[axis];
    const sc = dimAsConst(size);
    if (!ix) {
      start.push(dimConst(0));
      stop.push(size);
      step.push(1);
      role.push("keep");
      return;
    }
    if (ix.kind === "Slice") {
      const lo = ix.start
        ? position(indexDim(ctx, evalExpr(ctx, ix.start), ix.start.span), size)
        : dimConst(0);
      let hi = ix.end ? position(indexDim(ctx, evalExpr(ctx, ix.end), ix.end.span), size) : size;
      const st = ix.step ? staticInt(ctx, evalExpr(ctx, ix.step), ix.step.span, "a slice step") : 1;
      if (st < 1)
        fail(ctx, "E3011", `slice step must be positive, got ${st}`, ix.step?.span ?? ix.span);
      // Like numpy, a stop past a known end clamps to the end.
      const hc = dimAsConst(hi);
      if (sc !== null && hc !== null && hc > sc) hi = size;
      const lc = dimAsConst(lo);
      if ((lc !== null && lc < 0) || (sc !== null && lc !== null && lc >= sc))
        fail(ctx, "E3011", `slice start is out of range for axis ${axis} of size ${sc}`, ix.span);
      const len = dimAsConst(dimSub(hi, lo));
      if (len !== null && len <= 0)
        fail(
          ctx,
          "E3011",
          `this slice of axis ${axis} (size ${shapeToString([size]).slice(1, -1)}) is empty`,
          ix.span,
        );
      // What only the run-time dims decide is checked when they are bound.
      const sizeText = dimToString(size);
      const bound = (d: Dim, min: number, says: (v: number) => string) =>
        requireAtLeast(
          ctx,
          d,
          min,
          (v) => fail(ctx, "E3011", says(v), ix.span),
          () => `for ${sourceRef(ctx, e.span)}`,
        );
      bound(lo, 0, (v) => `slice start ${v} is before the start of axis ${axis}`);
      bound(
        dimSub(size, hi),
        0,
        () => `this slice ends past the end of axis ${axis} (size ${sizeText})`,
      );
      bound(dimSub(hi, lo), 1, () => `this slice of axis ${axis} (size ${sizeText}) is empty`);
      start.push(lo);
      stop.push(hi);
      step.push(st);
      role.push("keep");
      if (!(lc === 0 && st === 1 && dimAsConst(dimSub(hi, size)) === 0)) sliced = true;
      return;
    }
    const v = need(evalExpr(ctx, ix));
    if (v.kind === "tensor") {
      if (gather) fail(ctx, "E2007", "only one tensor index is supported in one indexing", ix.span);
      if (v.v.type.dtype !== "i32")
        fail(ctx, "E3008", `a tensor index must be int, but it is ${v.v.type.dtype}`, ix.span);
      gather = { axis, idx: v.v };
      start.push(dimConst(0));
      stop.push(size);
      step.push(1);
      role.push("gather");
      return;
    }
    const i = position(indexDim(ctx, v, ix.span), size);
    const ic = dimAsConst(i);
    if (ic !== null && (ic < 0 || (sc !== null && ic >= sc))) {
      const written = v.kind === "int" ? v.value : ic;
      fail(
        ctx,
        "E3011",
        `index ${written} is out of range for axis ${axis} of size ${sc}`,
        ix.span,
      );
    }
    const outOfRange = () =>
      fail(
        ctx,
        "E3011",
        `index ${dimToString(i)} is out of range for axis ${axis} of size ${dimToString(size)}`,
        ix.span,
      );
    const why = () => `for ${sourceRef(ctx, e.span)}`;
    requireAtLeast(ctx, i, 0, outOfRange, why);
    requireAtLeast(ctx, dimSub(size, i), 1, outOfRange, why);
    start.push(i);
    stop.push(dimAdd(i, dimConst(1)));
    step.push(1);
    role.push("drop");
    sliced = true;
  });
  let y = x;
  if (sliced) y = emit(ctx, "slice", { start, stop, step }, [y], e.span, [e.target.span]);
  const g = gather as { axis: number; idx: Var } | null;
  if (g) y = emit(ctx, "gather", { axis: g.axis }, [y, g.idx], e.span);
  // The gather already replaced its axis by the index's dims; drop the integer-indexed axes.
  const kept: Dim[] = [];
  let k = 0;
  role.forEach((r) => {
    if (r === "gather") {
      const n = g!.idx.type.shape.length;
      kept.push(...y.type.shape.slice(k, k + n));
      k += n;
      return;
    }
    if (r === "keep") kept.push(y.type.shape[k]!);
    k++;
  });
  if (kept.length !== y.type.shape.length) y = reshapeVar(ctx, y, kept, e.span);
  return tensor(ctx, y);
}
