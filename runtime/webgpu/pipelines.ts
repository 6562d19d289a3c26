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
  /** For the compiler's messages when the pipeline is invalid. */
  module: GPUShaderModule;
  name: string;
}

export class PipelineCache {
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, Pipeline>();

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
  private get(k: GpuKernel): Pipeline {
    const writes = k.bindings.map((b) => (b.write ? "w" : "r")).join("");
    const key = `${writes}\n${k.wgsl}`;
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const layout = this.layout(writes);
    const module = this.device.createShaderModule({ label: k.name, code: k.wgsl });
    const pipeline = this.device.createComputePipeline({
      label: k.name,
      layout: this.device.createPipelineLayout({ label: k.name, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
    });
    const made = { pipeline, layout, module, name: k.name };
    this.pipelines.set(key, made);
    return made;
  }

  /**
   * The pipelines of `kernels`, built with createComputePipeline inside an
   * error scope rather than createComputePipelineAsync: in Node, Dawn's
   * async path busy-polls while it compiles, and the mlp's 70 pipelines took
   * 10.4-11 s async against 3.8-5.7 s sync on SwiftShader. (A browser's
   * createComputePipeline returns at once and compiles in the GPU process.)
   * A kernel that does not compile is named, with the compiler's messages.
   */
  async build(kernels: readonly GpuKernel[]): Promise<Pipeline[]> {
    this.device.pushErrorScope("validation");
    const built = kernels.map((k) => this.get(k));
    const err = await this.device.popErrorScope();
    if (!err) return built;
    for (const p of new Set(built)) {
      const errors = (await p.module.getCompilationInfo()).messages.filter(
        (m) => m.type === "error",
      );
      if (errors.length > 0)
        throw new Error(
          `WebGPU could not build kernel ${p.name}: ${err.message}\n` +
            errors.map((m) => `  error at ${m.lineNum}:${m.linePos}: ${m.message}`).join("\n"),
        );
    }
    throw new Error(`WebGPU rejected the model's kernels: ${err.message}`);
  }
}
