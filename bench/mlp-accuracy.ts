// Does another framework, given the same model, data and schedule, reach the
// accuracy dlg reaches on test/fixtures/mlp-256.dlg (samples/mlp.dlg before issue
// 10 grew it to 784-512-512-10)? A peer check for the figure in
// README, not a speed benchmark:
//   npx tsx bench/mlp-accuracy.ts [--epochs 10] [--seed 0]
//
// Both engines start from dlg's initial parameters (createModel({ seed })),
// see the same 55,000 training images in the same per-epoch shuffled order
// (the sample's batch size, as `dlg train` splits MNIST: the last 5,000 of
// the training file are its validation split), and are scored on the 10,000
// test images. The peer is TensorFlow.js (tfjs-core, CPU backend) with the
// same layers, loss (softmax cross-entropy + 1e-4 * L2 of all params),
// dropout 0.2 and the optimizer of the sample's train block. Dropout masks
// differ (each engine has its own random numbers), so the two runs are two
// samples of the same procedure.

import { parseArgs } from "node:util";
import type * as TF from "@tensorflow/tfjs-core";
import { loadMnistSplit, type MnistSplit } from "../cli/mnist.ts";
import { loadModule } from "../cli/module.ts";
import { readSafetensors } from "../cli/safetensors.ts";
import { prng, shuffled } from "../cli/train.ts";
import { compile } from "../cli/node-host.ts";
import { loadTfjs } from "./tfjs.ts";

const { values: opts } = parseArgs({
  options: { epochs: { type: "string", default: "10" }, seed: { type: "string", default: "0" } },
});
const epochs = Number(opts.epochs);
const seed = Number(opts.seed);
const trainCount = 55_000;

const tf = await loadTfjs();
const train = loadMnistSplit("train");
const test = loadMnistSplit("t10k");

function batchOf(
  split: MnistSplit,
  idx: ArrayLike<number>,
  from: number,
  n: number,
): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(n * 784);
  const y = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = idx[from + k]!;
    for (let p = 0; p < 784; p++) x[k * 784 + p] = split.images[i * 784 + p]! / 255;
    y[k] = split.labels[i]!;
  }
  return { x, y };
}

const r = compile("test/fixtures/mlp-256.dlg");
if (!r.ok || !r.js || !r.train) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
const { optimizer: o, batch } = r.train;
if (batch === "full") throw new Error("the peer check trains in mini-batches");
const batchSize = batch;
if (o.nesterov || o.weightDecay !== 0 || o.kind === "gd")
  throw new Error(`the peer check mirrors sgd, momentum and adam only, not this ${o.kind}`);
const model = await (await loadModule(r.js)).createModel({ seed });
const init = readSafetensors(await model.save());
const v = (name: string) => {
  const t = init.get(name)!;
  return tf.variable(tf.tensor(Float32Array.from(t.data), t.shape));
};
const [w1, b1, w2, b2] = ["dense_1.w", "dense_1.b", "dense_2.w", "dense_2.b"].map(
  v,
) as TF.Variable[];
const vars = [w1!, b1!, w2!, b2!];
// The sample's optimizer, as tfjs spells it.
const opt =
  o.kind === "adam"
    ? tf.train.adam(o.lr, o.beta1, o.beta2, o.eps)
    : o.momentum > 0
      ? tf.train.momentum(o.lr, o.momentum)
      : tf.train.sgd(o.lr);
const logits = (x: TF.Tensor2D, training: boolean) => {
  const h = tf.relu(tf.add(tf.matMul(x, w1!), b1!));
  return tf.add(tf.matMul(training ? tf.dropout(h, 0.2) : h, w2!), b2!) as TF.Tensor2D;
};

const rand = prng(seed);
const all = Int32Array.from({ length: trainCount }, (_, i) => i);
const steps = Math.floor(trainCount / batchSize);
const t0 = Date.now();
for (let e = 0; e < epochs; e++) {
  const order = shuffled(trainCount, rand);
  for (let s = 0; s < steps; s++) {
    const b = batchOf(train, order, s * batchSize, batchSize);
    await model.step(b);
    tf.tidy(() => {
      const xs = tf.tensor2d(b.x, [batchSize, 784]);
      const ys = tf.oneHot(tf.tensor1d(b.y, "int32"), 10);
      opt.minimize(
        () => {
          const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits(xs, true)), ys), -1)));
          const l2 = tf.addN(vars.map((w) => tf.sum(tf.square(w))));
          return tf.add(ce, tf.mul(1e-4, l2)) as TF.Scalar;
        },
        false,
        vars,
      );
    });
  }
  console.log(`epoch ${e + 1}/${epochs} done (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}

let dlgOk = 0;
let tfOk = 0;
const testIdx = Int32Array.from({ length: test.count }, (_, i) => i);
for (let from = 0; from < test.count; from += 1000) {
  const b = batchOf(test, testIdx, from, 1000);
  const probs = ((await model.predict({ x: b.x })) as Record<string, Float32Array>).probs!;
  const tfPred = tf.tidy(() =>
    tf.argMax(logits(tf.tensor2d(b.x, [1000, 784]), false), -1).dataSync(),
  );
  for (let k = 0; k < 1000; k++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (probs[k * 10 + c]! > probs[k * 10 + best]!) best = c;
    if (best === b.y[k]) dlgOk++;
    if (tfPred[k] === b.y[k]) tfOk++;
  }
}
console.log(
  `test accuracy after ${epochs} epochs (seed ${seed}): dlg ${(dlgOk / test.count).toFixed(4)}, tfjs ${(tfOk / test.count).toFixed(4)}`,
);
