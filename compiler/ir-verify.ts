// The IR verifier: checks the invariants every phase relies on (A-normal
// form, every var defined exactly once before use, every equation's output
// types equal to what its shape rule infers). A failure is a bug in dlg, not
// in the user's program, so it throws an internal error whose message shows
// the offending equation among its neighbours, like JAX's check_jaxpr.

import { infer, sameType } from "./shapes.ts";
import { graphLines, typeToString } from "./ir-print.ts";
import type { Graph, TensorType, Var } from "./ir.ts";

/** An IR invariant is broken: always a compiler bug (reported as E9001). */
export class IrVerifyError extends Error {
  override name = "IrVerifyError";
}

/** Lines of context printed on each side of the failing equation. */
const CONTEXT = 3;

function fail(g: Graph, where: number | "inputs" | "outputs", what: string): never {
  const { header, eqns, footer } = graphLines(g);
  const lines = [header, ...eqns, footer];
  // Line index of the failure in `lines`: the header is 0, equation i is i + 1.
  const at = where === "inputs" ? 0 : where === "outputs" ? lines.length - 1 : where + 1;
  const from = Math.max(0, at - CONTEXT);
  const to = Math.min(lines.length, at + CONTEXT + 1);
  const shown = lines.slice(from, to).map((l, k) => (from + k === at ? `>> ${l}` : `   ${l}`));
  if (from > 0) shown.unshift("   ...");
  if (to < lines.length) shown.push("   ...");
  const place = typeof where === "number" ? `equation ${where}` : `graph ${where}`;
  throw new IrVerifyError(`invalid IR at ${place}: ${what}\n${shown.join("\n")}`);
}

const sameTypes = (a: TensorType[], b: TensorType[]) =>
  a.length === b.length && a.every((t, i) => sameType(t, b[i]!));

export function verify(g: Graph): void {
  const defined = new Set<number>();
  // Messages name vars by their printed number so they match the excerpt;
  // printing the graph costs more than checking it, so only on failure.
  const label = (v: Var) => graphLines(g).names.name(v);

  for (const v of g.inputs) {
    if (defined.has(v.id)) fail(g, "inputs", `input ${label(v)} is listed twice`);
    defined.add(v.id);
  }
  g.eqns.forEach((e, i) => {
    for (const v of e.inputs)
      if (!defined.has(v.id)) fail(g, i, `${label(v)} is used before it is defined`);
    for (const v of e.outs) {
      if (defined.has(v.id)) fail(g, i, `${label(v)} is defined twice`);
      defined.add(v.id);
    }
    let expected: TensorType[];
    try {
      expected = infer(
        e.op,
        e.params,
        e.inputs.map((v) => v.type),
      );
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      fail(g, i, `the shape rule of ${e.op} rejects its inputs: ${msg}`);
    }
    // A scan's body is a graph of its own: check it by the same rules.
    if (e.op === "scan")
      try {
        verify(e.params.body);
      } catch (err) {
        if (!(err instanceof IrVerifyError)) throw err;
        fail(g, i, `its body is invalid: ${err.message}`);
      }
    const actual = e.outs.map((v) => v.type);
    if (!sameTypes(expected, actual))
      fail(
        g,
        i,
        `${e.op} should produce ${expected.map(typeToString).join(", ")}, ` +
          `but its outputs are typed ${actual.map(typeToString).join(", ")}`,
      );
  });
  for (const v of g.outputs)
    if (!defined.has(v.id)) fail(g, "outputs", `output ${label(v)} is never defined`);
}
