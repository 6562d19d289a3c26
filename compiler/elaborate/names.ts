// Name resolution without evaluation, for blocks that no model calls: every
// name, callee and dimension in a block's signature and body must resolve,
// and its statements must be ones a block may hold. A called block gets all
// of this (and shapes) from being run; an uncalled one is also run with
// stand-in arguments (model.ts's elaborateUncalled), and this pass reports
// what that run could not reach.

import type * as ast from "../../grammar/index.ts";
import type { Diagnostic } from "../diagnostics.ts";
import { makeDiag, type Ctx, type Scope } from "./context.ts";
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
      if (
        s.kind === "Param" ||
        s.kind === "State" ||
        s.kind === "Input" ||
        s.kind === "Output" ||
        s.kind === "Metric"
      )
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

/** An unknown name's diagnostic text: the message and its help. */
export interface Unknown {
  message: string;
  help: string | undefined;
  notes: string[];
}

/**
 * Why `name` is unknown (`what`: "name", "function or block"), said the
 * namespaces' way when it is qualified (`layers.encodr`) or an alias used
 * bare (`layers`); `candidates`: the plain names to suggest otherwise.
 */
export function unknownName(
  scope: Scope,
  name: string,
  what: string,
  candidates: () => string[],
): Unknown {
  const dot = name.indexOf(".");
  if (dot < 0) {
    const ns = scope.namespace(name);
    if (ns) {
      const some = ns.scope.ownNames().find((k) => {
        const e = ns.scope.own(k)!;
        return typeof e.value !== "function" && e.value.kind !== "dim";
      });
      return {
        message: `\`${name}\` is a namespace (\`import "${ns.file}" as ${name}\`), not a value`,
        help:
          some === undefined ? undefined : `name one of its blocks or consts: \`${name}.${some}\``,
        notes: [],
      };
    }
    // Defined in a namespace, and written without it.
    const inNs = scope.namespaces().find((alias) => scope.namespace(alias)!.scope.own(name));
    return {
      message: `unknown ${what} \`${name}\``,
      help:
        inNs !== undefined
          ? `\`${name}\` is in the namespace \`${inNs}\`: write \`${inNs}.${name}\``
          : didYouMean(name, candidates()),
      notes: [],
    };
  }
  const alias = name.slice(0, dot);
  const ns = scope.namespace(alias);
  if (!ns)
    return {
      message: `unknown namespace \`${alias}\` in \`${name}\``,
      help: didYouMean(alias, scope.namespaces()),
      notes: ['a namespace is the alias of an import: `import "file.dlg" as NAME`'],
    };
  const member = name.slice(dot + 1);
  return {
    message: `\`${alias}\` (\`${ns.file}\`) has no block or const named \`${member}\``,
    help: didYouMean(
      name,
      ns.scope.ownNames().map((k) => `${alias}.${k}`),
    ),
    notes: [],
  };
}

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
  const unknown = (
    code: "E2001" | "E2003",
    e: ast.NameExpr,
    what: string,
    names: () => string[],
  ) => {
    const u = unknownName(ctx.scope, e.name, what, names);
    out.push(makeDiag(ctx, code, u.message, e.span, { help: u.help, notes: u.notes }));
  };
  const callee = (e: ast.Expr): void => {
    if (e.kind !== "Name") return expr(e);
    if (!known(e.name)) unknown("E2003", e, "function or block", callables);
  };
  const expr = (e: ast.Expr): void => {
    switch (e.kind) {
      case "Name":
        if (!known(e.name)) unknown("E2001", e, "name", visible);
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
    if (s.kind === "Update" && !locals.has(s.name.name))
      out.push(
        makeDiag(ctx, "E2001", `unknown name \`${s.name.name}\``, s.name.span, {
          help: didYouMean(
            s.name.name,
            [...locals].filter((k) => k !== "..."),
          ),
        }),
      );
    if (s.kind === "Param" || s.kind === "State") {
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
