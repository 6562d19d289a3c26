// std batch_norm, for dense [B, F] and conv [B, C, H, W] inputs: train-mode
// gradients against central finite differences in float64 (the reference
// interpreter) and against TensorFlow.js on the same weights; then a
// compiled model trained N steps with sgd against TF.js's
// BatchNormalization doing the same steps, running statistics included, and
// predict() against TF.js's inference path on the running statistics.
//
// tfjs-layers is not installed, so the TF.js side is its BatchNormalization
// layer's own code written with tfjs-core ops (tfjs-layers/src/layers/
// normalization.ts): training normalises with `tf.moments` over every axis
// but the channel axis and `tf.batchNorm` (normalizeBatchInTraining), and
// moves each moving statistic by `doMovingAverage`,
// `moving - (moving - batch) * (1 - momentum)`, with the biased batch variance
// tf.moments gives; inference calls `tf.batchNorm` on the moving statistics.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { backends, compile } from "../cli/node-host.ts";
import type { Target } from "../compiler/backend.ts";
import { grad } from "../compiler/autodiff.ts";
import { dimAsConst } from "../compiler/dims.ts";
import { stdPath } from "../compiler/elaborate.ts";
import { interpret, scalar, tensor, type Tensor } from "../compiler/interpret.ts";
import { largestId, VarGen, type ModelIR } from "../compiler/ir.ts";
import { lowerEntry } from "../compiler/emit.ts";
import type { Kernel } from "../compiler/kernel.ts";
import { bindInputs } from "../compiler/simplify.ts";
import {
  dlgModel,
  randomParams,
  randomValues,
  relativeError,
  tf,
  tfGrads,
  type Values,
} from "./tfjs-helpers.ts";
import { testGpu } from "./webgpu-env.ts";

const MOMENTUM = 0.8;
const EPS = 1e-5;
const LR = 0.1;

const dense = `dim B
model m {
  input x: [B, 4]
  input y: [B, 3]
  h = x |> dense(3) |> batch_norm(momentum: ${MOMENTUM})
  output out = h
  loss mse(h, y)
}
train t for m { optimizer sgd(lr: ${LR})  batch 6 }`;

const conv = `dim B
model m {
  input x: [B, 2, 5, 5]
  input y: [B, 3, 3, 3]
  h = x |> conv2d(3, kernel: 3) |> batch_norm(momentum: ${MOMENTUM})
  output out = h
  loss mse(h, y)
}
train t for m { optimizer sgd(lr: ${LR})  batch 3 }`;

// Rank 3 (a sequence after conv1d) and rank 5: the channel axis is still axis 1.
const seq = `dim B
model m {
  input x: [B, 2, 7]
  input y: [B, 3, 5]
  h = x |> conv1d(3, kernel: 3) |> batch_norm(momentum: ${MOMENTUM})
  output out = h
  loss mse(h, y)
}
train t for m { optimizer sgd(lr: ${LR})  batch 3 }`;

const volume = `dim B
model m {
  input x: [B, 2, 2, 3, 4]
  input y: [B, 2, 2, 3, 3]
  h = x |> dense(3) |> batch_norm(momentum: ${MOMENTUM})
  output out = h
  loss mse(h, y)
}
train t for m { optimizer sgd(lr: ${LR})  batch 3 }`;

interface Case {
  name: string;
  src: string;
  x: number[];
  y: number[];
  /** The bias before batch_norm is on another axis than the channels' (so its gradient is not 0). */
  biasOffChannels?: true;
  /** The layer before batch_norm, in TF.js, channels first like dlg. */
  layer: (x: tf.Tensor, v: Record<string, tf.Tensor>) => tf.Tensor;
}

const nhwc = (x: tf.Tensor) => tf.transpose(x, [0, 2, 3, 1]);
const nchw = (x: tf.Tensor) => tf.transpose(x, [0, 3, 1, 2]);
const hwio = (w: tf.Tensor) => tf.transpose(w, [2, 3, 1, 0]);

