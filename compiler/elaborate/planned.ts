// Names and constructs the language defines but this version does not yet
// compile. They are reserved in std, so a call says "not supported yet"
// rather than "unknown", and blocks that use them are flagged even when no
// model calls them.

import type * as ast from "../../grammar/index.ts";
import type { Ctx } from "./context.ts";
import { ElabError } from "./context.ts";
import { notSupported } from "./expr.ts";

export const plannedNames = [
  "conv2d",
  "maxpool",
  "avgpool",
  "rnn",
  "lstm",
  "gru",
] as const;

function children(e: ast.Expr): ast.Expr[] {
  switch (e.kind) {
    case "Binary":
      return [e.left, e.right];
    case "Unary":
      return [e.operand];
    case "Call":
      return [e.callee, ...e.args.map((a) => a.value)];
    case "Pipe":
      return [e.left, e.right];
    case "Index":
      return [
        e.target,
        ...e.indices.flatMap((i) =>
          i.kind === "Slice" ? [i.start, i.end, i.step].filter((x) => x !== null) : [i],
        ),
      ];
    case "List":
      return e.items;
    case "If":
      return [e.cond, e.then, e.else];
    default:
      return [];
  }
}

function stmtExprs(s: ast.Stmt): ast.Expr[] {
  switch (s.kind) {
    case "Param":
      return s.init ? [s.init] : [];
    case "Input":
      return [];
    default:
      return [s.value];
  }
}

/** Report every `scan` and every call of a planned std name in a block's body. */
export function flagPlanned(ctx: Ctx, block: ast.BlockDecl): void {
  const visit = (e: ast.Expr): void => {
    try {
      if (e.kind === "Scan") notSupported(ctx, "`scan`", e.span);
      const callee =
        e.kind === "Call"
          ? e.callee
          : e.kind === "Pipe"
            ? e.right.kind === "Call"
              ? e.right.callee
              : e.right
            : initializers.has(e)
              ? e
              : null;
      if (callee?.kind === "Name" && !block.params.some((p) => p.name.name === callee.name)) {
        const entry = ctx.scope.lookup(callee.name);
        const v = entry && typeof entry.value !== "function" ? entry.value : null;
        if (v?.kind === "fn" && v.fn.kind === "planned")
          notSupported(ctx, `\`${callee.name}\``, e.kind === "Pipe" ? e.right.span : e.span);
      }
    } catch (err) {
      if (!(err instanceof ElabError)) throw err;
      ctx.s.report(err.diagnostic);
      if (e.kind === "Scan") return; // one report per scan, not one per planned call inside it
    }
    children(e).forEach(visit);
  };
  // A param's initialiser is called even when written as a bare name (`init orthogonal`).
  const initializers = new Set<ast.Expr>();
  for (const s of block.body)
    if (s.kind === "Param" && s.init?.kind === "Name") initializers.add(s.init);
  for (const s of block.body) stmtExprs(s).forEach(visit);
}
