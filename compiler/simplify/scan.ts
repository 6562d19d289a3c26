// Simplification of `scan`: its body is simplified as a graph of its own,
// and parts of the loop nobody reads are dropped, so a scan computes only
// what its consumers need. Autodiff leaves plenty: the reverse scan carries
// the cotangent of an initial state that is a constant, and accumulates
// gradients of consts that are not parameters.
//   - a ys output no one reads: its per-step value is no longer yielded;
//   - a carry whose final value no one reads and which nothing else in the
//     body depends on (besides its own next value): dropped from the loop;
//   - consts and xs the body no longer reads: no longer passed in.

import type { Eqn, Graph, OpParams, Var } from "../ir.ts";

type ScanParams = OpParams["scan"];

/** Bodies already simplified (a body is never mutated, so this stays true). */
const simplified = new WeakSet<Graph>();

/** Var ids `outs` of `g` depend on, transitively, through its equations. */
function dependencies(g: Graph, outs: Var[]): Set<number> {
  const need = new Set(outs.map((v) => v.id));
  for (let i = g.eqns.length - 1; i >= 0; i--) {
    const e = g.eqns[i]!;
    if (e.outs.some((v) => need.has(v.id))) e.inputs.forEach((v) => need.add(v.id));
  }
  return need;
}

/** One scan with its unused parts removed; null when nothing can go. */
function pruneScan(e: Eqn<"scan">, used: Set<number>): Eqn<"scan"> | null {
  const p = e.params;
  const { nConsts, nCarry, nXs, body } = p;
  const keepY = e.outs.slice(nCarry).map((v) => used.has(v.id));
  const yOuts = body.outputs.slice(nCarry).filter((_, j) => keepY[j]);
  // A carry may go when its final value is unused and no kept output reads it but its own next value.
  const keepC = [...Array(nCarry).keys()].map(() => true);
  for (let k = 0; k < nCarry; k++) {
    if (used.has(e.outs[k]!.id)) continue;
    const others = [
      ...body.outputs.slice(0, nCarry).filter((_, i) => i !== k && keepC[i]),
      ...yOuts,
    ];
    if (!dependencies(body, others).has(body.inputs[nConsts + k]!.id)) keepC[k] = false;
  }
  const outputs = [...body.outputs.slice(0, nCarry).filter((_, k) => keepC[k]), ...yOuts];
  const reads = dependencies(body, outputs);
  const keepIn = body.inputs.map((v, i) =>
    i >= nConsts && i < nConsts + nCarry ? keepC[i - nConsts]! : reads.has(v.id),
  );
  const droppedOut = keepY.some((k) => !k) || keepC.some((k) => !k);
  if (!droppedOut && keepIn.every((k) => k)) return null;
  const inputs = body.inputs.filter((_, i) => keepIn[i]);
  const count = (from: number, n: number) => keepIn.slice(from, from + n).filter((k) => k).length;
  const params: ScanParams = {
    ...p,
    body: { inputs, eqns: body.eqns, outputs },
    nConsts: count(0, nConsts),
    nCarry: count(nConsts, nCarry),
    nXs: count(nConsts + nCarry, nXs),
  };
  return {
    ...e,
    params,
    inputs: e.inputs.filter((_, i) => keepIn[i]),
    outs: [
      ...e.outs.slice(0, nCarry).filter((_, k) => keepC[k]),
      ...e.outs.slice(nCarry).filter((_, j) => keepY[j]),
    ],
  };
}

/**
 * Simplify every scan body of `g` with `simplifyGraph` and prune what the
 * rest of `g` does not read. Returns whether anything changed.
 */
export function simplifyScans(
  g: Graph,
  simplifyGraph: (g: Graph) => Graph,
): { graph: Graph; changed: boolean } {
  const used = new Set(g.outputs.map((v) => v.id));
  for (const e of g.eqns) for (const v of e.inputs) used.add(v.id);
  let changed = false;
  const eqns = g.eqns.map((orig): Eqn => {
    if (orig.op !== "scan") return orig;
    let e: Eqn<"scan"> = orig;
    const pruned = pruneScan(e, used);
    if (pruned) {
      e = pruned;
      changed = true;
    }
    if (!simplified.has(e.params.body)) {
      const body = simplifyGraph(e.params.body);
      simplified.add(body);
      if (body !== e.params.body) {
        e = { ...e, params: { ...e.params, body } };
        changed = true;
      }
    }
    return e;
  });
  return { graph: { ...g, eqns }, changed };
}
