// std's recurrent layers against TensorFlow.js: the same weights and inputs
// through `rnn`, `lstm` and `gru` (scans, in dlg's float64 interpreter, with
// gradients from the reverse scan) and through the textbook cells written
// with tfjs ops and unrolled in a plain loop. Outputs, the loss and the
// gradients wrt every weight and the input (tf.variableGrads) must agree
// within relative 1e-4.

import { describe, expect, it } from "vitest";
import {
  fdGradientError,
  randomParams,
  randomValues,
  relativeError,
  runDlg,
  tf,
  tfGrads,
  type Values,
} from "./tfjs-helpers.ts";

const TOL = 1e-4;
const [b, t, i, hidden] = [2, 5, 3, 4];

/** h after every step, stacked on axis 1, from a cell `(x_t, state) -> state` whose first entry is h. */
function unroll(
  x: tf.Tensor,
  state: tf.Tensor[],
  cell: (xt: tf.Tensor, s: tf.Tensor[]) => tf.Tensor[],
): tf.Tensor {
  const hs: tf.Tensor[] = [];
  for (let s = 0; s < t; s++) {
    const xt = tf.reshape(tf.slice(x, [0, s, 0], [b, 1, i]), [b, i]);
    state = cell(xt, state);
    hs.push(state[0]!);
  }
  return tf.stack(hs, 1);
}

const zeros = () => tf.zeros([b, hidden]);

/** Keras SimpleRNN. */
function rnn(v: Record<string, tf.Tensor>): tf.Tensor {
  const [w, u, bias] = ["rnn_1.w", "rnn_1.u", "rnn_1.bias"].map((k) => v[k]!);
  return unroll(v.x!, [zeros()], (xt, [h]) => [
    tf.tanh(tf.add(tf.add(tf.matMul(xt, w!), bias!), tf.matMul(h!, u!))),
  ]);
}

/** Keras/cuDNN LSTM (gates i, f, g, o) with std's default forget_bias of 1 added to f. */
function lstm(v: Record<string, tf.Tensor>): tf.Tensor {
  const [w, u, bias] = ["lstm_1.w", "lstm_1.u", "lstm_1.bias"].map((k) => v[k]!);
  return unroll(v.x!, [zeros(), zeros()], (xt, [h, c]) => {
    const z = tf.add(tf.add(tf.matMul(xt, w!), bias!), tf.matMul(h!, u!));
    const [ig, fg, gg, og] = tf.split(z, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const c2 = tf.add(tf.mul(tf.sigmoid(tf.add(fg, 1)), c!), tf.mul(tf.sigmoid(ig), tf.tanh(gg)));
    return [tf.mul(tf.sigmoid(og), tf.tanh(c2)), c2];
  });
}

/** Keras/cuDNN GRU with reset_after: parts z, r, n; input bias and recurrent bias. */
function gru(v: Record<string, tf.Tensor>): tf.Tensor {
  const [w, u, bias, rbias] = ["w", "u", "bias", "rbias"].map((k) => v[`gru_1.${k}`]!);
  return unroll(v.x!, [zeros()], (xt, [h]) => {
    const [xz, xr, xn] = tf.split(tf.add(tf.matMul(xt, w!), bias!), 3, 1);
    const [hz, hr, hn] = tf.split(tf.add(tf.matMul(h!, u!), rbias!), 3, 1);
    const z = tf.sigmoid(tf.add(xz!, hz!));
    const r = tf.sigmoid(tf.add(xr!, hr!));
    const n = tf.tanh(tf.add(xn!, tf.mul(r, hn!)));
    return [tf.add(tf.mul(z, h!), tf.mul(tf.sub(1, z), n))];
  });
}

const layers = { rnn, lstm, gru };

describe("TensorFlow.js agrees on recurrent layers", () => {
  for (const [name, cell] of Object.entries(layers))
    it(`${name}: hidden states, loss and every gradient`, () => {
      // loss = sum(o * r): every hidden state at every step gets its own cotangent.
      const src = `dim B
model m {
  input x: [B, ${t}, ${i}]
  input r: [B, ${t}, ${hidden}]
  output o = x |> ${name}(${hidden})
  loss sum(o * r)
}`;
      const params = randomParams(src, 7);
      const x = randomValues([b, t, i], 1, -2, 2);
      const r = randomValues([b, t, hidden], 2);
      const dlg = runDlg(src, { x, r }, { params });
      let o: Values | undefined;
      const tfRun = tfGrads({ ...params, x, r }, (v) => {
        const out = cell(v);
        o = { shape: [...out.shape], data: [...out.dataSync()] };
        return tf.sum(tf.mul(out, v.r!));
      });
      expect(dlg.outputs.o!.shape).toEqual(o!.shape);
      expect(relativeError(dlg.outputs.o!, o!.data), "hidden states").toBeLessThan(TOL);
      expect(Math.abs(dlg.loss - tfRun.loss) / Math.abs(tfRun.loss), "loss").toBeLessThan(TOL);
      for (const [path, g] of Object.entries(dlg.paramGrads))
        expect(relativeError(g, tfRun.grads[path]!), `d loss / d ${path}`).toBeLessThan(TOL);
      expect(relativeError(dlg.inputGrads.x!, tfRun.grads.x!), "d loss / d x").toBeLessThan(TOL);
      expect(Object.keys(dlg.paramGrads).length).toBeGreaterThanOrEqual(3);
    });
});

describe("recurrent layers: gradients match central differences in float64", () => {
  for (const layer of ["rnn(3)", "lstm(3)", "lstm(3, forget_bias: 0.0)", "gru(3)"])
    it(layer, () => {
      const src = `dim B
model m {
  input x: [B, 4, 2]
  input r: [B, 4, 3]
  output o = x |> ${layer}
  loss sum(o * r)
}`;
      const params = randomParams(src, 11);
      const inputs = { x: randomValues([2, 4, 2], 3, -2, 2), r: randomValues([2, 4, 3], 4) };
      expect(fdGradientError(src, inputs, params)).toBeLessThan(1e-6);
    });
});
