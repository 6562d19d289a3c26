// dlg against a peer, side by side in one run, on the same data:
//   npm run bench                      (npx tsx bench/run.ts [options])
//
// Each workload runs twice: through dlg's emitted module (the sample compiled
// by compiler/compile.ts, loaded the way `dlg train` loads it, step() and
// predict() called as a user's program calls them), and through a
// hand-written TensorFlow.js program (tfjs-core + the pure-JS CPU backend)
// computing the same function: same layers, same initial parameters (copied
// from dlg's init), same loss and optimizer, same batches in the same order.
//
//   mlp train    test/fixtures/mlp-256.dlg (samples/mlp.dlg before it grew to 784-512-512-10
//                in issue 10) with its `sgd` train block: 784-256-10,
//                relu, dropout 0.2, softmax cross-entropy + 1e-4 * L2 of all
//                params, SGD lr 0.1 momentum 0.9, batch 64 (dlg's step also computes the accuracy
//                metric, which the tfjs step skips); tfjs: gradients through
//                optimizer.minimize with tf.train.momentum
//   mlp predict  probabilities for 1000 test images
//   lenet train  samples/lenet.dlg: conv 5x5 6 pad 2, maxpool 2, conv 5x5 16,
//                maxpool 2, dense 120-84-10, Adam 1e-3, batch 64 (--no-lenet
//                skips it)
//
// Both engines warm up first; then the timed operations are split into
// rounds that alternate which engine goes first, so load from neighbours on
// a shared machine falls on both alike. Reported: wall ms per operation,
// operations per second, CPU ms per operation (process.cpuUsage, user +
// system), and the ratio dlg / tfjs of each (below 1: dlg is faster), with
// the spread of the per-round wall ratios. The losses at the end are a
// sanity check that both programs train the same model (lenet has no
// dropout and starts from the same parameters, so its losses agree closely).
//
// Options: --steps N (mlp train steps per engine, default 200), --predicts N
// (default 16), --lenet-steps N (default 8), --rounds N (default 4),
// --no-lenet. Nothing here is a test: timings are printed, never asserted.

import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type * as TF from "@tensorflow/tfjs-core";
import { loadMnistSplit } from "../cli/mnist.ts";
import { loadModule, type Batch } from "../cli/module.ts";
import { readSafetensors } from "../cli/safetensors.ts";
import { compile } from "../cli/node-host.ts";
import type { Model } from "../runtime/model.ts";
import { mnistBatches } from "./mnist-batches.ts";
import { loadTfjs } from "./tfjs.ts";

const { values: opts } = parseArgs({
  options: {
    steps: { type: "string", default: "200" },
    predicts: { type: "string", default: "16" },
    "lenet-steps": { type: "string", default: "8" },
    rounds: { type: "string", default: "4" },
    "no-lenet": { type: "boolean", default: false },
  },
});
const rounds = Number(opts.rounds);
const batchSize = 64;
const seed = 42;

const tf = await loadTfjs();

// ------------------------------------------------------------------ data

const train = loadMnistSplit("train");
const test = loadMnistSplit("t10k");

// ------------------------------------------------------------------ dlg

/** A sample compiled with the train block `config` (default: its first) driving step(). */
async function dlgModel(sample: string, config?: string): Promise<Model> {
  const r = compile(join(import.meta.dirname, "../samples", sample), { config });
  if (!r.ok || !r.js) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const mod = await loadModule(r.js);
  return mod.createModel({ seed });
}

/** dlg's parameters by name (`dense_1.w`), as tfjs variables of the same shape. */
async function paramsOf(m: Model): Promise<Map<string, TF.Tensor>> {
  const out = new Map<string, TF.Tensor>();
  for (const [name, t] of readSafetensors(await m.save())) {
    if (!name.startsWith("__")) out.set(name, tf.tensor(Float32Array.from(t.data), t.shape));
  }
  return out;
}

