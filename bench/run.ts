// Training-step throughput of the compiled MNIST MLP (samples/mlp.dlg:
// 784-256-10, batch 64, SGD momentum, dropout) through the emitted module's
// step(), the way a user's program runs it. Reports steps/s, the projected
// time for the sample's 5 epochs, and held-out accuracy after the timed
// epochs. Usage: npx tsx bench/run.ts [epochs=1]
//
// TensorFlow.js is not a dependency; to compare, run the same loop with
// @tensorflow/tfjs-node's CPU backend (tf.layers dense 256 relu, dropout 0.2,
// dense 10, sgd momentum 0.9, batch 64) and compare the steps/s line.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadMnistSplit } from "../cli/mnist.ts";
import { compile } from "../compiler/compile.ts";
import type { Model } from "../runtime/model.ts";

const epochs = Number(process.argv[2] ?? 1);
const r = compile(join(import.meta.dirname, "../samples/mlp.dlg"));
if (!r.ok || !r.js) {
  console.error(r.diagnostics.map((d) => d.message).join("\n"));
  process.exit(1);
}
const file = join(mkdtempSync(join(tmpdir(), "dlg-bench-")), "mlp.js");
writeFileSync(file, r.js);
const mod = (await import(pathToFileURL(file).href)) as {
  createModel(o?: { seed?: number }): Model;
};
const model = mod.createModel({ seed: 42 });

const train = loadMnistSplit("train");
const test = loadMnistSplit("t10k");
const batchSize = 64;
const x = new Float32Array(batchSize * 784);
const y = new Int32Array(batchSize);

/** Copy examples [from, from + n) into the batch arrays, scaled to [0, 1]. */
function fill(split: typeof train, order: Int32Array | null, from: number, n: number) {
  const bx = n === batchSize ? x : new Float32Array(n * 784);
  const by = n === batchSize ? y : new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = order ? order[from + k]! : from + k;
    for (let p = 0; p < 784; p++) bx[k * 784 + p] = split.images[i * 784 + p]! / 255;
    by[k] = split.labels[i]!;
  }
  return { x: bx, y: by };
}

let steps = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (let e = 0; e < epochs; e++) {
  const order = Int32Array.from({ length: train.count }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (let from = 0; from < train.count; from += batchSize) {
    const n = Math.min(batchSize, train.count - from);
    const { loss } = model.step(fill(train, order, from, n));
    steps++;
    if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at step ${steps}`);
  }
}
const seconds = (performance.now() - t0) / 1000;
// CPU time too: on a shared machine wall time mostly measures the neighbours.
const cpuSeconds = process.cpuUsage(cpu0).user / 1e6;

let correct = 0;
for (let from = 0; from < test.count; from += 1000) {
  const n = Math.min(1000, test.count - from);
  const b = fill(test, null, from, n);
  const probs = model.predict({ x: b.x }).probs as Float32Array;
  for (let k = 0; k < n; k++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (probs[k * 10 + c]! > probs[k * 10 + best]!) best = c;
    if (best === b.y[k]) correct++;
  }
}
const perStep = (seconds / steps) * 1000;
console.log(
  `dlg mlp: ${steps} steps in ${seconds.toFixed(1)} s = ${(steps / seconds).toFixed(1)} steps/s (${perStep.toFixed(2)} ms/step)`,
);
console.log(`cpu time: ${((cpuSeconds / steps) * 1000).toFixed(2)} ms/step`);
console.log(
  `projected 5 epochs (${Math.ceil(train.count / batchSize) * 5} steps): ${((perStep * Math.ceil(train.count / batchSize) * 5) / 1000).toFixed(0)} s`,
);
console.log(
  `test accuracy after ${epochs} epoch(s): ${((correct / test.count) * 100).toFixed(2)}%`,
);
