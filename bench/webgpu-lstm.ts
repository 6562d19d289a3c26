// samples/lstm_adding.dlg: the adding problem, 50 steps of (value, marker),
// LSTM with 32 units (std/prelude.dlg's cell: gates i, f, g, o; forget bias
// 1), the last state through dense(1), MSE, Adam 0.003, batch 50. dlg runs the
// 50 steps as one scan (and the backward pass as one reverse scan); the peers
// unroll them in JavaScript, TF.js eagerly and jax-js inside jit.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { addingBatches } from "./webgpu-data.ts";
import { need } from "./webgpu-dlg.ts";
import { adam, jaxParams, jaxPeer, tfjsPeer, tfVariables, type JaxTree } from "./webgpu-peers.ts";
import type { Workload } from "./webgpu-workload.ts";

const batch = 50;
const steps = 50;
const hidden = 32;
const opt = adam(0.003);

export const lstm: Workload = {
  key: "lstm",
  title: "LSTM 32, 50 steps, Adam, batch 50",
  sample: "lstm_adding.dlg",
  batches: (count) => addingBatches(count, batch, steps),

  tfjs(tf, init) {
    const v = tfVariables(tf, init);
    const p = (name: string) => need(v, name);
    return tfjsPeer(tf, v, opt, (b) => {
      const x = tf.tensor2d(b.x!, [batch * steps, 2]);
      const xw = tf.reshape(tf.add(tf.matMul(x, p("lstm_1.w")), p("lstm_1.bias")), [
        batch,
        steps,
        4 * hidden,
      ]);
      let h: TF.Tensor = tf.zeros([batch, hidden]);
      let c: TF.Tensor = tf.zeros([batch, hidden]);
      for (const xt of tf.unstack(xw, 1)) {
        const [i, f, g, o] = tf.split(
          tf.add(xt, tf.matMul(h, p("lstm_1.u"))),
          4,
          -1,
        ) as TF.Tensor[];
        c = tf.add(tf.mul(tf.sigmoid(tf.add(f!, 1)), c), tf.mul(tf.sigmoid(i!), tf.tanh(g!)));
        h = tf.mul(tf.sigmoid(o!), tf.tanh(c));
      }
      const pred = tf.reshape(tf.add(tf.matMul(h, p("dense_1.w")), p("dense_1.b")), [batch]);
      return tf.mean(tf.square(tf.sub(pred, tf.tensor1d(b.y!)))) as TF.Scalar;
    });
  },

  jax(jax, init) {
    const { numpy: np, nn } = jax;
    type B = { x: Jax.Array; y: Jax.Array };
    const loss = (p: JaxTree, b: B) => {
      const w = (name: string) => need(p, name);
      const u = w("lstm_1.u"); // read at every step: .ref each time, disposed after
      const xw = np.matmul(b.x, w("lstm_1.w")).add(w("lstm_1.bias"));
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
      const pred = np.matmul(h, w("dense_1.w")).add(w("dense_1.b")).reshape([batch]);
      return np.square(pred.sub(b.y)).mean();
    };
    return jaxPeer(jax, jaxParams(jax, init), opt, loss, (b) => ({
      x: np.array(b.x!).reshape([batch, steps, 2]),
      y: np.array(b.y!),
    }));
  },
};
