// The optimizer update of the step graph: per trainable param, its state
// buffers (momentum, Adam moments), the descent direction and the new value,
// written as IR so fusion sees the whole step. entries.ts calls it once
// with the gradients autodiff produced. Before the update, `clip_norm`
// rescales every gradient by one factor (PyTorch's clip_grad_norm_); the lr
// is a constant of the graph, or, under a schedule, the `lr` in-slot the
// runtime fills per step (runtime/schedule.ts).

import { Builder } from "./builder.ts";
import type {
  Eqn,
  InSlot,
  OptimizerConfig,
  OptimizerKind,
  TensorType,
  TrainConfig,
  Var,
  VarGen,
} from "./ir.ts";

/** An optimizer state buffer of the step (a param's momentum, an Adam moment): its name and type. */
export interface StateBuffer {
  name: string;
  type: TensorType;
}

/** Scalar arithmetic on vars, for writing update rules as IR. */
function arith(b: Builder) {
  const bin =
    (op: "add" | "sub" | "mul" | "div" | "pow" | "min") => (x: Var | number, y: Var | number) =>
      b.emit(op, {}, [lift(x), lift(y)]);
  const lift = (x: Var | number): Var =>
    typeof x === "number" ? b.emit("const", { value: x, dtype: "f32", shape: [] }, []) : x;
  return {
    add: bin("add"),
    sub: bin("sub"),
    mul: bin("mul"),
    div: bin("div"),
    pow: bin("pow"),
    min: bin("min"),
    sqrt: (x: Var) => b.emit("sqrt", {}, [x]),
    /** The sum of every element of `x`, as a scalar. */
    total: (x: Var) => b.emit("reduce_sum", { axes: x.type.shape.map((_, i) => i) }, [x]),
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

/**
 * gd is sgd on the full batch: the difference lives in the trainer's batching.
 * adamw is adam with PyTorch AdamW's default weight_decay (train-config.ts):
 * weight decay is decoupled for every optimizer (see optimizerUpdate).
 */
const optimizers: { [K in OptimizerKind]: Optimizer } = { gd: sgd, sgd, adam, adamw: adam };

/**
 * PyTorch's clip_grad_norm_: the global L2 norm over every gradient, and
 * each gradient times min(1, maxNorm / (norm + 1e-6)).
 */
function clipByGlobalNorm(a: Arith, grads: readonly Var[], maxNorm: number): Var[] {
  if (grads.length === 0) return [];
  const squares = grads.map((g) => a.total(a.mul(g, g)));
  const norm = a.sqrt(squares.reduce((s, x) => a.add(s, x)));
  const coef = a.min(a.div(maxNorm, a.add(norm, 1e-6)), 1);
  coef.hint = "clip coefficient";
  return grads.map((g) => a.mul(g, coef));
}

/** What the update reads of a train block. */
type UpdateConfig = Pick<TrainConfig, "optimizer" | "clipNorm" | "epochs">;

/** The update of every trainable param from its gradient: new params, the optimizer's state buffers and their new values. */
export function optimizerUpdate(
  gen: VarGen,
  train: UpdateConfig,
  params: readonly { path: string; var: Var }[],
  grads: readonly Var[],
  slots: Map<number, InSlot>,
): { inputs: Var[]; eqns: Eqn[]; newParams: Var[]; newState: Var[]; state: StateBuffer[] } {
  const { optimizer: cfg, clipNorm, epochs } = train;
  const opt = optimizers[cfg.kind];
  const state: StateBuffer[] = [];
  const stateVars: Var[] = [];
  const t = opt.usesStep ? gen.fresh({ dtype: "f32", shape: [] }, "step") : null;
  if (t) slots.set(t.id, { kind: "step" });
  // A constant lr stays a literal of the graph, so constant-lr steps compile as before.
  const lr = cfg.schedule.kind === "constant" ? null : gen.fresh({ dtype: "f32", shape: [] }, "lr");
  if (lr) slots.set(lr.id, { kind: "lr", schedule: cfg.schedule, epochs });

  const b = new Builder(gen);
  const a = arith(b);
  const gs = clipNorm === null ? grads : clipByGlobalNorm(a, grads, clipNorm);
  const newParams: Var[] = [];
  const newState: Var[] = [];
  params.forEach((p, i) => {
    const names = opt.moments(cfg).map((suffix) => `${p.path}.${suffix}`);
    const mine = names.map((name) => {
      const v = gen.fresh(p.var.type, name);
      slots.set(v.id, { kind: "state", index: state.length });
      state.push({ name, type: p.var.type });
      stateVars.push(v);
      return v;
    });
    const { d, state: next } = opt.direction(a, cfg, gs[i]!, mine, t);
    // Decoupled weight decay (Loshchilov & Hutter): shrink p directly, not through the gradient.
    const dir = cfg.weightDecay !== 0 ? a.add(d, a.mul(cfg.weightDecay, p.var)) : d;
    const p1 = a.sub(p.var, a.mul(lr ?? cfg.lr, dir));
    p1.hint = `new ${p.path}`;
    newParams.push(p1);
    next.forEach((v, k) => (v.hint ??= `new ${names[k]}`));
    newState.push(...next);
  });

  const extra = [...(t ? [t] : []), ...(lr ? [lr] : [])];
  return { inputs: [...stateVars, ...extra], eqns: b.eqns, newParams, newState, state };
}
