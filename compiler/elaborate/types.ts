// Type expressions: dimension expressions evaluate to symbolic `Dim`s,
// tensor types to dtype + shape, and block signatures unify against actual
// argument shapes, binding dimension names (`[..., n]` binds `...` and `n`).

import type { Expr, Span, TensorTypeExpr, TypeExpr } from "../../grammar/index.ts";
import { dimConst, dimEq, dimToString, shapeToString, type Dim } from "../dims.ts";
import type { DType, TensorType } from "../ir.ts";
import { fail, Poisoned, type Ctx, type ScopeEntry } from "./context.ts";
import { checkBytes, checkSafeInt, checkShape } from "./dim-checks.ts";
import { didYouMean } from "./suggest.ts";
import { binaryOp, checkExactDivision, negate, need } from "./tensor-ops.ts";
import { describe, dimValue, hoverText, namesItself, type Value } from "./values.ts";

/** The key under which a block call stores what its signature's `...` matched. */
export const ELLIPSIS = "...";

export function dtypeOf(t: TensorTypeExpr): DType {
  return t.dtype === "int" || t.dtype === "i32" ? "i32" : t.dtype === "bool" ? "bool" : "f32";
}

/** Resolve a scope entry (dynamic ones like `params` are computed per use). */
export function entryValue(ctx: Ctx, e: ScopeEntry, span: Span): Value {
  return typeof e.value === "function" ? e.value(ctx, span) : e.value;
}

function isDimLike(e: ScopeEntry): boolean {
  if (typeof e.value === "function") return false;
  return e.value.kind === "dim" || e.value.kind === "int";
}

/** Names that could be meant where a dimension is expected. */
export function dimNames(ctx: Ctx): string[] {
  const out: string[] = [];
  for (const [k, e] of ctx.scope.entries()) if (k !== ELLIPSIS && isDimLike(e)) out.push(k);
  return out;
}

function valueAsDim(ctx: Ctx, v: Value, span: Span, what: string): Dim {
  if (v.kind === "dim") return v.dim;
  if (v.kind === "int" || v.kind === "float") {
    checkSafeInt(ctx, v.value, span);
    if (Number.isInteger(v.value)) return dimConst(v.value);
  }
  if (v.kind === "poison") throw new Poisoned();
  checkExactDivision(ctx, v, span);
  fail(
    ctx,
    "E2007",
    `${what} must be a dimension (an integer or a named dim), but it is ${describe(v)}`,
    span,
  );
}

/** A dimension expression: integers, consts, dims and `+ - * / div mod ^`. */
export function evalDim(ctx: Ctx, e: Expr): Dim {
  const d = dimOf(ctx, e);
  // Hover on a dim in a type (`[n, units]`) shows what this call made of it.
  const text = dimToString(d);
  if (e.kind !== "Number" && !(e.kind === "Name" && e.name === text))
    ctx.s.type(ctx.file, e.span, `dim = ${text}`);
  return d;
}

function dimOf(ctx: Ctx, e: Expr): Dim {
  switch (e.kind) {
    case "Number":
      if (!e.isInt) fail(ctx, "E2007", `a dimension must be an integer, not ${e.raw}`, e.span);
      checkSafeInt(ctx, e.value, e.span, e.raw);
      return dimConst(e.value);
    case "Name": {
      const entry = ctx.scope.lookup(e.name);
      if (!entry)
        fail(ctx, "E2002", `unknown dimension \`${e.name}\``, e.span, {
          help: didYouMean(e.name, dimNames(ctx)),
          notes: [
            "a dimension must be a declared `dim`, a `const`, a block argument, or a name bound by a block's signature",
          ],
        });
      return valueAsDim(ctx, need(entryValue(ctx, entry, e.span)), e.span, `\`${e.name}\``);
    }
    case "Binary": {
      if (e.op === "@") break;
      const l = { value: dimValue(evalDim(ctx, e.left)), span: e.left.span };
      const r = { value: dimValue(evalDim(ctx, e.right)), span: e.right.span };
      return valueAsDim(ctx, binaryOp(ctx, e.op, l, r, e.span), e.span, "this");
    }
    case "Unary":
      return valueAsDim(
        ctx,
        negate(ctx, { value: dimValue(evalDim(ctx, e.operand)), span: e.operand.span }, e.span),
        e.span,
        "this",
      );
    default:
      break;
  }
  fail(ctx, "E2007", "expected a dimension expression here", e.span, {
    notes: ["dimensions are built from integers, consts and dims with `+ - * / div mod`"],
  });
}

