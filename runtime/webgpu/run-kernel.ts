/// <reference types="@webgpu/types" />
// One GpuKernel over host arrays, outside any plan: for testing a kernel the
// WGSL codegen wrote against hand-computed or JS-backend results.

import type { Buffer, GpuKernel } from "../program.ts";
import { evalSize } from "../sizes.ts";
import { COPY_DST, UNIFORM, createStorage, Staging, writeHost, type Readback } from "./buffers.ts";
import { PipelineCache, type Pipeline } from "./pipelines.ts";
import { RECORD_BYTES, RecordTable } from "./uniforms.ts";

/**
 * Dispatch `kernel` once with `kernel.grid` workgroups. `buffers[i]` is plan
 * buffer i (the numbers in `kernel.bindings`), uploaded whole, written ones
 * too (a kernel that writes only part of its output leaves the rest as given).
 * `dims` are the run-time dims (plan order) and `iters[s]` the current step of
 * scan s. Resolves to `buffers` with each written one replaced by its new
 * contents (same type and length).
 */
export async function runGpuKernel(
  device: GPUDevice,
  kernel: GpuKernel,
  buffers: readonly Buffer[],
  opts: { dims?: readonly number[]; iters?: readonly number[] } = {},
): Promise<Buffer[]> {
  const D = opts.dims ?? [];
  for (const b of kernel.bindings)
    if (!buffers[b.buf])
      throw new Error(
        `runGpuKernel: kernel ${kernel.name} binds buffer ${b.buf}, which was not given`,
      );
  const made: GPUBuffer[] = [];
  try {
    const [{ pipeline, layout }] = (await new PipelineCache(device).build([kernel])) as [Pipeline];
    // Only WebGPU calls between push and pop: nothing here throws and leaves the scope pushed.
    device.pushErrorScope("validation");
    const records = new RecordTable(D);
    records.of(opts.iters ?? []);
    const uniform = device.createBuffer({
      label: "uniform",
      size: RECORD_BYTES,
      usage: UNIFORM | COPY_DST,
    });
    made.push(uniform);
    device.queue.writeBuffer(uniform, 0, records.bytes());
    const gpu = kernel.bindings.map((b) => {
      const host = buffers[b.buf]!;
      const g = createStorage(device, host.length, `buffer ${b.buf}`);
      made.push(g);
      if (host.length > 0) writeHost(device, g, host);
      return g;
    });
    const group = device.createBindGroup({
      layout,
      entries: [
        { binding: 0, resource: { buffer: uniform, offset: 0, size: RECORD_BYTES } },
        ...gpu.map((buffer, j) => ({ binding: 1 + j, resource: { buffer } })),
      ],
    });
    const reads: Readback[] = [];
    const written: number[] = [];
    kernel.bindings.forEach((b, j) => {
      if (!b.write) return;
      const host = buffers[b.buf]!;
      written.push(b.buf);
      reads.push({
        src: gpu[j]!,
        n: host.length,
        dtype: host instanceof Float32Array ? "f32" : "i32",
      });
    });
    const staging = new Staging(device, reads, "staging");
    made.push(...staging.buffers);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group, [0]);
    const [x, y, z] = kernel.grid.map((g) => evalSize(g, D)) as [number, number, number];
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    pass.end();
    staging.encode(encoder);
    device.queue.submit([encoder.finish()]);
    const err = await device.popErrorScope();
    if (err) throw new Error(`WebGPU rejected kernel ${kernel.name}: ${err.message}`);
    const host = await staging.read();
    const out = [...buffers];
    written.forEach((i, j) => (out[i] = host[j]!));
    return out;
  } finally {
    for (const b of made) b.destroy();
  }
}
