// Every sample on the WASM backend (single-threaded) against the same sample
// on the JS backend: the same seed gives the same initial parameters (the
// counter RNG draws the same bits in WebAssembly; literals are float32 there,
// as in WebGPU, hence 1e-4), then a few training steps on one batch give the
// same finite losses and metrics, the first the same gradients and updates,
// and the predictions after them agree, within relative 1e-4.

import { describe, expect, it } from "vitest";
import { compile } from "../cli/node-host.ts";
import { loadModule } from "../cli/module.ts";
import type { TrainConfig } from "../compiler/ir.ts";
import {
  expectSameFirstUpdate,
  expectSameInit,
  expectSamePredictions,
  expectSameStep,
  sampleBatch,
  samples,
} from "./sample-compare.ts";

/** Training steps compared (Adam's later steps amplify differences less than its first). */
const STEPS = 3;

/**
 * The samples' train blocks at their base lr, constant: a cosine warm-up's first step (mlp's
 * 0.001 / 200) moves a param by less than float32 resolves in a weight of 0.05, and what these
 * tests compare is the backends' step, not the schedule (test/schedules.test.ts has that).
 */
const constantLr = (t: TrainConfig): TrainConfig => ({
  ...t,
  optimizer: { ...t.optimizer, schedule: { kind: "constant", lr: t.optimizer.lr } },
});

describe.each(samples)("$file on WASM vs JS", ({ file, dims, fixed }) => {
  it("same init, steps (loss, metrics, parameters) and predictions", async () => {
    const js = compile(file, { target: "js", train: constantLr });
    const wa = compile(file, { target: "wasm", train: constantLr });
    expect(wa.diagnostics).toEqual([]);
    const prog = js.program!;
    const opts = { seed: 5, dims: fixed ?? {} };
    const a = await (await loadModule(js.js!)).createModel(opts);
    const b = await (await loadModule(wa.js!)).createModel({ ...opts, threads: 1 } as typeof opts);
    const batch = sampleBatch(prog, dims);
    const [p0, q0] = await expectSameInit(a, b);
    await expectSameStep(a, b, batch, "step 0");
    await expectSameFirstUpdate(a, b, p0, q0);
    for (let s = 1; s < STEPS; s++) await expectSameStep(a, b, batch, `step ${s}`);
    await expectSamePredictions(prog, a, b, batch);
    b.dispose();
  });
});
