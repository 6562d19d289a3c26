// Counts the compute dispatches and queue submits each engine issues, by
// observing the WebGPU methods on their shared prototypes. The engines'
// steps run one at a time, so whichever `within` call is active owns the
// work; outside one nothing is counted.

import { observe } from "./webgpu-hooks.ts";

export interface GpuCounts {
  dispatches: number;
  submits: number;
}

export interface GpuCounter {
  /** Run `call`, adding the GPU work it issues to `counts`. */
  within<T>(counts: GpuCounts, call: () => Promise<T>): Promise<T>;
  /** Put the original methods back. */
  restore(): void;
}

export function countGpuWork(): GpuCounter {
  let active: GpuCounts | null = null;
  const pass = GPUComputePassEncoder.prototype;
  const restores = [
    observe(pass, "dispatchWorkgroups", () => active && active.dispatches++),
    observe(pass, "dispatchWorkgroupsIndirect", () => active && active.dispatches++),
    observe(GPUQueue.prototype, "submit", () => active && active.submits++),
  ];
  return {
    async within(counts, call) {
      active = counts;
      try {
        return await call();
      } finally {
        active = null;
      }
    },
    restore: () => restores.forEach((r) => r()),
  };
}
