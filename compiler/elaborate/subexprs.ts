// The expressions directly inside an expression or a statement, shared by the
// walks that need no scopes: names.ts's check of uncalled blocks and the
// editor's (lsp/ast-walk.ts).

import type { Expr, Stmt } from "../../grammar/index.ts";

const children: { [K in Expr["kind"]]: (e: Extract<Expr, { kind: K }>) => Expr[] } = {
  Number: () => [],
  String: () => [],
  Bool: () => [],
  Name: () => [],
  Binary: (e) => [e.left, e.right],
  Unary: (e) => [e.operand],
  Call: (e) => [e.callee, ...e.args.map((a) => a.value)],
  Pipe: (e) => [e.left, e.right],
  Index: (e) => [
    e.target,
    ...e.indices.flatMap((i) =>
      i.kind === "Slice" ? [i.start, i.end, i.step].filter((x) => x !== null) : [i],
    ),
  ],
  List: (e) => e.items,
  If: (e) => [e.cond, e.then, e.else],
  // A scan's body is statements, in a scope of their own: its walkers visit them as such.
  Scan: (e) => [e.source, e.axis, ...e.carries.map((c) => c.init)],
};

/** The expressions directly inside `e`, in source order (a scan's body statements excluded). */
export function subexprs(e: Expr): Expr[] {
  return (children[e.kind] as (e: Expr) => Expr[])(e);
}

/** The expression a statement holds, if any. */
export function stmtValue(s: Stmt): Expr | null {
  return s.kind === "Param" || s.kind === "State" ? s.init : s.kind === "Input" ? null : s.value;
}