const cases: Case[] = [
  {
    name: "dense [B, F]",
    src: dense,
    x: [6, 4],
    y: [6, 3],
    layer: (x, v) => tf.add(tf.matMul(x, v["dense_1.w"]!), v["dense_1.b"]!),
  },
  {
    name: "conv [B, C, H, W]",
    src: conv,
    x: [3, 2, 5, 5],
    y: [3, 3, 3, 3],
    layer: (x, v) =>
      nchw(
        tf.add(
          tf.conv2d(nhwc(x) as tf.Tensor4D, hwio(v["conv2d_1.w"]!) as tf.Tensor4D, 1, "valid"),
          v["conv2d_1.b"]!,
        ),
      ),
  },
  {
    name: "conv1d [B, C, L]",
    src: seq,
    x: [3, 2, 7],
    y: [3, 3, 5],
    layer: (x, v) =>
      tf.transpose(
        tf.add(
          tf.conv1d(
            tf.transpose(x, [0, 2, 1]) as tf.Tensor3D,
            tf.transpose(v["conv1d_1.w"]!, [2, 1, 0]) as tf.Tensor3D,
            1,
            "valid",
          ),
          v["conv1d_1.b"]!,
        ),
        [0, 2, 1],
      ),
  },
  {
    name: "dense [B, C, D, H, W]",
    src: volume,
    x: [3, 2, 2, 3, 4],
    y: [3, 2, 2, 3, 3],
    biasOffChannels: true,
    layer: (x, v) =>
      tf.add(
        tf.reshape(tf.matMul(tf.reshape(x, [-1, 4]), v["dense_1.w"]!), [3, 2, 2, 3, 3]),
        v["dense_1.b"]!,
      ),
  },
];

/**
 * TF.js BatchNormalization.call on channels-first `h`, as the layer with its
 * default axis -1 on the channels-last layout (`normalizeBatchInTraining`'s
 * regular path: tfjs's FusedBatchNorm gradient cannot reshape a [1, C, 1, 1]
 * scale, which its broadcasting path for axis 1 would pass). Train mode also
 * returns the batch's moments.
 */
function tfBatchNorm(
  input: tf.Tensor,
  v: Record<string, tf.Tensor>,
  training: boolean,
): { out: tf.Tensor; mean?: tf.Tensor; variance?: tf.Tensor } {
  // tf.batchNorm takes rank 4 at most; the statistics over every axis but 1 are those of [B, C, rest].
  const h = input.rank > 4 ? tf.reshape(input, [input.shape[0]!, input.shape[1]!, -1]) : input;
  const r = tfBatchNormAtMost4(h, v, training);
  return { ...r, out: tf.reshape(r.out, input.shape) };
}

function tfBatchNormAtMost4(
  h: tf.Tensor,
  v: Record<string, tf.Tensor>,
  training: boolean,
): { out: tf.Tensor; mean?: tf.Tensor; variance?: tf.Tensor } {
  const perm = [0, ...h.shape.map((_, i) => i).slice(2), 1];
  const back = perm.map((_, i) => perm.indexOf(i));
  const last = tf.transpose(h, perm);
  const axes = perm.slice(0, -1).map((_, i) => i);
  const gamma = v["batch_norm_1.scale"]!;
  const beta = v["batch_norm_1.shift"]!;
  if (!training) {
    const mm = v["batch_norm_1.mean_avg"]!;
    const mv = v["batch_norm_1.var_avg"]!;
    return { out: tf.transpose(tf.batchNorm(last, mm, mv, beta, gamma, EPS), back) };
  }
  const { mean, variance } = tf.moments(last, axes);
  const out = tf.transpose(tf.batchNorm(last, mean, variance, beta, gamma, EPS), back);
  return { out, mean, variance };
}

const tfLoss = (c: Case) => (v: Record<string, tf.Tensor>) =>
  tf.mean(tf.squaredDifference(tfBatchNorm(c.layer(v.x!, v), v, true).out, v.y!)) as tf.Scalar;

const trainable = (m: ModelIR) => m.params.filter((p) => !p.state);

/** The model's loss and its gradients in float64 with `training` true (as step() computes them). */
function trainMode(src: string) {
  const m = dlgModel(src);
  const fwd = bindInputs(m.forward, new Map([[m.training, 1]]));
  const xs = m.inputs.filter((i) => i.var.type.dtype === "f32");
  const wrt = [...trainable(m).map((p) => p.var), ...xs.map((i) => i.var)];
  const g = grad(fwd, m.loss!, wrt, new VarGen(largestId(m.forward, m.init) + 1));
  const nOut = fwd.outputs.length;
  const args = (v: Record<string, Values>): Tensor[] => [
    ...m.inputs.map((i) => tensor("f32", v[i.name]!.shape, v[i.name]!.data)),
    ...m.params.map((p) => tensor("f32", v[p.path]!.shape, v[p.path]!.data)),
    scalar(1, "i32"),
  ];
  return {
    model: m,
    names: [...trainable(m).map((p) => p.path), ...xs.map((i) => i.name)],
    grads(v: Record<string, Values>): Values[] {
      return interpret(g.graph, args(v))
        .slice(nOut)
        .map((t) => ({ shape: t.shape, data: [...t.data] }));
    },
    loss: (v: Record<string, Values>) => interpret(fwd, args(v))[nOut - 1]!.data[0]!,
  };
}

