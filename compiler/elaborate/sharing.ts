// Weight sharing: a function value bound by an assignment (`encode =
// tower(64)`) is applied under one param path, the binding's (`encode.`), so
// its first application creates the params and every later one reuses them.
// The gradient of a reused param is then the sum over its applications, as
// for any variable the forward graph reads twice.

import type * as ast from "../../grammar/index.ts";
import { shapeEq, shapeToString } from "../dims.ts";
import { diag, positionAt } from "../diagnostics.ts";
import type { Var } from "../ir.ts";
import { ElabError, fail, type Ctx, type ModelState, type SharedApplication } from "./context.ts";
import { inRepeat } from "./repeat.ts";
import { define, execParam } from "./stmts.ts";
import { evalTensorType } from "./types.ts";
import { typeText } from "./values.ts";

interface SharedParam {
  var: Var;
  /** The application that created it, for E2012's second label. */
  app: SharedApplication;
}

/** Per model, the params created under a shared binding, by path. */
const registries = new WeakMap<ModelState, Map<string, SharedParam>>();

/**
 * A `param` statement of a block body: created fresh, or, inside a shared
 * binding's application, reused from its first one (E2012 if this
 * application would give it another shape).
 */
export function blockParam(ctx: Ctx, s: ast.ParamStmt | ast.StateStmt): void {
  const m = ctx.m;
  const path = ctx.path + s.name.name;
  if (!m || inRepeat(ctx, path)) return execParam(ctx, s);
  let reg = registries.get(m);
  if (!reg) registries.set(m, (reg = new Map()));
  const prev = ctx.shared && reg.get(path);
  if (!prev) {
    const clash = m.params.find((p) => p.path === path);
    if (clash)
      fail(ctx, "E2013", `two different parameters would both be named \`${path}\``, s.name.span, {
        notes: [
          "a shared binding's params are named after it (`encode.dense_1.w`), and an inline call's after the block and a count (`dense_1.w`)",
        ],
        help: "rename the binding so that it does not look like a call's path, e.g. `encoder` instead of `dense_1`",
      });
    execParam(ctx, s);
    // The var the statement bound (inside `repeat`'s body, a slice of the stacked param).
    const made = ctx.scope.own(s.name.name)?.value;
    if (ctx.shared && made && typeof made !== "function" && made.kind === "tensor")
      reg.set(path, { var: made.v, app: ctx.shared });
    return;
  }
  if (ctx.scope.own(s.name.name)) define(ctx, s.name, { kind: "poison" }); // reports the redefinition
  const t = evalTensorType(ctx, s.type, `parameter \`${path}\``, true);
  const have = prev.var.type.shape;
  if (!shapeEq(t.shape, have)) mismatch(ctx, path, shapeToString(t.shape), prev);
  ctx.scope.define(s.name.name, {
    value: { kind: "tensor", v: prev.var, graph: m.fwd },
    span: s.name.span,
    file: ctx.file,
  });
  ctx.s.type(
    ctx.file,
    s.name.span,
    `param ${path}: ${typeText(prev.var.type)} (shared by \`${ctx.shared!.fn.name}\`)`,
  );
}

/** E2012, at this application, with the first one as a label (or a note, in another file). */
function mismatch(ctx: Ctx, path: string, want: string, prev: SharedParam): never {
  const app = ctx.shared!;
  const had = shapeToString(prev.var.type.shape);
  const first = prev.app;
  const sameFile = first.file === app.file;
  const text = ctx.s.sources.get(first.file);
  const at = text ? positionAt(text, first.span.start) : { line: 0, col: 0 };
  throw new ElabError(
    diag(
      "E2012",
      `this application of the shared \`${app.fn.name}\` would make its parameter \`${path}\` ${want}, but its first application made it ${had}`,
      app.file,
      app.span,
      {
        labels: sameFile
          ? [{ span: first.span, message: `first applied here: \`${path}\` is ${had}` }]
          : [],
        notes: [
          `\`${app.fn.name}\` is bound by an assignment, so all its applications share one param set, which needs the same shapes each time`,
          ...(sameFile ? [] : [`the first application is at ${first.file}:${at.line}:${at.col}`]),
        ],
        help: "to give each application its own params, call it inline instead of through the binding",
      },
    ),
  );
}