function need(p: Map<string, TF.Tensor>, name: string): TF.Tensor {
  const t = p.get(name);
  if (!t) throw new Error(`dlg has no parameter ${name}`);
  return t;
}

// ------------------------------------------------------------------ timing

interface Side {
  wallMs: number;
  cpuMs: number;
  ops: number;
  /** The last value the operation returned (a loss), for the sanity line. */
  last: number;
}
interface Pair {
  name: string;
  unit: string;
  dlg: Side;
  tfjs: Side;
  roundRatios: number[];
}

type Op = (i: number) => number | Promise<number>;

async function timeOps(side: Side, op: Op, from: number, n: number): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = from; i < from + n; i++) {
    side.last = await op(i);
    if (!Number.isFinite(side.last)) throw new Error(`non-finite result ${side.last} at op ${i}`);
  }
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  side.wallMs += wall;
  side.cpuMs += (c.user + c.system) / 1000;
  side.ops += n;
  return wall / n;
}

/** Warm both up, then time `total` ops each in alternating rounds. */
async function pair(
  name: string,
  unit: string,
  total: number,
  warmup: number,
  dlg: Op,
  tfjs: Op,
): Promise<Pair> {
  for (let i = 0; i < warmup; i++) {
    await dlg(i);
    await tfjs(i);
  }
  const side = (): Side => ({ wallMs: 0, cpuMs: 0, ops: 0, last: NaN });
  const p: Pair = { name, unit, dlg: side(), tfjs: side(), roundRatios: [] };
  const tensors = tf.memory().numTensors;
  const per = Math.ceil(total / rounds);
  for (let r = 0, from = warmup; from < warmup + total; r++, from += per) {
    const n = Math.min(per, warmup + total - from);
    let d: number, t: number;
    if (r % 2 === 0) {
      d = await timeOps(p.dlg, dlg, from, n);
      t = await timeOps(p.tfjs, tfjs, from, n);
    } else {
      t = await timeOps(p.tfjs, tfjs, from, n);
      d = await timeOps(p.dlg, dlg, from, n);
    }
    p.roundRatios.push(d / t);
  }
  // A tfjs step that leaked tensors would grow the heap and slow itself down.
  const leaked = tf.memory().numTensors - tensors;
  if (leaked !== 0) throw new Error(`${name}: tfjs leaked ${leaked} tensors while timed`);
  process.stderr.write(`  done: ${name}\n`);
  return p;
}

// ------------------------------------------------------------------ mlp

