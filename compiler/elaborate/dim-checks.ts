// Facts about dimensions the elaborator must establish: every axis of every
// tensor has at least one element, indices and slices stay inside their
// axis, and dimension arithmetic stays within the integers a double holds
// exactly. A fact about known sizes is checked here and reported at the
// span; one about run-time dims that it cannot prove (`x[3]` on `[B]`)
// becomes a `DimCheck` the runtime tests when it binds the dims.

import type { Span } from "../../grammar/index.ts";
import { positionAt } from "../diagnostics.ts";
import {
  dimAsConst,
  dimConst,
  dimKey,
  dimMin,
  dimMul,
  DimOverflow,
  dimSub,
  dimToString,
  dimVar,
  dimVars,
  numElements,
  shapeAsConst,
  shapeToString,
  type Dim,
} from "../dims.ts";
import type { DimCheck, TensorType } from "../ir.ts";
import { fail, type Ctx } from "./context.ts";
import { typeText } from "./values.ts";

/** E3014 at `span`: an integer left the ones a double counts exactly. */
export function failOverflow(ctx: Ctx, message: string, span: Span): never {
  fail(ctx, "E3014", message, span, {
    notes: [
      `a size must stay below 2^53 (${Number.MAX_SAFE_INTEGER}), the largest integer counted exactly`,
    ],
  });
}

/** Run dimension arithmetic; an overflow becomes E3014 at `span`. */
export function dimArith<T>(ctx: Ctx, span: Span, what: () => string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof DimOverflow)) throw e;
    failOverflow(ctx, `dimension arithmetic overflows in ${what()}`, span);
  }
}

/**
 * An int value, finite and exact, or E3014. `text` is how the source wrote
 * it, `what` what it is ("dimension" where a size is expected).
 */
export function checkSafeInt(
  ctx: Ctx,
  n: number,
  span: Span,
  text = String(n),
  what = "dimension",
): void {
  if (Math.abs(n) > Number.MAX_SAFE_INTEGER)
    failOverflow(ctx, `the ${what} ${text} is too large`, span);
}

/**
 * Where a user can act on a fact: the span itself, or, inside a std block,
 * the user's call of it (std's own lines are not theirs to fix).
 */
function userSite(ctx: Ctx, span: Span): { file: string; span: Span } {
  let site = { file: ctx.file, span };
  for (let i = ctx.stack.length - 1; i >= 0 && ctx.s.stdFiles.has(site.file); i--) {
    const f = ctx.stack[i]!;
    site = { file: f.siteFile, span: f.site };
  }
  return site;
}

/**
 * `` `x[3]` at m.dlg:4:17 ``: the source text and position of a span, for
 * run-time messages (without the text when `quote` is false).
 */
