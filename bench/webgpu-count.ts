// Counts the compute dispatches and queue submits an engine issues during one
// call, by wrapping the WebGPU methods on their prototypes (every engine's
// device comes from the same Dawn instance, so it goes through these).

export interface GpuCounts {
  dispatches: number;
  submits: number;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

function wrap(proto: object, name: string, count: () => void): () => void {
  const target = proto as Record<string, Method>;
  const original = target[name]!;
  target[name] = function (this: unknown, ...args: unknown[]) {
    count();
    return original.apply(this, args);
  };
  return () => {
    target[name] = original;
  };
}

export async function countGpuWork(call: () => Promise<unknown>): Promise<GpuCounts> {
  const counts: GpuCounts = { dispatches: 0, submits: 0 };
  const pass = GPUComputePassEncoder.prototype;
  const restore = [
    wrap(pass, "dispatchWorkgroups", () => counts.dispatches++),
    wrap(pass, "dispatchWorkgroupsIndirect", () => counts.dispatches++),
    wrap(GPUQueue.prototype, "submit", () => counts.submits++),
  ];
  try {
    await call();
  } finally {
    for (const r of restore) r();
  }
  return counts;
}
