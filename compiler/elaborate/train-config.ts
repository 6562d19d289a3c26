// `train NAME for MODEL { ... }` to a TrainConfig: each setting checked,
// every unknown key, optimizer, schedule or metric answered with the nearest
// known one, every bad value at the argument that holds it.

import type * as ast from "../../grammar/index.ts";
import type { OptimizerConfig, OptimizerKind, Schedule, TrainConfig } from "../ir.ts";
import { describeSchedule, runProblem, withBase } from "../../runtime/schedule.ts";
import { fail, type Ctx } from "./context.ts";
import { evalExpr } from "./expr.ts";
import { guarded } from "./stmts.ts";
import { didYouMean } from "./suggest.ts";
import { need } from "./tensor-ops.ts";
import { describe } from "./values.ts";

export const trainKeys = [
  "optimizer",
  "batch",
  "epochs",
  "seed",
  "clip_norm",
  "keep",
  "patience",
] as const;

/** The settings each optimizer accepts; `lr` may also be given positionally. */
export const optimizerArgs: Record<OptimizerKind, string[]> = {
  gd: ["lr", "momentum", "nesterov", "weight_decay"],
  sgd: ["lr", "momentum", "nesterov", "weight_decay"],
  adam: ["lr", "beta1", "beta2", "eps", "weight_decay"],
  adamw: ["lr", "beta1", "beta2", "eps", "weight_decay"],
};

/**
 * Defaults as in Keras: SGD's lr 0.01; Adam's lr 0.001, betas 0.9/0.999, eps
 * 1e-8; AdamW's weight_decay 0.01 as in PyTorch's AdamW (every optimizer's
 * weight decay is decoupled, so adamw is adam with that default).
 */
export function defaultOptimizer(kind: OptimizerKind): OptimizerConfig {
  const lr = kind === "adam" || kind === "adamw" ? 0.001 : 0.01;
  return {
    kind,
    lr,
    schedule: { kind: "constant", lr },
    momentum: 0,
    nesterov: false,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: kind === "adamw" ? 0.01 : 0,
  };
}

/** `train` with base learning rate `lr` (`dlg train --lr`): a schedule keeps its shape. */
export function withLr(train: TrainConfig, lr: number): TrainConfig {
  const o = train.optimizer;
  return { ...train, optimizer: { ...o, lr, schedule: withBase(o.schedule, lr) } };
}

function number(ctx: Ctx, e: ast.Expr, what: string): number {
  const v = need(evalExpr(ctx, e));
  if (v.kind === "int" || v.kind === "float") return v.value;
  fail(ctx, "E4002", `${what} must be a number, but it is ${describe(v)}`, e.span);
}

function positiveInt(ctx: Ctx, e: ast.Expr, what: string): number {
  const n = number(ctx, e, what);
  if (!Number.isInteger(n) || n < 1)
    fail(ctx, "E4002", `${what} must be a positive integer, not ${n}`, e.span);
  return n;
}

/** What a schedule argument may hold: a positive or non-negative integer, or a decay factor in (0, 1]. */
type ArgKind = "count" | "count0" | "factor";
interface ScheduleArg {
  name: string;
  kind: ArgKind;
  /** Absent: the argument is required. */
  default?: number;
  /** What it means, for a missing argument's message and hovers. */
  doc: string;
}

/** Each schedule's arguments after its base value (named as the Schedule's fields); defaults as PyTorch's. */
export const scheduleArgs: { [K in Schedule["kind"]]: ScheduleArg[] } = {
  constant: [],
  step_decay: [
    { name: "every", kind: "count", doc: "epochs between decays" },
    { name: "gamma", kind: "factor", default: 0.1, doc: "the factor of each decay" },
  ],
  exponential: [{ name: "gamma", kind: "factor", doc: "the factor per epoch" }],
  linear_warmup: [{ name: "steps", kind: "count", doc: "steps of linear warm-up" }],
  cosine: [{ name: "warmup", kind: "count0", default: 0, doc: "steps of linear warm-up first" }],
};

const scheduleKinds = Object.keys(scheduleArgs) as Schedule["kind"][];

const argChecks: { [K in ArgKind]: [(x: number) => boolean, string] } = {
  count: [(x) => Number.isInteger(x) && x >= 1, "a positive integer"],
  count0: [(x) => Number.isInteger(x) && x >= 0, "a non-negative integer"],
  factor: [(x) => x > 0 && x <= 1, "in (0, 1]"],
};

