// Where a train step's GPU time goes, kernel by kernel, for any engine (the
// bench's --profile). WebGPU times only whole passes, and an engine records
// many dispatches per pass, so the step is first captured: every dispatch's
// pipeline, bind groups (with their dynamic offsets) and workgroup counts,
// read off the WebGPU calls as the engine makes them. Each captured dispatch
// is then replayed alone on the engine's device, once and `reps + 1` times
// in one pass, each in its own submit awaited with onSubmittedWorkDone; the
// difference over `reps` is its time without the submit's fixed cost.
// Replays write into the engine's buffers, so profile a model last.

import { observe } from "./webgpu-hooks.ts";

export interface KernelTime {
  /** The pipeline's label (dlg: the kernel name), or "#k" for the k-th unlabelled one. */
  name: string;
  /** Dispatches of it in one step. */
  count: number;
  /** Its replayed time summed over those dispatches, ms. */
  ms: number;
}

interface Dispatch {
  device: GPUDevice;
  pipeline: GPUComputePipeline;
  groups: [number, GPUBindGroup, number[]][];
  size: [number, number, number];
}

/** Every compute dispatch `call` makes, with what it binds. */
async function capture(call: () => Promise<unknown>): Promise<Dispatch[]> {
  const dispatches: Dispatch[] = [];
  const deviceOf = new WeakMap<object, GPUDevice>();
  const state = new WeakMap<
    object,
    { pipeline?: GPUComputePipeline; groups: Dispatch["groups"] }
  >();
  const pass = GPUComputePassEncoder.prototype;
  const restores = [
    observe(GPUDevice.prototype, "createCommandEncoder", (device, _, encoder) =>
      deviceOf.set(encoder as object, device as GPUDevice),
    ),
    observe(GPUCommandEncoder.prototype, "beginComputePass", (encoder, _, p) => {
      const device = deviceOf.get(encoder);
      if (device) deviceOf.set(p as object, device);
      state.set(p as object, { groups: [] });
    }),
    observe(pass, "setPipeline", (p, [pipeline]) => {
      const s = state.get(p);
      if (s) s.pipeline = pipeline as GPUComputePipeline;
    }),
    observe(pass, "setBindGroup", (p, args) => {
      const s = state.get(p);
      if (!s) return;
      const [index, group, offsets, start, length] = args as [
        number,
        GPUBindGroup,
        Iterable<number> | Uint32Array | undefined,
        number | undefined,
        number | undefined,
      ];
      // The engine may reuse its offsets array: copy the values used now.
      const used =
        offsets instanceof Uint32Array && start !== undefined
          ? Array.from(offsets.subarray(start, start + (length ?? offsets.length - start)))
          : Array.from(offsets ?? []);
      s.groups = s.groups.filter(([i]) => i !== index).concat([[index, group, used]]);
    }),
    observe(pass, "dispatchWorkgroups", (p, args) => {
      const s = state.get(p);
      const device = deviceOf.get(p);
      if (!s?.pipeline || !device) return;
      const [x, y = 1, z = 1] = args as number[];
      dispatches.push({ device, pipeline: s.pipeline, groups: [...s.groups], size: [x!, y, z] });
    }),
  ];
  try {
    await call();
  } finally {
    for (const r of restores) r();
  }
  return dispatches;
}

async function replay(d: Dispatch, times: number): Promise<number> {
  const encoder = d.device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(d.pipeline);
  for (const [i, g, offsets] of d.groups) pass.setBindGroup(i, g, offsets);
  for (let k = 0; k < times; k++) pass.dispatchWorkgroups(...d.size);
  pass.end();
  const t0 = performance.now();
  d.device.queue.submit([encoder.finish()]);
  await d.device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

export type PipelineLabels = WeakMap<GPUComputePipeline, string>;

/**
 * From now on, the label of every compute pipeline any engine creates (its
 * descriptor's, else its shader module's): call before the engines build
 * theirs. Stays installed for the process.
 */
export function watchPipelineLabels(): PipelineLabels {
  const labels: PipelineLabels = new WeakMap();
  let unnamed = 0; // jax-js names none: "#k" is the k-th such pipeline made
  const label = (p: unknown, d: GPUComputePipelineDescriptor) =>
    labels.set(p as GPUComputePipeline, d.label || d.compute.module.label || `#${++unnamed}`);
  observe(GPUDevice.prototype, "createComputePipeline", (_, [d], p) =>
    label(p, d as GPUComputePipelineDescriptor),
  );
  // Labelled as the promise settles, before the engine's own await resumes.
  observe(
    GPUDevice.prototype,
    "createComputePipelineAsync",
    (_, [d], p) =>
      void (p as Promise<unknown>).then((pipeline) =>
        label(pipeline, d as GPUComputePipelineDescriptor),
      ),
  );
  return labels;
}

/** The kernels of one `step` (a call that runs one train step), by replayed time, longest first. */
export async function profileStep(
  step: () => Promise<unknown>,
  labels: PipelineLabels,
  reps = 4,
): Promise<KernelTime[]> {
  const byName = new Map<string, KernelTime>();
  for (const d of await capture(step)) {
    await replay(d, 1); // a first run may still page in buffers
    const one = await replay(d, 1);
    const many = await replay(d, reps + 1);
    const name = labels.get(d.pipeline) ?? "(made before watchPipelineLabels)";
    const k = byName.get(name) ?? { name, count: 0, ms: 0 };
    k.count++;
    k.ms += Math.max(0, (many - one) / reps);
    byName.set(name, k);
  }
  return [...byName.values()].sort((a, b) => b.ms - a.ms);
}
