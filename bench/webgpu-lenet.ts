// samples/lenet.dlg: conv 5x5 6 pad 2, relu, maxpool 2, conv 5x5 16, relu,
// maxpool 2, dense 120-84-10, softmax cross-entropy, Adam 1e-3, batch 64. No
// dropout, so from the same parameters the three losses agree closely.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { mnistTrainBatches } from "./webgpu-data.ts";
import { need } from "./webgpu-dlg.ts";
import { adam, jaxParams, jaxPeer, tfjsPeer, tfVariables, type JaxTree } from "./webgpu-peers.ts";
import type { Workload } from "./webgpu-workload.ts";

const batch = 64;
const opt = adam(0.001);

export const lenet: Workload = {
  key: "lenet",
  title: "LeNet-5, Adam, batch 64",
  sample: "lenet.dlg",
  batches: (count) => mnistTrainBatches(count, batch),

  // dlg is channels-first ([B, 1, 28, 28], filters [out, in, kh, kw]); TF.js
  // convolves channels-last ([B, 28, 28, 1], filters [kh, kw, in, out]). With
  // one input channel the image bytes are the same; the filters are
  // transposed once here, and the features go back to channel-first order
  // before flatten so dense_1.w reads them as dlg does.
  tfjs(tf, init) {
    const v = tfVariables(tf, init);
    for (const name of ["conv2d_1.w", "conv2d_2.w"]) {
      const hwio = tf.tidy(() => tf.variable(tf.transpose(need(v, name), [2, 3, 1, 0])));
      need(v, name).dispose();
      v[name] = hwio;
    }
    const p = (name: string) => need(v, name);
    const dense = (x: TF.Tensor, layer: string) =>
      tf.add(tf.matMul(x as TF.Tensor2D, p(`${layer}.w`) as TF.Tensor2D), p(`${layer}.b`));
    return tfjsPeer(tf, v, opt, (b) => {
      const x = tf.tensor4d(b.x!, [batch, 28, 28, 1]);
      const y = tf.oneHot(tf.tensor1d(b.y!, "int32"), 10);
      const conv = (h: TF.Tensor, layer: string, pad: number | "valid") => {
        const w = p(`${layer}.w`) as TF.Tensor4D;
        const c = tf.relu(tf.add(tf.conv2d(h as TF.Tensor4D, w, 1, pad), p(`${layer}.b`)));
        return tf.maxPool(c as TF.Tensor4D, 2, 2, "valid");
      };
      const h = conv(conv(x, "conv2d_1", 2), "conv2d_2", "valid");
      const flat = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [batch, 400]);
      const logits = dense(tf.relu(dense(tf.relu(dense(flat, "dense_1")), "dense_2")), "dense_3");
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), y), -1))) as TF.Scalar;
    });
  },

  // jax-js convolves channels-first with [out, in, kh, kw] filters, as dlg does.
  jax(jax, init) {
    const { numpy: np, nn, lax } = jax;
    type B = { x: Jax.Array; y: Jax.Array };
    /** 2x2 max pooling, stride 2, of [b, c, h, w] with even h and w. */
    const pool = (x: Jax.Array) => {
      const [b, c, h, w] = x.shape as [number, number, number, number];
      return np.max(x.reshape([b, c, h / 2, 2, w / 2, 2]), [3, 5]);
    };
    const loss = (p: JaxTree, b: B) => {
      const w = (name: string) => need(p, name);
      const conv = (x: Jax.Array, layer: string, pad: number) => {
        const padding: [number, number][] = [
          [pad, pad],
          [pad, pad],
        ];
        const y = lax.convGeneralDilated(x, w(`${layer}.w`), [1, 1], padding);
        return pool(nn.relu(y.add(w(`${layer}.b`).reshape([-1, 1, 1]))));
      };
      const dense = (x: Jax.Array, layer: string) =>
        np.matmul(x, w(`${layer}.w`)).add(w(`${layer}.b`));
      const h = conv(conv(b.x, "conv2d_1", 2), "conv2d_2", 0).reshape([batch, 400]);
      const logits = dense(nn.relu(dense(nn.relu(dense(h, "dense_1")), "dense_2")), "dense_3");
      return nn.logSoftmax(logits).mul(nn.oneHot(b.y, 10)).sum(-1).mean().neg();
    };
    return jaxPeer(jax, jaxParams(jax, init), opt, loss, (b) => ({
      x: np.array(b.x!).reshape([batch, 1, 28, 28]),
      y: np.array(b.y!, { dtype: np.int32 }),
    }));
  },
};