/**
 * A concrete tensor type (model inputs, params): `...` is not allowed here,
 * no axis may be empty, and the size must fit the byte limit (`allocated`:
 * the runtime allocates it, so a size that depends on dims is checked then).
 */
export function evalTensorType(
  ctx: Ctx,
  t: TensorTypeExpr,
  what: string,
  allocated: boolean,
): TensorType {
  const shape = t.dims.map((d) => {
    if (d.kind === "Ellipsis")
      fail(ctx, "E2007", `\`...\` cannot appear in the shape of ${what}`, d.span, {
        notes: ["`...` stands for any leading dimensions, so it only fits block signatures"],
      });
    return evalDim(ctx, d);
  });
  checkShape(
    ctx,
    shape,
    t.span,
    what,
    t.dims.map((d) => d.span),
  );
  const type = { dtype: dtypeOf(t), shape };
  checkBytes(ctx, type, t.span, what, allocated ? what : null);
  return type;
}

/** The declared type with every name resolved in the callee's scope (after its body ran). */
export function resolvePattern(ctx: Ctx, t: TensorTypeExpr): TensorType {
  const shape: Dim[] = [];
  for (const d of t.dims) {
    if (d.kind !== "Ellipsis") {
      shape.push(evalDim(ctx, d));
      continue;
    }
    const e = ctx.scope.lookup(ELLIPSIS);
    const v = e && entryValue(ctx, e, d.span);
    if (!v || v.kind !== "list")
      fail(ctx, "E2002", "`...` in the result type is not bound by any argument", d.span, {
        help: "give a tensor argument a type with `...`, like `x: [..., n]`",
      });
    for (const item of v.items) if (item.kind === "dim") shape.push(item.dim);
  }
  return { dtype: dtypeOf(t), shape };
}

export function typeExprText(ctx: Ctx, t: TypeExpr): string {
  const src = ctx.s.sources.get(ctx.file);
  return src ? src.slice(t.span.start, t.span.end) : t.kind === "ScalarType" ? t.name : "tensor";
}

/** One argument being unified against its declared type. */
export interface Binding {
  /** Caller context: mismatches are the caller's mistake and are reported there. */
  caller: Ctx;
  /** Callee context: its scope receives the bound names. */
  callee: Ctx;
  block: string;
  arg: string;
  argSpan: Span;
  pattern: TensorTypeExpr;
  shape: Dim[];
  callSpan: Span;
}

function conflict(
  b: Binding,
  name: string,
  entry: ScopeEntry,
  expected: string,
  actual: Dim,
): never {
  const shape = shapeToString(b.shape);
  const here = `this is ${shape}, so \`${name}\` = ${dimToString(actual)}`;
  if (entry.origin && entry.origin.arg !== b.arg)
    fail(
      b.caller,
      "E3010",
      `the arguments of \`${b.block}\` disagree on dimension \`${name}\``,
      b.callSpan,
      {
        labels: [
          {
            span: entry.origin.span,
            message: `this is ${entry.origin.shape}, so \`${name}\` = ${expected}`,
          },
          { span: b.argSpan, message: here },
        ],
        notes: [`\`${b.block}\` expects \`${b.arg}\` to be ${typeExprText(b.callee, b.pattern)}`],
      },
    );
  fail(b.caller, "E3010", `\`${b.arg}\` of \`${b.block}\` has the wrong shape`, b.argSpan, {
    notes: [
      `\`${b.block}\` expects \`${b.arg}\` to be ${typeExprText(b.callee, b.pattern)} with \`${name}\` = ${expected}, but it is ${shape}`,
    ],
  });
}

