// Every sample on WebGPU (Dawn in Node) against the same sample on the JS
// backend: the same seed and batch give the same initial parameters (the
// counter-based RNG draws the same stream on both, dropout masks included),
// then the same training-step loss and metrics, the same gradients (Adam's
// first moment, from the checkpoints), the same well-conditioned parameter
// updates and the same predictions, within relative 1e-4 (updates 1e-3 of
// their largest element).

import { describe, expect, it } from "vitest";
import { compile } from "../cli/node-host.ts";
import { dimEval } from "../compiler/dims.ts";
import { lcg, type Arr } from "./entry-inputs.ts";
import { testGpu } from "./webgpu-env.ts";
import { loadModule } from "../cli/module.ts";
import { decodeSafetensors } from "../runtime/safetensors.ts";

const gpu = await testGpu();

/** Relative difference, with values near zero compared absolutely (1e-3 floor, as the JS samples test). */
function worst(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let w = 0;
  for (let i = 0; i < want.length; i++)
    w = Math.max(w, Math.abs(got[i]! - want[i]!) / Math.max(1e-3, Math.abs(want[i]!)));
  return w;
}

/** Each sample, its dims for a small batch, and its kernel count per step() on WebGPU (pinned). */
const samples: { file: string; dims: Record<string, number>; fixed?: Record<string, number> }[] = [
  { file: "samples/mlp.dlg", dims: { B: 8 } },
  { file: "samples/linreg.dlg", dims: { B: 8, F: 3 }, fixed: { F: 3 } },
  { file: "samples/lenet.dlg", dims: { B: 2 } },
  { file: "samples/lstm_adding.dlg", dims: { B: 3, T: 5 } },
  { file: "samples/reverse_attention.dlg", dims: { B: 2 } },
  { file: "samples/composed.dlg", dims: { B: 2, rows: 28 } },
];

describe.skipIf(gpu === null).each(samples)("$file on WebGPU vs JS", ({ file, dims, fixed }) => {
  it("same init, step (loss, metrics, update) and predictions", async () => {
    const js = compile(file, { target: "js" });
    const wg = compile(file, { target: "webgpu" });
    expect(wg.diagnostics).toEqual([]);
    const prog = js.program!;
    const a = await (await loadModule(js.js!)).createModel({ seed: 5, dims: fixed ?? {} });
    const b = await (
      await loadModule(wg.js!)
    ).createModel({ seed: 5, dims: fixed ?? {}, gpu: gpu! } as { seed: number });
    const rand = lcg(11);
    const batch: Record<string, Arr> = {};
    const env = { ...dims };
    for (const inp of prog.inputs) {
      const n = inp.type.shape.reduce((p, d) => p * dimEval(d, env), 1);
      // Ints as 0/1: valid class labels and token ids in every sample.
      batch[inp.name] =
        inp.type.dtype === "f32"
          ? Float32Array.from({ length: n }, () => rand() * 2 - 1)
          : Int32Array.from({ length: n }, () => (rand() < 0.5 ? 0 : 1));
    }
    const p0 = await a.params();
    const q0 = await b.params();
    for (const k of Object.keys(p0)) expect(worst(q0[k]!, p0[k]!), `init ${k}`).toBeLessThan(1e-4);
    const sa = await a.step(batch);
    const sb = await b.step(batch);
    expect(worst([sb.loss], [sa.loss]), "loss").toBeLessThan(1e-4);
    for (const m of Object.keys(sa.metrics))
      expect(worst([sb.metrics[m]!], [sa.metrics[m]!]), m).toBeLessThan(1e-4);
    const p1 = await a.params();
    const q1 = await b.params();
    // Adam's m (first moment: (1 - b1) * gradient) from the checkpoints is the
    // gradient, compared relative to its largest element. The update is then
    // compared where it is well conditioned: Adam's first step moves a param by
    // lr * g / (|g| + eps), which float rounding decides where |g| is near eps
    // (a key bias, whose gradient is zero up to noise since softmax is
    // shift-invariant; a sum that cancels), so only elements with |g| > 100 eps.
    const tensors = async (x: typeof a) => decodeSafetensors(await x.save()).tensors;
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
    if (prog.outputs.length > 0) {
      const ya = await a.predict(batch);
      const yb = await b.predict(batch);
      for (const o of prog.outputs)
        expect(worst(yb[o.name]!, ya[o.name]!), `predict ${o.name}`).toBeLessThan(1e-4);
    }
    b.dispose();
  });
});