function values(c: Case, salt: number): Record<string, Values> {
  return {
    x: randomValues(c.x, salt, -2, 2),
    y: randomValues(c.y, salt + 1),
    ...randomParams(c.src, salt + 2),
  };
}

describe("batch_norm train-mode gradients", () => {
  for (const c of cases) {
    it(`${c.name}: against central finite differences (float64)`, () => {
      const run = trainMode(c.src);
      const v = values(c, 1);
      const grads = run.grads(v);
      const h = 1e-6;
      run.names.forEach((name, k) => {
        const fd = v[name]!.data.map((_, i) => {
          const at = (d: number) => {
            const data = [...v[name]!.data];
            data[i]! += d;
            return run.loss({ ...v, [name]: { shape: v[name]!.shape, data } });
          };
          return (at(h) - at(-h)) / (2 * h);
        });
        expect(relativeError(grads[k]!, fd), name).toBeLessThan(1e-6);
      });
    });

    it(`${c.name}: against TensorFlow.js on the same weights`, () => {
      const run = trainMode(c.src);
      const v = values(c, 5);
      const grads = run.grads(v);
      const tfRun = tfGrads(
        Object.fromEntries(run.names.map((n) => [n, v[n]!]).concat([["y", v.y!]])),
        tfLoss(c),
      );
      expect(tfRun.loss).toBeCloseTo(run.loss(v), 5);
      // The bias before batch_norm has a zero gradient (the mean is subtracted), so float32
      // noise is all either side has: errors are relative to at least 1e-4.
      run.names.forEach((name, k) =>
        expect(relativeError(grads[k]!, tfRun.grads[name]!, 1e-4), name).toBeLessThan(2e-4),
      );
      if (c.biasOffChannels) return;
      const bias = run.names.findIndex((n) => n.endsWith("_1.b"));
      expect(Math.max(...grads[bias]!.data.map(Math.abs))).toBeLessThan(1e-12);
    });
  }
});

describe("batch_norm trained N steps equals TF.js BatchNormalization", () => {
  for (const c of cases)
    it(`${c.name}: params and running statistics after 6 sgd steps; predict on them`, async () => {
      const r = compile("m.dlg", { host: host(c.src) });
      expect(r.ok).toBe(true);
      const net = await (await loadModule(r.js!)).createModel({ seed: 4 });
      const start = await net.params();
      let w: Record<string, Values> = Object.fromEntries(
        dlgModel(c.src).params.map((p) => [
          p.path,
          { shape: p.var.type.shape.map((d) => dimAsConst(d)!), data: [...start[p.path]!] },
        ]),
      );
      const names = Object.keys(w);
      for (let k = 0; k < 6; k++) {
        const b = { x: randomValues(c.x, 20 + k, -2, 2), y: randomValues(c.y, 40 + k) };
        await net.step({ x: Float32Array.from(b.x.data), y: Float32Array.from(b.y.data) });
        // TF.js: the gradient step on the trainable weights; the moving averages from this step's moments.
        const { grads } = tfGrads({ ...w, ...b }, tfLoss(c));
        const stats = tf.tidy(() => {
          const v = Object.fromEntries(
            Object.entries({ ...w, ...b }).map(([n, t]) => [n, tf.tensor(t.data, t.shape)]),
          );
          const { mean, variance } = tfBatchNorm(c.layer(v.x!, v), v, true);
          return [mean!, variance!];
        });
        const [mean, variance] = stats.map((t) => [...t.dataSync()]);
        tf.dispose(stats);
        const moving = (old: Values, batch: number[]): Values => ({
          shape: old.shape,
          data: old.data.map((o, i) => o - (o - batch[i]!) * (1 - MOMENTUM)),
        });
        w = Object.fromEntries(
          names.map((n) => {
            if (n === "batch_norm_1.mean_avg") return [n, moving(w[n]!, mean!)];
            if (n === "batch_norm_1.var_avg") return [n, moving(w[n]!, variance!)];
            const g = grads[n]!;
            return [n, { shape: w[n]!.shape, data: w[n]!.data.map((p, i) => p - LR * g[i]!) }];
          }),
        );
      }
      const got = await net.params();
      // Relative to at least 1e-3: the bias before batch_norm stays at float32 noise around 0.
      for (const n of names) expect(relativeError(w[n]!, got[n]!, 1e-3), n).toBeLessThan(1e-4);
      // The running statistics moved away from their start (0 and 1).
      expect(w["batch_norm_1.var_avg"]!.data.some((x) => Math.abs(x - 1) > 0.05)).toBe(true);

      // predict(): TF.js's inference path, on the running statistics.
      const x = randomValues(c.x, 77, -2, 2);
      const out = (await net.predict({ x: Float32Array.from(x.data) })).out as Float32Array;
      const want = tf.tidy(() => {
        const v = Object.fromEntries(
          Object.entries({ ...w, x }).map(([n, t]) => [n, tf.tensor(t.data, t.shape)]),
        );
        return [...tfBatchNorm(c.layer(v.x!, v), v, false).out.dataSync()];
      });
      expect(relativeError({ shape: [], data: [...out] }, want)).toBeLessThan(1e-4);
    });
});

