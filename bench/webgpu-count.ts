// Counts the compute dispatches and queue submits each engine issues, by
// wrapping the WebGPU methods on their prototypes (every engine's device
// comes from the same Dawn instance, so its calls go through these). The
// engines' steps run one at a time, so whichever `within` call is active owns
// the work; outside one nothing is counted.

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

type Method = (this: unknown, ...args: unknown[]) => unknown;

export function countGpuWork(): GpuCounter {
  let active: GpuCounts | null = null;
  const wrap = (proto: object, name: string, field: keyof GpuCounts) => {
    const target = proto as Record<string, Method>;
    const original = target[name]!;
    target[name] = function (this: unknown, ...args: unknown[]) {
      if (active) active[field]++;
      return original.apply(this, args);
    };
    return () => {
      target[name] = original;
    };
  };
  const restores = [
    wrap(GPUComputePassEncoder.prototype, "dispatchWorkgroups", "dispatches"),
    wrap(GPUComputePassEncoder.prototype, "dispatchWorkgroupsIndirect", "dispatches"),
    wrap(GPUQueue.prototype, "submit", "submits"),
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
