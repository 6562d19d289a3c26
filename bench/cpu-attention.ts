// bench/cpu-models/attention.dlg: single-head self-attention (std/prelude's
// self_attention: q, k, v projections, softmax(q k^T / sqrt(64)) v, an
// output projection) over 128 positions of width 64, MSE against a target
// sequence, Adam 1e-3, batch 8, on seeded uniform data.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { OnnxGraph } from "./cpu-onnx.ts";
import { peersOf } from "./cpu-peers.ts";
import { uniform, type CpuWorkload } from "./cpu-workload.ts";
import { need } from "./webgpu-dlg.ts";
import type { HostBatch } from "./webgpu-data.ts";
import { adam, type JaxTree } from "./webgpu-peers.ts";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";

const batch = 8;
const T = 128;
const D = 64;
const opt = adam(0.001);
const at = (k: number) => `self_attention_1.dense_${k}`;

// Activations are [batch * T, D] for the projections (2-D matMuls), [batch, T, D] between.
function tfOut(tf: Tf, v: Record<string, TF.Variable>, b: HostBatch): TF.Tensor {
  const dense = (x: TF.Tensor, k: number) =>
    tf.add(
      tf.matMul(x as TF.Tensor2D, need(v, `${at(k)}.w`) as TF.Tensor2D),
      need(v, `${at(k)}.b`),
    );
  const x = tf.tensor2d(b.x!, [batch * T, D]);
  const [q, k, vv] = [1, 2, 3].map((i) => tf.reshape(dense(x, i), [batch, T, D]) as TF.Tensor3D);
  const scores = tf.div(tf.matMul(q!, k!, false, true), Math.sqrt(D));
  const att = tf.reshape(tf.matMul(tf.softmax(scores, -1) as TF.Tensor3D, vv!), [batch * T, D]);
  return tf.reshape(dense(att, 4), [batch, T, D]);
}

function jaxOut(jax: JaxJs, p: JaxTree, x: Jax.Array): Jax.Array {
  const { numpy: np, nn } = jax;
  const dense = (a: Jax.Array, k: number) =>
    np.matmul(a, need(p, `${at(k)}.w`)).add(need(p, `${at(k)}.b`));
  const q = dense(x.ref, 1);
  const k = dense(x.ref, 2);
  const v = dense(x, 3);
  const scores = np.matmul(q, np.transpose(k, [0, 2, 1])).div(Math.sqrt(D));
  return dense(np.matmul(nn.softmax(scores, -1), v), 4);
}

const peers = peersOf(
  {
    tfjs: tfOut,
    jax: jaxOut,
    x: (jax, b) => jax.numpy.array(b.x!).reshape([batch, T, D]),
    target: { shape: [batch, T, D] },
  },
  opt,
);

export const attention: CpuWorkload = {
  key: "attention",
  title: "self-attention, batch 8, 128 positions, width 64",
  forwardInputs: { x: [batch, T, D] },
  output: "out",
  flops: 4 * 2 * batch * T * D * D + 2 * 2 * batch * T * T * D,
  batchAt: (k) => ({
    x: uniform(batch * T * D, 51 + 2 * k),
    y: uniform(batch * T * D, 52 + 2 * k),
  }),

  train: peers.train,
  forward: {
    ...peers.forward,
    onnx(init) {
      const g = new OnnxGraph();
      const dense = (a: string, k: number) => g.dense(a, init, at(k));
      const x = g.input("x", [batch, T, D]);
      const kT = g.node("Transpose", [dense(x, 2)], { perm: [0, 2, 1] });
      const scores = g.node("Mul", [
        g.node("MatMul", [dense(x, 1), kT]),
        g.scalar(1 / Math.sqrt(D)),
      ]);
      const weights = g.node("Softmax", [scores], { axis: -1 });
      return g.model(dense(g.node("MatMul", [weights, dense(x, 3)]), 4));
    },
  },
};