async function mlp(): Promise<Pair[]> {
  const steps = Number(opts.steps);
  const warmup = 20;
  const data = mnistBatches(train, warmup + steps, batchSize);
  const model = await dlgModel("../test/fixtures/mlp-256.dlg", "sgd");

  const init = await paramsOf(model);
  const w1 = tf.variable(need(init, "dense_1.w"));
  const b1 = tf.variable(need(init, "dense_1.b"));
  const w2 = tf.variable(need(init, "dense_2.w"));
  const b2 = tf.variable(need(init, "dense_2.b"));
  const vars = [w1, b1, w2, b2];
  const opt = tf.train.momentum(0.1, 0.9);
  const logitsOf = (x: TF.Tensor2D, training: boolean) => {
    const h = tf.relu(tf.add(tf.matMul(x, w1), b1));
    return tf.add(tf.matMul(training ? tf.dropout(h, 0.2) : h, w2), b2) as TF.Tensor2D;
  };
  const tfStep = (i: number) => {
    const { x, y } = data[i]!;
    return tf.tidy(() => {
      const xs = tf.tensor2d(x, [batchSize, 784]);
      const ys = tf.oneHot(tf.tensor1d(y, "int32"), 10);
      const cost = opt.minimize(
        () => {
          const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logitsOf(xs, true)), ys), -1)));
          const l2 = tf.addN(vars.map((v) => tf.sum(tf.square(v))));
          return tf.add(ce, tf.mul(1e-4, l2)) as TF.Scalar;
        },
        true,
        vars,
      );
      return cost!.dataSync()[0]!;
    });
  };
  const dlgStep = async (i: number) => (await model.step(data[i]! as Batch)).loss;
  const trainPair = await pair("mlp train step", "step", steps, warmup, dlgStep, tfStep);

  // Predict: probabilities for 1000 test images, read back as a Float32Array.
  const images = mnistBatches(test, 1, 1000)[0]!;
  const dlgPredict = async () => {
    const out = (await model.predict({ x: images.x })) as Record<string, Float32Array>;
    return out.probs![0]!;
  };
  const tfPredict = () =>
    tf.tidy(() => tf.softmax(logitsOf(tf.tensor2d(images.x, [1000, 784]), false)).dataSync()[0]!);
  const predictPair = await pair(
    "mlp predict, 1000 images",
    "call",
    Number(opts.predicts),
    2,
    dlgPredict,
    tfPredict,
  );

  // Sanity: accuracy of both trained models on those 1000 images.
  const accuracy = (probs: ArrayLike<number>) => {
    let ok = 0;
    for (let k = 0; k < 1000; k++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (probs[k * 10 + c]! > probs[k * 10 + best]!) best = c;
      if (best === images.y[k]) ok++;
    }
    return ok / 1000;
  };
  const dlgProbs = ((await model.predict({ x: images.x })) as Record<string, Float32Array>).probs!;
  const tfProbs = tf.tidy(() =>
    tf.softmax(logitsOf(tf.tensor2d(images.x, [1000, 784]), false)).dataSync(),
  );
  sanity.push(
    `mlp after ${warmup + steps} steps: last batch loss dlg ${trainPair.dlg.last.toFixed(4)}, ` +
      `tfjs ${trainPair.tfjs.last.toFixed(4)} (dropout masks differ); accuracy on the 1000 ` +
      `predict images dlg ${accuracy(dlgProbs).toFixed(3)}, tfjs ${accuracy(tfProbs).toFixed(3)}`,
  );
  tf.dispose([...vars, ...init.values()]);
  opt.dispose();
  return [trainPair, predictPair];
}

// ------------------------------------------------------------------ lenet

async function lenet(): Promise<Pair> {
  const steps = Number(opts["lenet-steps"]);
  const warmup = 2;
  const data = mnistBatches(train, warmup + steps, batchSize);
  const model = await dlgModel("lenet.dlg");

  // dlg is channels-first ([B, 1, 28, 28], filters [out, in, kh, kw]); the
  // tfjs CPU backend convolves channels-last ([B, 28, 28, 1], filters
  // [kh, kw, in, out]). With one input channel the image bytes are the same;
  // filters are transposed, and the features are put back in channel-first
  // order before flatten so dense_1.w reads them as dlg does.
  const init = await paramsOf(model);
  const v = (name: string, perm?: number[]) =>
    tf.tidy(() => tf.variable(perm ? tf.transpose(need(init, name), perm) : need(init, name)));
  const toHwio = [2, 3, 1, 0];
  const c1 = v("conv2d_1.w", toHwio);
  const c1b = v("conv2d_1.b");
  const c2 = v("conv2d_2.w", toHwio);
  const c2b = v("conv2d_2.b");
  const d1 = v("dense_1.w");
  const d1b = v("dense_1.b");
  const d2 = v("dense_2.w");
  const d2b = v("dense_2.b");
  const d3 = v("dense_3.w");
  const d3b = v("dense_3.b");
  const vars = [c1, c1b, c2, c2b, d1, d1b, d2, d2b, d3, d3b];
  const opt = tf.train.adam(0.001, 0.9, 0.999, 1e-8);
  const dense = (x: TF.Tensor2D, w: TF.Variable, b: TF.Variable) =>
    tf.add(tf.matMul(x, w as TF.Tensor2D), b) as TF.Tensor2D;
  const tfStep = (i: number) => {
    const { x, y } = data[i]!;
    return tf.tidy(() => {
      const xs = tf.tensor4d(x, [batchSize, 28, 28, 1]);
      const ys = tf.oneHot(tf.tensor1d(y, "int32"), 10);
      const cost = opt.minimize(
        () => {
          let h = tf.relu(tf.add(tf.conv2d(xs, c1 as TF.Tensor4D, 1, 2), c1b)) as TF.Tensor4D;
          h = tf.maxPool(h, 2, 2, "valid");
          h = tf.relu(tf.add(tf.conv2d(h, c2 as TF.Tensor4D, 1, "valid"), c2b)) as TF.Tensor4D;
          h = tf.maxPool(h, 2, 2, "valid");
          const flat = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [batchSize, 400]) as TF.Tensor2D;
          const logits = dense(tf.relu(dense(tf.relu(dense(flat, d1, d1b)), d2, d2b)), d3, d3b);
          return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), ys), -1))) as TF.Scalar;
        },
        true,
        vars,
      );
      return cost!.dataSync()[0]!;
    });
  };
  const dlgStep = async (i: number) => {
    const { x, y } = data[i]!;
    return (await model.step({ x, y })).loss;
  };
  const p = await pair("lenet train step", "step", steps, warmup, dlgStep, tfStep);
  sanity.push(
    `lenet after ${warmup + steps} steps from the same parameters: last batch loss ` +
      `dlg ${p.dlg.last.toFixed(4)}, tfjs ${p.tfjs.last.toFixed(4)}`,
  );
  tf.dispose([...vars, ...init.values()]);
  opt.dispose();
  return p;
}

