// Block calls: every call site inlines the block's body into the current
// graph, with a fresh scope for its arguments and the dims its signature
// binds, and a fresh param path (`dense_1.`, `attend_1.dense_3.`).

import type * as ast from "../../grammar/index.ts";
import { printType } from "../../grammar/index.ts";
import { dimAsConst, dimConst, dimToString, dimVar, shapeEq, shapeToString } from "../dims.ts";
import { diag, positionAt } from "../diagnostics.ts";
import { ElabError, fail, Poisoned, Scope, Session, type Ctx } from "./context.ts";
import { evalExpr, valueText } from "./expr.ts";
import { blockParam } from "./sharing.ts";
import { execState, execUpdate } from "./state.ts";
import { execAssign, guarded } from "./stmts.ts";
import { cast, checkExactDivision, need, tensor, toVar } from "./tensor-ops.ts";
import { dtypeOf, evalDim, resolvePattern, typeExprText, unifyShape } from "./types.ts";
import {
  describe,
  hoverText,
  typeText,
  type Arg,
  type BlockFn,
  type CallSite,
  type IntrinsicFn,
  type Value,
} from "./values.ts";

/** A scalar argument as its declared kind (`int`, `float`, `bool`, `dim`). */
function scalarArg(
  ctx: Ctx,
  fn: BlockFn,
  p: ast.BlockParam,
  kind: ast.ScalarTypeName,
  a: Arg,
): Value {
  const v = need(a.value);
  const c = v.kind === "dim" ? dimAsConst(v.dim) : null;
  const wrong = (extra: string[] = []): never => {
    checkExactDivision(ctx, v, a.span);
    return fail(
      ctx,
      "E2007",
      `\`${p.name.name}\` of \`${fn.name}\` must be ${kind === "int" ? "an int" : `a ${kind}`}, but it is ${describe(v)}`,
      a.span,
      {
        notes: extra,
      },
    );
  };
  switch (kind) {
    case "int":
      if (v.kind === "int") return v;
      if (c !== null) return { kind: "int", value: c };
      return wrong(v.kind === "dim" ? ["this dimension is only known at run time"] : []);
    case "float":
      if (v.kind === "float") return v;
      if (v.kind === "int") return { kind: "float", value: v.value };
      if (c !== null) return { kind: "float", value: c };
      return wrong();
    case "bool":
      return v.kind === "bool" ? v : wrong();
    case "dim":
      if (v.kind === "dim") return v;
      if (v.kind === "int") return { kind: "dim", dim: dimConst(v.value) };
      return wrong();
    case "fn":
      if (v.kind === "fn") return v;
      return fail(
        ctx,
        "E2007",
        `\`${p.name.name}\` of \`${fn.name}\` must be a function, but it is ${describe(v)}`,
        a.span,
        {
          help:
            v.kind === "tensor"
              ? "pass the function itself (`relu`, `leaky_relu(alpha: 0.1)`), not its result on a tensor"
              : undefined,
        },
      );
  }
}

/**
 * The arguments a partial application binds (`tower(64, act: relu)`),
 * checked where they are written: each against its parameter's kind.
 */
export function checkBoundArgs(ctx: Ctx, fn: BlockFn, args: Map<string, Arg>): void {
  for (const p of fn.decl.params) {
    const a = args.get(p.name.name);
    if (!a) continue;
    if (p.type.kind === "ScalarType") scalarArg(ctx, fn, p, p.type.name, a);
    else if (a.value.kind === "fn") fnForTensor(ctx, fn, p, a);
  }
}

function fnForTensor(ctx: Ctx, fn: BlockFn, p: ast.BlockParam, a: Arg): never {
  fail(
    ctx,
    "E2007",
    `\`${p.name.name}\` of \`${fn.name}\` must be a tensor, but it is ${describe(a.value)}`,
    a.span,
    { help: "apply the function to a tensor first: `x |> f`, or `f(x)`" },
  );
}

