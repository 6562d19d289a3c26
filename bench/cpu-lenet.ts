// bench/cpu-models/lenet.dlg: samples/lenet.dlg's network (conv 5x5 6 pad 2,
// relu, maxpool 2, conv 5x5 16, relu, maxpool 2, dense 120-84-10), softmax
// cross-entropy, Adam 1e-3, batch 32, on uniform random images and labels.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { OnnxGraph } from "./cpu-onnx.ts";
import { peersOf } from "./cpu-peers.ts";
import { labels, uniform, type CpuWorkload } from "./cpu-workload.ts";
import { need, type Init } from "./webgpu-dlg.ts";
import type { HostBatch } from "./webgpu-data.ts";
import { adam, tfVariables, type JaxTree } from "./webgpu-peers.ts";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";

const batch = 32;
const opt = adam(0.001);
const dense = ["dense_1", "dense_2", "dense_3"];
/** conv2d_1: 6 filters of 1 x 5 x 5 on 28 x 28 (pad 2), conv2d_2: 16 of 6 x 5 x 5 on 14 x 14. */
const convFlops = 2 * batch * (6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25);
const denseFlops = 2 * batch * (400 * 120 + 120 * 84 + 84 * 10);

// dlg is channels-first ([B, 1, 28, 28], filters [out, in, kh, kw]); TF.js
// convolves channels-last ([B, 28, 28, 1], filters [kh, kw, in, out]). With
// one input channel the image bytes are the same; the filters are transposed
// once, and the features go back to channel-first order before flatten so
// dense_1.w reads them as dlg does.
function tfVars(tf: Tf, init: Record<string, Init>): Record<string, TF.Variable> {
  const v = tfVariables(tf, init);
  for (const name of ["conv2d_1.w", "conv2d_2.w"]) {
    const hwio = tf.tidy(() => tf.variable(tf.transpose(need(v, name), [2, 3, 1, 0])));
    need(v, name).dispose();
    v[name] = hwio;
  }
  return v;
}

function tfLogits(tf: Tf, v: Record<string, TF.Variable>, b: HostBatch): TF.Tensor {
  const p = (name: string) => need(v, name);
  const conv = (h: TF.Tensor, layer: string, pad: number | "valid") => {
    const w = p(`${layer}.w`) as TF.Tensor4D;
    const c = tf.relu(tf.add(tf.conv2d(h as TF.Tensor4D, w, 1, pad), p(`${layer}.b`)));
    return tf.maxPool(c as TF.Tensor4D, 2, 2, "valid");
  };
  const h = conv(conv(tf.tensor4d(b.x!, [batch, 28, 28, 1]), "conv2d_1", 2), "conv2d_2", "valid");
  let x: TF.Tensor = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [batch, 400]);
  dense.forEach((l, i) => {
    x = tf.add(tf.matMul(x as TF.Tensor2D, p(`${l}.w`) as TF.Tensor2D), p(`${l}.b`));
    if (i < dense.length - 1) x = tf.relu(x);
  });
  return x;
}

// jax-js convolves channels-first with [out, in, kh, kw] filters, as dlg does.
function jaxLogits(jax: JaxJs, p: JaxTree, x: Jax.Array): Jax.Array {
  const { numpy: np, nn, lax } = jax;
  /** 2x2 max pooling, stride 2, of [b, c, h, w] with even h and w. */
  const pool = (a: Jax.Array) => {
    const [b, c, h, w] = a.shape as [number, number, number, number];
    return np.max(a.reshape([b, c, h / 2, 2, w / 2, 2]), [3, 5]);
  };
  const conv = (a: Jax.Array, layer: string, pad: number) => {
    const padding: [number, number][] = [
      [pad, pad],
      [pad, pad],
    ];
    const y = lax.convGeneralDilated(a, need(p, `${layer}.w`), [1, 1], padding);
    return pool(nn.relu(y.add(need(p, `${layer}.b`).reshape([-1, 1, 1]))));
  };
  let h = conv(conv(x, "conv2d_1", 2), "conv2d_2", 0).reshape([batch, 400]);
  dense.forEach((l, i) => {
    h = np.matmul(h, need(p, `${l}.w`)).add(need(p, `${l}.b`));
    if (i < dense.length - 1) h = nn.relu(h);
  });
  return h;
}

const peers = peersOf(
  {
    tfVars,
    tfjs: tfLogits,
    jax: jaxLogits,
    x: (jax, b) => jax.numpy.array(b.x!).reshape([batch, 1, 28, 28]),
    target: { classes: 10 },
  },
  opt,
);

export const lenet: CpuWorkload = {
  key: "lenet",
  title: "LeNet-5, batch 32",
  forwardInputs: { x: [batch, 1, 28, 28] },
  output: "logits",
  flops: convFlops + denseFlops,
  batchAt: (k) => ({ x: uniform(batch * 784, 31 + 2 * k, 0, 1), y: labels(batch, 10, 32 + 2 * k) }),

  train: peers.train,
  forward: {
    ...peers.forward,
    onnx(init) {
      const g = new OnnxGraph();
      const conv = (h: string, layer: string, pad: number) => {
        const c = g.node("Conv", [h, g.param(init, `${layer}.w`), g.param(init, `${layer}.b`)], {
          kernel_shape: [5, 5],
          pads: [pad, pad, pad, pad],
        });
        return g.node("MaxPool", [g.node("Relu", [c])], { kernel_shape: [2, 2], strides: [2, 2] });
      };
      let h = conv(conv(g.input("x", [batch, 1, 28, 28]), "conv2d_1", 2), "conv2d_2", 0);
      h = g.node("Flatten", [h], { axis: 1 });
      dense.forEach((l, i) => {
        h = g.dense(h, init, l);
        if (i < dense.length - 1) h = g.node("Relu", [h]);
      });
      return g.model(h);
    },
  },
};
