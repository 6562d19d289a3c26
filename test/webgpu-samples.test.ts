// Every sample on WebGPU (Dawn in Node) against the same sample on the JS
// backend: the same seed and batch give the same initial parameters (the
// counter-based RNG draws the same stream on both), and then the same
// training-step losses and metrics, the same parameter updates and the same
// predictions, within relative 1e-4.

import { describe, expect, it } from "vitest";
import { compile } from "../cli/node-host.ts";
import { dimEval } from "../compiler/dims.ts";
import { lcg, type Arr } from "./entry-inputs.ts";
import { testGpu } from "./webgpu-env.ts";
import { loadModule } from "../cli/module.ts";

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
    for (const k of Object.keys(p1)) {
      const du = p1[k]!.map((v, i) => v - p0[k]![i]!);
      const dv = q1[k]!.map((v, i) => v - q0[k]![i]!);
      // The update is what float32 must get right; relative to its largest element.
      const scale = Math.max(1e-12, ...du.map(Math.abs));
      const err = Math.max(...dv.map((v, i) => Math.abs(v - du[i]!)));
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
