// The batches each WebGPU-bench workload trains on, as host arrays in the
// layout dlg's step() takes; every engine uploads the same arrays.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { addingExamples, addingSeed } from "../cli/adding.ts";
import { loadMnistSplit } from "../cli/mnist.ts";
import { mnistBatches } from "./mnist-batches.ts";

export type HostBatch = Record<string, Float32Array | Int32Array>;

/** `count` MNIST training batches of `n` images, in bench/run.ts's order. */
export function mnistTrainBatches(count: number, n: number): HostBatch[] {
  return mnistBatches(loadMnistSplit("train"), count, n);
}

/** `count` batches of `n` adding-problem sequences of `length` steps (cli/adding.ts, its seed). */
export function addingBatches(count: number, n: number, length: number): HostBatch[] {
  const all = addingExamples(count * n, length, addingSeed);
  return Array.from({ length: count }, (_, b) => ({
    x: all.x.slice(b * n * length * 2, (b + 1) * n * length * 2),
    y: all.y.slice(b * n, (b + 1) * n),
  }));
}

/**
 * `count` batches of `n` rows of samples/reverse_attention.csv (tokens and y,
 * [n, 8] each), the rows in file order, wrapping around at the end.
 */
export function reverseBatches(count: number, n: number): HostBatch[] {
  const csv = readFileSync(join(import.meta.dirname, "../samples/reverse_attention.csv"), "utf8");
  const rows = csv
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => line.split(",").map(Number));
  const t = rows[0]!.length / 2;
  return Array.from({ length: count }, (_, b) => {
    const tokens = new Int32Array(n * t);
    const y = new Int32Array(n * t);
    for (let k = 0; k < n; k++) {
      const row = rows[(b * n + k) % rows.length]!;
      tokens.set(row.slice(0, t), k * t);
      y.set(row.slice(t), k * t);
    }
    return { tokens, y };
  });
}
