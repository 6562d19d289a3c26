// Every sample on WebGPU (Dawn in Node) against the same sample on the JS
// backend: the same seed and batch give the same initial parameters (the
// counter-based RNG draws the same stream on both, dropout masks included),
// then the same training-step loss and metrics, the same gradients (Adam's
// first moment, from the checkpoints), the same well-conditioned parameter
// updates and the same predictions, within relative 1e-4 (updates 1e-3 of
// their largest element).

import { describe, expect, it } from "vitest";
import { compile } from "../cli/node-host.ts";
import { loadModule } from "../cli/module.ts";
import {
  expectSameFirstUpdate,
  expectSameInit,
  expectSamePredictions,
  expectSameStep,
  sampleBatch,
  samples,
} from "./sample-compare.ts";
import { testGpu } from "./webgpu-env.ts";
import type { TrainConfig } from "../compiler/ir.ts";

const gpu = await testGpu();

/**
 * The samples' train blocks at their base lr, constant: a cosine warm-up's first step (mlp's
 * 0.001 / 200) moves a param by less than float32 resolves in a weight of 0.05, and what these
 * tests compare is the backends' step, not the schedule (test/schedules.test.ts has that).
 */
const constantLr = (t: TrainConfig): TrainConfig => ({
  ...t,
  optimizer: { ...t.optimizer, schedule: { kind: "constant", lr: t.optimizer.lr } },
});

describe.skipIf(gpu === null).each(samples)("$file on WebGPU vs JS", ({ file, dims, fixed }) => {
  it("same init, step (loss, metrics, update) and predictions", async () => {
    const js = compile(file, { target: "js", train: constantLr });
    const wg = compile(file, { target: "webgpu", train: constantLr });
    expect(wg.diagnostics).toEqual([]);
    const prog = js.program!;
    const a = await (await loadModule(js.js!)).createModel({ seed: 5, dims: fixed ?? {} });
    const b = await (
      await loadModule(wg.js!)
    ).createModel({ seed: 5, dims: fixed ?? {}, gpu: gpu! } as { seed: number });
    const batch = sampleBatch(prog, dims);
    const [p0, q0] = await expectSameInit(a, b);
    await expectSameStep(a, b, batch, "step");
    await expectSameFirstUpdate(a, b, p0, q0);
    await expectSamePredictions(prog, a, b, batch);
    b.dispose();
  });
});
