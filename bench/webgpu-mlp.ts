// samples/mlp.dlg with its `sgd` train block: 784-256-10, relu, dropout 0.2,
// softmax cross-entropy + 1e-4 * L2 of all params, SGD lr 0.1 momentum 0.9,
// batch 64. dlg's step also computes the accuracy metric; the peers skip it.
// Dropout masks differ between engines (each draws its own), so the losses
// agree only roughly.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { mnistTrainBatches } from "./webgpu-data.ts";
import { jaxParams, jaxPeer, tfjsPeer, tfVariables, type OptimizerSpec } from "./webgpu-peers.ts";
import type { Workload } from "./webgpu-workload.ts";

const batch = 64;
const names = { w1: "dense_1.w", b1: "dense_1.b", w2: "dense_2.w", b2: "dense_2.b" };
const sgd: OptimizerSpec = { kind: "sgd", lr: 0.1, momentum: 0.9 };

export const mlp: Workload = {
  key: "mlp",
  title: "MLP 784-256-10, SGD, batch 64",
  sample: "mlp.dlg",
  config: "sgd",
  batches: (count) => mnistTrainBatches(count, batch),

  tfjs(tf, init) {
    const v = tfVariables(tf, init, names);
    return tfjsPeer(tf, v, sgd, (b) => {
      const x = tf.tensor2d(b.x!, [batch, 784]);
      const y = tf.oneHot(tf.tensor1d(b.y!, "int32"), 10);
      const h = tf.dropout(tf.relu(tf.add(tf.matMul(x, v.w1), v.b1)), 0.2);
      const logits = tf.add(tf.matMul(h, v.w2), v.b2);
      const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), y), -1)));
      const l2 = tf.addN(Object.values(v).map((p) => tf.sum(tf.square(p))));
      return tf.add(ce, tf.mul(1e-4, l2)) as TF.Scalar;
    });
  },

  jax(jax, init) {
    const { numpy: np, nn, random } = jax;
    type P = Record<keyof typeof names, Jax.Array>;
    type B = { x: Jax.Array; y: Jax.Array; key: Jax.Array };
    const loss = (p: P, b: B) => {
      const h = nn.relu(np.matmul(b.x, p.w1.ref).add(p.b1.ref));
      const keep = random.uniform(b.key, [batch, 256]).greaterEqual(0.2);
      const dropped = np.where(keep, h.div(0.8), 0);
      const logits = np.matmul(dropped, p.w2.ref).add(p.b2.ref);
      const ce = nn.logSoftmax(logits).mul(nn.oneHot(b.y, 10)).sum(-1).mean().neg();
      const l2 = [p.w1, p.b1, p.w2, p.b2].map((w) => np.square(w).sum()).reduce((a, c) => a.add(c));
      return ce.add(l2.mul(1e-4));
    };
    return jaxPeer(jax, jaxParams(jax, init, names), sgd, loss, (b, i) => ({
      x: np.array(b.x!).reshape([batch, 784]),
      y: np.array(b.y!, { dtype: np.int32 }),
      key: random.key(i),
    }));
  },
};
