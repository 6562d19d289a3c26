// Learning-rate schedules (v2 train blocks): the lr of step t, a pure
// function of the schedule, the step's 1-based number and the run's shape
// (steps per epoch, epochs). The step count is the model's own (restored by
// load()), so a resumed run gets the same lr at every step as one never
// stopped. Definitions are PyTorch's schedulers, stepped once per epoch
// (StepLR, ExponentialLR) or once per step (LinearLR, CosineAnnealingLR):
//
//   constant(v)                      v
//   step_decay(v, every: E, gamma)   v * gamma^floor((e - 1) / E)       StepLR(step_size=E); e: 1-based epoch of step t
//   exponential(v, gamma)            v * gamma^(e - 1)                  ExponentialLR
//   linear_warmup(v, steps: N)       v * min(1, t / N)                  LinearLR(start_factor=1/N, total_iters=N-1)
//   cosine(v, warmup: N)             v * t / N for t <= N, then         that warm-up, then (SequentialLR)
//                                    v * (1 + cos(pi * (t - N - 1) / (T - N))) / 2    CosineAnnealingLR(T_max=T-N)
//
// where T = stepsPerEpoch * epochs is the run's last step: cosine's lr would
// reach 0 at the step after it (and is 0 for any step past the run).

import type { Schedule } from "./program.ts";

/** The run a schedule is evaluated over: epoch length and epoch count (null: not given). */
export interface RunShape {
  stepsPerEpoch: number | null;
  epochs: number;
}

type Kind = Schedule["kind"];
type Of<K extends Kind> = Extract<Schedule, { kind: K }>;

interface Rule<K extends Kind> {
  /** What the rule reads of the run besides t: nothing, the epoch (stepsPerEpoch), or the run's length. */
  needs: "nothing" | "epoch" | "length";
  lr(s: Of<K>, t: number, epoch: number, total: number): number;
  /** Its arguments as the train block spells them, after the base value. */
  args(s: Of<K>): string[];
}

const rules: { [K in Kind]: Rule<K> } = {
  constant: { needs: "nothing", lr: (s) => s.lr, args: () => [] },
  step_decay: {
    needs: "epoch",
    lr: (s, _t, e) => s.lr * s.gamma ** Math.floor((e - 1) / s.every),
    args: (s) => [`every: ${s.every}`, `gamma: ${s.gamma}`],
  },
  exponential: {
    needs: "epoch",
    lr: (s, _t, e) => s.lr * s.gamma ** (e - 1),
    args: (s) => [`gamma: ${s.gamma}`],
  },
  linear_warmup: {
    needs: "nothing",
    lr: (s, t) => s.lr * Math.min(1, t / s.steps),
    args: (s) => [`steps: ${s.steps}`],
  },
  cosine: {
    needs: "length",
    lr(s, t, _e, total) {
      if (t <= s.warmup) return (s.lr * t) / s.warmup;
      if (t > total) return 0;
      return (s.lr * (1 + Math.cos((Math.PI * (t - s.warmup - 1)) / (total - s.warmup)))) / 2;
    },
    args: (s) => [`warmup: ${s.warmup}`],
  },
};

const rule = <K extends Kind>(s: Of<K>): Rule<K> => rules[s.kind as K];

/** `cosine(0.0003, warmup: 100)`: the schedule as a train block writes it. */
export function describeSchedule(s: Schedule): string {
  if (s.kind === "constant") return String(s.lr);
  return `${s.kind}(${[String(s.lr), ...rule(s).args(s)].join(", ")})`;
}

/** Whether the lr of a step depends on the run's length (cosine): another --epochs moves every step's lr. */
export function dependsOnLength(s: Schedule): boolean {
  return rule(s).needs === "length";
}

/** The same schedule from another base value (`dlg train --lr`). */
export function withBase(s: Schedule, lr: number): Schedule {
  return { ...s, lr };
}

/**
 * Why `run` cannot drive `s` (a missing epoch length, a warm-up as long as
 * the run), or null when it can. The message is for createModel's caller.
 */
export function runProblem(s: Schedule, run: RunShape): string | null {
  const { needs } = rule(s);
  if (needs !== "nothing" && run.stepsPerEpoch === null)
    return (
      `the learning rate follows ${describeSchedule(s)}, which ` +
      `${needs === "epoch" ? "changes per epoch" : "decays over the whole run"}: create the model with ` +
      `createModel({ stepsPerEpoch: N${needs === "length" ? ", epochs: E" : ""} }) (N = ceil(examples / batch size))`
    );
  if (run.stepsPerEpoch === null) return null;
  const total = run.stepsPerEpoch * run.epochs;
  const warm = s.kind === "cosine" ? s.warmup : s.kind === "linear_warmup" ? s.steps : 0;
  // A warm-up may end at the run's last step; cosine needs at least one step of decay after it.
  if (s.kind === "cosine" ? warm < total : warm <= total) return null;
  return (
    `${describeSchedule(s)} warms up over ${warm} steps, but the run has ${total} ` +
    `(${run.stepsPerEpoch} step${run.stepsPerEpoch === 1 ? "" : "s"} per epoch × ${run.epochs} epoch${run.epochs === 1 ? "" : "s"})` +
    (s.kind === "cosine" ? ": cosine needs at least one step after its warm-up" : "")
  );
}

/** The lr of 1-based step `t`; throws runProblem's message when `run` cannot drive `s`. */
export function scheduleLr(s: Schedule, t: number, run: RunShape): number {
  const problem = runProblem(s, run);
  if (problem !== null) throw new Error(problem);
  const spe = run.stepsPerEpoch ?? 1;
  const epoch = Math.floor((t - 1) / spe) + 1;
  return rule(s).lr(s, t, epoch, spe * run.epochs);
}
