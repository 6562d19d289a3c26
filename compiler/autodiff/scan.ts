// Backpropagation through time for `scan`, without unrolling.
//
// Forward step t: (h_{t+1}, y_t) = f(c, h_t, x_t). Its VJP is one reverse
// scan whose body is the VJP of f: it carries the cotangent of h (starting
// from the final carry's cotangent) and the running sum of the consts'
// cotangents (the weight gradients), and reads, at step t, x_t, the carry
// h_t that entered forward step t (a residual the forward scan stacks as an
// extra output), the forward values it would otherwise recompute at a cost
// (an LSTM's gates: stored residuals, chosen within a memory budget by
// scan-residuals.ts), and the cotangents of y_t. Its per-step outputs are
// the cotangents of x_t, stacked. The body's VJP is built once per scan, to
// plan what to store, and reused by the rule (nested scans: once per level).

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

/** Reverse mode seeded at chosen vars (autodiff.ts's `vjp` under the caller's options), passed in to keep imports one-way. */
type Sweep = (
  g: Graph,
  seeds: (o: Emit) => [Var, Var][],
  wrt: Var[],
  gen: VarGen,
) => { graph: Graph; grads: Var[]; forward: Eqn[] };

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

const indices = (n: number, keep: (i: number) => boolean = () => true) =>
  [...Array(n).keys()].filter((i) => keep(i));

/**
 * What a scan's VJP rule reuses: its body's VJP (built once, in the forward
 * body's vars; the rule clones it) and which ys the reverse step reads back.
 */
export interface ScanPlan {
  step: ReturnType<typeof bodyVjp>;
  read: number[];
  note: string;
}

/** Plans by the scan's first output var (vars outlive copies of the equation and its params). */
export type ScanPlans = ReadonlyMap<number, ScanPlan>;

/**
 * Make every scan with an output on the gradient path (`onPath`) also yield,
 * stacked, the carries entering each step and the residuals its reverse step
 * should read rather than recompute (scan-residuals.ts decides which, within
 * a memory budget), so its VJP rule finds them among its outputs. The
 * original outputs keep their vars; the stacks are appended. The reverse
 * step is the body's VJP seeded at the ys on the path, as the rule will use it.
 */
export function withScanResiduals(
  g: Graph,
  onPath: (v: Var) => boolean,
  gen: VarGen,
  sweep: Sweep,
  opts: ResidualOptions,
): { graph: Graph; plans: ScanPlans } {
  const used = new Set(g.outputs.map((v) => v.id));
  for (const e of g.eqns) for (const v of e.inputs) used.add(v.id);
  const plans = new Map<number, ScanPlan>();
  const eqns = g.eqns.map((e): Eqn => {
    if (e.op !== "scan" || !e.outs.some(onPath)) return e;
    const p = e.params;
    const ys = p.body.outputs.slice(p.nCarry);
    const missing = indices(p.nCarry, (k) => residualIndex(p, k) < 0);
    const carries = missing.map((k) => p.body.inputs[p.nConsts + k]!);
    const yOut = (j: number) => e.outs[p.nCarry + j]!;
    const step = bodyVjp(
      p.body,
      p,
      indices(ys.length, (j) => onPath(yOut(j))),
      gen,
      sweep,
    );
    // The body as the step computes it: its own scans stack their residuals,
    // which this scan may then store like any other value.
    const forward: Graph = { ...p.body, eqns: step.forward };
    const stackedYs = new Set(
      indices(ys.length, (j) => used.has(yOut(j).id)).map((j) => ys[j]!.id),
    );
    const plan = planResiduals({ ...p, body: forward }, step, stackedYs, opts);
    const extra = plan.store.filter((v) => !ys.some((y) => y.id === v.id));
    // The original body unless a nested scan's stacks are stored: otherwise they would be written for nothing.
    const bodyVars = new Set(p.body.eqns.flatMap((d) => d.outs.map((v) => v.id)));
    const base = extra.some((v) => !bodyVars.has(v.id)) ? forward : p.body;
    const body: Graph = { ...base, outputs: [...p.body.outputs, ...carries, ...extra] };
    const newYs = body.outputs.slice(p.nCarry);
    const read = plan.store.map((v) => newYs.findIndex((y) => y.id === v.id));
    const stacks = [...carries, ...extra].map((v) => gen.fresh(stacked(v.type, p), "residual"));
    const outs = [...e.outs, ...stacks];
    plans.set(outs[0]!.id, { step, read, note: plan.reverseNote });
    return { ...e, params: { ...p, body, note: plan.forwardNote }, outs };
  });
  return { graph: { ...g, eqns }, plans };
}

