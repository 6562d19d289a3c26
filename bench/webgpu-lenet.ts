// samples/lenet.dlg: conv 5x5 6 pad 2, relu, maxpool 2, conv 5x5 16, relu,
// maxpool 2, dense 120-84-10, softmax cross-entropy, Adam 1e-3, batch 64. No
// dropout, so from the same parameters the three losses agree closely.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { mnistTrainBatches } from "./webgpu-data.ts";
import { adam, jaxParams, jaxPeer, tfjsPeer, tfVariables } from "./webgpu-peers.ts";
import type { Workload } from "./webgpu-workload.ts";

const batch = 64;
const names = {
  c1: "conv2d_1.w",
  c1b: "conv2d_1.b",
  c2: "conv2d_2.w",
  c2b: "conv2d_2.b",
  d1: "dense_1.w",
  d1b: "dense_1.b",
  d2: "dense_2.w",
  d2b: "dense_2.b",
  d3: "dense_3.w",
  d3b: "dense_3.b",
};
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
    const v = tfVariables(tf, init, names);
    for (const k of ["c1", "c2"] as const) {
      const hwio = tf.tidy(() => tf.variable(tf.transpose(v[k], [2, 3, 1, 0])));
      v[k].dispose();
      v[k] = hwio;
    }
    const dense = (x: TF.Tensor, w: TF.Variable, b: TF.Variable) =>
      tf.add(tf.matMul(x as TF.Tensor2D, w as TF.Tensor2D), b);
    return tfjsPeer(tf, v, opt, (b) => {
      const x = tf.tensor4d(b.x!, [batch, 28, 28, 1]);
      const y = tf.oneHot(tf.tensor1d(b.y!, "int32"), 10);
      const conv = (h: TF.Tensor, w: TF.Variable, bias: TF.Variable, pad: number | "valid") =>
        tf.maxPool(
          tf.relu(
            tf.add(tf.conv2d(h as TF.Tensor4D, w as TF.Tensor4D, 1, pad), bias),
          ) as TF.Tensor4D,
          2,
          2,
          "valid",
        );
      const h = conv(conv(x, v.c1, v.c1b, 2), v.c2, v.c2b, "valid");
      const flat = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [batch, 400]);
      const logits = dense(
        tf.relu(dense(tf.relu(dense(flat, v.d1, v.d1b)), v.d2, v.d2b)),
        v.d3,
        v.d3b,
      );
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), y), -1))) as TF.Scalar;
    });
  },

  // jax-js convolves channels-first with [out, in, kh, kw] filters, as dlg does.
  jax(jax, init) {
    const { numpy: np, nn, lax } = jax;
    type P = Record<keyof typeof names, Jax.Array>;
    type B = { x: Jax.Array; y: Jax.Array };
    /** 2x2 max pooling, stride 2, of [b, c, h, w] with even h and w. */
    const pool = (x: Jax.Array) => {
      const [b, c, h, w] = x.shape as [number, number, number, number];
      return np.max(x.reshape([b, c, h / 2, 2, w / 2, 2]), [3, 5]);
    };
    const conv = (x: Jax.Array, w: Jax.Array, bias: Jax.Array, pad: number) =>
      pool(
        nn.relu(
          lax
            .convGeneralDilated(
              x,
              w,
              [1, 1],
              [
                [pad, pad],
                [pad, pad],
              ],
            )
            .add(bias.reshape([-1, 1, 1])),
        ),
      );
    const dense = (x: Jax.Array, w: Jax.Array, b: Jax.Array) => np.matmul(x, w).add(b);
    const loss = (p: P, b: B) => {
      const h = conv(conv(b.x, p.c1, p.c1b, 2), p.c2, p.c2b, 0).reshape([batch, 400]);
      const logits = dense(
        nn.relu(dense(nn.relu(dense(h, p.d1, p.d1b)), p.d2, p.d2b)),
        p.d3,
        p.d3b,
      );
      return nn.logSoftmax(logits).mul(nn.oneHot(b.y, 10)).sum(-1).mean().neg();
    };
    return jaxPeer(jax, jaxParams(jax, init, names), opt, loss, (b) => ({
      x: np.array(b.x!).reshape([batch, 1, 28, 28]),
      y: np.array(b.y!, { dtype: np.int32 }),
    }));
  },
};
