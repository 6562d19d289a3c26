// Every scan is made to walk axis 0: its scanned inputs are transposed to
// put that axis first and its stacked outputs transposed back.
//
// Autodiff does this first: a scan's VJP stacks each carry entering a step
// (the residuals) and feeds them, with the ys' cotangents, to the reverse
// scan along the same axis, which only axis 0 guarantees exists (a scalar
// carry of a scan along axis 1 has no axis 1 to stack on). Lowering does it
// for the graphs autodiff never saw: step t of a buffer laid out that way is
// one contiguous run of elements, so the loop reads and writes steps through
// windows, never copying per step; the transposes cost one pass each per
// scan (and fuse into their neighbours' index arithmetic where they can).

import type { Eqn, Graph, TensorType, Var } from "../ir.ts";
import { largestId, VarGen } from "../ir.ts";

/** out[i] = in[perm[i]]: `axis` moved to the front. */
function toFront(axis: number, rank: number): number[] {
  return [axis, ...[...Array(rank).keys()].filter((a) => a !== axis)];
}

/** The inverse of `toFront`: the front axis moved back to `axis`. */
function fromFront(axis: number, rank: number): number[] {
  return [...Array(rank).keys()].map((i) => (i < axis ? i + 1 : i === axis ? 0 : i));
}

function permuted(t: TensorType, perm: number[]): TensorType {
  return { dtype: t.dtype, shape: perm.map((p) => t.shape[p]!) };
}

export function scansAlongAxis0(g: Graph, gen?: VarGen): Graph {
  if (!g.eqns.some((e) => e.op === "scan")) return g;
  const fresh = gen ?? new VarGen(largestId(g) + 1);
  const eqns: Eqn[] = [];
  /** Transposes by their output, to see through one whose inverse a scan would apply. */
  const transposed = new Map<number, { source: Var; perm: number[] }>();
  const transpose = (x: Var, perm: number[], out: Var) => {
    eqns.push({ op: "transpose", params: { perm }, inputs: [x], outs: [out] });
    transposed.set(out.id, { source: x, perm });
  };
  /** `x` with `perm` applied: its source when x is the inverse transpose (a stacked output fed to a later scan). */
  const made = new Map<string, Var>();
  const permute = (x: Var, perm: number[]): Var => {
    const d = transposed.get(x.id);
    if (d && perm.every((p, i) => d.perm[p] === i)) return d.source;
    // The forward scan and its reverse read the same input: lay it out once.
    const key = `${x.id}:${perm.join(",")}`;
    let t = made.get(key);
    if (!t) {
      t = fresh.fresh(permuted(x.type, perm), x.hint);
      transpose(x, perm, t);
      made.set(key, t);
    }
    return t;
  };
  for (const e of g.eqns) {
    if (e.op !== "scan") {
      eqns.push(e);
      if (e.op === "transpose")
        transposed.set(e.outs[0]!.id, {
          source: e.inputs[0]!,
          perm: e.params.perm,
        });
      continue;
    }
    const p = e.params;
    const body = scansAlongAxis0(p.body, fresh);
    if (p.axis === 0) {
      eqns.push({ ...e, params: { ...p, body } });
      continue;
    }
    const firstX = p.nConsts + p.nCarry;
    const inputs = e.inputs.map((x, i) =>
      i < firstX ? x : permute(x, toFront(p.axis, x.type.shape.length)),
    );
    const ys = e.outs.slice(p.nCarry);
    const ysFront = ys.map((y) =>
      fresh.fresh(permuted(y.type, toFront(p.axis, y.type.shape.length)), y.hint),
    );
    eqns.push({
      ...e,
      params: { ...p, body, axis: 0 },
      inputs,
      outs: [...e.outs.slice(0, p.nCarry), ...ysFront],
    });
    ys.forEach((y, j) => transpose(ysFront[j]!, fromFront(p.axis, y.type.shape.length), y));
  }
  return { ...g, eqns };
}
