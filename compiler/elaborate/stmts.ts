// Statements shared by blocks and models: assignments (with destructuring)
// and `param` declarations, whose initialisers build the init graph.

import type * as ast from "../../grammar/index.ts";
import type { Span } from "../../grammar/index.ts";
import type { Builder } from "../builder.ts";
import { dimVars, shapeEq, shapeToString, type Dim } from "../dims.ts";
import { ElabError, fail, Poisoned, type Ctx } from "./context.ts";
import { apply, callExpr, evalExpr } from "./expr.ts";
import { markState } from "./state.ts";
import { repeatedParam } from "./repeat.ts";
import { emit, need, toVar } from "./tensor-ops.ts";
import { entryValue, evalTensorType } from "./types.ts";
import { dimValue, hoverText, typeText, type SharedFn, type Value } from "./values.ts";

/**
 * Run one statement; a user error is recorded and the names it would have
 * defined become poison, so later statements that use them stay silent.
 * Returns false if the statement failed.
 */
export function guarded(ctx: Ctx, names: ast.Ident[], run: () => void): boolean {
  try {
    run();
    return true;
  } catch (e) {
    if (e instanceof ElabError) ctx.s.report(e.diagnostic);
    else if (!(e instanceof Poisoned)) throw e;
    for (const n of names)
      if (!ctx.scope.own(n.name))
        ctx.scope.define(n.name, { value: { kind: "poison" }, span: n.span, file: ctx.file });
    return false;
  }
}

/** Bind a new local name; names are single-assignment in a model or block. */
export function define(ctx: Ctx, name: ast.Ident, value: Value): void {
  const prev = ctx.scope.own(name.name);
  if (prev) {
    const labels =
      prev.span && prev.file === ctx.file
        ? [{ span: prev.span, message: "first defined here" }]
        : [];
    fail(ctx, "E2005", `\`${name.name}\` is already defined`, name.span, {
      labels,
      help: `values cannot be reassigned; give the new value another name, like \`${name.name}2\``,
    });
  }
  if (value.kind === "tensor" && value.v.hint === undefined) value.v.hint = ctx.path + name.name;
  ctx.scope.define(name.name, { value, span: name.span, file: ctx.file });
  ctx.s.type(ctx.file, name.span, hoverText(name.name, value));
}

export function execAssign(ctx: Ctx, s: ast.AssignStmt): void {
  const value = need(evalExpr(ctx, s.value));
  if (s.targets.length === 1) {
    define(ctx, s.targets[0]!, bound(ctx, s.targets[0]!, value));
    return;
  }
  if (value.kind !== "list" || value.items.length !== s.targets.length) {
    const got = value.kind === "list" ? `${value.items.length} values` : "one value";
    fail(ctx, "E2004", `${s.targets.length} names but the right-hand side gives ${got}`, s.span, {
      labels: [{ span: s.value.span, message: value.kind === "list" ? got : "this is one value" }],
    });
  }
  s.targets.forEach((t, i) => define(ctx, t, bound(ctx, t, value.items[i]!)));
}

/**
 * A function value bound by an assignment is shared: all its applications
 * use one param set, named after the binding (`encode.dense_1.w`). Binding
 * a shared one again (`e2 = encode`) names the same set.
 */
function bound(ctx: Ctx, name: ast.Ident, value: Value): Value {
  if (value.kind !== "fn" || value.fn.kind === "shared") return value;
  const path = `${ctx.path}${name.name}.`;
  const fn: SharedFn = {
    kind: "shared",
    name: name.name,
    fn: value.fn,
    path,
    span: name.span,
    file: ctx.file,
  };
  return { kind: "fn", fn };
}

/** The model state; params only exist inside a model. */
function model(ctx: Ctx, span: Span) {
  if (!ctx.m) fail(ctx, "E2009", "`param` can only appear in a block or a model", span);
  return ctx.m;
}

/**
 * Parameter shapes are fixed when the model is created: they may use
 * constants and dims that inputs bind once (a feature count `F`), never the
 * batch dim, which changes from call to call, nor a dim no input binds.
 */
function checkParamShape(ctx: Ctx, what: string, shape: Dim[], span: Span): void {
  const m = model(ctx, span);
  for (const name of shape.flatMap(dimVars)) {
    const batch = m.batchDims.get(name);
    if (batch) {
      const labels =
        batch.file === ctx.file ? [{ span: batch.span, message: `\`${name}\` is bound here` }] : [];
      fail(
        ctx,
        "E3007",
        `${what} would be ${shapeToString(shape)}, which depends on the batch dimension \`${name}\``,
        span,
        {
          labels,
          notes: [
            `\`${name}\` sizes the first axis of input \`${batch.input}\`, so it changes from call to call (a last partial batch, predict on one example)`,
            "a parameter's shape must be fixed when the model is created",
          ],
        },
      );
    }
    if (!m.inputDims.has(name))
      fail(
        ctx,
        "E3007",
        `${what} would be ${shapeToString(shape)}, but no input binds \`${name}\``,
        span,
        {
          notes: [`a parameter's shape must be known when the model is created`],
          help: `give it a fixed size with \`const ${name} = ...\`, or use it in an input's shape`,
        },
      );
  }
}

