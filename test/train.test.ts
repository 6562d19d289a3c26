// The training loop. First on a hand-written linear model (so the loop's
// batching, shuffling and evaluation are tested without the compiler), then
// the acceptance criteria through the real pipeline (imported lazily, so the
// loop's own tests run even while a compiler phase is broken): every train block of
// samples/linreg.dlg reaches the least-squares solution within 1e-3, and a
// short MNIST run of samples/mlp.dlg learns far above chance.

import { describe, expect, it } from "vitest";
import { chooseSource, gather, loadSplits, rows, type Dataset } from "../cli/data.ts";
import { UserError } from "../cli/errors.ts";
import { loadModule, type Batch, type CompiledModel, type RunResult } from "../cli/module.ts";
import { niceTicks, trainingPlot } from "../cli/plot.ts";
import { readSafetensors } from "../cli/safetensors.ts";
import {
  evaluateAll,
  prng,
  shuffled,
  train,
  type Position,
  type TrainReport,
} from "../cli/train.ts";

// ---------------------------------------------------------------- helpers

/** Least squares by the normal equations X'X theta = X'y, in float64 with partial pivoting. */
function leastSquares(ds: Dataset): number[] {
  const x = ds.columns[0]!;
  const y = ds.columns[1]!.data;
  const f = x.width;
  const m = Array.from({ length: f }, () => new Array<number>(f + 1).fill(0));
  for (let r = 0; r < ds.size; r++) {
    for (let i = 0; i < f; i++) {
      const xi = x.data[r * f + i]!;
      for (let j = 0; j < f; j++) m[i]![j]! += xi * x.data[r * f + j]!;
      m[i]![f]! += xi * y[r]!;
    }
  }
  for (let c = 0; c < f; c++) {
    let p = c;
    for (let r = c + 1; r < f; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = c + 1; r < f; r++) {
      const k = m[r]![c]! / m[c]![c]!;
      for (let j = c; j <= f; j++) m[r]![j]! -= k * m[c]![j]!;
    }
  }
  const theta = new Array<number>(f).fill(0);
  for (let i = f - 1; i >= 0; i--) {
    let s = m[i]![f]!;
    for (let j = i + 1; j < f; j++) s -= m[i]![j]! * theta[j]!;
    theta[i] = s / m[i]![i]!;
  }
  return theta;
}

/**
 * A hand-written linear model with mse loss and plain SGD, standing in for a
 * compiled one. It records the batch sizes it was given.
 */
function handModel(features: number, lr: number) {
  const theta = new Float64Array(features);
  const seen: number[] = [];
  const run = (b: Batch, update: boolean): RunResult => {
    const x = b.x!;
    const y = b.y!;
    const n = y.length;
    const g = new Float64Array(features);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      let p = 0;
      for (let j = 0; j < features; j++) p += x[i * features + j]! * theta[j]!;
      const r = p - y[i]!;
      loss += (r * r) / n;
      for (let j = 0; j < features; j++) g[j]! += (2 * r * x[i * features + j]!) / n;
    }
    if (update) {
      seen.push(n);
      for (let j = 0; j < features; j++) theta[j]! -= lr * g[j]!;
    }
    return { loss, metrics: { abs_theta: theta.reduce((a, t) => a + Math.abs(t), 0) } };
  };
  const model: CompiledModel = {
    step: async (b) => run(b, true),
    evaluate: async (b) => run(b, false),
    save: async () => new Uint8Array(),
    load: async () => ({}),
    get steps() {
      return seen.length;
    },
  };
  return { model, theta, seen };
}

const linregSpec = {
  model: "linreg",
  dims: ["B", "F"],
  inputs: [
    { name: "x", dtype: "f32" as const, shape: ["B", "F"] },
    { name: "y", dtype: "f32" as const, shape: ["B"] },
  ],
  outputs: [],
  metrics: [],
  params: [],
};

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));

