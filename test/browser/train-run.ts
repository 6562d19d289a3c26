// The routine the browser test runs twice, once in headless Chromium and once
// in Node, so both sides do exactly the same calls in the same order: create
// the model from a seed, evaluate, a few training steps on one fixed batch,
// evaluate again, predict on fixed inputs. Plain arrays out, because the page's
// result crosses into Node as JSON.

import type { Target } from "../../compiler/backend.ts";

/** What the compiled module exports (the async model API every backend has). */
export interface ModelModule {
  createModel(opts: { seed?: number; backend?: Target; gpu?: unknown }): Promise<{
    backend?: string;
    step(b: Batch): Promise<Scores> | Scores;
    evaluate(b: Batch): Promise<Scores> | Scores;
    predict(inputs: { x: Float32Array }): Promise<Outputs> | Outputs;
    dispose?(): void;
  }>;
}

type Batch = { x: Float32Array; y: Int32Array };
type Scores = { loss: number; metrics: Record<string, number> };
type Outputs = Record<string, Float32Array | Int32Array>;

export interface RunData {
  /** The training batch, row-major [n, 784] pixels in 0..1 and n labels. */
  x: Float32Array;
  y: Int32Array;
  /** Images predicted after training, [m, 784]. */
  px: Float32Array;
}

export interface RunResult {
  backend: string;
  /** evaluate() on the batch before and after training (no dropout). */
  before: number;
  after: number;
  /** The loss step() reported at each step. */
  losses: number[];
  /** predict()'s `probs` on `px` after training. */
  probs: number[];
}

export async function trainRun(
  mod: ModelModule,
  opts: { seed: number; steps: number; backend: Target; gpu?: unknown },
  data: RunData,
): Promise<RunResult> {
  const model = await mod.createModel({ seed: opts.seed, backend: opts.backend, gpu: opts.gpu });
  try {
    const batch = { x: data.x, y: data.y };
    const before = (await model.evaluate(batch)).loss;
    const losses: number[] = [];
    for (let i = 0; i < opts.steps; i++) losses.push((await model.step(batch)).loss);
    const after = (await model.evaluate(batch)).loss;
    const probs = Array.from((await model.predict({ x: data.px })).probs!);
    return { backend: model.backend ?? "js", before, after, losses, probs };
  } finally {
    model.dispose?.();
  }
}
