// bench/cpu-models/lstm.dlg: an LSTM of 128 units (std/prelude.dlg's cell:
// gates i, f, g, o; forget bias 1) over 32 steps of 64 features, the last
// state through dense(1), MSE, Adam 1e-3, batch 32, on seeded uniform data.
// dlg runs the steps as one scan (the backward pass as one reverse scan);
// TF.js and jax-js unroll them (jax-js inside jit); onnxruntime runs the
// ONNX LSTM operator, the cell being the same function.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { OnnxGraph } from "./cpu-onnx.ts";
import { peersOf } from "./cpu-peers.ts";
import { jaxLstmLast, tfLstmLast } from "./lstm-peers.ts";
import { uniform, type CpuWorkload } from "./cpu-workload.ts";
import { need, type Init } from "./webgpu-dlg.ts";
import type { HostBatch } from "./webgpu-data.ts";
import { adam, type JaxTree } from "./webgpu-peers.ts";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";

const batch = 32;
const steps = 32;
const inputs = 64;
const hidden = 128;
const opt = adam(0.001);

function tfPred(tf: Tf, v: Record<string, TF.Variable>, b: HostBatch): TF.Tensor {
  const h = tfLstmLast(tf, v, tf.tensor2d(b.x!, [batch * steps, inputs]), batch, steps);
  const w = need(v, "dense_1.w") as TF.Tensor2D;
  return tf.reshape(tf.add(tf.matMul(h as TF.Tensor2D, w), need(v, "dense_1.b")), [batch]);
}

function jaxPred(jax: JaxJs, p: JaxTree, x: Jax.Array): Jax.Array {
  const h = jaxLstmLast(jax, p, x);
  return jax.numpy.matmul(h, need(p, "dense_1.w")).add(need(p, "dense_1.b")).reshape([batch]);
}

const peers = peersOf(
  {
    tfjs: tfPred,
    jax: jaxPred,
    x: (jax, b) => jax.numpy.array(b.x!).reshape([batch, steps, inputs]),
    target: { shape: [batch] },
  },
  opt,
);

/**
 * ONNX's LSTM weights from dlg's: W [1, 4H, I] and R [1, 4H, H] are the
 * transposes of w [I, 4H] and u [H, 4H] with the gates reordered from dlg's
 * i, f, g, o to ONNX's i, o, f, c; B [1, 8H] is the input bias (dlg's, plus
 * the forget bias 1 on f) then a zero recurrent bias.
 */
function onnxGates(w: Init, plusForget: boolean): Float32Array {
  const rows = w.shape.length === 1 ? 1 : w.shape[0]!;
  const order = [0, 3, 1, 2]; // ONNX gate k is dlg's gate order[k]
  const out = new Float32Array(4 * hidden * rows);
  for (let k = 0; k < 4; k++) {
    for (let j = 0; j < hidden; j++) {
      for (let r = 0; r < rows; r++) {
        const v = w.data[r * 4 * hidden + order[k]! * hidden + j]!;
        out[(k * hidden + j) * rows + r] = v + (plusForget && order[k] === 1 ? 1 : 0);
      }
    }
  }
  return out;
}

export const lstm: CpuWorkload = {
  key: "lstm",
  title: "LSTM 64 -> 128, 32 steps, batch 32",
  forwardInputs: { x: [batch, steps, inputs] },
  output: "pred",
  flops: 2 * batch * steps * (inputs + hidden) * 4 * hidden + 2 * batch * hidden,
  batchAt: (k) => ({
    x: uniform(batch * steps * inputs, 41 + 2 * k),
    y: uniform(batch, 42 + 2 * k),
  }),

  train: peers.train,
  forward: {
    ...peers.forward,
    onnx(init) {
      const g = new OnnxGraph();
      const p = (name: string) => need(init, name);
      const W = g.weight("W", onnxGates(p("lstm_1.w"), false), [1, 4 * hidden, inputs]);
      const R = g.weight("R", onnxGates(p("lstm_1.u"), false), [1, 4 * hidden, hidden]);
      const bias = new Float32Array(8 * hidden);
      bias.set(onnxGates(p("lstm_1.bias"), true));
      const B = g.weight("B", bias, [1, 8 * hidden]);
      const x = g.node("Transpose", [g.input("x", [batch, steps, inputs])], { perm: [1, 0, 2] });
      const [, hLast] = g.op("LSTM", [x, W, R, B], { hidden_size: hidden }, 3);
      const h = g.node("Reshape", [hLast!, g.ints([batch, hidden])]);
      const y = g.dense(h, init, "dense_1");
      return g.model(g.node("Reshape", [y, g.ints([batch])]));
    },
  },
};
