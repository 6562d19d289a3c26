// dlg's conv2d, maxpool and avgpool against TensorFlow.js: the same weights
// and inputs through std's blocks (in dlg's float64 interpreter, gradients by
// dlg's autodiff) and through tfjs ops; outputs, loss and gradients wrt the
// filters, the bias and the image (tf.variableGrads) must agree within
// relative 1e-4. dlg is channels first ([N, C, H, W], filters [O, C, KH, KW]);
// tfjs is NHWC with filters [KH, KW, C, O], so the tfjs side transposes in
// the loss function and the gradients come back in dlg's layout.

import { describe, expect, it } from "vitest";
import {
  randomParams,
  randomValues,
  relativeError,
  runDlg,
  tf,
  tfGrads,
  type DlgRun,
  type Values,
  sumLossModel,
  tfValues,
  nhwc,
  nchw,
  hwio,
} from "./tfjs-helpers.ts";

const TOL = 1e-4;

/** Output, loss and every gradient of `dlg` against the tfjs run. */
function expectSame(
  dlg: DlgRun,
  tfOut: Values,
  tfRun: { loss: number; grads: Record<string, Float32Array> },
): void {
  expect(dlg.outputs.out!.shape).toEqual(tfOut.shape);
  expect(relativeError(dlg.outputs.out!, tfOut.data), "output").toBeLessThan(TOL);
  expect(Math.abs(dlg.loss - tfRun.loss) / Math.max(1, Math.abs(tfRun.loss))).toBeLessThan(TOL);
  for (const [path, g] of Object.entries(dlg.paramGrads))
    expect(relativeError(g, tfRun.grads[path]!), `d loss / d ${path}`).toBeLessThan(TOL);
  expect(relativeError(dlg.inputGrads.x!, tfRun.grads.x!), "d loss / d x").toBeLessThan(TOL);
}

describe("conv2d matches tfjs", () => {
  const cases = [
    {
      name: "stride 2, padding 1, 3x3, odd image [9, 8]",
      inShape: [3, 9, 8],
      // OH = (9 + 2 - 2 - 1) div 2 + 1 = 5, OW = (8 + 2 - 2 - 1) div 2 + 1 = 4.
      outShape: [4, 5, 4],
      layer: "conv2d(x, 4, kernel: 3, stride: 2, padding: 1)",
      pad: 1 as const,
      stride: 2,
    },
    {
      name: "LeNet's 5x5 with padding 2",
      inShape: [1, 8, 8],
      outShape: [3, 8, 8],
      layer: "conv2d(x, 3, kernel: 5, padding: 2)",
      pad: 2 as const,
      stride: 1,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const src = sumLossModel(c.inShape, c.outShape, c.layer);
      const x = randomValues([2, ...c.inShape], 1);
      const t = randomValues([2, ...c.outShape], 2);
      const params = randomParams(src, 3);
      const dlg = runDlg(src, { x, t }, { params });
      const conv = (v: Record<string, tf.Tensor>) =>
        nchw(
          tf.add(
            tf.conv2d(
              nhwc(v.x!) as tf.Tensor4D,
              hwio(v["conv2d_1.w"]!) as tf.Tensor4D,
              c.stride,
              c.pad,
            ),
            v["conv2d_1.b"]!,
          ),
        );
      const tfOut = tfValues(() => conv({ x: tf.tensor(x.data, x.shape), ...tensors(params) }));
      const tfRun = tfGrads({ x, t, ...params }, (v) => tf.sum(tf.mul(conv(v), v.t!)));
      expectSame(dlg, tfOut, tfRun);
    });

  it("TF's 'same' padding at stride 2 is dlg's asymmetric [0, 1, 0, 1]", () => {
    // 8 -> 4 at stride 2 with a 3x3 kernel needs one row of padding, which TF puts at the bottom/right.
    const src = `dim B
model m {
  input x: [B, 2, 8, 8]
  input t: [B, 3, 4, 4]
  param w: [3, 2, 3, 3]
  y = conv(x, w, stride: 2, padding: [0, 1, 0, 1])
  output out = y
  loss sum(y * t)
}`;
    const x = randomValues([2, 2, 8, 8], 4);
    const t = randomValues([2, 3, 4, 4], 5);
    const params = randomParams(src, 6);
    const dlg = runDlg(src, { x, t }, { params });
    const conv = (v: Record<string, tf.Tensor>) =>
      nchw(tf.conv2d(nhwc(v.x!) as tf.Tensor4D, hwio(v.w!) as tf.Tensor4D, 2, "same"));
    const tfOut = tfValues(() => conv({ x: tf.tensor(x.data, x.shape), ...tensors(params) }));
    expectSame(
      dlg,
      tfOut,
      tfGrads({ x, t, ...params }, (v) => tf.sum(tf.mul(conv(v), v.t!))),
    );
  });

  it("dilation 2 (outputs: tfjs has no gradient for dilated convolutions)", () => {
    const src = sumLossModel([2, 9, 9], [3, 5, 5], "conv2d(x, 3, kernel: 3, dilation: 2)");
    const x = randomValues([2, 2, 9, 9], 7);
    const params = randomParams(src, 8);
    const dlg = runDlg(src, { x, t: randomValues([2, 3, 5, 5], 9) }, { params });
    const out = tfValues(() => {
      const p = tensors(params);
      return nchw(
        tf.add(
          tf.conv2d(
            nhwc(tf.tensor(x.data, x.shape)) as tf.Tensor4D,
            hwio(p["conv2d_1.w"]!) as tf.Tensor4D,
            1,
            "valid",
            "NHWC",
            2,
          ),
          p["conv2d_1.b"]!,
        ),
      );
    });
    expect(dlg.outputs.out!.shape).toEqual(out.shape);
    expect(relativeError(dlg.outputs.out!, out.data)).toBeLessThan(TOL);
  });
});

