// The AST walks the editor features share: every statement of a file (scan
// bodies included) and every expression inside one, in source order.

import type { Decl, Expr, Program, Stmt } from "../grammar/index.ts";
import { stmtValue, subexprs } from "../compiler/elaborate/subexprs.ts";

export { stmtValue };

/** `visit` on `e` and everything inside it, outermost first (scan bodies excluded). */
export function forEachExpr(e: Expr, visit: (e: Expr) => void): void {
  const stack: Expr[] = [e];
  while (stack.length > 0) {
    const x = stack.pop()!;
    visit(x);
    const inner = subexprs(x);
    for (let i = inner.length - 1; i >= 0; i--) stack.push(inner[i]!);
  }
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
