// MNIST batches for the benches, in one fixed shuffled order, so every
// engine (and every bench) trains on the same images in the same order.

import type { MnistSplit } from "../cli/mnist.ts";

/** Batches of `n` examples (x [n, 784] in [0, 1], y [n]) in a fixed shuffled order of `split`. */
export function mnistBatches(
  split: MnistSplit,
  count: number,
  n: number,
): { x: Float32Array; y: Int32Array }[] {
  const order = Int32Array.from({ length: split.count }, (_, i) => i);
  let s = 12345;
  for (let i = order.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return Array.from({ length: count }, (_, b) => {
    const x = new Float32Array(n * 784);
    const y = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const i = order[(b * n + k) % split.count]!;
      for (let p = 0; p < 784; p++) x[k * 784 + p] = split.images[i * 784 + p]! / 255;
      y[k] = split.labels[i]!;
    }
    return { x, y };
  });
}
