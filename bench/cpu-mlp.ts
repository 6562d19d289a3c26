// bench/cpu-models/mlp.dlg: 784-512-256-10, relu, softmax cross-entropy,
// Adam 1e-3, batch 128, on uniform random inputs and labels (seeded).

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { OnnxGraph } from "./cpu-onnx.ts";
import { peersOf } from "./cpu-peers.ts";
import { labels, uniform, type CpuWorkload } from "./cpu-workload.ts";
import { need, type Init } from "./webgpu-dlg.ts";
import type { HostBatch } from "./webgpu-data.ts";
import { adam, type JaxTree } from "./webgpu-peers.ts";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";

const batch = 128;
const widths = [784, 512, 256, 10];
const layers = ["dense_1", "dense_2", "dense_3"];
const opt = adam(0.001);

function tfLogits(tf: Tf, v: Record<string, TF.Variable>, b: HostBatch): TF.Tensor {
  let h: TF.Tensor = tf.tensor2d(b.x!, [batch, 784]);
  layers.forEach((l, i) => {
    h = tf.add(tf.matMul(h as TF.Tensor2D, need(v, `${l}.w`) as TF.Tensor2D), need(v, `${l}.b`));
    if (i < layers.length - 1) h = tf.relu(h);
  });
  return h;
}

function jaxLogits(jax: JaxJs, p: JaxTree, x: Jax.Array): Jax.Array {
  const { numpy: np, nn } = jax;
  let h = x;
  layers.forEach((l, i) => {
    h = np.matmul(h, need(p, `${l}.w`)).add(need(p, `${l}.b`));
    if (i < layers.length - 1) h = nn.relu(h);
  });
  return h;
}

const peers = peersOf(
  {
    tfjs: tfLogits,
    jax: jaxLogits,
    x: (jax, b) => jax.numpy.array(b.x!).reshape([batch, 784]),
    target: { classes: 10 },
  },
  opt,
);

export const mlp: CpuWorkload = {
  key: "mlp",
  title: "MLP 784-512-256-10, batch 128",
  forwardInputs: { x: [batch, 784] },
  output: "logits",
  flops: 2 * batch * widths.slice(1).reduce((s, w, i) => s + widths[i]! * w, 0),
  batchAt: (k) => ({ x: uniform(batch * 784, 21 + 2 * k, 0, 1), y: labels(batch, 10, 22 + 2 * k) }),

  train: peers.train,
  forward: {
    ...peers.forward,
    onnx(init: Record<string, Init>) {
      const g = new OnnxGraph();
      let h = g.input("x", [batch, 784]);
      layers.forEach((l, i) => {
        h = g.dense(h, init, l);
        if (i < layers.length - 1) h = g.node("Relu", [h]);
      });
      return g.model(h);
    },
  },
};
