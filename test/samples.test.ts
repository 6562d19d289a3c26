// The compiled JS of each sample equals the float64 interpreter on the same
// graphs: one training step (forward, backward, optimizer update, dropout
// included) and a prediction, on random data of the sample's shapes.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { compile } from "../cli/node-host.ts";
import { dimEval } from "../compiler/dims.ts";
import { interpret } from "../compiler/interpret.ts";
import { stepSeed, type Model, type ModelOptions } from "../runtime/model.ts";
import { lcg, slotInputs, type Arr } from "./entry-inputs.ts";

async function load(js: string): Promise<{ createModel(o: ModelOptions): Promise<Model> }> {
  const file = join(mkdtempSync(join(tmpdir(), "dlg-samples-")), "m.mjs");
  writeFileSync(file, js);
  return import(pathToFileURL(file).href);
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!) / Math.max(1e-3, Math.abs(want[i]!));
    worst = Math.max(worst, d);
  }
  expect(worst).toBeLessThan(tol);
  return worst;
}

const cases: { file: string; dims: Record<string, number>; fixed: Record<string, number> }[] = [
  { file: "samples/mlp.dlg", dims: { B: 8 }, fixed: {} },
  { file: "samples/linreg.dlg", dims: { B: 8, F: 3 }, fixed: { F: 3 } },
];

describe.each(cases)("$file compiled vs interpreted", ({ file, dims, fixed }) => {
  it("agrees on a training step and a prediction", async () => {
    const r = compile(file);
    expect(r.diagnostics).toEqual([]);
    const prog = r.program!;
    // A scheduled lr (mlp's cosine warm-up) needs the run's shape; 430 steps
    // per epoch is what `dlg train` passes for MNIST at batch 128.
    const stepsPerEpoch = 430;
    const model = await (await load(r.js!)).createModel({ seed: 7, dims: fixed, stepsPerEpoch });
    const rand = lcg(3);
    const batch: Record<string, Arr> = {};
    for (const inp of prog.inputs) {
      const n = inp.type.shape.reduce((a, d) => a * dimEval(d, dims), 1);
      batch[inp.name] =
        inp.type.dtype === "i32"
          ? Int32Array.from({ length: n }, () => Math.floor(rand() * 10))
          : Float32Array.from({ length: n }, () => rand());
    }
    const initial = await model.params();
    const before = prog.params.map((p) => Float64Array.from(initial[p.path]!));
    const step = prog.entries.find((e) => e.name === "step")!;
    // The module's first step() uses step count 1 for its seed and Adam's t.
    const want = interpret(
      step.graph,
      slotInputs(prog, step, dims, batch, before, stepSeed(7, 1), 1, stepsPerEpoch),
      dims,
    );
    const got = await model.step(batch);
    const updated = await model.params();
    step.outSlots.forEach((sl, i) => {
      const w = want[i]!.data;
      if (sl.kind === "loss") close([got.loss], w, 1e-5);
      if (sl.kind === "metric") close([got.metrics[sl.name]!], w, 1e-5);
      if (sl.kind === "param") {
        // Compare the update (new - old), which is what float32 must get right.
        const path = prog.params[sl.index]!.path;
        const old = before[sl.index]!;
        // Each change within 1e-2 of the largest change, plus the float32
        // rounding of the new value. Adam's first step is lr * g / (|g| + eps),
        // about lr for every weight, but a gradient near eps (1e-8) carries
        // its float32 error (cancellation over the batch) into the step; and
        // at the first step of a warm-up (lr / 200) the rounding of the new
        // value is a visible part of the change.
        const dw = w.map((v, k) => v - old[k]!);
        const scale = dw.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        let worst = 0;
        updated[path]!.forEach((v, k) => {
          const allowed = 1e-2 * Math.max(Math.abs(dw[k]!), scale) + 2 ** -23 * Math.abs(v);
          worst = Math.max(worst, Math.abs(v - old[k]! - dw[k]!) / allowed);
        });
        expect(worst, path).toBeLessThan(1);
      }
    });
    const after = prog.params.map((p) => Float64Array.from(updated[p.path]!));
    const pred = prog.entries.find((e) => e.name === "predict")!;
    const pw = interpret(pred.graph, slotInputs(prog, pred, dims, batch, after, 0), dims);
    const pg = await model.predict(batch);
    pred.outSlots.forEach((sl, i) => {
      if (sl.kind === "output") close(pg[sl.name]!, pw[i]!.data, 1e-4);
    });
  });
});
