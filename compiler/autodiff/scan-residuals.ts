// Which per-step values a forward scan stores for its reverse scan.
//
// The reverse step is the VJP of the forward step: besides cotangents it
// reads forward values (gates, pre-activations, the carries). The carries
// entering each step are always stacked (scan.ts). Everything else the
// reverse step reads it can recompute from them, the consts and the scanned
// inputs — which repeats the forward step's matmuls — or read back from
// stacks the forward scan writes as extra outputs.
//
// The choice, by cost: a value made by an op that is costly to repeat
// (matmul, reduction, window op, scatter, nested scan) is never recomputed;
// values derived from those by cheap ops (elementwise, movement, constants)
// may be, from whatever is stored, since storing costs memory and a fused
// elementwise op costs about what reading a stored copy would. So the
// values to store are a minimum cut between the costly values and the
// reverse step's reads, weighted by per-step elements (scan-cut.ts): a
// stored value must be worth its memory, so nothing cheap to rebuild from a
// smaller one is stored (tanh(c') of the LSTM is rebuilt from its gates and
// the carry c). Of equally small cuts the one nearest the reverse step's
// reads wins: for the LSTM that is the gates i, f, g, o ([B, 4H] together,
// the same bytes as the pre-activations xt + h @ U), which the forward step
// computes anyway and the reverse step then reads instead of evaluating
// sigmoid and tanh again in every kernel that needs them (LSTM sample: about
// a fifth less CPU per train step than storing the pre-activations).
// Stacked outputs the model already reads are free to read back.
//
// Then the budget: the stacks take steps × per-step elements × 4 bytes, with
// symbolic dims at the sizes the options give (the train block's batch for
// B) and any other at `unknownDimSize` (large, so an unknown length errs
// towards recomputing). Over `budgetBytes` the scan stores nothing extra and
// its reverse step recomputes, as before.

import { dimEval, dimToString, dimVars, numElements, type Dim } from "../dims.ts";
import {
  type Eqn,
  type Graph,
  type ModelIR,
  type Op,
  type OpParams,
  type TrainConfig,
  type Var,
} from "../ir.ts";
import { trainDims } from "../train-dims.ts";
import { minVertexCut } from "./scan-cut.ts";

export interface ResidualOptions {
  /**
   * Bytes the stored residuals of one scan may take; past it the reverse scan
   * recomputes. Per scan, not per model (two layers may take twice this); a
   * nested scan weighs its stacks for one step of the scan around it, which
   * weighs storing them across all its steps in its own plan.
   */
  budgetBytes?: number;
  /** Sizes to weigh symbolic dims at (a dim not named here counts as `unknownDimSize`). */
  dimSizes?: Readonly<Record<string, number>>;
}

const defaultResidualBudget = 256 * 2 ** 20;
/** What a symbolic dim no option sizes counts as when weighing residuals. */
const unknownDimSize = 1024;

/** The sizes a train block tells: its batch, for the batch dim (train-dims.ts). */
export function residualOptions(model: ModelIR, train: TrainConfig): ResidualOptions {
  return {
    dimSizes: trainDims(
      model.inputs.map((i) => i.var),
      train.batch,
    ),
  };
}

/**
 * Whether an op's result is cheaper to store than to compute again (see the
 * header): products, reductions, window ops, scatters and loops are; maps,
 * movement and constants are not.
 */
const costly: { [P in Op]: boolean } = {
  neg: false,
  exp: false,
  log: false,
  sqrt: false,
  abs: false,
  sign: false,
  tanh: false,
  sigmoid: false,
  add: false,
  sub: false,
  mul: false,
  div: false,
  pow: false,
  max: false,
  min: false,
  eq: false,
  ne: false,
  lt: false,
  le: false,
  gt: false,
  ge: false,
  select: false,
  cast: false,
  const: false,
  dimval: false,
  iota: false,
  reduce_sum: true,
  reduce_max: true,
  argmax: true,
  matmul: true,
  reshape: false,
  transpose: false,
  broadcast: false,
  slice: false,
  pad: false,
  concat: false,
  gather: false,
  scatter_add: true,
  // Counter-based: the same draw again, at the cost of a hash.
  random: false,
  stop_gradient: false,
  conv2d: true,
  conv2d_grad_input: true,
  conv2d_grad_filter: true,
  max_pool: true,
  max_pool_grad: true,
  max_pool_pick: true,
  avg_pool: true,
  avg_pool_grad: true,
  scan: true,
};

type ScanParams = OpParams["scan"];

/** What the forward scan stores for its reverse step, and why (shown by the dumps). */
export interface ResidualPlan {
  /** Forward-body vars to stack (some may be ys the body already yields). */
  store: Var[];
  /** One line for the forward scan, one for the reverse scan. */
  forwardNote: string;
  reverseNote: string;
}

/** The reverse step as the planner sees it: the body's VJP and the cotangents seeding it. */
export interface ReverseStep {
  graph: Graph;
  /** The cotangents of the carries, consts and xs: what the reverse step computes. */
  grads: Var[];
  seeds: Var[];
}

