// Every sample on the WASM backend (single-threaded) against the same sample
// on the JS backend: the same seed gives the same initial parameters (the
// counter RNG draws the same bits in WebAssembly; literals are float32 there,
// as in WebGPU, hence 1e-4), then a few training steps on one batch give the
// same finite losses and metrics, the first the same gradients and updates,
// and the predictions after them agree, within relative 1e-4.

import { describe, expect, it } from "vitest";
import { compile } from "../cli/node-host.ts";
import { dimEval } from "../compiler/dims.ts";
import { lcg, type Arr } from "./entry-inputs.ts";
import { loadModule } from "../cli/module.ts";
import { decodeSafetensors } from "../runtime/safetensors.ts";

/** Relative difference, with values near zero compared absolutely (1e-3 floor, as the JS samples test). */
function worst(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let w = 0;
  for (let i = 0; i < want.length; i++)
    w = Math.max(w, Math.abs(got[i]! - want[i]!) / Math.max(1e-3, Math.abs(want[i]!)));
  return w;
}

const samples: { file: string; dims: Record<string, number>; fixed?: Record<string, number> }[] = [
  { file: "samples/mlp.dlg", dims: { B: 8 } },
  { file: "samples/linreg.dlg", dims: { B: 8, F: 3 }, fixed: { F: 3 } },
  { file: "samples/lenet.dlg", dims: { B: 2 } },
  { file: "samples/lstm_adding.dlg", dims: { B: 3, T: 5 } },
  { file: "samples/reverse_attention.dlg", dims: { B: 2 } },
  { file: "samples/composed.dlg", dims: { B: 2, rows: 28 } },
];

/** Training steps compared (Adam's later steps amplify differences less than its first). */
const STEPS = 3;

describe.each(samples)("$file on WASM vs JS", ({ file, dims, fixed }) => {
  it("same init, steps (loss, metrics, parameters) and predictions", async () => {
    const js = compile(file, { target: "js" });
    const wa = compile(file, { target: "wasm" });
    expect(wa.diagnostics).toEqual([]);
    const prog = js.program!;
    const opts = { seed: 5, dims: fixed ?? {} };
    const a = await (await loadModule(js.js!)).createModel(opts);
    const b = await (await loadModule(wa.js!)).createModel({ ...opts, threads: 1 } as typeof opts);
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
    const stepBoth = async (s: number) => {
      const sa = await a.step(batch);
      const sb = await b.step(batch);
      expect(Number.isFinite(sb.loss), `step ${s} loss ${sb.loss}`).toBe(true);
      expect(worst([sb.loss], [sa.loss]), `step ${s} loss`).toBeLessThan(1e-4);
      for (const m of Object.keys(sa.metrics))
        expect(worst([sb.metrics[m]!], [sa.metrics[m]!]), `step ${s} ${m}`).toBeLessThan(1e-4);
    };
    await stepBoth(0);
    // After the first step: the gradients (Adam's first moment, from the
    // checkpoints) relative to the largest, and the updates where they are
    // well conditioned (Adam moves a param by lr * g / (|g| + eps), which
    // rounding decides where g is noise: an attention key's bias, whose
    // gradient is zero up to rounding since softmax is shift-invariant), as
    // the WebGPU samples test compares them.
    const p1 = await a.params();
    const q1 = await b.params();
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
    for (let s = 1; s < STEPS; s++) await stepBoth(s);
    if (prog.outputs.length > 0) {
      const ya = await a.predict(batch);
      const yb = await b.predict(batch);
      for (const o of prog.outputs)
        expect(worst(yb[o.name]!, ya[o.name]!), `predict ${o.name}`).toBeLessThan(1e-4);
    }
    b.dispose();
  });
});
