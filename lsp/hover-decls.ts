// Hovers on whole declarations, where no expression type is recorded: a
// model's signature (its inputs, outputs, metrics, loss and parameters, from
// the types the analysis recorded at their names), and a train block's
// settings and optimizer (train-config.ts checks them without evalExpr, so
// they have no TypeAt; their meaning and defaults are written here and in
// callables.ts's optimizer signatures).

import type { Expr, Span, TrainDecl } from "../grammar/index.ts";
import {
  defaultTrainConfig,
  optimizerArgs,
  scheduleArgs,
  trainKeys,
} from "../compiler/elaborate/train-config.ts";
import type { OptimizerKind, Schedule } from "../compiler/ir.ts";
import type { Analysis, SymbolDef } from "../compiler/symbols.ts";
import { optimizers } from "./callables.ts";
import { spanKey, typesBySpan } from "./lookup.ts";
import { holds } from "./text.ts";

/** What a hover shows: its code lines (a signature, a type) and prose, over `span`. */
export interface DeclHover {
  code: string[];
  prose: string[];
  span: Span;
}

type TrainKey = (typeof trainKeys)[number];
type OptimizerSetting = "lr" | "momentum" | "nesterov" | "beta1" | "beta2" | "eps" | "weight_decay";

const defaults = defaultTrainConfig("");

const trainMeaning: { [K in TrainKey]: string } = {
  optimizer: `The optimizer that updates the parameters: \`gd\`, \`sgd\`, \`adam\` or \`adamw\`, with its settings (\`adam(lr: 0.001)\`). Default \`sgd(lr: ${defaults.optimizer.lr})\`.`,
  batch: `Examples per training step: a positive integer, or \`full\` for the whole data set in one step. Default ${defaults.batch}.`,
  epochs: `Passes over the training data. Default ${defaults.epochs}.`,
  seed: `Seed of the parameters' initialization and the data's shuffling, for runs that repeat exactly. Default ${defaults.seed}.`,
  clip_norm:
    "Clips the gradients before each update: when their global L2 norm (over every trainable parameter) exceeds this value, all are scaled down to it (PyTorch's `clip_grad_norm_`). Default: no clipping.",
  keep: "`keep best loss` or `keep best METRIC`: the epoch with the best validation value (lowest loss, highest metric) is the one kept: restored at the end of training, tested and saved.",
  patience:
    "Stops training after this many epochs without a better validation value than the kept one (needs `keep best`). Default: never.",
};

type ScheduleKind = Schedule["kind"];

const scheduleMeaning: { [K in ScheduleKind]: string } = {
  constant: "The same learning rate at every step.",
  step_decay:
    "The learning rate times `gamma` every `every` epochs (PyTorch's StepLR); needs the run's steps per epoch.",
  exponential:
    "The learning rate times `gamma` after every epoch (PyTorch's ExponentialLR); needs the run's steps per epoch.",
  linear_warmup:
    "Rises linearly to the learning rate over the first `steps` steps (step t: lr·t/steps), then stays there.",
  cosine:
    "`warmup` steps of linear warm-up, then cosine annealing towards 0 over the rest of the run (PyTorch's CosineAnnealingLR); needs the run's length.",
};

/** `cosine(lr: float, warmup: int = 0)`: a schedule as its call is written. */
function scheduleLabel(kind: ScheduleKind): string {
  const args = scheduleArgs[kind].map(
    (a) =>
      `${a.name}: ${a.kind === "factor" ? "float" : "int"}${a.default === undefined ? "" : ` = ${a.default}`}`,
  );
  return `${kind}(${["lr: float", ...args].join(", ")})`;
}

const isSchedule = (k: string): k is ScheduleKind => k in scheduleArgs;

/** The hover of a schedule call `e` (an optimizer's `lr`), when the cursor is on its name. */
function scheduleHover(e: Expr, offset: number): DeclHover | null {
  if (e.kind !== "Call" || e.callee.kind !== "Name" || !holds(e.callee.span, offset)) return null;
  const kind = e.callee.name;
  if (!isSchedule(kind)) return null;
  return { code: [scheduleLabel(kind)], prose: [scheduleMeaning[kind]], span: e.callee.span };
}

const optimizerMeaning: { [K in OptimizerKind]: string } = {
  gd: "Gradient descent: each step moves the parameters against their gradient, scaled by `lr`.",
  sgd: "Stochastic gradient descent, with optional (Nesterov) momentum.",
  adam: "Adam: per-parameter step sizes from running averages of the gradient and its square.",
  adamw:
    "AdamW (PyTorch's): Adam with decoupled weight decay (Loshchilov & Hutter), `weight_decay` 0.01 by default: each step also shrinks every parameter by lr·weight_decay·p.",
};

const settingMeaning: { [K in OptimizerSetting]: string } = {
  lr: "The learning rate: how far each step moves the parameters (positive), or a schedule: `constant`, `step_decay`, `exponential`, `linear_warmup`, `cosine`.",
  momentum: "How much of the previous step carries into the next, in [0, 1).",
  nesterov: "Whether momentum looks ahead (Nesterov's variant): true or false.",
  beta1: "Decay of the running average of the gradient, in [0, 1).",
  beta2: "Decay of the running average of the squared gradient, in [0, 1).",
  eps: "Added to the denominator so a step never divides by zero (positive).",
  weight_decay:
    "Shrinks every parameter toward zero each step by this factor times `lr` (zero or positive).",
};

