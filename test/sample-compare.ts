// One sample on another backend against the same sample on the JS backend
// (test/wasm-samples.test.ts, test/webgpu-samples.test.ts): the samples and
// their small dims, a seeded batch, and the comparisons, within relative
// 1e-4 (updates 1e-3 of their largest element).

import { expect } from "vitest";
import { dimEval } from "../compiler/dims.ts";
import type { ProgramIR } from "../compiler/ir.ts";
import type { Model } from "../runtime/model.ts";
import { decodeSafetensors } from "../runtime/safetensors.ts";
import { lcg, type Arr } from "./entry-inputs.ts";

/** Each sample, its dims for a small batch, and the dims its params use (fixed at createModel). */
export const samples: {
  file: string;
  dims: Record<string, number>;
  fixed?: Record<string, number>;
}[] = [
  { file: "samples/mlp.dlg", dims: { B: 8 } },
  { file: "samples/linreg.dlg", dims: { B: 8, F: 3 }, fixed: { F: 3 } },
  { file: "samples/lenet.dlg", dims: { B: 2 } },
  { file: "samples/lstm_adding.dlg", dims: { B: 3, T: 5 } },
  { file: "samples/reverse_attention.dlg", dims: { B: 2 } },
  { file: "samples/composed.dlg", dims: { B: 2, rows: 28 } },
];

/** Relative difference, with values near zero compared absolutely (1e-3 floor, as the JS samples test). */
export function worst(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let w = 0;
  for (let i = 0; i < want.length; i++)
    w = Math.max(w, Math.abs(got[i]! - want[i]!) / Math.max(1e-3, Math.abs(want[i]!)));
  return w;
}

/** A seeded batch at `dims`: floats in [-1, 1), ints 0/1 (valid labels and token ids in every sample). */
export function sampleBatch(
  prog: ProgramIR,
  dims: Record<string, number>,
  seed = 11,
): Record<string, Arr> {
  const rand = lcg(seed);
  const batch: Record<string, Arr> = {};
  for (const inp of prog.inputs) {
    const n = inp.type.shape.reduce((p, d) => p * dimEval(d, dims), 1);
    batch[inp.name] =
      inp.type.dtype === "f32"
        ? Float32Array.from({ length: n }, () => rand() * 2 - 1)
        : Int32Array.from({ length: n }, () => (rand() < 0.5 ? 0 : 1));
  }
  return batch;
}

/** One step of both on `batch`: finite, equal losses and metrics. */
export async function expectSameStep(
  a: Model,
  b: Model,
  batch: Record<string, Arr>,
  what: string,
): Promise<void> {
  const sa = await a.step(batch);
  const sb = await b.step(batch);
  expect(Number.isFinite(sb.loss), `${what} loss ${sb.loss}`).toBe(true);
  expect(worst([sb.loss], [sa.loss]), `${what} loss`).toBeLessThan(1e-4);
  for (const m of Object.keys(sa.metrics))
    expect(worst([sb.metrics[m]!], [sa.metrics[m]!]), `${what} ${m}`).toBeLessThan(1e-4);
}

/**
 * After both took their first (Adam) step from params p0 (a) and q0 (b):
 * Adam's m (first moment: (1 - b1) * gradient) from the checkpoints is the
 * gradient, compared relative to its largest element. The update is then
 * compared where it is well conditioned: Adam's first step moves a param by
 * lr * g / (|g| + eps), which float rounding decides where |g| is near eps
 * (a key bias, whose gradient is zero up to noise since softmax is
 * shift-invariant; a sum that cancels), so only elements with |g| > 1e-7.
 */
export async function expectSameFirstUpdate(
  a: Model,
  b: Model,
  p0: Record<string, Float32Array>,
  q0: Record<string, Float32Array>,
): Promise<void> {
  const p1 = await a.params();
  const q1 = await b.params();
  const tensors = async (x: Model) => decodeSafetensors(await x.save()).tensors;
  const [ta, tb] = [await tensors(a), await tensors(b)];
  const moment = (t: typeof ta, k: string) => t.get(`__state__.${k}.m`)?.data as Float32Array;
  const top = (m: Float32Array | undefined) =>
    m ? m.reduce((w, v) => Math.max(w, Math.abs(v)), 0) : 0;
  const G = Math.max(...Object.keys(p1).map((k) => top(moment(ta, k))));
  for (const k of Object.keys(p1)) {
    const ma = moment(ta, k);
    const mb = moment(tb, k);
    if (ma) {
      // A gradient that is zero up to noise (below 1e-5 of the largest) is
      // compared at the scale of the largest.
      const scaleK = top(ma) < 1e-5 * G ? G : top(ma);
      const err = ma.reduce((w, v, i) => Math.max(w, Math.abs(mb![i]! - v)), 0);
      expect(err / scaleK, `gradient (Adam m) of ${k}`).toBeLessThan(1e-4);
    }
    let scale = 1e-12;
    let err = 0;
    p1[k]!.forEach((v, i) => {
      if (ma && Math.abs(ma[i]!) < 1e-7) return;
      const u = v - p0[k]![i]!;
      scale = Math.max(scale, Math.abs(u));
      err = Math.max(err, Math.abs(q1[k]![i]! - q0[k]![i]! - u));
    });
    expect(err / scale, `update of ${k}`).toBeLessThan(1e-3);
  }
}

/** Equal initial parameters (the counter RNG's bits on both; literals may be float32: 1e-4). */
export async function expectSameInit(
  a: Model,
  b: Model,
): Promise<[Record<string, Float32Array>, Record<string, Float32Array>]> {
  const p0 = await a.params();
  const q0 = await b.params();
  for (const k of Object.keys(p0)) expect(worst(q0[k]!, p0[k]!), `init ${k}`).toBeLessThan(1e-4);
  return [p0, q0];
}

/** Equal predictions on `batch`. */
export async function expectSamePredictions(
  prog: ProgramIR,
  a: Model,
  b: Model,
  batch: Record<string, Arr>,
): Promise<void> {
  if (prog.outputs.length === 0) return;
  const ya = await a.predict(batch);
  const yb = await b.predict(batch);
  for (const o of prog.outputs)
    expect(worst(yb[o.name]!, ya[o.name]!), `predict ${o.name}`).toBeLessThan(1e-4);
}
