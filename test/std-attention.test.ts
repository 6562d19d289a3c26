// std's embedding, layer_norm, attention blocks and causal mask: what they
// compute (checked with the float64 interpreter) and their gradients wrt
// every param and input against central finite differences.

import { describe, expect, it } from "vitest";
import {
  prepareDlg,
  randomInts,
  randomParams,
  randomValues,
  runDlg,
  type Values,
} from "./tfjs-helpers.ts";

/** A model around one block, with loss sum(o * r) so every output element counts. */
function layerModel(xType: string, layer: string, oShape: string): string {
  return `dim B, T
model m {
  input x: ${xType}
  input r: ${oShape}
  output o = x |> ${layer}
  loss sum(o * r)
}`;
}

/**
 * Central differences of the loss wrt each param element and each f32 input
 * element, against the analytic gradients of `runDlg`.
 */
function gradCheck(src: string, inputs: Record<string, Values>, salt: number): void {
  const params = randomParams(src, salt);
  const prepared = prepareDlg(src);
  const base = prepared.run(inputs, params);
  const h = 1e-6;
  const lossAt = (ps: Record<string, Values>, ins: Record<string, Values>) =>
    prepared.loss(ins, ps);
  const perturb = (v: Values, j: number, d: number): Values => {
    const data = [...v.data];
    data[j]! += d;
    return { shape: v.shape, data };
  };
  let worst = 0;
  const compare = (analytic: Values, numeric: (j: number) => number) => {
    const scale = Math.max(1e-3, ...analytic.data.map(Math.abs));
    analytic.data.forEach((g, j) => (worst = Math.max(worst, Math.abs(g - numeric(j)) / scale)));
  };
  for (const [path, g] of Object.entries(base.paramGrads))
    compare(g, (j) => {
      const at = (d: number) => lossAt({ ...params, [path]: perturb(params[path]!, j, d) }, inputs);
      return (at(h) - at(-h)) / (2 * h);
    });
  for (const [name, g] of Object.entries(base.inputGrads))
    compare(g, (j) => {
      const at = (d: number) => lossAt(params, { ...inputs, [name]: perturb(inputs[name]!, j, d) });
      return (at(h) - at(-h)) / (2 * h);
    });
  expect(worst).toBeLessThan(1e-6);
}

describe("std attention blocks: values", () => {
  it("layer_norm gives each vector mean 0 and variance 1 before scale and shift", () => {
    const src = layerModel("[B, 5]", "layer_norm", "[B, 5]");
    const x = randomValues([3, 5], 1, -4, 9);
    const { outputs } = runDlg(src, { x, r: randomValues([3, 5], 2) });
    for (let row = 0; row < 3; row++) {
      const v = outputs.o!.data.slice(row * 5, row * 5 + 5);
      const mean = v.reduce((s, a) => s + a, 0) / 5;
      const variance = v.reduce((s, a) => s + (a - mean) ** 2, 0) / 5;
      expect(mean).toBeCloseTo(0, 12);
      expect(variance).toBeCloseTo(1, 4); // eps = 1e-5 shrinks it a hair
    }
  });

  it("embedding looks up rows of its table, and out-of-range ids read zeros", () => {
    const src = `dim B
model m {
  input ids: int[B]
  input r: [B, 2]
  output o = ids |> embedding(3, 2)
  loss sum(o * r)
}`;
    const table = { shape: [3, 2], data: [1, 2, 3, 4, 5, 6] };
    const { outputs } = runDlg(
      src,
      { ids: { shape: [4], data: [2, 0, 7, -1] }, r: randomValues([4, 2], 3) },
      { params: { "embedding_1.table": table } },
    );
    expect(outputs.o!.data).toEqual([5, 6, 1, 2, 0, 0, 0, 0]);
  });

  for (const layer of ["self_attention(causal: true)", "multi_head_attention(2, causal: true)"])
    it(`${layer.split("(")[0]} with causal: true never looks ahead`, () => {
      // Changing the last token must leave the outputs at earlier positions alone.
      const src = layerModel("[B, T, 4]", layer, "[B, T, 4]");
      const params = randomParams(src, 4);
      const x = randomValues([1, 3, 4], 5);
      const r = randomValues([1, 3, 4], 6);
      const changed = { shape: x.shape, data: x.data.map((v, i) => (i >= 8 ? v + 1 : v)) };
      const a = runDlg(src, { x, r }, { params }).outputs.o!.data;
      const b = runDlg(src, { x: changed, r }, { params }).outputs.o!.data;
      for (let i = 0; i < 8; i++) expect(b[i]).toBeCloseTo(a[i]!, 12);
      expect(Math.abs(b[8]! - a[8]!)).toBeGreaterThan(1e-6);
    });

  it("without causal, every position sees the last token", () => {
    const src = layerModel("[B, T, 4]", "self_attention", "[B, T, 4]");
    const params = randomParams(src, 4);
    const x = randomValues([1, 3, 4], 5);
    const r = randomValues([1, 3, 4], 6);
    const changed = { shape: x.shape, data: x.data.map((v, i) => (i >= 8 ? v + 1 : v)) };
    const a = runDlg(src, { x, r }, { params }).outputs.o!.data;
    const b = runDlg(src, { x: changed, r }, { params }).outputs.o!.data;
    expect(Math.abs(b[0]! - a[0]!)).toBeGreaterThan(1e-6);
  });

  it("multi_head_attention with one head is self_attention", () => {
    const one = layerModel("[B, T, 4]", "multi_head_attention(1)", "[B, T, 4]");
    const single = layerModel("[B, T, 4]", "self_attention", "[B, T, 4]");
    const params = randomParams(one, 9);
    const renamed = Object.fromEntries(
      Object.entries(params).map(([k, v]) => [k.replace("multi_head", "self"), v]),
    );
    const x = randomValues([2, 3, 4], 7);
    const r = randomValues([2, 3, 4], 8);
    const a = runDlg(one, { x, r }, { params }).outputs.o!.data;
    const b = runDlg(single, { x, r }, { params: renamed }).outputs.o!.data;
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 12));
  });
});

describe("std attention blocks: gradients match central differences", () => {
  it("layer_norm", () =>
    gradCheck(
      layerModel("[B, 4]", "layer_norm", "[B, 4]"),
      { x: randomValues([2, 4], 10, -2, 2), r: randomValues([2, 4], 11) },
      1,
    ));
  it("embedding", () =>
    gradCheck(
      `dim B, T
model m {
  input ids: int[B, T]
  input r: [B, T, 3]
  output o = ids |> embedding(4, 3)
  loss sum(o * r)
}`,
      { ids: randomInts([2, 3], 12, 4), r: randomValues([2, 3, 3], 13) },
      2,
    ));
  for (const layer of [
    "self_attention",
    "self_attention(causal: true)",
    "multi_head_attention(2)",
    "multi_head_attention(2, causal: true)",
  ])
    it(layer, () =>
      gradCheck(
        layerModel("[B, T, 4]", layer, "[B, T, 4]"),
        { x: randomValues([2, 3, 4], 14), r: randomValues([2, 3, 4], 15) },
        3,
      ),
    );
});