const isTrainKey = (k: string): k is TrainKey => (trainKeys as readonly string[]).includes(k);
const isOptimizer = (k: string): k is OptimizerKind => k in optimizerArgs;
const isSetting = (k: string): k is OptimizerSetting => k in settingMeaning;

/** A train block's key, optimizer, optimizer setting or `full` under the cursor. */
export function trainHover(a: Analysis, file: string, offset: number): DeclHover | null {
  const program = a.programs.get(file);
  const decl = program?.decls.find(
    (d): d is TrainDecl => d.kind === "Train" && holds(d.span, offset),
  );
  for (const st of decl?.settings ?? []) {
    const key = st.key.name;
    if (holds(st.key.span, offset) && isTrainKey(key))
      return {
        code: [`${key}: setting of train ${decl!.name.name}`],
        prose: [trainMeaning[key]],
        span: st.key.span,
      };
    const v = st.value;
    const callee = v.kind === "Call" ? v.callee : v;
    if (key === "optimizer" && callee.kind === "Name" && isOptimizer(callee.name)) {
      const sig = optimizers().find((s) => s.name === callee.name)!;
      if (holds(callee.span, offset))
        return { code: [sig.label], prose: [optimizerMeaning[callee.name]], span: callee.span };
      for (const arg of v.kind === "Call" ? v.args : []) {
        // `adam(0.01)`: only lr may be positional.
        const name = arg.name?.name ?? "lr";
        const span = arg.name?.span ?? arg.value.span;
        if (name === "lr") {
          const h = scheduleHover(arg.value, offset);
          if (h) return h;
        }
        const param = sig.params.find((p) => p.name === name);
        if (holds(span, offset) && param && isSetting(name))
          return {
            code: [`${name}: ${param.detail}`],
            prose: [settingMeaning[name]],
            span,
          };
      }
    }
    if (key === "batch" && v.kind === "Name" && v.name === "full" && holds(v.span, offset))
      return {
        code: ["batch full"],
        prose: ["The whole training set in every step."],
        span: v.span,
      };
  }
  return null;
}

/**
 * `model mlp(x: f32[B, 784], y: i32[B]) -> probs: f32[B, 10]`, then its
 * metrics, loss and parameters: what an application feeds it and gets back.
 */
export function modelSignature(a: Analysis, model: SymbolDef): string[] {
  const types = typesBySpan(a);
  const members = [...a.symbols.defs.values()]
    .filter((d) => d.container === model.id)
    .sort((x, y) => x.span.start - y.span.start);
  // The recorded `x: f32[B, 784]`, else the declaration as written (`input x: [B, 784]`).
  const typed = (d: SymbolDef) =>
    types.get(spanKey(d.file, d.span))?.find((t) => t.startsWith(`${d.name}: `)) ??
    d.detail.replace(/^(input|output|metric) /, "").replace(/ = .*$/, "");
  const of = (kind: SymbolDef["kind"]) => members.filter((d) => d.kind === kind).map(typed);
  const outputs = of("output");
  const lines = [
    `model ${model.name}(${of("input").join(", ")})` +
      (outputs.length
        ? ` -> ${outputs.length === 1 ? outputs[0] : `(${outputs.join(", ")})`}`
        : ""),
  ];
  for (const m of of("metric")) lines.push(`metric ${m}`);
  const text = a.sources.get(model.file);
  const decl = a.programs
    .get(model.file)
    ?.decls.find((d) => d.kind === "Model" && d.name.span.start === model.span.start);
  for (const st of decl?.kind === "Model" ? decl.body : [])
    if (st.kind === "Loss" && text !== undefined)
      lines.push(`loss ${text.slice(st.value.span.start, st.value.span.end)}`);
  const params = paramsList(a, model);
  if (params) lines.push(params);
  return lines;
}

/** `4 parameter tensors, 203530 values`, from the type recorded for the model's `params`. */
function paramsList(a: Analysis, model: SymbolDef): string | null {
  const text = a.sources.get(model.file);
  if (text === undefined) return null;
  const re = /\bparams\b/g;
  re.lastIndex = model.declSpan.start;
  for (let m = re.exec(text); m && m.index < model.declSpan.end; m = re.exec(text)) {
    const list = typesBySpan(a)
      .get(spanKey(model.file, { start: m.index, end: m.index + 6 }))
      ?.find((t) => t.startsWith("list ["));
    if (!list) continue;
    const shapes = [...list.matchAll(/: \w+\[([^\]]*)\]/g)].map((s) => s[1]!);
    const sizes = shapes.map((s) =>
      s.trim() === "" ? 1 : s.split(",").reduce((n, d) => n * Number(d.trim()), 1),
    );
    const total = sizes.every(Number.isFinite)
      ? `, ${sizes.reduce((x, y) => x + y, 0)} values`
      : "";
    return `${shapes.length} parameter tensor${shapes.length === 1 ? "" : "s"}${total}`;
  }
  return null;
}