/**
 * Match an argument's shape against its declared pattern, binding new names
 * in the callee's scope and checking names already bound. `...` matches any
 * run of leading dims; all `...` in one signature must match the same dims.
 */
export function unifyShape(b: Binding): void {
  const { callee, pattern, shape } = b;
  const dims = pattern.dims;
  const ell = dims.findIndex((d) => d.kind === "Ellipsis");
  const pre = ell < 0 ? dims.length : ell;
  const post = ell < 0 ? 0 : dims.length - ell - 1;
  const rankOk = ell < 0 ? shape.length === dims.length : shape.length >= pre + post;
  if (!rankOk) {
    const want = ell < 0 ? `rank ${dims.length}` : `rank ${pre + post} or more`;
    fail(b.caller, "E3003", `\`${b.arg}\` of \`${b.block}\` must have ${want}`, b.argSpan, {
      labels: [{ span: b.argSpan, message: `this is ${shapeToString(shape)}` }],
      notes: [`\`${b.block}\` expects \`${b.arg}\` to be ${typeExprText(callee, pattern)}`],
    });
  }
  const origin = { arg: b.arg, span: b.argSpan, shape: shapeToString(shape) };
  const match = (e: Expr, actual: Dim) => {
    if (e.kind === "Name") {
      const entry = callee.scope.lookup(e.name);
      if (!entry) {
        callee.scope.define(e.name, {
          value: dimValue(actual),
          span: e.span,
          file: callee.file,
          origin,
        });
        if (!namesItself(e.name, dimValue(actual)))
          callee.s.type(callee.file, e.span, hoverText(e.name, dimValue(actual)));
        return;
      }
      const v = need(entryValue(callee, entry, e.span));
      const have = v.kind === "dim" ? v.dim : v.kind === "int" ? dimConst(v.value) : null;
      if (have === null) evalDim(callee, e); // reports what kind of value it is
      if (!dimEq(have!, actual)) conflict(b, e.name, entry, dimToString(have!), actual);
      return;
    }
    const want = evalDim(callee, e);
    if (!dimEq(want, actual)) {
      const text = callee.s.sources.get(callee.file)?.slice(e.span.start, e.span.end) ?? "?";
      conflict(b, text, {} as ScopeEntry, dimToString(want), actual);
    }
  };
  for (let i = 0; i < pre; i++) match(dims[i] as Expr, shape[i]!);
  for (let i = 0; i < post; i++)
    match(dims[dims.length - post + i] as Expr, shape[shape.length - post + i]!);
  if (ell >= 0) {
    const lead = shape.slice(pre, shape.length - post);
    const prev = callee.scope.own(ELLIPSIS);
    if (!prev) {
      callee.scope.define(ELLIPSIS, { value: { kind: "list", items: lead.map(dimValue) }, origin });
      return;
    }
    const pv = prev.value as Value;
    const have =
      pv.kind === "list" ? pv.items.map((x) => (x.kind === "dim" ? x.dim : dimConst(0))) : [];
    const same = have.length === lead.length && have.every((d, i) => dimEq(d, lead[i]!));
    if (!same)
      fail(
        b.caller,
        "E3010",
        `the arguments of \`${b.block}\` disagree on the leading dimensions \`...\``,
        b.callSpan,
        {
          labels: [
            {
              span: prev.origin!.span,
              message: `this is ${prev.origin!.shape}, so \`...\` = ${shapeToString(have)}`,
            },
            {
              span: b.argSpan,
              message: `this is ${shapeToString(shape)}, so \`...\` = ${shapeToString(lead)}`,
            },
          ],
          notes: ["every `...` in one signature stands for the same dimensions"],
        },
      );
  }
}
