// samples/reverse_attention.dlg: 8 digits in, the same reversed out. Token
// plus position embeddings (width 32), one pre-norm transformer layer
// (4-head self-attention, then relu MLP 32-64-32, each with a residual),
// layer_norm, per-token dense(10), cross-entropy over batch and time, Adam
// 0.003, batch 64. No dropout: from the same parameters the losses agree.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { reverseBatches } from "./webgpu-data.ts";
import { need } from "./webgpu-dlg.ts";
import { adam, jaxParams, jaxPeer, tfjsPeer, tfVariables, type JaxTree } from "./webgpu-peers.ts";
import type { Workload } from "./webgpu-workload.ts";

const batch = 64;
const T = 8;
const width = 32;
const heads = 4;
const vocab = 10;
const opt = adam(0.003);
const eps = 1e-5;

export const attention: Workload = {
  key: "attention",
  title: "Attention, 1 layer 4 heads, Adam, batch 64",
  sample: "reverse_attention.dlg",
  batches: (count) => reverseBatches(count, batch),

  // Activations are kept [batch * T, width] so every dense is a 2-D matMul.
  tfjs(tf, init) {
    const v = tfVariables(tf, init);
    const p = (name: string) => need(v, name);
    const dense = (x: TF.Tensor, layer: string) =>
      tf.add(tf.matMul(x as TF.Tensor2D, p(`${layer}.w`) as TF.Tensor2D), p(`${layer}.b`));
    const norm = (x: TF.Tensor, layer: string) => {
      const centred = tf.sub(x, tf.mean(x, -1, true));
      const variance = tf.mean(tf.square(centred), -1, true);
      const scaled = tf.mul(tf.div(centred, tf.sqrt(tf.add(variance, eps))), p(`${layer}.scale`));
      return tf.add(scaled, p(`${layer}.shift`));
    };
    const split = (x: TF.Tensor) =>
      tf.transpose(tf.reshape(x, [batch, T, heads, width / heads]), [0, 2, 1, 3]);
    const mha = "multi_head_attention_1";
    return tfjsPeer(tf, v, opt, (b) => {
      const ids = tf.tensor1d(b.tokens!, "int32");
      const tokens = tf.reshape(tf.gather(p("embedding_2.table"), ids), [batch, T, width]);
      const x0 = tf.reshape(tf.add(tokens, p("embedding_1.table")), [batch * T, width]);
      const a = norm(x0, "layer_norm_1");
      const q = split(dense(a, `${mha}.dense_1`));
      const k = split(dense(a, `${mha}.dense_2`));
      const vv = split(dense(a, `${mha}.dense_3`));
      const scores = tf.div(tf.matMul(q, k, false, true), Math.sqrt(width / heads));
      const att = tf.matMul(tf.softmax(scores, -1), vv);
      const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [batch * T, width]);
      const x1 = tf.add(x0, dense(merged, `${mha}.dense_4`));
      const x2 = tf.add(x1, dense(tf.relu(dense(norm(x1, "layer_norm_2"), "dense_1")), "dense_2"));
      const logits = dense(norm(x2, "layer_norm_3"), "dense_3");
      const y = tf.oneHot(tf.tensor1d(b.y!, "int32"), vocab);
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), y), -1))) as TF.Scalar;
    });
  },

  jax(jax, init) {
    const { numpy: np, nn } = jax;
    type B = { tokens: Jax.Array; y: Jax.Array };
    const split = (x: Jax.Array) =>
      np.transpose(x.reshape([batch, T, heads, width / heads]), [0, 2, 1, 3]);
    const mha = "multi_head_attention_1";
    const loss = (p: JaxTree, b: B) => {
      const w = (name: string) => need(p, name);
      const dense = (x: Jax.Array, layer: string) =>
        np.matmul(x, w(`${layer}.w`)).add(w(`${layer}.b`));
      const norm = (x: Jax.Array, layer: string) => {
        const centred = x.ref.sub(np.mean(x, -1, { keepdims: true }));
        const variance = np.mean(np.square(centred.ref), -1, { keepdims: true });
        const scaled = centred.div(np.sqrt(variance.add(eps))).mul(w(`${layer}.scale`));
        return scaled.add(w(`${layer}.shift`));
      };
      const tokens = np.take(w("embedding_2.table"), b.tokens, 0);
      const x0 = tokens.add(w("embedding_1.table")).reshape([batch * T, width]);
      const a = norm(x0.ref, "layer_norm_1");
      const q = split(dense(a.ref, `${mha}.dense_1`));
      const k = split(dense(a.ref, `${mha}.dense_2`));
      const v = split(dense(a, `${mha}.dense_3`));
      const scores = np.matmul(q, np.transpose(k, [0, 1, 3, 2])).div(Math.sqrt(width / heads));
      const att = np.matmul(nn.softmax(scores, -1), v);
      const merged = np.transpose(att, [0, 2, 1, 3]).reshape([batch * T, width]);
      const x1 = x0.add(dense(merged, `${mha}.dense_4`));
      const mlp = dense(nn.relu(dense(norm(x1.ref, "layer_norm_2"), "dense_1")), "dense_2");
      const logits = dense(norm(x1.add(mlp), "layer_norm_3"), "dense_3");
      return nn.logSoftmax(logits).mul(nn.oneHot(b.y, vocab)).sum(-1).mean().neg();
    };
    return jaxPeer(jax, jaxParams(jax, init), opt, loss, (b) => ({
      tokens: np.array(b.tokens!, { dtype: np.int32 }).reshape([batch, T]),
      y: np.array(b.y!, { dtype: np.int32 }),
    }));
  },
};