/** A dim's size at the planning sizes, and the symbolic dims it used. */
function sizer(opts: ResidualOptions) {
  const used = new Map<string, number>();
  const size = (d: Dim): number => {
    const env: Record<string, number> = {};
    for (const name of dimVars(d)) {
      env[name] = opts.dimSizes?.[name] ?? unknownDimSize;
      used.set(name, env[name]!);
    }
    return dimEval(d, env);
  };
  /** ` at B=50, T=20` (and which sizes are guesses), or "" when every dim was a number. */
  const at = () => {
    if (used.size === 0) return "";
    const guessed = [...used.keys()].filter((name) => opts.dimSizes?.[name] === undefined);
    const sizes = [...used].map(([name, n]) => `${name}=${n}`).join(", ");
    return ` at ${sizes}${guessed.length ? `, no size known for ${guessed.join(", ")}` : ""}`;
  };
  return { size, at };
}

/** `v`'s name for a dump: its hint, else its op applied to its inputs' names, two levels deep. */
function nameOf(v: Var, defs: Map<number, Eqn>, depth = 2): string {
  const e = defs.get(v.id);
  if (v.hint !== undefined) return v.hint;
  if (e?.op === "const") return String(e.params.value);
  if (!e) return "input";
  if (depth === 0) return e.op;
  return `${e.op}(${e.inputs.map((x) => nameOf(x, defs, depth - 1)).join(", ")})`;
}

/** `a, b [B, 32]`, or `a, b (each [B, 32])`: names grouped by shape. */
function describe(vs: Var[], defs: Map<number, Eqn>): string {
  const byShape = new Map<string, string[]>();
  for (const v of vs) {
    const shape = `[${v.type.shape.map(dimToString).join(", ")}]`;
    byShape.set(shape, [...(byShape.get(shape) ?? []), nameOf(v, defs)]);
  }
  return [...byShape]
    .map(([shape, names]) => `${names.join(", ")} ${names.length > 1 ? `(each ${shape})` : shape}`)
    .join(", ");
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1)} MiB`;

/**
 * The residuals a scan's reverse step should read stacked rather than
 * recompute. `stackedYs`: body vars the forward scan already yields stacked
 * and the model reads (free to read back).
 */
export function planResiduals(
  p: ScanParams,
  step: ReverseStep,
  stackedYs: ReadonlySet<number>,
  opts: ResidualOptions,
): ResidualPlan {
  const defs = new Map<number, Eqn>();
  for (const e of step.graph.eqns) for (const v of e.outs) defs.set(v.id, e);
  const own = new Set(p.body.eqns.flatMap((e) => e.outs.map((v) => v.id)));
  // Values that do not depend on a cotangent are the forward step's (or functions of them).
  const backward = new Set(step.seeds.map((v) => v.id));
  const forward: Eqn[] = [];
  const reads = new Set(step.grads.map((v) => v.id));
  for (const e of step.graph.eqns)
    if (e.inputs.some((x) => backward.has(x.id))) {
      e.outs.forEach((v) => backward.add(v.id));
      e.inputs.forEach((x) => reads.add(x.id));
    } else forward.push(e);

  const vars = forward.flatMap((e) => e.outs);
  const node = new Map(vars.map((v, i) => [v.id, i]));
  const { size, at } = sizer(opts);
  const elems = (v: Var) => size(numElements(v.type.shape));
  // Outputs the model reads are stacked anyway; values the VJP made cannot be yielded by the forward body.
  const capacity = vars.map((v) => (stackedYs.has(v.id) ? 0 : own.has(v.id) ? elems(v) : Infinity));
  const edges: [number, number][] = [];
  const sources: number[] = [];
  for (const e of forward)
    for (const v of e.outs) {
      if (costly[e.op]) sources.push(node.get(v.id)!);
      else
        for (const x of e.inputs)
          if (node.has(x.id)) edges.push([node.get(x.id)!, node.get(v.id)!]);
    }
  const sinks = vars.filter((v) => reads.has(v.id)).map((v) => node.get(v.id)!);
  const cut = minVertexCut({ capacity, sources, sinks, edges });

  const steps = size(p.length);
  const recompute = (why: string): ResidualPlan => ({
    store: [],
    forwardNote: `recomputes in the reverse scan: ${why}`,
    reverseNote: `recomputes the forward step: ${why}`,
  });
  if (cut === null) return recompute("a value it reads cannot be stacked");
  const store = cut.map((i) => vars[i]!);
  if (store.length === 0) return recompute("it reads only cheap functions of carries and inputs");
  const names = (vs: Var[]) => describe(vs, defs);
  const length = dimToString(p.length);
  const extra = store.filter((v) => !stackedYs.has(v.id));
  const outputs = store.filter((v) => stackedYs.has(v.id));
  // Outputs read back cost memory too: they stay alive until the reverse scan.
  const bytes = 4 * steps * store.reduce((n, v) => n + elems(v), 0);
  const amount = `${mib(bytes)}${at()}`;
  const budget = opts.budgetBytes ?? defaultResidualBudget;
  if (bytes > budget)
    return recompute(
      `storing ${names(store)} × ${length} would take ${amount}, over the ${mib(budget)} budget`,
    );
  const stores = extra.length ? `stores residuals: ${names(extra)} × ${length}` : "";
  const readsBack = outputs.length
    ? `${stores ? " and" : "stores nothing extra:"} the reverse scan reads back its output ${names(outputs)}`
    : "";
  return {
    store,
    forwardNote: `${stores}${readsBack} (${amount})`,
    reverseNote: `reads stored residuals at step t: ${names(store)}`,
  };
}
