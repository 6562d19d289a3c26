// Dims a parameter's shape leaves to the data (linreg's `param theta: [F]`,
// fixed when the module is made from a data set): an exporter writes
// concrete shapes, so they are solved from the weights' lengths.

import {
  dimAsConst,
  dimConst,
  dimEq,
  dimMul,
  dimSubst,
  dimVar,
  dimVars,
  type Dim,
} from "../dims.ts";
import type { ModelParam } from "../ir.ts";

/**
 * The named dims of the params' shapes, solved from `lengths` (element
 * counts, one per param: a param with one unknown axis `c * D` fixes D); or
 * the first param whose shape still has a dim nothing fixes.
 */
export function paramDims(
  params: readonly ModelParam[],
  lengths: readonly (number | undefined)[],
  known: Readonly<Record<string, number>> = {},
): { dims: Map<string, Dim> } | { unfixed: ModelParam; dim: string } {
  const dims = new Map(Object.entries(known).map(([k, v]) => [k, dimConst(v)]));
  const shapeOf = (p: ModelParam) => p.var.type.shape.map((d) => dimSubst(d, dims));
  for (let progress = true; progress;) {
    progress = false;
    params.forEach((p, i) => {
      const shape = shapeOf(p);
      const sym = shape.filter((d) => dimAsConst(d) === null);
      const n = lengths[i];
      if (sym.length !== 1 || n === undefined) return;
      const [name, ...more] = dimVars(sym[0]!);
      if (name === undefined || more.length) return;
      const coeff = dimAsConst(dimSubst(sym[0]!, new Map([[name, dimConst(1)]])))!;
      if (coeff <= 0 || !dimEq(sym[0]!, dimMul(dimConst(coeff), dimVar(name)))) return;
      const known = shape.reduce((a, d) => a * (dimAsConst(d) ?? coeff), 1);
      if (n % known !== 0) return;
      dims.set(name, dimConst(n / known));
      progress = true;
    });
  }
  for (const p of params) {
    const open = shapeOf(p).flatMap(dimVars);
    if (open.length) return { unfixed: p, dim: open[0]! };
  }
  return { dims };
}
