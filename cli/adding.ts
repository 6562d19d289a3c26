// The adding problem (Hochreiter & Schmidhuber, 1997), generated on the fly
// for `--data adding`: a sequence of `length` steps with two channels, a
// random value in [0, 1) and a marker that is 1 at exactly two steps (one in
// each half) and 0 elsewhere. The target is the sum of the two marked values.
// Predicting the mean (1) scores an MSE of 1/6 ≈ 0.167, the variance of a sum
// of two uniforms; beating it needs memory across the whole sequence.

import { prng } from "./train.ts";

/** Examples per split; the seed fixes every value, so runs are reproducible. */
export const addingSizes = { train: 10000, valid: 1000, test: 2000 } as const;
export const addingSeed = 19970101;

export interface AddingExamples {
  /** [n, length, 2] row-major: value, marker. */
  x: Float32Array;
  /** [n]. */
  y: Float32Array;
}

export function addingExamples(n: number, length: number, seed: number): AddingExamples {
  const rand = prng(seed);
  const x = new Float32Array(n * length * 2);
  const y = new Float32Array(n);
  const half = Math.floor(length / 2);
  for (let r = 0; r < n; r++) {
    const base = r * length * 2;
    for (let t = 0; t < length; t++) x[base + 2 * t] = rand();
    const a = Math.floor(rand() * half);
    const b = half + Math.floor(rand() * (length - half));
    x[base + 2 * a + 1] = 1;
    x[base + 2 * b + 1] = 1;
    y[r] = x[base + 2 * a]! + x[base + 2 * b]!;
  }
  return { x, y };
}
