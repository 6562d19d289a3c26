// test/fixtures/mlp-256.dlg (samples/mlp.dlg before issue 10) with its `sgd` train block: 784-256-10, relu, dropout 0.2,
// softmax cross-entropy + 1e-4 * L2 of all params, SGD lr 0.1 momentum 0.9,
// batch 64. dlg's step also computes the accuracy metric; the peers skip it.
// Dropout masks differ between engines (each draws its own), so the losses
// agree only roughly.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { mnistTrainBatches } from "./webgpu-data.ts";
import { need } from "./webgpu-dlg.ts";
import {
  jaxParams,
  jaxPeer,
  tfjsPeer,
  tfVariables,
  type JaxTree,
  type OptimizerSpec,
} from "./webgpu-peers.ts";
import type { Workload } from "./webgpu-workload.ts";

const batch = 64;
const sgd: OptimizerSpec = { kind: "sgd", lr: 0.1, momentum: 0.9 };

export const mlp: Workload = {
  key: "mlp",
  title: "MLP 784-256-10, SGD, batch 64",
  sample: "../test/fixtures/mlp-256.dlg",
  config: "sgd",
  batches: (count) => mnistTrainBatches(count, batch),

  tfjs(tf, init) {
    const v = tfVariables(tf, init);
    const p = (name: string) => need(v, name);
    return tfjsPeer(tf, v, sgd, (b) => {
      const x = tf.tensor2d(b.x!, [batch, 784]);
      const y = tf.oneHot(tf.tensor1d(b.y!, "int32"), 10);
      const h = tf.dropout(tf.relu(tf.add(tf.matMul(x, p("dense_1.w")), p("dense_1.b"))), 0.2);
      const logits = tf.add(tf.matMul(h, p("dense_2.w")), p("dense_2.b"));
      const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), y), -1)));
      const l2 = tf.addN(Object.values(v).map((w) => tf.sum(tf.square(w))));
      return tf.add(ce, tf.mul(1e-4, l2)) as TF.Scalar;
    });
  },

  jax(jax, init) {
    const { numpy: np, nn, random } = jax;
    type B = { x: Jax.Array; y: Jax.Array; key: Jax.Array };
    const loss = (p: JaxTree, b: B) => {
      const w = (name: string) => need(p, name);
      // Each parameter is read twice, here and in the L2 term: .ref keeps it for the second.
      const h = nn.relu(np.matmul(b.x, w("dense_1.w").ref).add(w("dense_1.b").ref));
      const keep = random.uniform(b.key, [batch, 256]).greaterEqual(0.2);
      const dropped = np.where(keep, h.div(0.8), 0);
      const logits = np.matmul(dropped, w("dense_2.w").ref).add(w("dense_2.b").ref);
      const ce = nn.logSoftmax(logits).mul(nn.oneHot(b.y, 10)).sum(-1).mean().neg();
      const l2 = Object.values(p)
        .map((q) => np.square(q).sum())
        .reduce((a, c) => a.add(c));
      return ce.add(l2.mul(1e-4));
    };
    return jaxPeer(jax, jaxParams(jax, init), sgd, loss, (b, i) => ({
      x: np.array(b.x!).reshape([batch, 784]),
      y: np.array(b.y!, { dtype: np.int32 }),
      key: random.key(i),
    }));
  },
};
