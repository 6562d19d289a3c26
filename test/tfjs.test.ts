// dlg against TensorFlow.js: the same weights and inputs through a std block
// (in dlg's float64 interpreter) and through tfjs ops written by hand; the
// loss, the outputs and the gradients wrt every weight and input
// (tf.variableGrads) must agree within relative 1e-4.

import { describe, expect, it } from "vitest";
import {
  randomInts,
  randomParams,
  randomValues,
  relativeError,
  runDlg,
  tf,
  tfGrads,
  type DlgRun,
  type Values,
} from "./tfjs-helpers.ts";

const TOL = 1e-4;

/** Dense on the last axis, as std's `dense`: x @ w + b for x of any rank. */
function dense(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const [n, units] = w.shape as [number, number];
  const lead = x.shape.slice(0, -1);
  return tf.reshape(tf.add(tf.matMul(tf.reshape(x, [-1, n]), w), b), [...lead, units]);
}

function layerNorm(x: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), scale), shift);
}

/** softmax(q kᵀ / sqrt(e)) v on [..., t, e], with the causal mask as a lower-triangular band. */
function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, causal: boolean): tf.Tensor {
  const e = q.shape[q.shape.length - 1]!;
  const t = q.shape[q.shape.length - 2]!;
  let scores = tf.div(tf.matMul(q, k, false, true), Math.sqrt(e));
  if (causal) {
    const allowed = tf.cast(tf.linalg.bandPart(tf.ones([t, t]), -1, 0), "bool");
    scores = tf.where(tf.broadcastTo(allowed, scores.shape), scores, tf.fill(scores.shape, -1e9));
  }
  return tf.matMul(tf.softmax(scores), v);
}

/** Every param gradient, every f32 input gradient and the loss within TOL. */
/**
 * The key projection's bias adds q·b to every score of a query row, and
 * softmax ignores a shift shared by the whole row: its gradient is zero.
 */
const zeroGrad = (path: string) => /attention_\d+\.dense_2\.b$/.test(path);

function expectSame(
  dlg: DlgRun,
  tfRun: { loss: number; grads: Record<string, Float32Array> },
  inputs: string[],
): void {
  expect(Math.abs(dlg.loss - tfRun.loss) / Math.max(1e-6, Math.abs(tfRun.loss))).toBeLessThan(TOL);
  for (const [path, g] of Object.entries(dlg.paramGrads)) {
    if (zeroGrad(path)) {
      // Exactly zero, and float32 tfjs leaves rounding noise: both must be ~0.
      expect(Math.max(...g.data.map(Math.abs)), `d loss / d ${path} (dlg)`).toBeLessThan(1e-9);
      expect(
        Math.max(...[...tfRun.grads[path]!].map(Math.abs)),
        `d loss / d ${path} (tfjs)`,
      ).toBeLessThan(1e-5);
      continue;
    }
    expect(relativeError(g, tfRun.grads[path]!), `d loss / d ${path}`).toBeLessThan(TOL);
  }
  for (const name of inputs)
    expect(
      relativeError(dlg.inputGrads[name]!, tfRun.grads[name]!),
      `d loss / d ${name}`,
    ).toBeLessThan(TOL);
}

/** Model output `name` against values read from tfjs. */
function expectOutput(dlg: DlgRun, name: string, t: Values): void {
  expect(dlg.outputs[name]!.shape).toEqual(t.shape);
  expect(relativeError(dlg.outputs[name]!, t.data), `output ${name}`).toBeLessThan(TOL);
}

/** Read a tensor inside tf.variableGrads, before the engine disposes of it. */
const read = (t: tf.Tensor): Values => ({ shape: [...t.shape], data: [...t.dataSync()] });

/**
 * A model around one layer: `o = x |> LAYER`, and loss sum(o * r) with a
 * random r, so every element of o gets its own cotangent.
 */
function layerModel(xType: string, layer: string, oShape: string): string {
  return `dim B, T
model m {
  input x: ${xType}
  input r: ${oShape}
  output o = x |> ${layer}
  loss sum(o * r)
}`;
}

/** Check one layer: dlg vs `f` in tfjs, on inputs x, r, with random params. */
function compareLayer(
  src: string,
  x: Values,
  r: Values,
  f: (v: Record<string, tf.Tensor>) => tf.Tensor,
  salt: number,
): void {
  const params = randomParams(src, salt);
  const dlg = runDlg(src, { x, r }, { params });
  let o: Values | undefined;
  const t = tfGrads({ ...params, x, r }, (v) => {
    const out = f(v);
    o = read(out);
    return tf.sum(tf.mul(out, v.r!));
  });
  expectOutput(dlg, "o", o!);
  expectSame(dlg, t, ["x", "r"]);
}

