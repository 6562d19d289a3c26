// v2 train blocks: every invalid setting is a diagnostic at the argument
// that holds it; `clip_norm` and `adamw` steps against float64 references
// written out here (PyTorch's clip_grad_norm_ and AdamW), from gradients the
// float64 interpreter computes; `keep best` restores the best validation
// epoch and `patience` stops the run; a run resumed from the middle (with a
// schedule and a best epoch so far) ends bit-identical to one never stopped.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../cli/main.ts";
import { describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { compile, check } from "../cli/node-host.ts";
import {
  bestFrom,
  bestMetadata,
  train,
  type EpochRecord,
  type Position,
  type TrainSettings,
} from "../cli/train.ts";
import type { Dataset } from "../cli/data.ts";
import { analyze } from "../compiler/compile.ts";
import { stdPath } from "../compiler/elaborate.ts";
import { trainHover } from "../lsp/hover-decls.ts";
import { defaultOptimizer, withLr } from "../compiler/elaborate/train-config.ts";
import { interpret } from "../compiler/interpret.ts";
import type { ProgramIR } from "../compiler/ir.ts";
import type { Model } from "../runtime/model.ts";
import { scheduleLr } from "../runtime/schedule.ts";
import { lcg, slotInputs } from "./entry-inputs.ts";

const hostFor = (src: string) => ({
  readFile: (p: string) => (p === "m.dlg" ? src : undefined),
  readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
});

async function build(src: string, config?: string) {
  const r = compile("m.dlg", { host: hostFor(src), ...(config && { config }) });
  if (!r.ok) throw new Error(`does not compile: ${r.diagnostics.map((d) => d.message).join("; ")}`);
  return { mod: await loadModule(r.js!), program: r.program!, train: r.train! };
}

// ---------------------------------------------------------------- diagnostics

describe("invalid train settings", () => {
  const model = `dim B
model m {
  input x: [B, 2]
  input y: [B]
  pred = (x |> dense(1))[:, 0]
  metric mae = mean(abs(pred - y))
  loss mse(pred, y)
}
`;
  /** Each case: a train block's body, the code, the text its span covers, and part of the message. */
  const cases: [string, string, string, RegExp][] = [
    ["optimizer sgd(lr: cosin(0.1))", "E4005", "cosin", /unknown learning-rate schedule `cosin`/],
    ["optimizer sgd(lr: warmup(0.1))", "E4005", "warmup", /unknown learning-rate schedule/],
    [
      "optimizer sgd(lr: cosine(warmup: 3))",
      "E4006",
      "cosine(warmup: 3)",
      /base learning rate first/,
    ],
    ["optimizer sgd(lr: cosine(-0.1))", "E4006", "-0.1", /base learning rate must be positive/],
    ["optimizer sgd(lr: cosine(0.1, 5))", "E4006", "5", /only the base learning rate may be given/],
    [
      "optimizer sgd(lr: cosine(0.1, warmup: -1))",
      "E4006",
      "-1",
      /`warmup` must be a non-negative integer/,
    ],
    ["optimizer sgd(lr: cosine(0.1, warm: 3))", "E4006", "warm", /`cosine` has no argument `warm`/],
    [
      "optimizer sgd(lr: step_decay(0.1, every: 0))",
      "E4006",
      "0",
      /`every` must be a positive integer/,
    ],
    [
      "optimizer sgd(lr: step_decay(0.1, gamma: 0.5))",
      "E4006",
      "step_decay(0.1, gamma: 0.5)",
      /needs `every:`/,
    ],
    [
      "optimizer sgd(lr: exponential(0.1, gamma: 1.5))",
      "E4006",
      "1.5",
      /`gamma` must be in \(0, 1\]/,
    ],
    ["optimizer sgd(lr: exponential(0.1, gamma: 0))", "E4006", "0", /`gamma` must be in \(0, 1\]/],
    [
      "optimizer sgd(lr: linear_warmup(0.1, steps: 2.5))",
      "E4006",
      "2.5",
      /`steps` must be a positive integer/,
    ],
    [
      "optimizer sgd(lr: linear_warmup(0.1, steps: 2, steps: 3))",
      "E4006",
      "steps",
      /`steps` is set twice/,
    ],
    [
      "optimizer sgd(lr: cosine(0.1, warmup: 5))  batch full  epochs 5",
      "E4006",
      "5",
      /warms up longer than the run: with `batch full` it has 5 steps/,
    ],
    ["optimizer gd(lr: linear_warmup(0.1, steps: 4))  epochs 3", "E4006", "4", /warms up longer/],
    ["optimizer sgd(lr: 0)", "E4002", "0", /`lr` must be positive, not 0/],
    [
      "optimizer adamw(weight_decay: -0.1)",
      "E4002",
      "-0.1",
      /`weight_decay` must be zero or positive/,
    ],
    ["optimizer adamw(momentum: 0.9)", "E4002", "momentum", /`adamw` has no setting `momentum`/],
    ["clip_norm 0", "E4002", "0", /`clip_norm` must be positive, not 0/],
    ["clip_norm -1.5", "E4002", "-1.5", /`clip_norm` must be positive/],
    ["keep best accuracy", "E4007", "accuracy", /the model has no metric `accuracy`/],
    ["keep best loss  patience 0", "E4002", "0", /`patience` must be a positive integer, not 0/],
    ["patience 2", "E4008", "patience", /`patience` needs `keep best`/],
    ["clip_nrom 1.0", "E4002", "clip_nrom", /unknown training setting `clip_nrom`/],
  ];
  for (const [body, code, text, message] of cases)
    it(`${code} at \`${text}\`: train t for m { ${body} }`, () => {
      const src = `${model}train t for m { ${body} }\n`;
      const r = check("m.dlg", { host: hostFor(src) });
      expect(r.diagnostics.map((d) => d.code)).toEqual([code]);
      const d = r.diagnostics[0]!;
      expect(d.message).toMatch(message);
      expect(src.slice(d.span.start, d.span.end)).toBe(text);
    });

  it("answers with the nearest name", () => {
    const src = `${model}train t for m { optimizer sgd(lr: cosin(0.1))  keep best mea }\n`;
    const r = check("m.dlg", { host: hostFor(src) });
    expect(r.diagnostics.map((d) => [d.code, d.help])).toEqual([
      ["E4005", "did you mean `cosine`?"],
      ["E4007", "did you mean `mae`?"],
    ]);
  });

  it("accepts every valid setting, with PyTorch's AdamW default weight_decay", () => {
    const src = `${model}train t for m {
  optimizer adamw(lr: cosine(3e-4, warmup: 100))
  clip_norm 1.0
  batch 8
  epochs 3
  keep best mae
  patience 2
}
train u for m { optimizer adam(step_decay(0.05, every: 2)) keep best loss }
`;
    const r = check("m.dlg", { host: hostFor(src) });
    expect(r.diagnostics).toEqual([]);
    const t = compile("m.dlg", { host: hostFor(src), config: "t" }).train!;
    expect(t.optimizer).toMatchObject({
      kind: "adamw",
      lr: 3e-4,
      weightDecay: 0.01,
      schedule: { kind: "cosine", lr: 3e-4, warmup: 100 },
    });
    expect([t.clipNorm, t.keepBest?.metric, t.keepBest?.mode, t.patience]).toEqual([
      1,
      "mae",
      "max",
      2,
    ]);
    const u = compile("m.dlg", { host: hostFor(src), config: "u" }).train!;
    expect(u.optimizer.schedule).toEqual({ kind: "step_decay", lr: 0.05, every: 2, gamma: 0.1 });
    expect(u.optimizer.weightDecay).toBe(0);
    expect(u.keepBest).toMatchObject({ metric: "loss", mode: "min" });
    expect(defaultOptimizer("adam").weightDecay).toBe(0);
    // --lr replaces the base value and keeps the schedule's shape.
    expect(withLr(t, 0.01).optimizer).toMatchObject({
      lr: 0.01,
      schedule: { kind: "cosine", lr: 0.01, warmup: 100 },
    });
  });
});

describe("hovers on the new settings", () => {
  it("explain the new keys, the schedules and adamw", () => {
    const src = `dim B
model m {
  input x: [B, 2]
  input y: [B]
  loss mse((x |> dense(1))[:, 0], y)
}
train t for m {
  optimizer adamw(lr: cosine(3e-4, warmup: 100))
  clip_norm 1.0
  keep best loss
  patience 2
}
`;
    const a = analyze("m.dlg", { host: hostFor(src) });
    const at = (word: string) => trainHover(a, "m.dlg", src.indexOf(word) + 1)!;
    expect(at("cosine").code).toEqual(["cosine(lr: float, warmup: int = 0)"]);
    expect(at("cosine").prose[0]).toMatch(/CosineAnnealingLR/);
    expect(at("adamw").code).toEqual([
      "adamw(lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.01)",
    ]);
    expect(at("clip_norm").prose[0]).toMatch(/clip_grad_norm_/);
    expect(at("keep").prose[0]).toMatch(/best validation value/);
    expect(at("patience").prose[0]).toMatch(/needs `keep best`/);
  });
});

// ---------------------------------------------------------------- steps vs float64 references

const net = (optimizer: string, extra = "") => `dim B
model net {
  input x: [B, 4]
  input y: [B, 2]
  pred = x |> dense(3) |> tanh |> dense(2)
  loss mse(pred, y)
}
train t for net { optimizer ${optimizer}  batch 4  ${extra} }
`;

const rand = lcg(11);
const batch = {
  x: Float32Array.from({ length: 16 }, () => 4 * rand() - 2),
  y: Float32Array.from({ length: 8 }, () => 4 * rand() - 2),
};
const dims = { B: 4 };

/** Every param's gradient at `params`, in float64: the interpreter's step of plain SGD with lr 1 moves p by -g. */
function gradients(prog: ProgramIR, params: Float64Array[]): Float64Array[] {
  const step = prog.entries.find((e) => e.name === "step")!;
  const outs = interpret(step.graph, slotInputs(prog, step, dims, batch, params, 0), dims);
  const g = params.map((p) => new Float64Array(p.length));
  step.outSlots.forEach((s, i) => {
    if (s.kind !== "param") return;
    const p1 = outs[i]!.data;
    params[s.index]!.forEach((p, k) => (g[s.index]![k] = p - p1[k]!));
  });
  return g;
}

async function paramsOf(model: Model, prog: ProgramIR): Promise<Float64Array[]> {
  const named = await model.params();
  return prog.params.map((p) => Float64Array.from(named[p.path]!));
}

function expectNear(got: Float64Array[], want: Float64Array[], tol: number) {
  got.forEach((g, i) =>
    g.forEach((v, k) => {
      if (Math.abs(v - want[i]![k]!) > tol)
        throw new Error(`param ${i}[${k}]: ${v}, reference ${want[i]![k]} (tolerance ${tol})`);
    }),
  );
}

describe("clip_norm", () => {
  it("scales every gradient by min(1, C / (norm + 1e-6)), the global norm (PyTorch's clip_grad_norm_)", async () => {
    const plain = await build(net("sgd(lr: 1.0)"));
    const model = await plain.mod.createModel({ seed: 3 });
    const p0 = await paramsOf(model, plain.program);
    const g = gradients(plain.program, p0);
    const norm = Math.sqrt(g.reduce((s, gi) => s + gi.reduce((a, x) => a + x * x, 0), 0));
    expect(norm).toBeGreaterThan(0.3); // so that C = 0.2 clips and C = 50 does not
    for (const c of [0.2, 50]) {
      const coef = Math.min(1, c / (norm + 1e-6));
      const want = p0.map((p, i) => p.map((v, k) => v - 0.1 * coef * g[i]![k]!));
      const clipped = await build(net("sgd(lr: 0.1)", `clip_norm ${c}`));
      // The step graph in float64 is the reference formula to rounding...
      const step = clipped.program.entries.find((e) => e.name === "step")!;
      const outs = interpret(
        step.graph,
        slotInputs(clipped.program, step, dims, batch, p0, 0),
        dims,
      );
      const viaGraph = p0.map((p) => new Float64Array(p.length));
      step.outSlots.forEach((s, i) => {
        if (s.kind === "param") viaGraph[s.index] = Float64Array.from(outs[i]!.data);
      });
      expectNear(viaGraph, want, 1e-12);
      // ...and the emitted module's float32 step is it to float32 rounding.
      const m = await clipped.mod.createModel({ seed: 3 });
      await m.step(batch);
      expectNear(await paramsOf(m, clipped.program), want, 2e-6);
      m.dispose();
    }
    model.dispose();
  });
});

describe("adamw", () => {
  it("steps as PyTorch's AdamW, with a scheduled lr", async () => {
    const [lr0, wd, b1, b2, eps] = [0.01, 0.1, 0.9, 0.999, 1e-8];
    const schedule = { kind: "linear_warmup", lr: lr0, steps: 2 } as const;
    const adamw = await build(
      net(`adamw(lr: linear_warmup(${lr0}, steps: 2), weight_decay: ${wd})`),
    );
    const plain = await build(net("sgd(lr: 1.0)"));
    const model = await adamw.mod.createModel({ seed: 5 });
    // PyTorch's AdamW.step, in float64 (torch/optim/adamw.py, _single_tensor_adamw, amsgrad off).
    let p = await paramsOf(model, adamw.program);
    const m = p.map((x) => new Float64Array(x.length));
    const v = p.map((x) => new Float64Array(x.length));
    for (let t = 1; t <= 4; t++) {
      const lr = scheduleLr(schedule, t, { stepsPerEpoch: null, epochs: 1 });
      const g = gradients(plain.program, p);
      p = p.map((pi, i) =>
        pi.map((x, k) => {
          const decayed = x * (1 - lr * wd);
          m[i]![k] = b1 * m[i]![k]! + (1 - b1) * g[i]![k]!;
          v[i]![k] = b2 * v[i]![k]! + (1 - b2) * g[i]![k]! ** 2;
          const stepSize = lr / (1 - b1 ** t);
          const denom = Math.sqrt(v[i]![k]!) / Math.sqrt(1 - b2 ** t) + eps;
          return decayed - (stepSize * m[i]![k]!) / denom;
        }),
      );
      await model.step(batch);
      expectNear(await paramsOf(model, adamw.program), p, 1e-5);
    }
    // The update moved every param by about lr per step: the comparison is not of near-constants.
    const start = await paramsOf(await adamw.mod.createModel({ seed: 5 }), adamw.program);
    expect(Math.abs(p[0]![0]! - start[0]![0]!)).toBeGreaterThan(0.02);
    model.dispose();
  });
});

// ---------------------------------------------------------------- keep best, patience, resume

/**
 * 1-D linear regression trained towards y = 2x, validated against y = x:
 * as w climbs from 0 to 2 the validation loss falls until w passes 1, then
 * rises, so the best validation epoch is in the middle of the run.
 */
const drift = (settings: string) => `dim B
model drift {
  input x: [B, 1]
  input y: [B]
  param w: [1] init zeros
  pred = x[:, 0] * w[0]
  metric closeness = 0.0 - mean((pred - y) ^ 2)
  loss mse(pred, y)
}
train t for drift { ${settings} }
`;

function line(n: number, slope: number, salt: number): Dataset {
  const r = lcg(salt);
  const x = Float32Array.from({ length: n }, () => 2 * r() - 1);
  return {
    size: n,
    columns: [
      { name: "x", dtype: "f32", width: 1, data: x },
      { name: "y", dtype: "f32", width: 1, data: x.map((v) => slope * v) },
    ],
  };
}

const splits = { train: line(32, 2, 1), valid: line(16, 1, 2), test: line(16, 1, 3) };

/** Train with `settings`, recording each epoch and the params the model held at its end. */
async function fit(
  mod: Awaited<ReturnType<typeof build>>["mod"],
  cfg: Awaited<ReturnType<typeof build>>["train"],
  extra: Partial<TrainSettings> = {},
  model?: Model,
) {
  const m = model ?? (await mod.createModel({ seed: 1, stepsPerEpoch: 4, epochs: cfg.epochs }));
  const ends: Promise<number>[] = [];
  const records: EpochRecord[] = [];
  const report = await train(
    m,
    splits,
    {
      epochs: cfg.epochs,
      batch: cfg.batch,
      seed: cfg.seed,
      keepBest: cfg.keepBest,
      patience: cfg.patience,
      ...extra,
    },
    {
      epochEnd(rec) {
        records.push(rec);
        // Queued behind the epoch's last call, before the next epoch's first step.
        ends.push(m.params().then((p) => p.w![0]!));
      },
    },
  );
  return { model: m, report, records, ends: await Promise.all(ends) };
}

describe("keep best and patience", () => {
  it("restores the best validation epoch's params, for loss (min) and a metric (max)", async () => {
    for (const metric of ["loss", "closeness"]) {
      const { mod, train: cfg } = await build(
        drift(`optimizer sgd(lr: 0.05)  batch 8  epochs 12  keep best ${metric}`),
      );
      const { model, report, records, ends } = await fit(mod, cfg);
      const vals = records.map((r) => r.valid!.loss);
      const best = vals.indexOf(Math.min(...vals)) + 1;
      // The scenario: validation improved, then got worse.
      expect(best).toBeGreaterThan(1);
      expect(best).toBeLessThan(12);
      expect(report.kept).toEqual({
        epoch: best,
        metric,
        value: metric === "loss" ? vals[best - 1] : records[best - 1]!.valid!.metrics.closeness,
      });
      expect(records.map((r) => r.kept)).toEqual(
        records.map((r) => (Math.min(r.epoch, best) === r.epoch ? r.epoch : best)),
      );
      expect(ends[11]).not.toBe(ends[best - 1]);
      expect((await model.params()).w![0]).toBe(ends[best - 1]);
      // The test split is evaluated with the kept params.
      const again = await model.evaluate({
        x: splits.test.columns[0]!.data,
        y: splits.test.columns[1]!.data,
      });
      expect(report.test!.loss).toBe(again.loss);
      expect(report.stoppedEarly).toBeNull();
    }
  });

  it("stops after `patience` epochs without a better one", async () => {
    const { mod, train: cfg } = await build(
      drift(`optimizer sgd(lr: 0.05)  batch 8  epochs 40  keep best loss  patience 3`),
    );
    const { model, report, records, ends } = await fit(mod, cfg);
    const best = report.kept!.epoch;
    expect(records.length).toBe(best + 3);
    expect(report.stoppedEarly).toBe(best + 3);
    expect(report.position).toMatchObject({ epoch: best + 4, batch: 0 });
    const vals = records.map((r) => r.valid!.loss);
    expect(Math.min(...vals.slice(best))).toBeGreaterThanOrEqual(vals[best - 1]!);
    expect((await model.params()).w![0]).toBe(ends[best - 1]);
  });

  it("refuses `keep best` without validation data", async () => {
    const { mod, train: cfg } = await build(drift(`batch 8  epochs 2  keep best loss`));
    const model = await mod.createModel({});
    await expect(
      train(
        model,
        { ...splits, valid: { size: 0, columns: [] } },
        { ...cfg, keepBest: cfg.keepBest },
      ),
    ).rejects.toThrow(
      "`keep best loss` judges each epoch on the validation split, but it is empty",
    );
  });
});

describe("resume", () => {
  const settings =
    "optimizer adamw(lr: cosine(0.1, warmup: 5), weight_decay: 0.01)  clip_norm 0.5  batch 8  epochs 12  keep best closeness  patience 4";

  it("continues a run with a schedule and a best epoch so far, bit for bit", async () => {
    const { mod, train: cfg } = await build(drift(settings));
    const whole = await fit(mod, cfg);
    expect(whole.report.kept!.epoch).toBeGreaterThan(1);
    const wholeBytes = await whole.model.save();
    for (const cut of [7, 13, 22]) {
      const first = await fit(mod, cfg, { maxSteps: cut });
      const at: Position = first.report.position;
      // Cut before its end, the run holds its current params, not the best epoch's.
      expect(first.report.kept).toBeNull();
      // Through checkpoint metadata, as dlg train --save writes it.
      const best = at.best && bestFrom(bestMetadata(at.best), "ckpt");
      expect(best).toEqual(at.best);
      const bytes = await first.model.save();
      const model = await mod.createModel({ seed: 99, stepsPerEpoch: 4, epochs: cfg.epochs });
      await model.load(bytes);
      const rest = await fit(mod, cfg, { start: { ...at, ...(best && { best }) } }, model);
      expect(rest.report.kept).toEqual(whole.report.kept);
      expect(rest.report.stoppedEarly).toBe(whole.report.stoppedEarly);
      expect([...first.report.losses, ...rest.report.losses].map((l) => l.loss)).toEqual(
        whole.report.losses.map((l) => l.loss),
      );
      expect(Buffer.from(await rest.model.save()).equals(Buffer.from(wholeBytes))).toBe(true);
    }
  });

  it("ends at once when the checkpoint's run had already run out of patience", async () => {
    const { mod, train: cfg } = await build(drift(settings));
    const whole = await fit(mod, cfg);
    expect(whole.report.stoppedEarly).not.toBeNull();
    const model = await mod.createModel({ seed: 1, stepsPerEpoch: 4, epochs: cfg.epochs });
    await model.load(await whole.model.save());
    const again = await fit(mod, cfg, { start: whole.report.position }, model);
    expect(again.report.steps).toBe(0);
    expect(again.report.stoppedEarly).toBe(whole.report.stoppedEarly);
    expect(
      Buffer.from(await again.model.save()).equals(Buffer.from(await whole.model.save())),
    ).toBe(true);
  });
});

describe("dlg train --resume with a schedule and keep best", () => {
  it("ends with the same step losses, epoch lines and checkpoint as the run never stopped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dlg-train-v2-"));
    const file = join(dir, "lr.dlg");
    writeFileSync(
      file,
      `dim B, F
model linreg {
  input x: [B, F]
  input y: [B]
  param theta: [F] init zeros
  output pred = x @ theta
  metric neg = 0.0 - mean((pred - y) ^ 2)
  loss mse(pred, y)
}
train t for linreg {
  optimizer adamw(lr: cosine(0.2, warmup: 3), weight_decay: 0.01)
  clip_norm 1.0
  batch 16
  epochs 8
  keep best neg
  patience 1
}
`,
    );
    const train = [
      "train",
      file,
      "--data",
      "samples/linreg.csv",
      "--limit",
      "96",
      "--backend",
      "js",
    ];
    const dlg = async (...args: string[]) => {
      let out = "";
      let err = "";
      const code = await run([...train, ...args], {
        out: (l) => (out += l + "\n"),
        err: (l) => (err += l),
      });
      expect(code, err).toBe(0);
      return out;
    };
    const f = (n: string) => join(dir, n);
    const whole = await dlg("--save", f("whole.st"), "--log", f("whole.log"));
    expect(whole).toMatch(/stopped early after epoch \d+/);
    expect(whole).toMatch(/kept epoch \d+/);
    // Cut mid-epoch 3, after a best epoch and before the one that ends the run; the rest resumes.
    const part = await dlg("--steps", "14", "--save", f("part.st"), "--log", f("a.log"));
    expect(part).toMatch(/stopped by --steps/);
    // Another length would move every step of its cosine: refused, one line, exit 1.
    let err = "";
    const longer = await run([...train, "--resume", f("part.st"), "--epochs", "9"], {
      out: () => {},
      err: (l) => (err += l),
    });
    expect(longer).toBe(1);
    expect(err).toBe(
      `error: ${f("part.st")} continues a run with epochs 8; drop --epochs 9 (its lr, cosine(0.2, warmup: 3), decays over the run's length)`,
    );
    const rest = await dlg("--resume", f("part.st"), "--save", f("rest.st"), "--log", f("b.log"));
    const log = (n: string) => readFileSync(f(n), "utf8");
    expect(log("a.log") + log("b.log")).toBe(log("whole.log"));
    expect(readFileSync(f("rest.st")).equals(readFileSync(f("whole.st")))).toBe(true);
    const epochLines = (out: string) =>
      out
        .split("\n")
        .filter((l) => l.startsWith("epoch "))
        .map((l) => l.replace(/\|\s+[\d.]+s\s+\d+ samples\/s$/, ""));
    expect([...epochLines(part), ...epochLines(rest)]).toEqual(epochLines(whole));
    const ending = (out: string) => out.match(/^stopped early.*\nkept epoch.*$/m)?.[0];
    expect(ending(whole)).toMatch(/^stopped early after epoch \d+: .*\nkept epoch \d+ /);
    expect(ending(rest)).toBe(ending(whole));
    // Resuming the finished run trains nothing and saves the same checkpoint.
    const again = await dlg("--resume", f("whole.st"), "--save", f("again.st"));
    expect(again).toMatch(/trained 0 epochs \(0 steps\)/);
    expect(readFileSync(f("again.st")).equals(readFileSync(f("whole.st")))).toBe(true);
  }, 60_000);
});
