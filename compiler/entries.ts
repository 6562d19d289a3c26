// From a model to the callable entries of the emitted module:
//   init      seed -> initial params
//   predict   inputs (training = false) -> outputs
//   evaluate  inputs (training = false) -> loss, metrics
//   step      inputs, params, optimizer state (training = true)
//               -> loss, metrics, new params, new state
// The step is ONE graph (forward, backward and optimizer update) so fusion
// and scheduling see the whole training step. Optimizer state buffers all
// start at zero; the runtime owns them between calls.

import { grad } from "./autodiff.ts";
import { residualOptions, type ResidualOptions } from "./autodiff/scan-residuals.ts";
import { Builder } from "./builder.ts";
import type {
  Entry,
  Graph,
  InSlot,
  ModelIR,
  OptimizerConfig,
  OptimizerKind,
  OutSlot,
  TensorType,
  TrainConfig,
  Var,
  VarGen,
} from "./ir.ts";
import { bindInputs } from "./simplify.ts";

export interface StateBuffer {
  name: string;
  type: TensorType;
}

// ---------------------------------------------------------------- optimizers

/** Scalar arithmetic on vars, for writing update rules as IR. */
function arith(b: Builder) {
  const bin = (op: "add" | "sub" | "mul" | "div" | "pow") => (x: Var | number, y: Var | number) =>
    b.emit(op, {}, [lift(x), lift(y)]);
  const lift = (x: Var | number): Var =>
    typeof x === "number" ? b.emit("const", { value: x, dtype: "f32", shape: [] }, []) : x;
  return {
    add: bin("add"),
    sub: bin("sub"),
    mul: bin("mul"),
    div: bin("div"),
    pow: bin("pow"),
    sqrt: (x: Var) => b.emit("sqrt", {}, [x]),
  };
}
type Arith = ReturnType<typeof arith>;

interface Optimizer {
  /** Names of the per-param state buffers (suffixes of the param path). */
  moments(cfg: OptimizerConfig): string[];
  /** Whether the update reads the 1-based step count (for bias correction). */
  usesStep: boolean;
  /**
   * The descent direction `d` (the update is p -= lr * (d + wd * p)) and the
   * new state, from gradient `g`, the current state and the step count `t`.
   */
  direction(
    a: Arith,
    cfg: OptimizerConfig,
    g: Var,
    state: Var[],
    t: Var | null,
  ): { d: Var; state: Var[] };
}

/** Plain or heavy-ball SGD; nesterov looks ahead along the new velocity (PyTorch's form). */
const sgd: Optimizer = {
  moments: (cfg) => (cfg.momentum !== 0 ? ["momentum"] : []),
  usesStep: false,
  direction(a, cfg, g, [v]) {
    if (!v) return { d: g, state: [] };
    const v1 = a.add(a.mul(cfg.momentum, v), g);
    return { d: cfg.nesterov ? a.add(g, a.mul(cfg.momentum, v1)) : v1, state: [v1] };
  },
};

/** Adam with bias-corrected moments (Kingma & Ba, algorithm 1). */
const adam: Optimizer = {
  moments: () => ["m", "v"],
  usesStep: true,
  direction(a, cfg, g, [m, v], t) {
    const m1 = a.add(a.mul(cfg.beta1, m!), a.mul(1 - cfg.beta1, g));
    const v1 = a.add(a.mul(cfg.beta2, v!), a.mul(1 - cfg.beta2, a.mul(g, g)));
    const mHat = a.div(m1, a.sub(1, a.pow(cfg.beta1, t!)));
    const vHat = a.div(v1, a.sub(1, a.pow(cfg.beta2, t!)));
    return { d: a.div(mHat, a.add(a.sqrt(vHat), cfg.eps)), state: [m1, v1] };
  },
};

/** gd is sgd on the full batch: the difference lives in the trainer's batching. */
const optimizers: { [K in OptimizerKind]: Optimizer } = { gd: sgd, sgd, adam };

// ---------------------------------------------------------------- entries

/** The slot each model var is fed from. */
function modelSlots(model: ModelIR): Map<number, InSlot> {
  const slots = new Map<number, InSlot>();
  model.inputs.forEach((i) => slots.set(i.var.id, { kind: "input", name: i.name }));
  model.params.forEach((p, index) => slots.set(p.var.id, { kind: "param", index }));
  slots.set(model.seed.id, { kind: "seed" });
  return slots;
}

/** An entry with a slot for each graph input (simplify.ts later drops the inputs nothing reads). */
function finish(
  name: Entry["name"],
  graph: Graph,
  slots: Map<number, InSlot>,
  outSlots: OutSlot[],
  keepInputs = false,
): Entry {
  const inSlots = graph.inputs.map((v) => {
    const slot = slots.get(v.id);
    if (!slot) throw new Error(`entry ${name}: graph input ${v.hint ?? v.id} has no slot`);
    return slot;
  });
  return { name, graph, inSlots, outSlots, ...(keepInputs && { keepInputs }) };
}