// ------------------------------------------------------------------ report

const sanity: string[] = [];
const load0 = loadavg();
const started = performance.now();
const pairs = await mlp();
if (!opts["no-lenet"]) pairs.push(await lenet());
const load1 = loadavg();

const f = (x: number, d = 2) => x.toFixed(d);
const rows = pairs.map((p) => {
  const ms = (s: Side) => s.wallMs / s.ops;
  const cpu = (s: Side) => s.cpuMs / s.ops;
  const lo = Math.min(...p.roundRatios);
  const hi = Math.max(...p.roundRatios);
  return [
    p.name,
    `${p.dlg.ops}`,
    f(ms(p.dlg)),
    f(ms(p.tfjs)),
    `${f(1000 / ms(p.dlg), 1)} / ${f(1000 / ms(p.tfjs), 1)}`,
    `${f(ms(p.dlg) / ms(p.tfjs))} (${f(lo)}–${f(hi)})`,
    f(cpu(p.dlg)),
    f(cpu(p.tfjs)),
    f(cpu(p.dlg) / cpu(p.tfjs)),
  ];
});
const header = [
  "Workload",
  "ops each",
  "dlg ms/op",
  "tfjs ms/op",
  "ops/s dlg / tfjs",
  "wall dlg/tfjs (rounds)",
  "dlg CPU ms/op",
  "tfjs CPU ms/op",
  "CPU dlg/tfjs",
];
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
const line = (cells: string[]) =>
  `| ${cells.map((s, c) => (c === 0 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join(" | ")} |`;

const cpu = cpus();
console.log(
  `dlg vs TensorFlow.js ${tf.version_core} (CPU backend), ${new Date().toISOString().slice(0, 10)}, ` +
    `node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? "?"})`,
);
console.log(
  `load average (1 min) ${f(load0[0]!)} at start, ${f(load1[0]!)} at end; ` +
    `${rounds} alternating rounds per workload; ratio below 1: dlg is faster`,
);
console.log("");
console.log(line(header));
console.log(line(widths.map((w, c) => (c === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":"))));
for (const r of rows) console.log(line(r));
console.log("");
for (const s of sanity) console.log(s);
console.log(`total ${f((performance.now() - started) / 1000, 1)} s`);