/** A tensor argument converted to its declared element type (numbers and bools widen to f32). */
function tensorArg(
  ctx: Ctx,
  inner: Ctx,
  fn: BlockFn,
  p: ast.BlockParam,
  t: ast.TensorTypeExpr,
  a: Arg,
) {
  const v = need(a.value);
  const want = dtypeOf(t);
  if (v.kind !== "tensor") {
    if (v.kind === "int" || v.kind === "float" || v.kind === "bool" || v.kind === "dim")
      return toVar(ctx, v, a.span, want);
    if (v.kind === "fn") fnForTensor(ctx, fn, p, a);
    fail(
      ctx,
      "E2007",
      `\`${p.name.name}\` of \`${fn.name}\` must be a tensor, but it is ${describe(v)}`,
      a.span,
    );
  }
  const have = v.v.type.dtype;
  if (have === want) return toVar(ctx, v, a.span, want);
  const widens = want === "f32" || (want === "i32" && have === "bool");
  if (!widens)
    fail(
      ctx,
      "E3008",
      `\`${p.name.name}\` of \`${fn.name}\` must be ${want === "i32" ? "an int" : "a bool"} tensor, but it is ${typeText(v.v.type)}`,
      a.span,
      {
        notes: [`\`${fn.name}\` declares \`${p.name.name}: ${typeExprText(inner, t)}\``],
        help:
          want === "i32"
            ? "integer data (class labels, token ids) is declared as `int[...]`, e.g. `input y: int[B]`"
            : undefined,
      },
    );
  return toVar(ctx, v, a.span, want);
}

/** Where a call happened, as `file:line:col`, for notes on errors inside the block. */
function where(ctx: Ctx, file: string, span: ast.Span): string {
  const text = ctx.s.sources.get(file);
  const p = text ? positionAt(text, span.start) : { line: 0, col: 0 };
  return `${file}:${p.line}:${p.col}`;
}

/**
 * The std source at a diagnostic's span (` at \`d / heads\``), so a message
 * raised in std shows which of the block's quantities the numbers are.
 */
function stdText(ctx: Ctx, d: { file: string; span: ast.Span }): string {
  const text = ctx.s.sources.get(d.file)?.slice(d.span.start, d.span.end);
  return text && text.length <= 40 && !text.includes("\n") ? ` at \`${text}\`` : "";
}

/**
 * Block calls nested in one another. Each level inlines a body on the
 * JavaScript stack (a few kilobytes of it), and real models nest a handful
 * deep (a model calls `transformer`, which calls `attention`, then `dense`).
 */
export const MAX_BLOCK_DEPTH = 64;

/**
 * Block calls one model may inline in all: a block that calls the next one
 * twice, twenty levels down, would inline a million bodies and never finish.
 */
export const MAX_BLOCK_CALLS = 10_000;

/** What one level of block call costs in MAX_EVAL_DEPTH (expr.ts): its stack frames, in expression levels. */
export const BLOCK_CALL_DEPTH = 4;

const callsPerModel = new WeakMap<object, number>();

/** E2011 when a call would pass `MAX_BLOCK_DEPTH` or `MAX_BLOCK_CALLS`. */
function checkInlining(ctx: Ctx, fn: BlockFn, site: CallSite): void {
  const m = ctx.m!;
  const calls = (callsPerModel.get(m) ?? 0) + 1;
  callsPerModel.set(m, calls);
  const chain = [...ctx.stack.map((f) => f.name), fn.name];
  const shown = chain.length > 8 ? [...chain.slice(0, 4), "…", ...chain.slice(-3)] : chain;
  if (ctx.stack.length >= MAX_BLOCK_DEPTH)
    fail(ctx, "E2011", `blocks call each other more than ${MAX_BLOCK_DEPTH} deep here`, site.span, {
      notes: [`the chain of calls: ${shown.join(" -> ")}`, inliningNote],
    });
  if (calls > MAX_BLOCK_CALLS)
    fail(
      ctx,
      "E2011",
      `model \`${m.name}\` inlines more than ${MAX_BLOCK_CALLS} block calls`,
      site.span,
      { notes: [`reached at this call of ${shown.join(" -> ")}`, inliningNote] },
    );
}

const inliningNote =
  "every call of a block is inlined into the model; use `scan` to repeat a block over a sequence";

