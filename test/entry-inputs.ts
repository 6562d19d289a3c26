// What the float64 interpreter needs to replay one call of an emitted
// module's entry: the graph inputs in slot order, built from the very values
// the module saw (its batch, its float32 parameters), so the two can be
// compared output by output. Shared by the samples test and the fuzzer.

import { dimEval } from "../compiler/dims.ts";
import type { Tensor } from "../compiler/interpret.ts";
import type { Entry, ProgramIR } from "../compiler/ir.ts";
import { scheduleLr } from "../runtime/schedule.ts";

export type Arr = Float32Array | Int32Array;

/** A small deterministic generator of numbers in (0, 1). */
export function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

/**
 * Interpreter inputs for an entry. Optimizer state starts at zero, as in a
 * fresh model; `step` is the 1-based step count the module passes (Adam's t);
 * a scheduled lr is the schedule's at that step over `stepsPerEpoch` (what
 * the module was created with).
 */
export function slotInputs(
  prog: ProgramIR,
  e: Entry,
  env: Record<string, number>,
  batch: Record<string, Arr>,
  params: Float64Array[],
  seed: number,
  step = 1,
  stepsPerEpoch = 1,
): Tensor[] {
  return e.inSlots.map((sl, i) => {
    const t = e.graph.inputs[i]!.type;
    const shape = t.shape.map((d) => dimEval(d, env));
    const n = shape.reduce((a, b) => a * b, 1);
    const data: Float64Array<ArrayBuffer> =
      sl.kind === "input"
        ? Float64Array.from(batch[sl.name]!)
        : sl.kind === "param"
          ? Float64Array.from(params[sl.index]!)
          : sl.kind === "state"
            ? new Float64Array(n)
            : sl.kind === "lr"
              ? Float64Array.of(
                  Math.fround(scheduleLr(sl.schedule, step, { stepsPerEpoch, epochs: sl.epochs })),
                )
              : Float64Array.of(sl.kind === "seed" ? seed : step);
    return { dtype: t.dtype, shape, data };
  });
}
