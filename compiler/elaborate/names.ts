// Name resolution without evaluation, for blocks that no model calls: every
// name, callee and dimension in a block's signature and body must resolve,
// and its statements must be ones a block may hold. A called block gets all
// of this (and shapes) from being run; an uncalled one is also run with
// stand-in arguments (model.ts's elaborateUncalled), and this pass reports
// what that run could not reach.

import type * as ast from "../../grammar/index.ts";
import type { Diagnostic } from "../diagnostics.ts";
import { makeDiag, type Ctx } from "./context.ts";
import { stmtValue, subexprs } from "./subexprs.ts";
import { didYouMean } from "./suggest.ts";

const exprsOf = (s: ast.Stmt): ast.Expr[] => {
  const v = stmtValue(s);
  return v ? [v] : [];
};

/** Every name the block defines somewhere (conservative: order and nesting are the run's business). */
function localNames(block: ast.BlockDecl): Set<string> {
  const out = new Set<string>(["..."]);
  for (const p of block.params) {
    out.add(p.name.name);
    if (p.type.kind === "TensorType")
      for (const d of p.type.dims) if (d.kind === "Name") out.add(d.name);
  }
  const stmts = (body: ast.Stmt[]) => {
    for (const s of body) {
      if (s.kind === "Assign") s.targets.forEach((t) => out.add(t.name));
      if (s.kind === "Param" || s.kind === "Input" || s.kind === "Output" || s.kind === "Metric")
        out.add(s.name.name);
      exprsOf(s).forEach(expr);
    }
  };
  const expr = (e: ast.Expr): void => {
    if (e.kind === "Scan") {
      out.add(e.item.name);
      e.carries.forEach((c) => out.add(c.name.name));
      stmts(e.body);
    }
    subexprs(e).forEach(expr);
  };
  stmts(block.body);
  return out;
}

const misplacedText: Record<string, string> = {
  Input: "`input` can only appear in a model",
  Output: "`output` can only appear in a model",
  Metric: "`metric` can only appear in a model",
  Loss: "`loss` can only appear in a model",
  Yield: "`yield` can only appear in the body of a `scan`",
};

/** Unknown names, callees and dims, and misplaced statements, in `block` (ctx: its file's globals). */
export function resolveBlockNames(ctx: Ctx, block: ast.BlockDecl): Diagnostic[] {
  const out: Diagnostic[] = [];
  const locals = localNames(block);
  const known = (n: string) => locals.has(n) || ctx.scope.lookup(n) !== undefined;
  const visible = () =>
    [...locals, ...[...ctx.scope.entries()].map(([k]) => k)].filter((k) => k !== "...");
  const callables = () => [
    ...locals,
    ...[...ctx.scope.entries()]
      .filter(([, e]) => typeof e.value !== "function" && e.value.kind === "fn")
      .map(([k]) => k),
  ];
  const dim = (e: ast.Expr | ast.EllipsisExpr): void => {
    if (e.kind === "Name") {
      if (!known(e.name))
        out.push(
          makeDiag(ctx, "E2002", `unknown dimension \`${e.name}\``, e.span, {
            help: didYouMean(e.name, visible()),
            notes: [
              "a dimension must be a declared `dim`, a `const`, a block argument, or a name bound by a block's signature",
            ],
          }),
        );
      return;
    }
    if (e.kind !== "Ellipsis") subexprs(e).forEach(dim);
  };
  const callee = (e: ast.Expr): void => {
    if (e.kind !== "Name") return expr(e);
    if (!known(e.name))
      out.push(
        makeDiag(ctx, "E2003", `unknown function or block \`${e.name}\``, e.span, {
          help: didYouMean(e.name, callables()),
        }),
      );
  };
  const expr = (e: ast.Expr): void => {
    switch (e.kind) {
      case "Name":
        if (!known(e.name))
          out.push(
            makeDiag(ctx, "E2001", `unknown name \`${e.name}\``, e.span, {
              help: didYouMean(e.name, visible()),
            }),
          );
        return;
      case "Call":
        callee(e.callee);
        e.args.forEach((a) => expr(a.value));
        return;
      case "Pipe":
        expr(e.left);
        if (e.right.kind === "Call") expr(e.right);
        else callee(e.right);
        return;
      case "Scan":
        expr(e.source);
        expr(e.axis);
        e.carries.forEach((c) => expr(c.init));
        e.body.forEach(stmt);
        return;
      default:
        subexprs(e).forEach(expr);
    }
  };
  const type = (t: ast.TypeExpr) => {
    if (t.kind === "TensorType") t.dims.forEach(dim);
  };
  const stmt = (s: ast.Stmt) => {
    if (s.kind === "Param") {
      type(s.type);
      if (s.init) callee(s.init.kind === "Call" ? s.init.callee : s.init);
      if (s.init?.kind === "Call") s.init.args.forEach((a) => expr(a.value));
      return;
    }
    if (s.kind === "Input") return type(s.type);
    exprsOf(s).forEach(expr);
  };
  for (const p of block.params) {
    // A signature's own dim names bind; only composite dims (`4 * h`) use names.
    if (p.type.kind === "TensorType")
      for (const d of p.type.dims) if (d.kind !== "Name" && d.kind !== "Ellipsis") dim(d);
    if (p.default) expr(p.default);
  }
  if (block.result) type(block.result);
  for (const s of block.body) {
    const what = misplacedText[s.kind];
    if (what) out.push(makeDiag(ctx, "E2009", what, s.span));
    stmt(s);
  }
  return out;
}