export function callBlock(
  ctx: Ctx,
  fn: BlockFn,
  args: Map<string, Arg>,
  site: CallSite,
  standIns: ReadonlySet<string> = new Set(),
): Value {
  const decl = fn.decl;
  ctx.s.markCalled(decl);
  const again = ctx.stack.findIndex((f) => f.decl === decl);
  if (again >= 0) {
    const through = ctx.stack.slice(again + 1).map((f) => `\`${f.name}\``);
    fail(
      ctx,
      "E2008",
      `block \`${fn.name}\` calls itself${through.length ? ` through ${through.join(", ")}` : ""}`,
      site.span,
      {
        notes: [
          "blocks are inlined at every call, so they cannot be recursive; `scan` expresses repetition",
        ],
      },
    );
  }
  if (!ctx.m)
    fail(ctx, "E2007", `block \`${fn.name}\` can only be called inside a model`, site.span);
  checkInlining(ctx, fn, site);
  const inner: Ctx = {
    s: ctx.s,
    m: ctx.m,
    b: ctx.b,
    scope: new Scope(fn.scope),
    file: fn.file,
    path: site.path ?? freshPath(ctx, fn.name),
    counters: new Map(),
    stack: [
      ...ctx.stack,
      { decl, name: fn.name, file: fn.file, site: site.span, siteFile: ctx.file },
    ],
  };
  const shared = site.shared ? { fn: site.shared, span: site.span, file: ctx.file } : ctx.shared;
  if (shared) inner.shared = shared;
  const fromStd = ctx.s.stdFiles.has(fn.file) && !ctx.s.stdFiles.has(ctx.file);
  ctx.s.depth += BLOCK_CALL_DEPTH;
  try {
    bindParams(ctx, inner, fn, args, site, standIns);
    const v = runBody(inner, fn, site, ctx);
    const text = site.callee && valueText(v);
    if (text) ctx.s.type(ctx.file, site.callee!, `${boundText(inner, decl)}→ ${text}`);
    return v;
  } catch (e) {
    // A mistake surfacing inside std is reported at the user's call, where it can be fixed.
    if (fromStd && e instanceof ElabError && ctx.s.stdFiles.has(e.diagnostic.file)) {
      const d = e.diagnostic;
      const labels = d.labels.filter((l) => (l.file ?? d.file) === ctx.file);
      throw new ElabError(
        diag(d.code, d.message, ctx.file, site.span, {
          labels,
          notes: [
            ...d.notes,
            `raised inside std's \`${fn.name}\`${stdText(ctx, d)} (${where(ctx, d.file, d.span)})`,
          ],
          ...(d.help !== undefined ? { help: d.help } : {}),
        }),
      );
    }
    throw e;
  } finally {
    ctx.s.depth -= BLOCK_CALL_DEPTH;
  }
}

/** The param path of this level's next call of `name`: `dense_1.`, then `dense_2.`. */
function freshPath(ctx: Ctx, name: string): string {
  const k = (ctx.counters.get(name) ?? 0) + 1;
  ctx.counters.set(name, k);
  return `${ctx.path}${name}_${k}.`;
}

/** What a call bound, for hover on the callee: `n = 784, units = 256, bias = true ` (dims, scalars). */
function boundText(inner: Ctx, decl: ast.BlockDecl): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const p of decl.params) {
    if (p.type.kind === "ScalarType") showBound(inner, p.name.name, seen, out);
    else for (const d of p.type.dims) if (d.kind === "Name") showBound(inner, d.name, seen, out);
  }
  return out.length > 0 ? `${out.join(", ")} ` : "";
}

/** boundText's `name = value` for one name (at module level: tsx names a local closure per call). */
function showBound(inner: Ctx, name: string, seen: Set<string>, out: string[]): void {
  const e = inner.scope.own(name);
  if (seen.has(name) || !e || typeof e.value === "function") return;
  seen.add(name);
  const v = e.value;
  if (v.kind === "dim") out.push(`${name} = ${dimToString(v.dim)}`);
  else if (v.kind === "int" || v.kind === "float" || v.kind === "bool")
    out.push(`${name} = ${v.value}`);
}

/** Every name an AST node mentions (`2 * n` -> `n`). */
function namesIn(node: unknown, out = new Set<string>()): Set<string> {
  if (node === null || typeof node !== "object") return out;
  if (Array.isArray(node)) {
    for (const x of node) namesIn(x, out);
    return out;
  }
  const n = node as { kind?: unknown; name?: unknown };
  if (n.kind === "Name" && typeof n.name === "string") out.add(n.name);
  for (const v of Object.values(node)) namesIn(v, out);
  return out;
}