// ---------------------------------------------------------------- the loop alone

describe("training loop", () => {
  it("shuffles reproducibly from its seed", () => {
    const a = shuffled(100, prng(7));
    expect(Array.from(shuffled(100, prng(7)))).toEqual(Array.from(a));
    expect(Array.from(shuffled(100, prng(8)))).not.toEqual(Array.from(a));
    expect(Array.from(a).sort((p, q) => p - q)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it("cuts epochs into batches, the last one short, and reports each epoch", async () => {
    const s = loadSplits({ kind: "csv", path: "samples/linreg.csv" }, linregSpec);
    const h = handModel(3, 0.01);
    const epochs: number[] = [];
    const report = await train(
      h.model,
      s,
      { epochs: 2, batch: 32, seed: 1 },
      { epochEnd: (r) => epochs.push(r.epoch) },
    );
    // 360 training rows: 11 batches of 32 and one of 8, per epoch.
    expect(h.seen).toEqual([...Array(11).fill(32), 8, ...Array(11).fill(32), 8]);
    expect(epochs).toEqual([1, 2]);
    expect(report.steps).toBe(24);
    expect(report.epochs[1]!.trainLoss).toBeLessThan(report.epochs[0]!.trainLoss);
    expect(report.epochs[0]!.valid?.metrics.abs_theta).toBeGreaterThan(0);
    expect(report.test!.loss).toBeLessThan(report.epochs[0]!.valid!.loss);
  });

  it("stops after --steps and resumes from its position with the same batches and curve", async () => {
    const s = loadSplits({ kind: "csv", path: "samples/linreg.csv" }, linregSpec);
    const settings = { epochs: 3, batch: 32, seed: 5 };
    const whole = handModel(3, 0.01);
    const full = await train(whole.model, s, settings, {});
    // 12 steps per epoch: stop mid-epoch, at an epoch's end, and in the first step.
    for (const cut of [1, 7, 12, 30]) {
      const h = handModel(3, 0.01);
      const a = await train(h.model, s, { ...settings, maxSteps: cut }, {});
      expect(a.steps).toBe(cut);
      expect(a.position).toEqual({
        epoch: 1 + Math.floor(cut / 12),
        batch: cut % 12,
        lossSum: expect.any(Number),
      });
      const b = await train(h.model, s, { ...settings, start: a.position }, {});
      expect([...h.theta]).toEqual([...whole.theta]);
      expect([...a.losses, ...b.losses].map((r) => [r.epoch, r.batch, r.loss])).toEqual(
        full.losses.map((r) => [r.epoch, r.batch, r.loss]),
      );
      const curve = (r: TrainReport) => r.epochs.map((e) => [e.epoch, e.trainLoss, e.valid?.loss]);
      expect([...curve(a), ...curve(b)]).toEqual(curve(full));
      expect(b.position).toEqual({ epoch: 4, batch: 0, lossSum: 0 });
    }
  });

  it("writes a checkpoint every N steps, from which the rest of the run resumes exactly", async () => {
    const s = loadSplits({ kind: "csv", path: "samples/linreg.csv" }, linregSpec);
    const settings = { epochs: 2, batch: 32, seed: 3 };
    const whole = handModel(3, 0.01);
    const full = await train(whole.model, s, settings, {});
    const h = handModel(3, 0.01);
    const saved: { at: Position; steps: number; theta: number[] }[] = [];
    const reported: number[] = [];
    await train(
      h.model,
      s,
      {
        ...settings,
        checkpoint: {
          every: 6,
          write: (at, losses) => {
            saved.push({ at, steps: losses.length, theta: [...h.theta] });
          },
        },
      },
      { epochEnd: (r) => reported.push(r.epoch) },
    );
    // 12 steps per epoch: mid-epoch at 6 and 18; at 12 and 24 after the epoch is reported.
    expect(saved.map((c) => [c.steps, c.at.epoch, c.at.batch])).toEqual([
      [6, 1, 6],
      [12, 2, 0],
      [18, 2, 6],
      [24, 3, 0],
    ]);
    for (const c of saved.slice(0, 3)) {
      const again = handModel(3, 0.01);
      again.theta.set(c.theta);
      const rest = await train(again.model, s, { ...settings, start: c.at }, {});
      expect([...again.theta]).toEqual([...whole.theta]);
      expect(rest.losses.map((r) => r.loss)).toEqual(full.losses.slice(c.steps).map((r) => r.loss));
    }
  });

  it("keeps inputs and metrics named __proto__ or constructor", async () => {
    const ds: Dataset = {
      size: 3,
      columns: [
        { name: "__proto__", dtype: "f32", width: 1, data: Float32Array.of(1, 2, 3) },
        { name: "constructor", dtype: "i32", width: 1, data: Int32Array.of(4, 5, 6) },
      ],
    };
    const batch = gather(ds, Uint32Array.of(2, 0, 1), 0, 2);
    expect(Object.keys(batch)).toEqual(["__proto__", "constructor"]);
    expect([...batch["__proto__"]!]).toEqual([3, 1]);
    const model: CompiledModel = {
      step: async () => ({ loss: 0, metrics: {} }),
      evaluate: async () =>
        JSON.parse('{"loss": 1, "metrics": {"__proto__": 0.5, "constructor": 2}}'),
      save: async () => new Uint8Array(),
      load: async () => ({}),
      steps: 0,
    };
    const r = await evaluateAll(model, ds, 2);
    expect(Object.keys(r!.metrics)).toEqual(["__proto__", "constructor"]);
    expect(r!.metrics["__proto__"]).toBeCloseTo(0.5, 12);
    expect(r!.metrics["constructor"]).toBeCloseTo(2, 12);
  });

  it("batch full passes the whole training set every step", async () => {
    const s = loadSplits({ kind: "csv", path: "samples/linreg.csv" }, linregSpec);
    const h = handModel(3, 0.01);
    await train(h.model, s, { epochs: 3, batch: "full", seed: 0 }, {});
    expect(h.seen).toEqual([360, 360, 360]);
  });

  it("the loop converges on the shipped data for all three linreg settings (hand model)", async () => {
    const s = loadSplits({ kind: "csv", path: "samples/linreg.csv" }, linregSpec);
    const exact = leastSquares(s.train);
    for (const [batch, epochs] of [
      ["full", 200],
      [1, 5],
      [32, 20],
    ] as const) {
      const h = handModel(3, 0.01);
      await train(h.model, s, { epochs, batch, seed: 0 }, {});
      expect(maxAbsDiff(h.theta, exact)).toBeLessThan(1e-3);
    }
  });

  it("evaluates in chunks with size-weighted means", async () => {
    const s = loadSplits({ kind: "csv", path: "samples/linreg.csv" }, linregSpec);
    const h = handModel(3, 0);
    h.theta.set([1, 1, 1]);
    const whole = await evaluateAll(h.model, s.train, 1_000_000);
    const chunked = await evaluateAll(h.model, s.train, 7);
    expect(chunked!.loss).toBeCloseTo(whole!.loss, 9);
    expect(await evaluateAll(h.model, rows(s.train, 0, 0))).toBeNull();
  });

  it("stops with a user error when the loss diverges", async () => {
    const s = loadSplits({ kind: "csv", path: "samples/linreg.csv" }, linregSpec);
    const h = handModel(3, 10);
    // Each step multiplies the error by about 1 - 10 * 18 = -179: float64 overflows within 140 steps.
    const run = train(h.model, s, { epochs: 200, batch: "full", seed: 0 }, {});
    await expect(run).rejects.toBeInstanceOf(UserError);
    await expect(run).rejects.toThrow(/training diverged.*smaller learning rate/);
  });
});

describe("plot", () => {
  const report: TrainReport = {
    epochs: [1, 2, 3].map((e) => ({
      epoch: e,
      trainLoss: 10 ** -e,
      valid: { loss: 2 * 10 ** -e, metrics: { accuracy: 0.5 + e / 10 } },
      steps: 10,
      seconds: 1,
      samplesPerSec: 100,
    })),
    test: null,
    steps: 30,
    seconds: 3,
    position: { epoch: 4, batch: 0, lossSum: 0 },
    losses: [],
    kept: null,
    stoppedEarly: null,
  };

  it("draws loss and metric panels with axes, ticks and a legend", () => {
    const svg = trainingPlot(report, "mlp <default>");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("mlp &lt;default&gt;");
    for (const text of [
      "train loss",
      "validation loss",
      "accuracy",
      "epoch",
      "Validation metrics",
    ]) {
      expect(svg).toContain(`>${text}<`);
    }
    // Three decades of loss: a log axis.
    expect(svg).toContain("loss (log scale)");
    expect(svg.match(/<path /g)?.length).toBe(3);
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it("picks round tick values", () => {
    expect(niceTicks(0.12, 0.97)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 3).length).toBeGreaterThan(1);
  });
});

// ---------------------------------------------------------------- through the compiler

/** Compile a sample with one train block, train it as `dlg train` does, return its checkpoint. */
async function trainSample(file: string, config: string | undefined) {
  const { compile } = await import("../cli/node-host.ts");
  const r = compile(file, config === undefined ? {} : { config });
  if (!r.ok || !r.js || !r.train) {
    throw new Error(
      `compile failed:\n${r.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n")}`,
    );
  }
  const mod = await loadModule(r.js);
  const splits = loadSplits(chooseSource(file, undefined), mod.spec);
  const model = await mod.createModel({ seed: r.train.seed, dims: splits.dims });
  const report = await train(model, splits, r.train);
  return { report, splits, checkpoint: readSafetensors(await model.save()) };
}

describe("acceptance: samples/linreg.dlg reaches the least-squares solution", () => {
  for (const config of ["batch_gd", "sgd", "minibatch"]) {
    it(`${config} is within 1e-3 of the closed form`, async () => {
      const { checkpoint, splits } = await trainSample("samples/linreg.dlg", config);
      const theta = [...checkpoint].find(([k]) => k === "theta" || k.endsWith(".theta"))?.[1];
      expect(theta, `checkpoint has ${[...checkpoint.keys()].join(", ")}`).toBeDefined();
      expect(theta!.shape).toEqual([3]);
      const gap = maxAbsDiff(theta!.data, leastSquares(splits.train));
      console.log(`linreg ${config}: max |theta - closed form| = ${gap.toExponential(2)}`);
      expect(gap).toBeLessThan(1e-3);
    });
  }
});

describe("acceptance: samples/mlp.dlg learns MNIST", () => {
  it("a --limit 6400 run (300 steps) is far above chance", async () => {
    // 6400 examples / batch 64 = 100 steps per epoch; 3 epochs.
    const { compile } = await import("../cli/node-host.ts");
    const r = compile("samples/mlp.dlg");
    expect(r.ok).toBe(true);
    const mod = await loadModule(r.js!);
    const splits = loadSplits({ kind: "mnist" }, mod.spec);
    splits.train = rows(splits.train, 0, 6400);
    // The run's shape, for the train block's lr schedule (cosine warms up and decays over it).
    const model = await mod.createModel({ seed: 42, stepsPerEpoch: 100, epochs: 3 });
    const report = await train(model, splits, { epochs: 3, batch: 64, seed: 42 });
    expect(report.steps).toBe(300);
    expect(report.test!.metrics.accuracy).toBeGreaterThan(0.85);
    expect(report.epochs[2]!.trainLoss).toBeLessThan(report.epochs[0]!.trainLoss);
  }, 300_000);
});
