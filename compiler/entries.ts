// From a model to the callable entries of the emitted module:
//   init      seed -> initial params
//   predict   inputs (training = false) -> outputs
//   evaluate  inputs (training = false) -> loss, metrics
//   step      inputs, params, optimizer state (training = true)
//               -> loss, metrics, new params, updated states, new optimizer state
// The step is ONE graph (forward, backward and optimizer update) so fusion
// and scheduling see the whole training step. Optimizer state buffers all
// start at zero; the runtime owns them between calls.

import { grad } from "./autodiff.ts";
import { residualOptions, type ResidualOptions } from "./autodiff/scan-residuals.ts";
import type {
  Entry,
  Eqn,
  Graph,
  InSlot,
  ModelIR,
  OutSlot,
  TensorType,
  TrainConfig,
  Var,
  VarGen,
} from "./ir.ts";
import { optimizerUpdate, type StateBuffer } from "./optimizers.ts";
import { bindInputs } from "./simplify.ts";

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

/**
 * The forward graph with `training` fixed, returning `outputs`. A select on
 * the flag (`if training`, std dropout) becomes its taken branch here,
 * before autodiff: folded later, the other branch would still get a
 * backward pass (its zero cotangent divided by `2 * sqrt(...)` does not fold).
 * The branch's broadcast to the select's type is an identity simplify drops.
 */
function forwardWith(model: ModelIR, training: boolean, outputs: Var[]): Graph {
  const g = bindInputs(model.forward, new Map([[model.training, training ? 1 : 0]]));
  const eqns = g.eqns.map((e): Eqn => {
    if (e.op !== "select" || e.inputs[0]!.id !== model.training.id) return e;
    const taken = e.inputs[training ? 1 : 2]!;
    return { ...e, op: "broadcast", params: { shape: e.outs[0]!.type.shape }, inputs: [taken] };
  });
  return { ...g, eqns, outputs };
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
  train: TrainConfig,
  residuals: ResidualOptions,
  gen: VarGen,
): { entry: Entry; state: StateBuffer[] } {
  const evals = evalOutputs(model);
  // States (v2) get no gradient and no optimizer buffers: step() writes their `update` values back instead.
  const trained = model.params.flatMap((p, index) => (p.state ? [] : [{ ...p, index }]));
  const updates = model.updates.map((u) => u.var);
  const forward = forwardWith(model, true, [...evals.vars, ...updates]);
  const params = trained.map((p) => p.var);
  const { graph: withGrads, grads } = grad(forward, loss, params, gen, residuals);

  const slots = modelSlots(model);
  const up = optimizerUpdate(gen, train, trained, grads, slots);

  const graph: Graph = {
    inputs: [...withGrads.inputs, ...up.inputs],
    eqns: [...withGrads.eqns, ...up.eqns],
    outputs: [...evals.vars, ...up.newParams, ...updates, ...up.newState],
  };
  const outSlots: OutSlot[] = [
    ...evals.slots,
    ...trained.map((p): OutSlot => ({ kind: "param", index: p.index })),
    ...model.updates.map((u): OutSlot => ({ kind: "param", index: u.index })),
    ...up.state.map((_, index): OutSlot => ({ kind: "state", index })),
  ];
  return { entry: finish("step", graph, slots, outSlots), state: up.state };
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
  const step = stepEntry(model, model.loss, train, residualOptions(model, train), gen);
  return { entries: [...entries, step.entry], state: step.state };
}