/** A copy of `g` with fresh vars (nested scan bodies are shared: they are values), and the renaming. */
function cloneGraph(g: Graph, gen: VarGen) {
  const map = new Map<number, Var>();
  const fresh = (v: Var) => {
    const c = gen.fresh(v.type, v.hint);
    map.set(v.id, c);
    return c;
  };
  const at = (v: Var) => map.get(v.id) ?? v;
  const inputs = g.inputs.map(fresh);
  const eqns = g.eqns.map((e) => ({ ...e, inputs: e.inputs.map(at), outs: e.outs.map(fresh) }));
  return { graph: { inputs, eqns, outputs: g.outputs.map(at) }, at };
}

/**
 * The VJP of a scan body `f`: seeded at the float carries' next values and
 * at the ys in `yCt`, differentiated with respect to the float carries,
 * consts and xs. `gh`, `gy`: the cotangent inputs.
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
  const { graph, grads, forward } = sweep(f, () => seeded, wrt, gen);
  return { hF, cF, xF, yF, gh, gy, graph, grads, forward, seeds: [...gh, ...gy] };
}

export function scanVjp({ params: p, x, outs, cts, o, b, scanPlans }: VjpArgs<"scan">) {
  const gen = b.gen;
  const { nConsts, nCarry, nXs } = p;
  const plan = scanPlans.get(outs[0]!.id);
  if (!plan) throw new Error("autodiff: a scan on the gradient path has no residual plan");
  const { step } = plan;
  const { hF, cF, xF, yF } = step;
  // Every y with a cotangent seeded the planned step (the plan seeds all ys on the path).
  cts.forEach((c, i) => {
    if (c && i >= nCarry && !yF.includes(i - nCarry))
      throw new Error("autodiff: a scan output got a cotangent its plan did not seed");
  });
  // The planned step, in vars of the reverse body's own.
  const { graph: f, at } = cloneGraph(
    {
      inputs: [...p.body.inputs, ...step.seeds],
      eqns: step.graph.eqns,
      outputs: [...step.grads, ...p.body.outputs],
    },
    gen,
  );
  const [cIn, hIn, xIn] = [
    f.inputs.slice(0, nConsts),
    f.inputs.slice(nConsts, nConsts + nCarry),
    f.inputs.slice(nConsts + nCarry, nConsts + nCarry + nXs),
  ];
  const gh = step.gh.map(at);
  // A y on the path whose cotangent never came (it reached the loss through
  // stop_gradient or argmax) is seeded with zeros made in the body, not read.
  const came = yF.map((j) => cts[nCarry + j] != null);
  const yCts = step.gy.map(at);
  const gy = yCts.filter((_, i) => came[i]);
  const zeroSeeds = yCts
    .filter((_, i) => !came[i])
    .map((v): Eqn => ({
      op: "const",
      params: { value: 0, dtype: "f32", shape: v.type.shape },
      inputs: [],
      outs: [v],
    }));
  const grads = step.grads.map(at);
  const ys = p.body.outputs.slice(nCarry).map(at);
  const gc = cF.map((j) => gen.fresh(cIn[j]!.type, "ct_sum"));
  const sums = new Builder(gen);
  const nextGc = gc.map((acc, i) => sums.emit("add", {}, [acc, grads[hF.length + i]!]));
  // The stored residuals, read at step t in place of the forward equations that made them.
  const rIn = plan.read.map((j) => gen.fresh(ys[j]!.type, "residual"));
  const reads = new Map(plan.read.map((j, i) => [ys[j]!.id, rIn[i]!]));
  const read = (v: Var) => reads.get(v.id) ?? v;
  const eqns = [...zeroSeeds, ...f.eqns, ...sums.eqns].map((e) => ({
    ...e,
    inputs: e.inputs.map(read),
  }));
  const body = dce({
    inputs: [...cIn, ...gh, ...gc, ...xIn, ...hIn, ...rIn, ...gy],
    eqns,
    outputs: [...grads.slice(0, hF.length), ...nextGc, ...grads.slice(hF.length + cF.length)].map(
      read,
    ),
  });

  const residuals = indices(nCarry).map((k) => {
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
      nXs: nXs + nCarry + rIn.length + gy.length,
      ...(plan.note && { note: plan.note }),
    },
    [
      ...x.slice(0, nConsts),
      ...hF.map((k) => cts[k] ?? o.full(0, hIn[k]!.type.shape)),
      ...cF.map((j) => o.full(0, cIn[j]!.type.shape)),
      ...x.slice(nConsts + nCarry),
      ...residuals,
      ...plan.read.map((j) => outs[nCarry + j]!),
      ...yF.flatMap((j) => cts[nCarry + j] ?? []),
    ],
  );
  const ctOf = (list: number[], from: number) => (i: number) => {
    const at = list.indexOf(i);
    return at < 0 ? null : rev[from + at]!;
  };
  return [
    ...indices(nConsts).map(ctOf(cF, hF.length)),
    ...indices(nCarry).map(ctOf(hF, 0)),
    ...indices(nXs).map(ctOf(xF, hF.length + cF.length)),
  ];
}