/** The forward graph with `training` fixed, returning `outputs`. */
function forwardWith(model: ModelIR, training: boolean, outputs: Var[]): Graph {
  const g = bindInputs(model.forward, new Map([[model.training, training ? 1 : 0]]));
  return { ...g, outputs };
}

function evalOutputs(model: ModelIR): { vars: Var[]; slots: OutSlot[] } {
  const vars: Var[] = [];
  const slots: OutSlot[] = [];
  if (model.loss) {
    vars.push(model.loss);
    slots.push({ kind: "loss" });
  }
  for (const m of model.metrics) {
    vars.push(m.var);
    slots.push({ kind: "metric", name: m.name });
  }
  return { vars, slots };
}

function stepEntry(
  model: ModelIR,
  loss: Var,
  cfg: OptimizerConfig,
  residuals: ResidualOptions,
  gen: VarGen,
): { entry: Entry; state: StateBuffer[] } {
  const opt = optimizers[cfg.kind];
  const evals = evalOutputs(model);
  const params = model.params.map((p) => p.var);
  const forward = forwardWith(model, true, evals.vars);
  const { graph: withGrads, grads } = grad(forward, loss, params, gen, residuals);

  const slots = modelSlots(model);
  const state: StateBuffer[] = [];
  const stateVars: Var[] = [];
  const t = opt.usesStep ? gen.fresh({ dtype: "f32", shape: [] }, "step") : null;
  if (t) slots.set(t.id, { kind: "step" });

  const b = new Builder(gen);
  const a = arith(b);
  const newParams: Var[] = [];
  const newState: Var[] = [];
  model.params.forEach((p, i) => {
    const names = opt.moments(cfg).map((suffix) => `${p.path}.${suffix}`);
    const mine = names.map((name) => {
      const v = gen.fresh(p.var.type, name);
      slots.set(v.id, { kind: "state", index: state.length });
      state.push({ name, type: p.var.type });
      stateVars.push(v);
      return v;
    });
    const { d, state: next } = opt.direction(a, cfg, grads[i]!, mine, t);
    // Decoupled weight decay (Loshchilov & Hutter): shrink p directly, not through the gradient.
    const dir = cfg.weightDecay !== 0 ? a.add(d, a.mul(cfg.weightDecay, p.var)) : d;
    const p1 = a.sub(p.var, a.mul(cfg.lr, dir));
    p1.hint = `new ${p.path}`;
    newParams.push(p1);
    next.forEach((v, k) => (v.hint ??= `new ${names[k]}`));
    newState.push(...next);
  });

  const graph: Graph = {
    inputs: [...withGrads.inputs, ...stateVars, ...(t ? [t] : [])],
    eqns: [...withGrads.eqns, ...b.eqns],
    outputs: [...evals.vars, ...newParams, ...newState],
  };
  const outSlots: OutSlot[] = [
    ...evals.slots,
    ...model.params.map((_, index): OutSlot => ({ kind: "param", index })),
    ...state.map((_, index): OutSlot => ({ kind: "state", index })),
  ];
  return { entry: finish("step", graph, slots, outSlots), state };
}

/**
 * All entries of a model. `step` exists when the model has a loss and a
 * training configuration is given; `state` lists its optimizer buffers.
 */
export function buildEntries(
  model: ModelIR,
  train: TrainConfig | null,
  gen: VarGen,
): { entries: Entry[]; state: StateBuffer[] } {
  const slots = modelSlots(model);
  const paramSlots = model.params.map((_, index): OutSlot => ({ kind: "param", index }));
  const initSlots = new Map<number, InSlot>([[model.init.inputs[0]!.id, { kind: "seed" }]]);
  // init keeps its seed input even when every initialiser is constant, so
  // the runtime always calls it the same way.
  const init = finish("init", model.init, initSlots, paramSlots, true);

  const outputs = model.outputs.map((o) => o.var);
  const predict = finish(
    "predict",
    forwardWith(model, false, outputs),
    slots,
    model.outputs.map((o): OutSlot => ({ kind: "output", name: o.name })),
  );
  const evals = evalOutputs(model);
  const evaluate = finish("evaluate", forwardWith(model, false, evals.vars), slots, evals.slots);

  const entries = [init, predict, evaluate];
  if (!model.loss || !train) return { entries, state: [] };
  // Scans weigh what they store for their reverse scans at the train block's batch.
  const step = stepEntry(model, model.loss, train.optimizer, residualOptions(model, train), gen);
  return { entries: [...entries, step.entry], state: step.state };
}
