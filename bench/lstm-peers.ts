// std/prelude.dlg's LSTM (gates i, f, g, o in that order, forget bias 1) in
// TF.js and in jax-js, for the LSTM workloads of both benches: the input
// projection of all steps as one matmul, then the steps unrolled in
// JavaScript (TF.js eagerly; jax-js inside the caller's jit). Parameters by
// dlg's names: lstm_1.w, lstm_1.u, lstm_1.bias.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { need } from "./webgpu-dlg.ts";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";
import type { JaxTree } from "./webgpu-peers.ts";

/** The last hidden state [batch, hidden] of x: [batch * steps, inputs] (batch-major rows). */
export function tfLstmLast(
  tf: Tf,
  v: Record<string, TF.Variable>,
  x: TF.Tensor2D,
  batch: number,
  steps: number,
): TF.Tensor {
  const u = need(v, "lstm_1.u") as TF.Tensor2D;
  const hidden = u.shape[0];
  const xw = tf.reshape(
    tf.add(tf.matMul(x, need(v, "lstm_1.w") as TF.Tensor2D), need(v, "lstm_1.bias")),
    [batch, steps, 4 * hidden],
  );
  let h: TF.Tensor = tf.zeros([batch, hidden]);
  let c: TF.Tensor = tf.zeros([batch, hidden]);
  for (const xt of tf.unstack(xw, 1)) {
    const [i, f, g, o] = tf.split(tf.add(xt, tf.matMul(h as TF.Tensor2D, u)), 4, -1) as TF.Tensor[];
    c = tf.add(tf.mul(tf.sigmoid(tf.add(f!, 1)), c), tf.mul(tf.sigmoid(i!), tf.tanh(g!)));
    h = tf.mul(tf.sigmoid(o!), tf.tanh(c));
  }
  return h;
}

/**
 * The last hidden state [batch, hidden] of x: [batch, steps, inputs]. It
 * consumes p's three LSTM parameters (jax-js's ownership rules: u is read at
 * every step, so through .ref, and disposed after).
 */
export function jaxLstmLast(jax: JaxJs, p: JaxTree, x: Jax.Array): Jax.Array {
  const { numpy: np, nn } = jax;
  const batch = x.shape[0]!;
  const u = need(p, "lstm_1.u");
  const hidden = u.shape[0]!;
  const xw = np.matmul(x, need(p, "lstm_1.w")).add(need(p, "lstm_1.bias"));
  let h = np.zeros([batch, hidden]);
  let c = np.zeros([batch, hidden]);
  for (const xt of np.unstack(xw, 1)) {
    const [i, f, g, o] = np.split(xt.add(np.matmul(h, u.ref)), 4, -1) as Jax.Array[];
    c = nn
      .sigmoid(f!.add(1))
      .mul(c)
      .add(nn.sigmoid(i!).mul(np.tanh(g!)));
    h = nn.sigmoid(o!).mul(np.tanh(c.ref));
  }
  u.dispose();
  c.dispose();
  return h;
}