/** A learning rate: a positive number, or a schedule call; `spans` are its arguments', by name. */
function learningRate(ctx: Ctx, e: ast.Expr): { schedule: Schedule; spans: Map<string, ast.Span> } {
  const spans = new Map<string, ast.Span>();
  const callee = e.kind === "Call" ? e.callee : e;
  const isSchedule = callee.kind === "Name" && (scheduleKinds as string[]).includes(callee.name);
  if (e.kind !== "Call" && !isSchedule) {
    const lr = number(ctx, e, "`lr`");
    if (!(lr > 0)) fail(ctx, "E4002", `\`lr\` must be positive, not ${lr}`, e.span);
    return { schedule: { kind: "constant", lr }, spans };
  }
  const list = scheduleKinds.map((k) => `\`${k}\``).join(", ");
  if (callee.kind !== "Name" || !isSchedule)
    fail(
      ctx,
      "E4005",
      callee.kind === "Name"
        ? `unknown learning-rate schedule \`${callee.name}\``
        : "expected a learning rate: a number or a schedule like `cosine(3e-4, warmup: 100)`",
      callee.span,
      {
        ...(callee.kind === "Name" && { help: didYouMean(callee.name, scheduleKinds) }),
        notes: [`the schedules are ${list}`],
      },
    );
  const kind = callee.name as Schedule["kind"];
  const specs = scheduleArgs[kind];
  const example = `${kind}(0.01${specs.map((a) => `, ${a.name}: ...`).join("")})`;
  const args = e.kind === "Call" ? e.args : [];
  const first = args[0];
  if (!first || first.name !== null)
    fail(
      ctx,
      "E4006",
      `\`${kind}\` takes its base learning rate first, like \`${example}\``,
      e.span,
    );
  const out: Record<string, number> = {};
  const base = number(ctx, first.value, `the base learning rate of \`${kind}\``);
  if (!(base > 0))
    fail(ctx, "E4006", `the base learning rate must be positive, not ${base}`, first.value.span);
  for (const a of args.slice(1)) {
    if (a.name === null)
      fail(ctx, "E4006", `only the base learning rate may be given without a name`, a.span, {
        help: `name it, like \`${example}\``,
      });
    const spec = specs.find((x) => x.name === a.name!.name);
    if (!spec)
      fail(ctx, "E4006", `\`${kind}\` has no argument \`${a.name.name}\``, a.name.span, {
        help: didYouMean(
          a.name.name,
          specs.map((x) => x.name),
        ),
        notes: [
          specs.length
            ? `\`${kind}\` takes ${specs.map((x) => `\`${x.name}\` (${x.doc})`).join(", ")}`
            : `\`${kind}\` takes only the learning rate`,
        ],
      });
    if (spans.has(spec.name)) fail(ctx, "E4006", `\`${spec.name}\` is set twice`, a.name.span);
    const x = number(ctx, a.value, `\`${spec.name}\``);
    const [ok, text] = argChecks[spec.kind];
    if (!ok(x)) fail(ctx, "E4006", `\`${spec.name}\` must be ${text}, not ${x}`, a.value.span);
    out[spec.name] = x;
    spans.set(spec.name, a.value.span);
  }
  for (const spec of specs) {
    if (spec.name in out) continue;
    if (spec.default === undefined)
      fail(ctx, "E4006", `\`${kind}\` needs \`${spec.name}:\` (${spec.doc})`, e.span, {
        help: `like \`${example}\``,
      });
    out[spec.name] = spec.default;
  }
  return { schedule: { kind, lr: base, ...out } as Schedule, spans };
}