const host = (src: string) => ({
  readFile: (p: string) => (p === "m.dlg" ? src : undefined),
  readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
});

describe("batch_norm in predict()", () => {
  const predictKernels = (src: string): Kernel[] => {
    const r = compile("m.dlg", { host: host(src) });
    const e = r.program!.entries.find((x) => x.name === "predict")!;
    return lowerEntry(e.graph, backends.js.lower).kernels.kernels;
  };

  it("computes no batch statistics: no reduction, at most two kernels more than without it", () => {
    for (const c of cases) {
      const plain = c.src.replace(` |> batch_norm(momentum: ${MOMENTUM})`, "");
      const bn = predictKernels(c.src);
      // One [C] kernel folds scale and the running variance, one applies them elementwise.
      expect(bn.length, c.name).toBeLessThanOrEqual(predictKernels(plain).length + 2);
      expect(
        bn.filter((k) => k.kind === "reduce"),
        c.name,
      ).toEqual(predictKernels(plain).filter((k) => k.kind === "reduce"));
    }
  });
});

const gpu = await testGpu();

describe("batch_norm on every backend", () => {
  const src = `dim B
model net {
  input x: [B, 2, 3, 3]
  input y: [B, 3]
  h = x |> batch_norm |> flatten |> dense(3) |> batch_norm
  output out = h
  loss mse(h, y)
}
train t for net { optimizer sgd(lr: 0.1, momentum: 0.9)  batch 4 }`;
  const targets: Target[] = gpu ? ["js", "wasm", "webgpu"] : ["js", "wasm"];

  it(`${targets.join(", ")}: the same states and predictions after 3 steps`, async () => {
    const batch = (k: number) => ({
      x: Float32Array.from({ length: 72 }, (_, i) => Math.sin(i * 0.37 + k)),
      y: Float32Array.from({ length: 12 }, (_, i) => Math.cos(i + k)),
    });
    const runs = await Promise.all(
      targets.map(async (target) => {
        const r = compile("m.dlg", { host: host(src), target });
        const mod = await loadModule(r.js!);
        const net = await mod.createModel({ seed: 2, ...(target === "webgpu" && { gpu }) });
        for (let k = 0; k < 3; k++) await net.step(batch(k));
        const out = (await net.predict({ x: batch(5).x })).out as Float32Array;
        const params = await net.params();
        net.dispose();
        return { params, out };
      }),
    );
    const [ref, ...rest] = runs;
    const close = (a: Float32Array, b: Float32Array) =>
      a.every((v, i) => Math.abs(v - b[i]!) <= 1e-4 * Math.max(1, Math.abs(v)));
    expect(ref!.params["batch_norm_1.var_avg"]!.some((v) => v !== 1)).toBe(true);
    for (const [k, r] of rest.entries()) {
      for (const [path, v] of Object.entries(ref!.params))
        expect(close(v, r.params[path]!), `${targets[k + 1]} ${path}`).toBe(true);
      expect(close(ref!.out, r.out), `${targets[k + 1]} predict`).toBe(true);
    }
  });
});