describe("pooling matches tfjs", () => {
  const cases = [
    {
      name: "maxpool 2x2 (LeNet's)",
      inShape: [3, 6, 6],
      outShape: [3, 3, 3],
      layer: "maxpool(x, 2)",
      tfjs: (x: tf.Tensor4D) => tf.maxPool(x, 2, 2, "valid"),
    },
    {
      name: "maxpool 3x3, stride 2, padding 1 (overlapping windows)",
      inShape: [2, 7, 8],
      // OH = (7 + 2 - 3) div 2 + 1 = 4, OW = (8 + 2 - 3) div 2 + 1 = 4.
      outShape: [2, 4, 4],
      layer: "maxpool(x, 3, stride: 2, padding: 1)",
      tfjs: (x: tf.Tensor4D) => tf.maxPool(x, 3, 2, 1),
    },
    {
      // TF leaves padding out of an average and dlg counts it, so compare without padding.
      name: "avgpool 3x3, stride 2 (overlapping windows)",
      inShape: [2, 9, 8],
      outShape: [2, 4, 3],
      layer: "avgpool(x, 3, stride: 2)",
      tfjs: (x: tf.Tensor4D) => tf.avgPool(x, 3, 2, "valid"),
    },
    {
      name: "avgpool 2x2",
      inShape: [3, 6, 6],
      outShape: [3, 3, 3],
      layer: "avgpool(x, 2)",
      tfjs: (x: tf.Tensor4D) => tf.avgPool(x, 2, 2, "valid"),
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const src = sumLossModel(c.inShape, c.outShape, c.layer);
      const x = randomValues([2, ...c.inShape], 11);
      const t = randomValues([2, ...c.outShape], 12);
      const dlg = runDlg(src, { x, t });
      const pool = (v: Record<string, tf.Tensor>) => nchw(c.tfjs(nhwc(v.x!) as tf.Tensor4D));
      const tfOut = tfValues(() => pool({ x: tf.tensor(x.data, x.shape) }));
      expectSame(
        dlg,
        tfOut,
        tfGrads({ x, t }, (v) => tf.sum(tf.mul(pool(v), v.t!))),
      );
    });
});

function tensors(vs: Record<string, Values>): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(vs).map(([k, v]) => [k, tf.tensor(v.data, v.shape)]));
}
