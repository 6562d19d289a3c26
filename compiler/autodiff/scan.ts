// Backpropagation through time for `scan`, without unrolling.
//
// Forward step t: (h_{t+1}, y_t) = f(c, h_t, x_t). Its VJP is one reverse
// scan whose body is the VJP of f: it carries the cotangent of h (starting
// from the final carry's cotangent) and the running sum of the consts'
// cotangents (the weight gradients), and reads, at step t, x_t, the carry
// h_t that entered forward step t (a residual the forward scan stacks as an
// extra output), the forward values it would otherwise recompute at a cost
// (the pre-activations: stored residuals, chosen within a memory budget by
// scan-residuals.ts), and the cotangents of y_t. Its per-step outputs are
// the cotangents of x_t, stacked.

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
import { planResiduals, type ResidualOptions } from "./scan-residuals.ts";

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

/** Reverse-step plans by the forward body they were made for: which ys the reverse step reads back. */
const plans = new WeakMap<Graph, { read: number[]; note: string }>();

/**
 * Make every scan that `needs` gradients also yield, stacked, the carries
 * entering each step and the residuals its reverse step should read rather
 * than recompute (scan-residuals.ts decides which, within a memory budget),
 * so its VJP rule finds them among its outputs. The original outputs keep
 * their vars; the stacks are appended.
 */
export function withScanResiduals(
  g: Graph,
  needs: (e: Eqn) => boolean,
  gen: VarGen,
  sweep: Sweep,
  opts: ResidualOptions,
): Graph {
  const used = new Set(g.outputs.map((v) => v.id));
  for (const e of g.eqns) for (const v of e.inputs) used.add(v.id);
  const eqns = g.eqns.map((e): Eqn => {
    if (e.op !== "scan" || !needs(e)) return e;
    const p = e.params;
    const ys = p.body.outputs.slice(p.nCarry);
    const missing = [...Array(p.nCarry).keys()].filter((k) => residualIndex(p, k) < 0);
    const carries = missing.map((k) => p.body.inputs[p.nConsts + k]!);
    // The reverse step as scanVjp will build it, seeded at every ys the model reads.
    const readYs = indices(ys.length, (j) => used.has(e.outs[p.nCarry + j]!.id));
    const step = bodyVjp(p.body, p, readYs, gen, sweep);
    const stackedYs = new Set(readYs.map((j) => ys[j]!.id));
    const plan = planResiduals(p, step, stackedYs, opts);
    const extra = plan.store.filter((v) => !ys.some((y) => y.id === v.id));
    const body: Graph = { ...p.body, outputs: [...p.body.outputs, ...carries, ...extra] };
    const newYs = body.outputs.slice(p.nCarry);
    const read = plan.store.map((v) => newYs.findIndex((y) => y.id === v.id));
    plans.set(body, { read, note: plan.reverseNote });
    const stacks = [...carries, ...extra].map((v) => gen.fresh(stacked(v.type, p), "residual"));
    return { ...e, params: { ...p, body, note: plan.forwardNote }, outs: [...e.outs, ...stacks] };
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

/**
 * The VJP of a scan body `f` (a graph of the reverse step's own): seeded at
 * the float carries' next values and at the ys in `yCt`, differentiated with
 * respect to the float carries, consts and xs. `seeds`: the cotangent inputs.
 */
function bodyVjp(f: Graph, p: ScanParams, yCt: number[], gen: VarGen, sweep: Sweep) {
  const { nConsts, nCarry, nXs } = p;
  const cIn = f.inputs.slice(0, nConsts);
  const hIn = f.inputs.slice(nConsts, nConsts + nCarry);
  const xIn = f.inputs.slice(nConsts + nCarry);
  const isF32 = (v: Var) => v.type.dtype === "f32";
  // Only float carries, consts and xs have cotangents; only float ys seed the body.
  const hF = indices(nCarry, (k) => isF32(hIn[k]!));
  const cF = indices(nConsts, (j) => isF32(cIn[j]!));
  const xF = indices(nXs, (i) => isF32(xIn[i]!));
  const yF = yCt.filter((j) => isF32(f.outputs[nCarry + j]!));
  const gh = hF.map((k) => gen.fresh(hIn[k]!.type, "ct"));
  const gy = yF.map((j) => gen.fresh(f.outputs[nCarry + j]!.type, "ct"));
  const seeded: [Var, Var][] = [
    ...hF.map((k, i): [Var, Var] => [f.outputs[k]!, gh[i]!]),
    ...yF.map((j, i): [Var, Var] => [f.outputs[nCarry + j]!, gy[i]!]),
  ];
  const wrt = [...hF.map((k) => hIn[k]!), ...cF.map((j) => cIn[j]!), ...xF.map((i) => xIn[i]!)];
  const { graph, grads } = sweep(f, () => seeded, wrt, gen);
  return { cIn, hIn, xIn, hF, cF, xF, yF, gh, gy, graph, grads, seeds: [...gh, ...gy] };
}

export function scanVjp({ params: p, x, outs, cts, o, b }: VjpArgs<"scan">, sweep: Sweep) {
  const gen = b.gen;
  const { nConsts, nCarry, nXs } = p;
  const nYs = p.body.outputs.length - nCarry;
  const f = cloneGraph(p.body, gen);
  // Only ys that received a cotangent seed the body.
  const yCt = indices(nYs, (j) => cts[nCarry + j] != null);
  const { cIn, hIn, xIn, hF, cF, xF, yF, gh, gy, graph, grads } = bodyVjp(f, p, yCt, gen, sweep);
  const gc = cF.map((j) => gen.fresh(cIn[j]!.type, "ct_sum"));
  const sums = new Builder(gen);
  const nextGc = gc.map((acc, i) => sums.emit("add", {}, [acc, grads[hF.length + i]!]));
  // The stored residuals, read at step t in place of the forward equations that made them.
  const plan = plans.get(p.body) ?? { read: [], note: "" };
  const rIn = plan.read.map((j) => gen.fresh(f.outputs[nCarry + j]!.type, "residual"));
  const reads = new Map(plan.read.map((j, i) => [f.outputs[nCarry + j]!.id, rIn[i]!]));
  const at = (v: Var) => reads.get(v.id) ?? v;
  const eqns = [...graph.eqns, ...sums.eqns].map((e) => ({ ...e, inputs: e.inputs.map(at) }));
  const body = dce({
    inputs: [...cIn, ...gh, ...gc, ...xIn, ...hIn, ...rIn, ...gy],
    eqns,
    outputs: [...grads.slice(0, hF.length), ...nextGc, ...grads.slice(hF.length + cF.length)].map(
      at,
    ),
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
      nXs: nXs + nCarry + rIn.length + yF.length,
      ...(plan.note && { note: plan.note }),
    },
    [
      ...x.slice(0, nConsts),
      ...hF.map((k) => cts[k] ?? o.full(0, hIn[k]!.type.shape)),
      ...cF.map((j) => o.full(0, cIn[j]!.type.shape)),
      ...x.slice(nConsts + nCarry),
      ...residuals,
      ...plan.read.map((j) => outs[nCarry + j]!),
      ...yF.map((j) => cts[nCarry + j]!),
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