describe("TensorFlow.js agrees on outputs and gradients", () => {
  it("dense", () => {
    const src = layerModel("[B, 5]", "dense(4)", "[B, 4]");
    compareLayer(
      src,
      randomValues([3, 5], 1),
      randomValues([3, 4], 2),
      (v) => dense(v.x!, v["dense_1.w"]!, v["dense_1.b"]!),
      1,
    );
  });

  it("dense on a rank-3 input", () => {
    const src = layerModel("[B, T, 5]", "dense(3) |> tanh", "[B, T, 3]");
    compareLayer(
      src,
      randomValues([2, 4, 5], 3),
      randomValues([2, 4, 3], 4),
      (v) => tf.tanh(dense(v.x!, v["dense_1.w"]!, v["dense_1.b"]!)),
      2,
    );
  });

  it("layer_norm", () => {
    const src = layerModel("[B, T, 6]", "layer_norm", "[B, T, 6]");
    compareLayer(
      src,
      randomValues([2, 3, 6], 5, -2, 3),
      randomValues([2, 3, 6], 6),
      (v) => layerNorm(v.x!, v["layer_norm_1.scale"]!, v["layer_norm_1.shift"]!),
      3,
    );
  });

  it("softmax", () => {
    const src = layerModel("[B, T, 5]", "softmax", "[B, T, 5]");
    compareLayer(
      src,
      randomValues([2, 3, 5], 7, -3, 3),
      randomValues([2, 3, 5], 8),
      (v) => tf.softmax(v.x!),
      4,
    );
  });

  for (const causal of [false, true])
    it(`self_attention${causal ? " (causal)" : ""}`, () => {
      const src = layerModel("[B, T, 4]", `self_attention(causal: ${causal})`, "[B, T, 4]");
      const p = (i: number) => [`self_attention_1.dense_${i}.w`, `self_attention_1.dense_${i}.b`];
      compareLayer(
        src,
        randomValues([2, 3, 4], 9),
        randomValues([2, 3, 4], 10),
        (v) => {
          const proj = (x: tf.Tensor, i: number) => dense(x, v[p(i)[0]!]!, v[p(i)[1]!]!);
          return proj(attention(proj(v.x!, 1), proj(v.x!, 2), proj(v.x!, 3), causal), 4);
        },
        5,
      );
    });

  for (const causal of [false, true])
    it(`multi_head_attention${causal ? " (causal)" : ""}`, () => {
      const src = layerModel(
        "[B, T, 6]",
        `multi_head_attention(3, causal: ${causal})`,
        "[B, T, 6]",
      );
      const p = (i: number) => [
        `multi_head_attention_1.dense_${i}.w`,
        `multi_head_attention_1.dense_${i}.b`,
      ];
      compareLayer(
        src,
        randomValues([2, 4, 6], 11),
        randomValues([2, 4, 6], 12),
        (v) => {
          const proj = (x: tf.Tensor, i: number) => dense(x, v[p(i)[0]!]!, v[p(i)[1]!]!);
          // [b, t, 6] -> [b, 3, t, 2] and back.
          const split = (x: tf.Tensor) => tf.transpose(tf.reshape(x, [2, 4, 3, 2]), [0, 2, 1, 3]);
          const heads = attention(
            split(proj(v.x!, 1)),
            split(proj(v.x!, 2)),
            split(proj(v.x!, 3)),
            causal,
          );
          return proj(tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [2, 4, 6]), 4);
        },
        6,
      );
    });

  it("embedding (gather; the gradient scatters into the table, repeated ids add up)", () => {
    const src = `dim B, T
model m {
  input ids: int[B, T]
  input r: [B, T, 3]
  output o = ids |> embedding(5, 3)
  loss sum(o * r)
}`;
    const ids = { shape: [2, 4], data: [0, 4, 4, 1, 2, 0, 4, 3] };
    const r = randomValues([2, 4, 3], 13);
    const params = randomParams(src, 7);
    const dlg = runDlg(src, { ids, r }, { params });
    let o: Values | undefined;
    const t = tfGrads({ ...params, r }, (v) => {
      const out = tf.gather(v["embedding_1.table"]!, tf.tensor(ids.data, ids.shape, "int32"));
      o = read(out);
      return tf.sum(tf.mul(out, v.r!));
    });
    expectOutput(dlg, "o", o!);
    expectSame(dlg, t, ["r"]);
  });

  it("cross_entropy over batch and time (int labels [B, T])", () => {
    const src = `dim B, T
model m {
  input logits: [B, T, 5]
  input y: int[B, T]
  loss cross_entropy(logits, y)
}`;
    const logits = randomValues([3, 4, 5], 14, -3, 3);
    const y = randomInts([3, 4], 15, 5);
    const dlg = runDlg(src, { logits, y });
    const t = tfGrads(
      { logits },
      (v) =>
        tf.losses.softmaxCrossEntropy(
          tf.oneHot(tf.tensor(y.data, y.shape, "int32"), 5),
          v.logits!,
        ) as tf.Scalar,
    );
    expectSame(dlg, t, ["logits"]);
  });

  it("a small transformer block: embedding, layer_norm, attention, residuals, cross_entropy", () => {
    const src = `dim B, T
model m {
  input ids: int[B, T]
  input y: int[B, T]
  h = ids |> embedding(7, 4)
  a = h + (h |> layer_norm |> self_attention(causal: true))
  logits = a |> layer_norm |> dense(7)
  loss cross_entropy(logits, y)
}`;
    const ids = randomInts([2, 3], 16, 7);
    const y = randomInts([2, 3], 17, 7);
    const params = randomParams(src, 8);
    const dlg = runDlg(src, { ids, y }, { params });
    const t = tfGrads(params, (v) => {
      const h = tf.gather(v["embedding_1.table"]!, tf.tensor(ids.data, ids.shape, "int32"));
      const p = (i: number) => (x: tf.Tensor) =>
        dense(x, v[`self_attention_1.dense_${i}.w`]!, v[`self_attention_1.dense_${i}.b`]!);
      const n1 = layerNorm(h, v["layer_norm_1.scale"]!, v["layer_norm_1.shift"]!);
      const a = tf.add(h, p(4)(attention(p(1)(n1), p(2)(n1), p(3)(n1), true)));
      const n2 = layerNorm(a, v["layer_norm_2.scale"]!, v["layer_norm_2.shift"]!);
      const logits = dense(n2, v["dense_1.w"]!, v["dense_1.b"]!);
      const labels = tf.oneHot(tf.tensor(y.data, y.shape, "int32"), 7);
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    });
    expectSame(dlg, t, []);
  });
});
