// Dims as plan data: a symbolic Dim becomes a SizeExpr over the indices of
// the program's run-time dims, which every runtime evaluates the same way
// (runtime/sizes.ts), instead of a JS closure only the JS runtime could run.

import type { SizeExpr } from "../runtime/program.ts";
import type { Dim, DimAtom } from "./dims.ts";

export function sizeExpr(d: Dim, dims: readonly string[]): SizeExpr {
  const atom = (a: DimAtom): SizeExpr => {
    if (a.kind === "var") {
      const i = dims.indexOf(a.name);
      if (i < 0) throw new Error(`emit: dimension ${a.name} is not a run-time dim of this program`);
      return { d: i };
    }
    const pair: [SizeExpr, SizeExpr] = [sizeExpr(a.num, dims), sizeExpr(a.den, dims)];
    return a.kind === "div" ? { div: pair } : { mod: pair };
  };
  const terms = d.terms.map((t): SizeExpr => {
    const factors = t.atoms.map(atom);
    if (t.coeff !== 1 || factors.length === 0) factors.unshift(t.coeff);
    return factors.length === 1 ? factors[0]! : { mul: factors };
  });
  return terms.length === 0 ? 0 : terms.length === 1 ? terms[0]! : { add: terms };
}

/** Integer SizeExpr arithmetic with constants folded (grids and work-item counts are usually constant). */
export const size = {
  add: (a: SizeExpr, b: SizeExpr): SizeExpr =>
    typeof a === "number" && typeof b === "number" ? a + b : { add: [a, b] },
  mul: (a: SizeExpr, b: SizeExpr): SizeExpr =>
    typeof a === "number" && typeof b === "number" ? a * b : { mul: [a, b] },
  ceilDiv: (a: SizeExpr, b: number): SizeExpr =>
    typeof a === "number" ? Math.ceil(a / b) : { div: [{ add: [a, b - 1] }, b] },
};
