// samples/lstm_adding.dlg: the adding problem, 50 steps of (value, marker),
// LSTM with 32 units (std/prelude.dlg's cell: gates i, f, g, o; forget bias
// 1; bench/lstm-peers.ts for the peers), the last state through dense(1),
// MSE, Adam 0.003, batch 50. dlg runs the
// 50 steps as one scan (and the backward pass as one reverse scan); the peers
// unroll them in JavaScript, TF.js eagerly and jax-js inside jit.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { addingBatches } from "./webgpu-data.ts";
import { tfLstmLast, jaxLstmLast } from "./lstm-peers.ts";
import { need } from "./webgpu-dlg.ts";
import { adam, jaxParams, jaxPeer, tfjsPeer, tfVariables, type JaxTree } from "./webgpu-peers.ts";
import type { Workload } from "./webgpu-workload.ts";

const batch = 50;
const steps = 50;
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
      const h = tfLstmLast(tf, v, tf.tensor2d(b.x!, [batch * steps, 2]), batch, steps);
      const pred = tf.reshape(tf.add(tf.matMul(h, p("dense_1.w")), p("dense_1.b")), [batch]);
      return tf.mean(tf.square(tf.sub(pred, tf.tensor1d(b.y!)))) as TF.Scalar;
    });
  },

  jax(jax, init) {
    const { numpy: np } = jax;
    type B = { x: Jax.Array; y: Jax.Array };
    const loss = (p: JaxTree, b: B) => {
      const w = (name: string) => need(p, name);
      const h = jaxLstmLast(jax, p, b.x);
      const pred = np.matmul(h, w("dense_1.w")).add(w("dense_1.b")).reshape([batch]);
      return np.square(pred.sub(b.y)).mean();
    };
    return jaxPeer(jax, jaxParams(jax, init), opt, loss, (b) => ({
      x: np.array(b.x!).reshape([batch, steps, 2]),
      y: np.array(b.y!),
    }));
  },
};