export function sourceRef(ctx: Ctx, span: Span, quote = true): string {
  const site = userSite(ctx, span);
  const text = ctx.s.sources.get(site.file) ?? "";
  const { line, col } = positionAt(text, site.span.start);
  const src = quote ? text.slice(site.span.start, site.span.end).replace(/\s+/g, " ") : "";
  const shown = src.length > 40 ? `${src.slice(0, 37)}...` : src;
  return `${shown ? `\`${shown}\` ` : ""}at ${site.file}:${line}:${col}`;
}

/** "B must be at least 4" for `B - 3 >= 1`; the dim's text when it is not one name plus a number. */
function atLeastText(d: Dim, min: number): string {
  const [v] = dimVars(d);
  const offset = v === undefined ? null : dimAsConst(dimSub(d, dimVar(v)));
  return v !== undefined && offset !== null
    ? `${v} must be at least ${min - offset}`
    : `${dimToString(d)} must be at least ${min}`;
}

/** The conditions each model already checks, by `dimKey|min|max`. */
const checked = new WeakMap<object, Set<string>>();

/**
 * Record a run-time check once per condition (the first, most specific
 * message wins). The message is only written for a new condition: most
 * tensors repeat one (every `[B, ...]` checks its bytes), and writing it
 * means finding a line and column in the source.
 */
function addCheck(ctx: Ctx, check: Omit<DimCheck, "message">, message: () => string): void {
  const m = ctx.m;
  if (!m) return;
  const key = `${dimKey(check.dim)}|${check.min}|${check.max}`;
  let keys = checked.get(m);
  if (!keys) checked.set(m, (keys = new Set()));
  if (keys.has(key)) return;
  keys.add(key);
  m.checks.push({ ...check, message: message() });
}

/**
 * Require `d >= min`: an error now when `d` is known and smaller, nothing
 * when it is proved, else a run-time check whose message `why` completes
 * ("for `x[3]` at m.dlg:4:17").
 */
export function requireAtLeast(
  ctx: Ctx,
  d: Dim,
  min: number,
  onKnown: (value: number) => never,
  why: () => string,
): void {
  const c = dimAsConst(d);
  if (c !== null) {
    if (c < min) onKnown(c);
    return;
  }
  if (dimMin(d) >= min) return;
  addCheck(ctx, { dim: d, min }, () => `${atLeastText(d, min)} ${why()}`);
}

const axisWord = (shape: readonly Dim[], axis: number) =>
  shape.length === 1 ? "its size" : `axis ${axis}`;

/**
 * Every axis of a tensor has at least one element: a zero or negative size
 * is E3013 at `span`; a size that depends on run-time dims and may be
 * smaller is checked when they are bound.
 */
export function checkShape(
  ctx: Ctx,
  shape: readonly Dim[],
  span: Span,
  what: string,
  axisSpans: readonly Span[] = [],
): void {
  shape.forEach((d, axis) =>
    requireAtLeast(
      ctx,
      d,
      1,
      (value) =>
        fail(
          ctx,
          "E3013",
          `${what} would be ${shapeToString(shape)}: ${axisWord(shape, axis)} is ${value}, but every dimension must be at least 1`,
          axisSpans[axis] ?? span,
          { notes: ["a tensor cannot have an empty or negative axis"] },
        ),
      () => `(${axisWord(shape, axis)} of ${what} ${sourceRef(ctx, span)})`,
    ),
  );
}

// ---------------------------------------------------------------- sizes

/** Every element type is stored in 4 bytes (f32 in Float32Array, i32 and bool in Int32Array). */
const ELEMENT_BYTES = 4;

/** The fewest bytes a tensor of `shape` can take (named dims at least 1). */
export function minBytes(shape: readonly Dim[]): number {
  return shape.reduce((p, d) => p * Math.max(1, dimMin(d)), ELEMENT_BYTES);
}

/** The exact bytes of `shape` as a dim; only called once minBytes is within a safe limit. */
export function bytesDim(shape: readonly Dim[]): Dim {
  return dimMul(numElements(shape), dimConst(ELEMENT_BYTES));
}

const byteUnits: readonly (readonly [string, number])[] = [
  ["PiB", 2 ** 50],
  ["TiB", 2 ** 40],
  ["GiB", 2 ** 30],
];

/** `40000000000000 bytes (36.4 TiB)`; past 2^53 the count is no longer exact, so it is rounded. */
export function bytesText(n: number): string {
  const count = Number.isSafeInteger(n) ? String(n) : `about ${n.toPrecision(3)}`;
  const unit = byteUnits.find(([, size]) => n >= size);
  if (!unit) return `${count} bytes`;
  const scaled = n / unit[1];
  return `${count} bytes (${scaled >= 1e4 ? scaled.toPrecision(3) : scaled.toFixed(1)} ${unit[0]})`;
}

const limitHelp = (flag: string, option: string) =>
  `raise the limit with \`${flag}\` (\`${option}\` in CompileOptions), or make it smaller`;

/**
 * A tensor must fit the byte limit: E3015 at `span` when even its smallest
 * possible size does not, a run-time check when its size depends on dims and
 * the runtime allocates it. `runtime` names it in that check ("" for a value
 * of an expression, null for none: an input arrives allocated).
 */
export function checkBytes(
  ctx: Ctx,
  type: TensorType,
  span: Span,
  what: string,
  runtime: string | null,
): void {
  const max = ctx.s.limits.maxTensorBytes;
  const least = minBytes(type.shape);
  // Printed only for a message: this runs for every tensor an expression makes.
  if (least > max)
    fail(
      ctx,
      "E3015",
      `${what} is ${typeText(type)}, ${shapeAsConst(type.shape) ? "" : "at least "}${bytesText(least)}, more than the limit of ${bytesText(max)}`,
      span,
      { help: limitHelp("--max-tensor-bytes", "maxTensorBytes") },
    );
  if (shapeAsConst(type.shape) || runtime === null) return;
  addCheck(
    ctx,
    { dim: bytesDim(type.shape), min: 0, max, unit: "bytes" },
    // An inline arrow, not a named local: tsx names those with a defineProperty per call.
    () =>
      `${runtime ? `${runtime} (${typeText(type)}, ${sourceRef(ctx, span, false)})` : `the ${typeText(type)} tensor ${sourceRef(ctx, span)}`} may take at most ${max} bytes (the limit set by --max-tensor-bytes)`,
  );
}
