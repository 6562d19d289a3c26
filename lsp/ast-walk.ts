// The AST walks the editor features share: every statement of a file (scan
// bodies included) and every expression inside one, in source order.

import type { Decl, Expr, Program, Stmt } from "../grammar/index.ts";

/** The expressions directly inside each kind of expression. */
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
  // A scan's body statements are visited as statements (forEachStmt), not here.
  Scan: (e) => [e.source, e.axis, ...e.carries.map((c) => c.init)],
};

/** `visit` on `e` and everything inside it, outermost first (scan bodies excluded). */
export function forEachExpr(e: Expr, visit: (e: Expr) => void): void {
  const stack: Expr[] = [e];
  while (stack.length > 0) {
    const x = stack.pop()!;
    visit(x);
    const inner = (children[x.kind] as (e: Expr) => Expr[])(x);
    for (let i = inner.length - 1; i >= 0; i--) stack.push(inner[i]!);
  }
}

/** The expression a statement holds, if any. */
export function stmtValue(s: Stmt): Expr | null {
  return s.kind === "Param" ? s.init : s.kind === "Input" ? null : s.value;
}

/** `visit` on every statement of the program's blocks and models, scan bodies included. */
export function forEachStmt(program: Program, visit: (s: Stmt, decl: Decl) => void): void {
  for (const d of program.decls) {
    if (d.kind !== "Block" && d.kind !== "Model") continue;
    const pending: Stmt[] = [...d.body].reverse();
    while (pending.length > 0) {
      const s = pending.pop()!;
      visit(s, d);
      const v = stmtValue(s);
      if (v === null) continue;
      const scans: Stmt[][] = [];
      forEachExpr(v, (e) => {
        if (e.kind === "Scan") scans.push(e.body);
      });
      for (const body of scans.reverse()) pending.push(...[...body].reverse());
    }
  }
}