function optimizer(ctx: Ctx, e: ast.Expr): { cfg: OptimizerConfig; spans: Map<string, ast.Span> } {
  const callee = e.kind === "Call" ? e.callee : e;
  const args = e.kind === "Call" ? e.args : [];
  if (callee.kind !== "Name")
    fail(ctx, "E4002", "expected an optimizer, like `sgd(lr: 0.1)` or `adam`", e.span);
  const kinds = Object.keys(optimizerArgs) as OptimizerKind[];
  const kind = kinds.find((k) => k === callee.name);
  if (!kind)
    fail(ctx, "E4002", `unknown optimizer \`${callee.name}\``, callee.span, {
      help: didYouMean(callee.name, kinds),
      notes: [`the optimizers are ${kinds.map((k) => `\`${k}\``).join(", ")}`],
    });
  const cfg = defaultOptimizer(kind);
  let spans = new Map<string, ast.Span>();
  const allowed = optimizerArgs[kind];
  const seen = new Set<string>();
  args.forEach((a, i) => {
    if (a.name === null && i > 0)
      fail(ctx, "E4002", `only \`lr\` may be given without a name`, a.span, {
        help: `name the setting, like \`${kind}(lr: 0.1, ${allowed[1]}: ...)\``,
      });
    const name = a.name?.name ?? "lr";
    const span = a.name?.span ?? a.span;
    if (!allowed.includes(name))
      fail(ctx, "E4002", `\`${kind}\` has no setting \`${name}\``, span, {
        help: didYouMean(name, allowed),
        notes: [`\`${kind}\` takes ${allowed.map((k) => `\`${k}\``).join(", ")}`],
      });
    if (seen.has(name)) fail(ctx, "E4002", `\`${name}\` is set twice`, span);
    seen.add(name);
    if (name === "lr") {
      const lr = learningRate(ctx, a.value);
      cfg.schedule = lr.schedule;
      cfg.lr = lr.schedule.lr;
      spans = lr.spans;
      return;
    }
    if (name === "nesterov") {
      const v = need(evalExpr(ctx, a.value));
      if (v.kind !== "bool")
        fail(
          ctx,
          "E4002",
          `\`nesterov\` must be true or false, but it is ${describe(v)}`,
          a.value.span,
        );
      cfg.nesterov = v.value;
      return;
    }
    const x = number(ctx, a.value, `\`${name}\``);
    const range: Record<string, [(x: number) => boolean, string]> = {
      momentum: [(x) => x >= 0 && x < 1, "in [0, 1)"],
      beta1: [(x) => x >= 0 && x < 1, "in [0, 1)"],
      beta2: [(x) => x >= 0 && x < 1, "in [0, 1)"],
      eps: [(x) => x > 0, "positive"],
      weight_decay: [(x) => x >= 0, "zero or positive"],
    };
    const [ok, text] = range[name]!;
    if (!ok(x)) fail(ctx, "E4002", `\`${name}\` must be ${text}, not ${x}`, a.value.span);
    if (name === "momentum") cfg.momentum = x;
    else if (name === "beta1") cfg.beta1 = x;
    else if (name === "beta2") cfg.beta2 = x;
    else if (name === "eps") cfg.eps = x;
    else cfg.weightDecay = x;
  });
  return { cfg, spans };
}

/** The settings of a model that has no `train` block: plain SGD, batch 32, one epoch. */
export function defaultTrainConfig(model: string): TrainConfig {
  return {
    name: "default",
    model,
    optimizer: defaultOptimizer("sgd"),
    batch: 32,
    epochs: 1,
    seed: 0,
    clipNorm: null,
    keepBest: null,
    patience: null,
  };
}

/**
 * `ctx` is a compile-time context (no model): settings may use consts.
 * `metricsOf` names a model's metrics for `keep best` (undefined: not known,
 * as for a model that did not elaborate; the metric is then not checked).
 */
