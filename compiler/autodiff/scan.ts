// Backpropagation through time for `scan`, without unrolling.
//
// Forward step t: (h_{t+1}, y_t) = f(c, h_t, x_t). Its VJP is one reverse
// scan whose body is the VJP of f: it carries the cotangent of h (starting
// from the final carry's cotangent) and the running sum of the consts'
// cotangents (the weight gradients), and reads, at step t, x_t, the carry
// h_t that entered forward step t (a residual the forward scan stacks as an
// extra output), and the cotangents of y_t. Its per-step outputs are the
// cotangents of x_t, stacked.

import { Builder } from "../builder.ts";
import type { Emit, VjpArgs } from "../autodiff.ts";
import {
  dce,
  type Eqn,
  type Graph,
  type OpParams,
  type TensorType,
  type Var,
  type VarGen,
} from "../ir.ts";

/** Reverse mode seeded at chosen vars (autodiff.ts's `vjp`), passed in to keep imports one-way. */
export type Sweep = (
  g: Graph,
  seeds: (o: Emit) => [Var, Var][],
  wrt: Var[],
  gen: VarGen,
) => { graph: Graph; grads: Var[] };

type ScanParams = OpParams["scan"];

/** The ys index whose per-step value is carry k entering the step (the residual), or -1. */
function residualIndex(p: ScanParams, k: number): number {
  const carryIn = p.body.inputs[p.nConsts + k]!;
  const j = p.body.outputs.findIndex((v, i) => i >= p.nCarry && v.id === carryIn.id);
  return j < 0 ? -1 : j - p.nCarry;
}

/** `t` with `length` inserted at `axis`: the type of a stack of per-step values. */
function stacked(t: TensorType, p: ScanParams): TensorType {
  const shape = [...t.shape];
  shape.splice(p.axis, 0, p.length);
  return { dtype: t.dtype, shape };
}

/**
 * Make every scan that `needs` gradients also yield the carries entering each
 * step, so its VJP rule finds them stacked among its outputs. The original
 * outputs keep their vars; the residuals are appended.
 */
export function withScanResiduals(g: Graph, needs: (e: Eqn) => boolean, gen: VarGen): Graph {
  const eqns = g.eqns.map((e): Eqn => {
    if (e.op !== "scan" || !needs(e)) return e;
    const p = e.params;
    const missing = [...Array(p.nCarry).keys()].filter((k) => residualIndex(p, k) < 0);
    if (missing.length === 0) return e;
    const carries = missing.map((k) => p.body.inputs[p.nConsts + k]!);
    const body: Graph = { ...p.body, outputs: [...p.body.outputs, ...carries] };
    const extra = carries.map((v) => gen.fresh(stacked(v.type, p), "residual"));
    return { ...e, params: { ...p, body }, outs: [...e.outs, ...extra] };
  });
  return { ...g, eqns };
}

/** A copy of `g` with fresh vars (nested scan bodies are shared: they are values). */
function cloneGraph(g: Graph, gen: VarGen): Graph {
  const map = new Map<number, Var>();
  const fresh = (v: Var) => {
    const c = gen.fresh(v.type, v.hint);
    map.set(v.id, c);
    return c;
  };
  const get = (v: Var) => map.get(v.id) ?? v;
  const inputs = g.inputs.map(fresh);
  const eqns = g.eqns.map((e) => ({ ...e, inputs: e.inputs.map(get), outs: e.outs.map(fresh) }));
  return { inputs, eqns, outputs: g.outputs.map(get) };
}

const indices = (n: number, keep: (i: number) => boolean) =>
  [...Array(n).keys()].filter((i) => keep(i));

export function scanVjp({ params: p, x, outs, cts, o, b }: VjpArgs<"scan">, sweep: Sweep) {
  const gen = b.gen;
  const { nConsts, nCarry, nXs } = p;
  const nYs = p.body.outputs.length - nCarry;
  const f = cloneGraph(p.body, gen);
  const cIn = f.inputs.slice(0, nConsts);
  const hIn = f.inputs.slice(nConsts, nConsts + nCarry);
  const xIn = f.inputs.slice(nConsts + nCarry);
  const isF32 = (v: Var) => v.type.dtype === "f32";
  // Only float carries, consts and xs have cotangents; only ys that received one seed the body.
  const hF = indices(nCarry, (k) => isF32(hIn[k]!));
  const cF = indices(nConsts, (j) => isF32(cIn[j]!));
  const xF = indices(nXs, (i) => isF32(xIn[i]!));
  const yCt = indices(nYs, (j) => cts[nCarry + j] != null && isF32(f.outputs[nCarry + j]!));

  // The reverse body's own inputs: incoming cotangents and the running const sums.
  const gh = hF.map((k) => gen.fresh(hIn[k]!.type, "ct"));
  const gc = cF.map((j) => gen.fresh(cIn[j]!.type, "ct_sum"));
  const gy = yCt.map((j) => gen.fresh(f.outputs[nCarry + j]!.type, "ct"));
  const seeds: [Var, Var][] = [
    ...hF.map((k, i): [Var, Var] => [f.outputs[k]!, gh[i]!]),
    ...yCt.map((j, i): [Var, Var] => [f.outputs[nCarry + j]!, gy[i]!]),
  ];
  const wrt = [...hF.map((k) => hIn[k]!), ...cF.map((j) => cIn[j]!), ...xF.map((i) => xIn[i]!)];
  const { graph, grads } = sweep(f, () => seeds, wrt, gen);
  const sums = new Builder(gen);
  const nextGc = gc.map((acc, i) => sums.emit("add", {}, [acc, grads[hF.length + i]!]));
  const body = dce({
    inputs: [...cIn, ...gh, ...gc, ...xIn, ...hIn, ...gy],
    eqns: [...graph.eqns, ...sums.eqns],
    outputs: [...grads.slice(0, hF.length), ...nextGc, ...grads.slice(hF.length + cF.length)],
  });

  const residuals = [...Array(nCarry).keys()].map((k) => {
    const j = residualIndex(p, k);
    if (j < 0) throw new Error("autodiff: a scan on the gradient path has no residual carries");
    return outs[nCarry + j]!;
  });
  const rev = b.emitMulti(
    "scan",
    {
      body,
      length: p.length,
      axis: p.axis,
      reverse: !p.reverse,
      nConsts,
      nCarry: hF.length + cF.length,
      nXs: nXs + nCarry + yCt.length,
    },
    [
      ...x.slice(0, nConsts),
      ...hF.map((k) => cts[k] ?? o.full(0, hIn[k]!.type.shape)),
      ...cF.map((j) => o.full(0, cIn[j]!.type.shape)),
      ...x.slice(nConsts + nCarry),
      ...residuals,
      ...yCt.map((j) => cts[nCarry + j]!),
    ],
  );
  const ctOf = (list: number[], from: number) => (i: number) => {
    const at = list.indexOf(i);
    return at < 0 ? null : rev[from + at]!;
  };
  const constCt = ctOf(cF, hF.length);
  const carryCt = ctOf(hF, 0);
  const xsCt = ctOf(xF, hF.length + cF.length);
  return [
    ...indices(nConsts, () => true).map(constCt),
    ...indices(nCarry, () => true).map(carryCt),
    ...indices(nXs, () => true).map(xsCt),
  ];
}
