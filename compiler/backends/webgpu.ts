// The WebGPU backend: each kernel one WGSL compute module
// (codegen-wgsl.ts), dispatched in one command buffer per call by
// runtime/webgpu/. Kernels run in parallel, so scatters gather (each output
// element sums what lands on it, no write races, a fixed order), and no
// kernel binds more storage buffers than a default device allows.

import { eachKernel, type Backend } from "../backend.ts";
import { kernelToWgsl } from "../codegen-wgsl.ts";
import { jsData } from "../mangle.ts";
import { UNIFORM_DIMS, UNIFORM_SCANS } from "../../runtime/program.ts";
import { webgpuRuntime } from "./runtime.generated.ts";

/** WebGPU's default maxStorageBuffersPerShaderStage: what every adapter offers. */
export const DEFAULT_STORAGE_BUFFERS = 8;

export const webgpuBackend: Backend = {
  target: "webgpu",
  lower: { fuse: true, scatter: "gather", maxStorageBuffers: DEFAULT_STORAGE_BUFFERS },
  numerics: false,
  limits: { dims: UNIFORM_DIMS, scans: UNIFORM_SCANS, buffers: Infinity },
  // The WGSL text is data: a string literal in the plan (jsData escapes it).
  printer: eachKernel((k, ctx) => ({ decl: "", expr: jsData(kernelToWgsl(k, ctx)) })),
  show: (k, ctx) => kernelToWgsl(k, ctx).wgsl,
  runtime: { code: webgpuRuntime, imports: [] },
  exports: "export async function createModel(opts) {\n  return __dlg.createModel(plan, opts);\n}",
};
