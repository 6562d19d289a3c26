// samples/reverse_attention.dlg: 8 digits in, the same reversed out. Token
// plus position embeddings (width 32), one pre-norm transformer layer
// (4-head self-attention, then relu MLP 32-64-32, each with a residual),
// layer_norm, per-token dense(10), cross-entropy over batch and time, Adam
// 0.003, batch 64. No dropout: from the same parameters the losses agree.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { reverseBatches } from "./webgpu-data.ts";
import { adam, jaxParams, jaxPeer, tfjsPeer, tfVariables } from "./webgpu-peers.ts";
import type { Workload } from "./webgpu-workload.ts";

const batch = 64;
const T = 8;
const width = 32;
const heads = 4;
const vocab = 10;
const names = {
  pos: "embedding_1.table",
  tok: "embedding_2.table",
  ln1s: "layer_norm_1.scale",
  ln1b: "layer_norm_1.shift",
  wq: "multi_head_attention_1.dense_1.w",
  bq: "multi_head_attention_1.dense_1.b",
  wk: "multi_head_attention_1.dense_2.w",
  bk: "multi_head_attention_1.dense_2.b",
  wv: "multi_head_attention_1.dense_3.w",
  bv: "multi_head_attention_1.dense_3.b",
  wo: "multi_head_attention_1.dense_4.w",
  bo: "multi_head_attention_1.dense_4.b",
  ln2s: "layer_norm_2.scale",
  ln2b: "layer_norm_2.shift",
  w1: "dense_1.w",
  b1: "dense_1.b",
  w2: "dense_2.w",
  b2: "dense_2.b",
  ln3s: "layer_norm_3.scale",
  ln3b: "layer_norm_3.shift",
  wc: "dense_3.w",
  bc: "dense_3.b",
};
const opt = adam(0.003);
const eps = 1e-5;

export const attention: Workload = {
  key: "attention",
  title: "Attention, 1 layer 4 heads, Adam, batch 64",
  sample: "reverse_attention.dlg",
  batches: (count) => reverseBatches(count, batch),

  // Activations are kept [batch * T, width] so every dense is a 2-D matMul.
  tfjs(tf, init) {
    const v = tfVariables(tf, init, names);
    const dense = (x: TF.Tensor, w: TF.Variable, b: TF.Variable) =>
      tf.add(tf.matMul(x as TF.Tensor2D, w as TF.Tensor2D), b);
    const norm = (x: TF.Tensor, scale: TF.Variable, shift: TF.Variable) => {
      const centred = tf.sub(x, tf.mean(x, -1, true));
      const variance = tf.mean(tf.square(centred), -1, true);
      return tf.add(tf.mul(tf.div(centred, tf.sqrt(tf.add(variance, eps))), scale), shift);
    };
    const split = (x: TF.Tensor) =>
      tf.transpose(tf.reshape(x, [batch, T, heads, width / heads]), [0, 2, 1, 3]);
    return tfjsPeer(tf, v, opt, (b) => {
      const ids = tf.tensor1d(b.tokens!, "int32");
      const h0 = tf.add(tf.reshape(tf.gather(v.tok, ids), [batch, T, width]), v.pos);
      const x0 = tf.reshape(h0, [batch * T, width]);
      const a = norm(x0, v.ln1s, v.ln1b);
      const q = split(dense(a, v.wq, v.bq));
      const k = split(dense(a, v.wk, v.bk));
      const vv = split(dense(a, v.wv, v.bv));
      const scores = tf.div(tf.matMul(q, k, false, true), Math.sqrt(width / heads));
      const att = tf.matMul(tf.softmax(scores, -1), vv);
      const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [batch * T, width]);
      const x1 = tf.add(x0, dense(merged, v.wo, v.bo));
      const x2 = tf.add(
        x1,
        dense(tf.relu(dense(norm(x1, v.ln2s, v.ln2b), v.w1, v.b1)), v.w2, v.b2),
      );
      const logits = dense(norm(x2, v.ln3s, v.ln3b), v.wc, v.bc);
      const y = tf.oneHot(tf.tensor1d(b.y!, "int32"), vocab);
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), y), -1))) as TF.Scalar;
    });
  },

  jax(jax, init) {
    const { numpy: np, nn } = jax;
    type P = Record<keyof typeof names, Jax.Array>;
    type B = { tokens: Jax.Array; y: Jax.Array };
    const dense = (x: Jax.Array, w: Jax.Array, b: Jax.Array) => np.matmul(x, w).add(b);
    const norm = (x: Jax.Array, scale: Jax.Array, shift: Jax.Array) => {
      const centred = x.ref.sub(np.mean(x, -1, { keepdims: true }));
      const variance = np.mean(np.square(centred.ref), -1, { keepdims: true });
      return centred
        .div(np.sqrt(variance.add(eps)))
        .mul(scale)
        .add(shift);
    };
    const split = (x: Jax.Array) =>
      np.transpose(x.reshape([batch, T, heads, width / heads]), [0, 2, 1, 3]);
    const loss = (p: P, b: B) => {
      const x0 = np
        .take(p.tok, b.tokens, 0)
        .add(p.pos)
        .reshape([batch * T, width]);
      const a = norm(x0.ref, p.ln1s, p.ln1b);
      const q = split(dense(a.ref, p.wq, p.bq));
      const k = split(dense(a.ref, p.wk, p.bk));
      const v = split(dense(a, p.wv, p.bv));
      const scores = np.matmul(q, np.transpose(k, [0, 1, 3, 2])).div(Math.sqrt(width / heads));
      const att = np.matmul(nn.softmax(scores, -1), v);
      const merged = np.transpose(att, [0, 2, 1, 3]).reshape([batch * T, width]);
      const x1 = x0.add(dense(merged, p.wo, p.bo));
      const mlp = dense(nn.relu(dense(norm(x1.ref, p.ln2s, p.ln2b), p.w1, p.b1)), p.w2, p.b2);
      const x2 = x1.add(mlp);
      const logits = dense(norm(x2, p.ln3s, p.ln3b), p.wc, p.bc);
      return nn.logSoftmax(logits).mul(nn.oneHot(b.y, vocab)).sum(-1).mean().neg();
    };
    return jaxPeer(jax, jaxParams(jax, init, names), opt, loss, (b) => ({
      tokens: np.array(b.tokens!, { dtype: np.int32 }).reshape([batch, T]),
      y: np.array(b.y!, { dtype: np.int32 }),
    }));
  },
};