function bindParams(
  caller: Ctx,
  inner: Ctx,
  fn: BlockFn,
  args: Map<string, Arg>,
  site: CallSite,
  /** Scalars standing in for a call's values (checking an uncalled block): bound as they are. */
  standIns: ReadonlySet<string> = new Set(),
): void {
  const params = fn.decl.params;
  const bindScalar = (p: ast.BlockParam, kind: ast.ScalarTypeName) => {
    const a = args.get(p.name.name);
    // Defaults are evaluated in the callee, after the arguments they use are bound.
    const arg = a ?? { value: evalExpr(inner, p.default!), span: site.span };
    const v = a && standIns.has(p.name.name) ? a.value : scalarArg(caller, fn, p, kind, arg);
    inner.scope.define(p.name.name, { value: v, span: p.name.span, file: fn.file });
    inner.s.type(fn.file, p.name.span, hoverText(p.name.name, v));
  };
  // Scalars first, since a tensor's type may use them (`x: [b, 4 * h]`); but a
  // default that uses a dim bound by a tensor argument (`hidden: int = 2 * n`
  // with `x: [..., n]`) waits until the tensors are bound.
  const scalarNames = new Set(
    params.filter((p) => p.type.kind === "ScalarType").map((p) => p.name.name),
  );
  const tensorDims = new Set<string>();
  for (const p of params)
    if (p.type.kind === "TensorType")
      for (const d of p.type.dims)
        if (d.kind === "Name" && !scalarNames.has(d.name)) tensorDims.add(d.name);
  const deferred: { p: ast.BlockParam; kind: ast.ScalarTypeName }[] = [];
  for (const p of params) {
    if (p.type.kind !== "ScalarType") continue;
    const late = !args.has(p.name.name) && [...namesIn(p.default)].some((n) => tensorDims.has(n));
    if (late) deferred.push({ p, kind: p.type.name });
    else bindScalar(p, p.type.name);
  }
  for (const p of params) {
    if (p.type.kind !== "TensorType") continue;
    const a = args.get(p.name.name) ?? { value: evalExpr(inner, p.default!), span: site.span };
    const v = tensorArg(caller, inner, fn, p, p.type, a);
    unifyShape({
      caller,
      callee: inner,
      block: fn.name,
      arg: p.name.name,
      argSpan: a.span,
      pattern: p.type,
      shape: v.type.shape,
      callSpan: site.span,
    });
    inner.scope.define(p.name.name, { value: tensor(caller, v), span: p.name.span, file: fn.file });
    // The type as declared (`[..., n]`) and what this call made of it.
    const declared = `${p.name.name}: ${printType(p.type)}`;
    inner.s.type(fn.file, p.name.span, `${declared}  — here ${typeText(v.type)}`);
  }
  for (const { p, kind } of deferred) bindScalar(p, kind);
}

/**
 * Run a block that no model calls, so its names, statements and shapes are
 * checked all the same: each tensor argument gets a shape of fresh symbolic
 * dims from its signature (`x: [..., n]` is `[..., n]`), each scalar without
 * a default a stand-in (ints and dims symbolic, bools true, floats 0.5).
 * The caller (elaborateUncalled) drops what only the stand-ins cause.
 */
export function callUncalled(ctx: Ctx, fn: BlockFn): void {
  const m = ctx.m!;
  const tmp: Ctx = { ...ctx, scope: new Scope(fn.scope), file: fn.file };
  const args = new Map<string, Arg>();
  const standIns = new Set<string>();
  const params = fn.decl.params;
  for (const p of params) {
    if (p.type.kind !== "ScalarType" || p.default !== null) continue;
    const kind = p.type.name;
    const value: Value =
      kind === "bool"
        ? { kind: "bool", value: true }
        : kind === "float"
          ? { kind: "float", value: 0.5 }
          : kind === "fn"
            ? { kind: "fn", fn: unknownFn(p.name.name) }
            : { kind: "dim", dim: dimVar(p.name.name) };
    args.set(p.name.name, { value, span: p.span });
    standIns.add(p.name.name);
    tmp.scope.define(p.name.name, { value });
  }
  const scalars = new Set(
    params.filter((p) => p.type.kind === "ScalarType").map((p) => p.name.name),
  );
  for (const p of params)
    if (p.type.kind === "TensorType")
      for (const d of p.type.dims)
        if (d.kind === "Name" && !scalars.has(d.name) && !tmp.scope.lookup(d.name))
          tmp.scope.define(d.name, { value: { kind: "dim", dim: dimVar(d.name) } });
  for (const p of params)
    if (p.type.kind === "ScalarType" && p.default !== null)
      guarded({ ...tmp, s: new Session() }, [], () =>
        tmp.scope.define(p.name.name, { value: need(evalExpr(tmp, p.default!)) }),
      );
  for (const p of params) {
    if (p.type.kind !== "TensorType" || p.default !== null) continue;
    const shape = p.type.dims.map((d) => (d.kind === "Ellipsis" ? dimVar("...") : evalDim(tmp, d)));
    const v = m.gen.fresh({ dtype: dtypeOf(p.type), shape }, p.name.name);
    args.set(p.name.name, { value: { kind: "tensor", v, graph: m.fwd }, span: p.span });
  }
  callBlock(ctx, fn, args, { name: fn.name, span: fn.decl.name.span }, standIns);
}

