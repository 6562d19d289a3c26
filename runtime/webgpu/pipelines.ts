/// <reference types="@webgpu/types" />
// Compute pipelines, built once per model: every distinct WGSL module (with
// its binding layout) compiles once, however many entries or kernels use it.
// The layout is the contract's: binding 0 the uniform record (dims and scan
// iterations, a dynamic offset selects the record), bindings 1.. the
// kernel's storage buffers, read-only or read-write.

import { SHADER_COMPUTE } from "./buffers.ts";
import type { GpuKernel } from "../program.ts";
import { RECORD_BYTES } from "./uniforms.ts";

export interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

export class PipelineCache {
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, Promise<Pipeline>>();

  constructor(private readonly device: GPUDevice) {}

  /** The layout for storage bindings that are read_write where `writes` has a "w", read where "r". */
  private layout(writes: string): GPUBindGroupLayout {
    const hit = this.layouts.get(writes);
    if (hit) return hit;
    const entries: GPUBindGroupLayoutEntry[] = [
      {
        binding: 0,
        visibility: SHADER_COMPUTE,
        buffer: { type: "uniform", hasDynamicOffset: true, minBindingSize: RECORD_BYTES },
      },
      ...[...writes].map((w, i): GPUBindGroupLayoutEntry => ({
        binding: 1 + i,
        visibility: SHADER_COMPUTE,
        buffer: { type: w === "w" ? "storage" : "read-only-storage" },
      })),
    ];
    const layout = this.device.createBindGroupLayout({ label: `dlg layout ${writes}`, entries });
    this.layouts.set(writes, layout);
    return layout;
  }

  /** The pipeline of a kernel; compiled on first request, shared after. */
  get(k: GpuKernel): Promise<Pipeline> {
    const writes = k.bindings.map((b) => (b.write ? "w" : "r")).join("");
    const key = `${writes}\n${k.wgsl}`;
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const layout = this.layout(writes);
    const module = this.device.createShaderModule({ label: k.name, code: k.wgsl });
    const made = this.device
      .createComputePipelineAsync({
        label: k.name,
        layout: this.device.createPipelineLayout({ label: k.name, bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: "main" },
      })
      .then(
        (pipeline) => ({ pipeline, layout }),
        async (e: unknown) => {
          const info = await module.getCompilationInfo();
          const messages = info.messages
            .map((m) => `  ${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`)
            .join("\n");
          throw new Error(
            `WebGPU could not build kernel ${k.name}: ${e instanceof Error ? e.message : String(e)}` +
              (messages ? `\n${messages}` : ""),
          );
        },
      );
    this.pipelines.set(key, made);
    return made;
  }

  /** How many distinct pipelines were built (each WGSL module with its layout once). */
  get size(): number {
    return this.pipelines.size;
  }
}
