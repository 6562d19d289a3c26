// `train NAME for MODEL { ... }` to a TrainConfig: each setting checked,
// every unknown key or optimizer answered with the nearest known one.

import type * as ast from "../../grammar/index.ts";
import type { OptimizerConfig, OptimizerKind, TrainConfig } from "../ir.ts";
import { fail, type Ctx } from "./context.ts";
import { evalExpr } from "./expr.ts";
import { guarded } from "./stmts.ts";
import { didYouMean } from "./suggest.ts";
import { need } from "./tensor-ops.ts";
import { describe } from "./values.ts";

export const trainKeys = ["optimizer", "batch", "epochs", "seed"] as const;

/** The settings each optimizer accepts; `lr` may also be given positionally. */
export const optimizerArgs: Record<OptimizerKind, string[]> = {
  gd: ["lr", "momentum", "nesterov", "weight_decay"],
  sgd: ["lr", "momentum", "nesterov", "weight_decay"],
  adam: ["lr", "beta1", "beta2", "eps", "weight_decay"],
  adamw: ["lr", "beta1", "beta2", "eps", "weight_decay"],
};

/** Defaults as in Keras: SGD's lr 0.01; Adam's lr 0.001, betas 0.9/0.999, eps 1e-8. */
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
    weightDecay: 0,
  };
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

function optimizer(ctx: Ctx, e: ast.Expr): OptimizerConfig {
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
      lr: [(x) => x > 0, "positive"],
      momentum: [(x) => x >= 0 && x < 1, "in [0, 1)"],
      beta1: [(x) => x >= 0 && x < 1, "in [0, 1)"],
      beta2: [(x) => x >= 0 && x < 1, "in [0, 1)"],
      eps: [(x) => x > 0, "positive"],
      weight_decay: [(x) => x >= 0, "zero or positive"],
    };
    const [ok, text] = range[name]!;
    if (!ok(x)) fail(ctx, "E4002", `\`${name}\` must be ${text}, not ${x}`, a.value.span);
    if (name === "lr") {
      cfg.lr = x;
      cfg.schedule = { kind: "constant", lr: x };
    } else if (name === "momentum") cfg.momentum = x;
    else if (name === "beta1") cfg.beta1 = x;
    else if (name === "beta2") cfg.beta2 = x;
    else if (name === "eps") cfg.eps = x;
    else cfg.weightDecay = x;
  });
  return cfg;
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

/** `ctx` is a compile-time context (no model): settings may use consts. */
export function elaborateTrain(
  ctx: Ctx,
  decl: ast.TrainDecl,
  models: string[],
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
  let opt: OptimizerConfig | null = null;
  let batch: number | "full" | null = null;
  let epochs = 1;
  let seed = 0;
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
      }
    });
  }
  if (!ok) return null;
  const optimizerCfg: OptimizerConfig = opt ?? defaultOptimizer("sgd");
  // `gd` is full-batch gradient descent unless a batch size is given explicitly.
  const batchCfg: number | "full" = batch ?? (optimizerCfg.kind === "gd" ? "full" : 32);
  return {
    name: decl.name.name,
    model: decl.model.name,
    optimizer: optimizerCfg,
    batch: batchCfg,
    epochs,
    seed,
    clipNorm: null,
    keepBest: null,
    patience: null,
    span: decl.span,
  };
}