export function elaborateTrain(
  ctx: Ctx,
  decl: ast.TrainDecl,
  models: string[],
  metricsOf: (model: string) => string[] | undefined = () => undefined,
): TrainConfig | null {
  let ok = true;
  const step = (run: () => void) => {
    if (!guarded(ctx, [], run)) ok = false;
  };
  if (!models.includes(decl.model.name)) {
    step(() =>
      fail(ctx, "E4001", `model \`${decl.model.name}\` not found`, decl.model.span, {
        help: didYouMean(decl.model.name, models),
        notes: models.length
          ? [`models here: ${models.join(", ")}`]
          : ["this program defines no model"],
      }),
    );
  }
  let opt = null as ReturnType<typeof optimizer> | null;
  let batch: number | "full" | null = null;
  let epochs = 1;
  let seed = 0;
  let clipNorm: number | null = null;
  let keepBest: TrainConfig["keepBest"] = null;
  let patience: number | null = null;
  const first = new Map<string, ast.Span>();
  for (const st of decl.settings) {
    step(() => {
      const key = st.key.name;
      if (!(trainKeys as readonly string[]).includes(key))
        fail(ctx, "E4002", `unknown training setting \`${key}\``, st.key.span, {
          help: didYouMean(key, trainKeys),
          notes: [`the settings are ${trainKeys.map((k) => `\`${k}\``).join(", ")}`],
        });
      const prev = first.get(key);
      if (prev)
        fail(ctx, "E4002", `\`${key}\` is set twice`, st.key.span, {
          labels: [{ span: prev, message: "first set here" }],
        });
      first.set(key, st.key.span);
      switch (key) {
        case "optimizer":
          opt = optimizer(ctx, st.value);
          break;
        case "batch":
          batch =
            st.value.kind === "Name" && st.value.name === "full"
              ? "full"
              : positiveInt(ctx, st.value, "`batch`");
          break;
        case "epochs":
          epochs = positiveInt(ctx, st.value, "`epochs`");
          break;
        case "seed": {
          const n = number(ctx, st.value, "`seed`");
          if (!Number.isInteger(n) || n < 0)
            fail(ctx, "E4002", `\`seed\` must be a non-negative integer, not ${n}`, st.value.span);
          seed = n;
          break;
        }
        case "clip_norm": {
          const c = number(ctx, st.value, "`clip_norm`");
          if (!(c > 0))
            fail(ctx, "E4002", `\`clip_norm\` must be positive, not ${c}`, st.value.span);
          clipNorm = c;
          break;
        }
        case "keep":
          keepBest = keep(ctx, st.value, metricsOf(decl.model.name));
          break;
        case "patience":
          patience = positiveInt(ctx, st.value, "`patience`");
          break;
      }
    });
  }
  const patienceAt = first.get("patience");
  if (patienceAt && patience !== null && !first.has("keep"))
    step(() =>
      fail(
        ctx,
        "E4008",
        "`patience` needs `keep best`: it counts epochs without a better one",
        patienceAt,
        {
          help: "say what is better: `keep best loss` (lowest validation loss) or `keep best METRIC` (highest)",
        },
      ),
    );
  const optimizerCfg: OptimizerConfig = opt?.cfg ?? defaultOptimizer("sgd");
  // `gd` is full-batch gradient descent unless a batch size is given explicitly.
  const batchCfg: number | "full" = batch ?? (optimizerCfg.kind === "gd" ? "full" : 32);
  // With `batch full` an epoch is one step, so the run's length is known here: a warm-up must fit it.
  if (batchCfg === "full" && opt)
    step(() => warmupFits(ctx, optimizerCfg.schedule, epochs, opt!.spans));
  if (!ok) return null;
  return {
    name: decl.name.name,
    model: decl.model.name,
    optimizer: optimizerCfg,
    batch: batchCfg,
    epochs,
    seed,
    clipNorm,
    keepBest,
    patience,
    span: decl.span,
  };
}

/** `keep best METRIC`: `loss` (lower is better) or one of the model's metrics (higher is better). */
function keep(ctx: Ctx, e: ast.Expr, metrics: string[] | undefined): TrainConfig["keepBest"] {
  if (e.kind !== "Name")
    fail(ctx, "E4002", "expected `keep best loss` or `keep best METRIC`", e.span);
  const known = ["loss", ...(metrics ?? [])];
  if (metrics && !known.includes(e.name))
    fail(ctx, "E4007", `\`keep best ${e.name}\`: the model has no metric \`${e.name}\``, e.span, {
      help: didYouMean(e.name, known),
      notes: [
        metrics.length
          ? `an epoch is judged by its validation \`loss\` or a metric: ${metrics.map((m) => `\`${m}\``).join(", ")}`
          : "the model declares no metric: `keep best loss` keeps the epoch of lowest validation loss",
      ],
    });
  return { metric: e.name, mode: e.name === "loss" ? "min" : "max", span: e.span };
}

/** A full-batch run has `epochs` steps: a warm-up must leave cosine a step to decay, linear_warmup no more than the run. */
function warmupFits(ctx: Ctx, s: Schedule, epochs: number, spans: Map<string, ast.Span>): void {
  const at = spans.get(s.kind === "cosine" ? "warmup" : "steps");
  if (runProblem(s, { stepsPerEpoch: 1, epochs }) !== null && at)
    fail(
      ctx,
      "E4006",
      `${describeSchedule(s)} warms up longer than the run: with \`batch full\` it has ${epochs} ` +
        `step${epochs === 1 ? "" : "s"}, one per epoch`,
      at,
      { help: s.kind === "cosine" ? "cosine needs a step after the warm-up to decay" : undefined },
    );
}