/** Default initialiser when a `param` names none: Glorot for matrices and up, zeros for biases (and every state). */
function defaultInit(ctx: Ctx, shape: Dim[], state: boolean): Value {
  const name = shape.length >= 2 && !state ? "glorot_uniform" : "zeros";
  const entry = ctx.s.std.lookup(name)!;
  return entryValue(ctx, entry, { start: 0, end: 0 });
}

/**
 * The initial value of a param, built in the init graph. `init f` calls
 * `f(shape)`, `init f(a, b)` calls `f(shape, a, b)`: an initialiser is a
 * function of the shape, like a layer is a function of its input.
 */
function initValue(
  ctx: Ctx,
  s: ast.ParamStmt | ast.StateStmt,
  shape: Dim[],
  into: Builder,
): import("../ir.ts").Var {
  const ictx: Ctx = { ...ctx, b: into };
  const shapeArg = {
    value: { kind: "list", items: shape.map(dimValue) } as Value,
    span: s.type.span,
  };
  const site = { name: "init", span: s.init?.span ?? s.span };
  let v: Value;
  if (s.init === null) {
    const f = defaultInit(ictx, shape, s.kind === "State");
    if (f.kind !== "fn") throw new Error("std initialiser missing");
    v = apply(ictx, f.fn, [shapeArg], new Map(), site);
  } else if (s.init.kind === "Call") {
    v = callExpr(ictx, s.init.callee, s.init.args, shapeArg, s.init.span);
  } else {
    const f = need(evalExpr(ictx, s.init));
    // A plain number fills the param: `init 0.5`.
    v =
      f.kind === "fn"
        ? apply(ictx, f.fn, [shapeArg], new Map(), { name: f.fn.name, span: s.init.span })
        : f;
  }
  v = need(v);
  const initSpan = s.init?.span ?? s.span;
  const t = toVar(ictx, v, initSpan, "f32");
  if (shapeEq(t.type.shape, shape)) return t;
  if (t.type.shape.length === 0) return emit(ictx, "broadcast", { shape }, [t], initSpan);
  fail(
    ctx,
    "E3009",
    `the initialiser gives ${typeText(t.type)}, but the ${s.kind === "State" ? "state" : "parameter"} is f32${shapeToString(shape)}`,
    initSpan,
  );
}

/** A `param`, or (v2) a `state`: a param the optimizer skips (state.ts). */
export function execParam(ctx: Ctx, s: ast.ParamStmt | ast.StateStmt): void {
  const m = model(ctx, s.span);
  if (ctx.scope.own(s.name.name)) define(ctx, s.name, { kind: "poison" }); // reports the redefinition
  const path = ctx.path + s.name.name;
  const kind = s.kind === "State" ? "state" : "param";
  const what = `${kind === "state" ? "state" : "parameter"} \`${path}\``;
  const t = evalTensorType(ctx, s.type, what, true);
  if (t.dtype !== "f32")
    fail(
      ctx,
      "E3008",
      `${what} must be a float tensor, not ${t.dtype === "i32" ? "int" : t.dtype}`,
      s.type.span,
      {
        notes: [
          kind === "state"
            ? "states are kept like parameters, so they are f32"
            : "parameters are trained by gradient descent, so they are f32",
        ],
      },
    );
  checkParamShape(ctx, what, t.shape, s.type.span);
  // Inside `repeat`, a param is one copy's slice of a stacked param (repeat.ts).
  const rep = repeatedParam(ctx, path, kind === "state");
  const init = initValue(ctx, s, t.shape, rep?.init ?? m.init);
  const v = rep
    ? rep.declare(t.shape, init, s.name.span, ctx.file)
    : m.gen.fresh({ dtype: "f32", shape: t.shape }, path);
  if (!rep) m.params.push({ path, var: v, span: s.name.span, file: ctx.file, init });
  if (kind === "state") markState(m, v);
  ctx.scope.define(s.name.name, {
    value: { kind: "tensor", v, graph: rep?.body ?? m.fwd },
    span: s.name.span,
    file: ctx.file,
  });
  ctx.s.type(ctx.file, s.name.span, `${kind} ${path}: ${typeText(v.type)}`);
}
