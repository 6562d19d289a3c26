// bench/cpu-models/mlp.dlg: 784-512-256-10, relu, softmax cross-entropy,
// Adam 1e-3, batch 128, on uniform random inputs and labels (seeded).

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { OnnxGraph } from "./cpu-onnx.ts";
import { jaxForward, tfjsForward } from "./cpu-peers.ts";
import { labels, uniform, type CpuWorkload } from "./cpu-workload.ts";
import { need, type Init } from "./webgpu-dlg.ts";
import type { HostBatch } from "./webgpu-data.ts";
import { adam, jaxParams, jaxPeer, tfjsPeer, tfVariables, type JaxTree } from "./webgpu-peers.ts";
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

const jaxBatch = (jax: JaxJs, b: HostBatch) => ({
  x: jax.numpy.array(b.x!).reshape([batch, 784]),
  y: jax.numpy.array(b.y!, { dtype: jax.numpy.int32 }),
});

export const mlp: CpuWorkload = {
  key: "mlp",
  title: "MLP 784-512-256-10, batch 128",
  forwardInputs: { x: [batch, 784] },
  output: "logits",
  flops: 2 * batch * widths.slice(1).reduce((s, w, i) => s + widths[i]! * w, 0),
  batchAt: (k) => ({ x: uniform(batch * 784, 21 + 2 * k, 0, 1), y: labels(batch, 10, 22 + 2 * k) }),

  train: {
    tfjs(tf, init) {
      const v = tfVariables(tf, init);
      return tfjsPeer(tf, v, opt, (b) => {
        const y = tf.oneHot(tf.tensor1d(b.y!, "int32"), 10);
        return tf.neg(
          tf.mean(tf.sum(tf.mul(tf.logSoftmax(tfLogits(tf, v, b)), y), -1)),
        ) as TF.Scalar;
      });
    },
    jax(jax, init) {
      const { nn } = jax;
      type B = { x: Jax.Array; y: Jax.Array };
      const loss = (p: JaxTree, b: B) =>
        nn
          .logSoftmax(jaxLogits(jax, p, b.x))
          .mul(nn.oneHot(b.y, 10))
          .sum(-1)
          .mean()
          .neg();
      return jaxPeer(jax, jaxParams(jax, init), opt, loss, (b) => jaxBatch(jax, b));
    },
  },

  forward: {
    tfjs(tf, init) {
      const v = tfVariables(tf, init);
      return tfjsForward(tf, v, (b) => tfLogits(tf, v, b));
    },
    jax(jax, init) {
      type B = { x: Jax.Array };
      return jaxForward(
        jax,
        jaxParams(jax, init),
        (p, b: B) => jaxLogits(jax, p, b.x),
        (b) => ({ x: jax.numpy.array(b.x!).reshape([batch, 784]) }),
      );
    },
    onnx(init: Record<string, Init>) {
      const g = new OnnxGraph();
      let h = g.input("x", [batch, 784]);
      layers.forEach((l, i) => {
        h = g.node("Add", [
          g.node("MatMul", [h, g.param(init, `${l}.w`)]),
          g.param(init, `${l}.b`),
        ]);
        if (i < layers.length - 1) h = g.node("Relu", [h]);
      });
      return g.model(h);
    },
  },
};
