// The CPU bench's workloads, in the order of bench/RESULTS.md.

import { attention } from "./cpu-attention.ts";
import { lenet } from "./cpu-lenet.ts";
import { lstm } from "./cpu-lstm.ts";
import { matmul } from "./cpu-matmul.ts";
import { mlp } from "./cpu-mlp.ts";
import type { CpuWorkload } from "./cpu-workload.ts";

export const workloads: CpuWorkload[] = [matmul, mlp, lenet, lstm, attention];

export function workload(key: string): CpuWorkload {
  const w = workloads.find((w) => w.key === key);
  if (!w) throw new Error(`no workload ${key} (${workloads.map((w) => w.key).join(", ")})`);
  return w;
}
