// bench/cpu-models/lstm.dlg: an LSTM of 128 units (std/prelude.dlg's cell:
// gates i, f, g, o; forget bias 1) over 32 steps of 64 features, the last
// state through dense(1), MSE, Adam 1e-3, batch 32, on seeded uniform data.
// dlg runs the steps as one scan (the backward pass as one reverse scan);
// TF.js and jax-js unroll them (jax-js inside jit); onnxruntime runs the
// ONNX LSTM operator, the cell being the same function.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import { OnnxGraph } from "./cpu-onnx.ts";
import { jaxForward, tfjsForward } from "./cpu-peers.ts";
import { uniform, type CpuWorkload } from "./cpu-workload.ts";
import { need, type Init } from "./webgpu-dlg.ts";
import type { HostBatch } from "./webgpu-data.ts";
import { adam, jaxParams, jaxPeer, tfjsPeer, tfVariables, type JaxTree } from "./webgpu-peers.ts";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";

const batch = 32;
const steps = 32;
const inputs = 64;
const hidden = 128;
const opt = adam(0.001);

function tfPred(tf: Tf, v: Record<string, TF.Variable>, b: HostBatch): TF.Tensor {
  const p = (name: string) => need(v, name);
  const x = tf.tensor2d(b.x!, [batch * steps, inputs]);
  const xw = tf.reshape(tf.add(tf.matMul(x, p("lstm_1.w") as TF.Tensor2D), p("lstm_1.bias")), [
    batch,
    steps,
    4 * hidden,
  ]);
  let h: TF.Tensor = tf.zeros([batch, hidden]);
  let c: TF.Tensor = tf.zeros([batch, hidden]);
  for (const xt of tf.unstack(xw, 1)) {
    const z = tf.add(xt, tf.matMul(h as TF.Tensor2D, p("lstm_1.u") as TF.Tensor2D));
    const [i, f, g, o] = tf.split(z, 4, -1) as TF.Tensor[];
    c = tf.add(tf.mul(tf.sigmoid(tf.add(f!, 1)), c), tf.mul(tf.sigmoid(i!), tf.tanh(g!)));
    h = tf.mul(tf.sigmoid(o!), tf.tanh(c));
  }
  return tf.reshape(
    tf.add(tf.matMul(h as TF.Tensor2D, p("dense_1.w") as TF.Tensor2D), p("dense_1.b")),
    [batch],
  );
}

function jaxPred(jax: JaxJs, p: JaxTree, x: Jax.Array): Jax.Array {
  const { numpy: np, nn } = jax;
  const u = need(p, "lstm_1.u"); // read at every step: .ref each time, disposed after
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
  return np.matmul(h, need(p, "dense_1.w")).add(need(p, "dense_1.b")).reshape([batch]);
}

const jaxX = (jax: JaxJs, b: HostBatch) => jax.numpy.array(b.x!).reshape([batch, steps, inputs]);

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

  train: {
    tfjs(tf, init) {
      const v = tfVariables(tf, init);
      return tfjsPeer(
        tf,
        v,
        opt,
        (b) => tf.mean(tf.square(tf.sub(tfPred(tf, v, b), tf.tensor1d(b.y!)))) as TF.Scalar,
      );
    },
    jax(jax, init) {
      const { numpy: np } = jax;
      type B = { x: Jax.Array; y: Jax.Array };
      const loss = (p: JaxTree, b: B) => np.square(jaxPred(jax, p, b.x).sub(b.y)).mean();
      return jaxPeer(jax, jaxParams(jax, init), opt, loss, (b) => ({
        x: jaxX(jax, b),
        y: np.array(b.y!),
      }));
    },
  },

  forward: {
    tfjs(tf, init) {
      const v = tfVariables(tf, init);
      return tfjsForward(tf, v, (b) => tfPred(tf, v, b));
    },
    jax(jax, init) {
      type B = { x: Jax.Array };
      return jaxForward(
        jax,
        jaxParams(jax, init),
        (p, b: B) => jaxPred(jax, p, b.x),
        (b) => ({ x: jaxX(jax, b) }),
      );
    },
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
      const y = g.node("Add", [
        g.node("MatMul", [h, g.param(init, "dense_1.w")]),
        g.param(init, "dense_1.b"),
      ]);
      return g.model(g.node("Reshape", [y, g.ints([batch])]));
    },
  },
};