/**
 * A function argument's stand-in: what it returns is unknown, so applying
 * it ends the statement silently (its names are still resolved by names.ts).
 */
function unknownFn(name: string): IntrinsicFn {
  return {
    kind: "intrinsic",
    name,
    params: [{ name: "x" }],
    sig: `${name}: fn`,
    impl: () => {
      throw new Poisoned();
    },
  };
}

function misplaced(ctx: Ctx, s: ast.Stmt): never {
  const what: Record<string, string> = {
    Input: "`input` can only appear in a model",
    Output: "`output` can only appear in a model",
    Metric: "`metric` can only appear in a model",
    Loss: "`loss` can only appear in a model",
    Yield: "`yield` can only appear in the body of a `scan`",
  };
  fail(ctx, "E2009", what[s.kind] ?? `misplaced \`${s.kind.toLowerCase()}\``, s.span);
}

/**
 * Run the body. In user blocks each statement records its own error and the
 * body goes on (more errors per run); std blocks stop at the first, which the
 * caller reports at the user's call site.
 */
function runBody(ctx: Ctx, fn: BlockFn, site: CallSite, caller: Ctx): Value {
  const isStd = ctx.s.stdFiles.has(fn.file);
  let result: { value: Value; span: ast.Span } | null = null;
  let ok = true;
  // Written only for an error: finding the line of the call costs a scan of the caller's text.
  let note: string | undefined;
  const step = (names: ast.Ident[], run: () => void) => {
    if (isStd) return run();
    const before = ctx.s.diagnostics.length;
    if (!guarded(ctx, names, run)) ok = false;
    // E2011 already names its chain of calls: dozens of `in the call at` would bury it.
    for (const d of ctx.s.diagnostics.slice(before)) {
      if (d.code === "E2011") continue;
      note ??= `in the call at ${where(ctx, caller.file, site.span)}`;
      if (!d.notes.includes(note)) d.notes.push(note);
    }
  };
  for (const s of fn.decl.body) {
    if (result !== null) {
      step([], () => fail(ctx, "E2009", "unreachable statement after `return`", s.span));
      break;
    }
    switch (s.kind) {
      case "Assign":
        step(s.targets, () => execAssign(ctx, s));
        break;
      case "Param":
        step([s.name], () => blockParam(ctx, s));
        break;
      case "State":
        step([s.name], () => execState(ctx, s));
        break;
      case "Update":
        step([], () => execUpdate(ctx, s));
        break;
      case "Return":
        step([], () => {
          result = { value: need(evalExpr(ctx, s.value)), span: s.value.span };
        });
        if (result === null) ok = false;
        break;
      default:
        step([], () => misplaced(ctx, s));
    }
  }
  if (!ok) throw new Poisoned();
  if (result === null)
    fail(ctx, "E2009", `block \`${fn.name}\` ends without \`return\``, fn.decl.name.span);
  const r = result as { value: Value; span: ast.Span };
  return fn.decl.result ? checkResult(ctx, fn, fn.decl.result, r.value, r.span) : r.value;
}

/** The returned value against the declared result type (E3009); widens to f32 like arguments do. */
function checkResult(ctx: Ctx, fn: BlockFn, t: ast.TypeExpr, v: Value, span: ast.Span): Value {
  const declared = typeExprText(ctx, t);
  if (t.kind === "ScalarType") {
    const ok =
      v.kind === t.name ||
      (t.name === "float" && v.kind === "int") ||
      (t.name === "dim" && v.kind === "int") ||
      (t.name === "int" && v.kind === "dim" && dimAsConst(v.dim) !== null);
    if (!ok)
      fail(
        ctx,
        "E3009",
        `\`${fn.name}\` returns ${describe(v)}, but its signature says \`${declared}\``,
        span,
        {
          labels: [{ span: t.span, message: "declared here" }],
        },
      );
    return v;
  }
  const want = resolvePattern(ctx, t);
  const x = v.kind === "tensor" ? v.v : toVar(ctx, v, span, want.dtype);
  const dtypeOk = x.type.dtype === want.dtype || want.dtype === "f32";
  if (!dtypeOk || !shapeEq(x.type.shape, want.shape))
    fail(
      ctx,
      "E3009",
      `\`${fn.name}\` returns ${typeText(x.type)}, but its signature says ${declared} = ${typeText(want)}`,
      span,
      {
        labels: [{ span: t.span, message: `declared as ${shapeToString(want.shape)} here` }],
      },
    );
  return tensor(ctx, cast(ctx, x, want.dtype, span));
}
