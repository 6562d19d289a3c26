// Kernel IR -> WGSL: one complete compute module per kernel, in the layout
// of runtime/program.ts's GpuKernel (the uniform record of dims and scan
// steps at binding 0, then the buffers). Scalar expressions print through the
// shared printer (scalar-print.ts) with WGSL's syntax table
// (codegen-wgsl/syntax.ts); the kernel shapes live in codegen-wgsl/:
// map.ts (one invocation per element), reduce.ts (workgroup tree
// reductions), matmul.ts (register-blocked). A scan is not a kernel but a
// step of the schedule: its body kernels are ordinary kernels reading their
// step from the uniform record. Nothing from the .dlg source reaches the
// text: the kernel's name is only the GpuKernel's label, and buffers are
// named by binding position, so kernels of one structure share a pipeline.

import type { KernelContext } from "./backend.ts";
import { kernelName, type Kernel } from "./kernel.ts";
import type { GpuKernel } from "../runtime/program.ts";
import { mapKernel } from "./codegen-wgsl/map.ts";
import { matmulKernel } from "./codegen-wgsl/matmul.ts";
import { reduceKernel } from "./codegen-wgsl/reduce.ts";

type Printers = {
  [K in Kernel["kind"]]: (
    k: Extract<Kernel, { kind: K }>,
    ctx: KernelContext,
    name: string,
  ) => GpuKernel;
};

const printers: Printers = {
  map: mapKernel,
  reduce: reduceKernel,
  matmul: matmulKernel,
  // WebGPU lowers with `scatter: "gather"`: a scatter-add is a reduce kernel, parallel and deterministic.
  scatter: () => {
    throw new Error(
      'codegen-wgsl: internal error: a scatter kernel reached WGSL (lower with scatter: "gather")',
    );
  },
  scan: () => {
    throw new Error(
      "codegen-wgsl: internal error: a scan is a schedule step; print its body kernels",
    );
  },
};

/** One kernel of the kernel IR as a WebGPU compute module. */
export function kernelToWgsl(k: Kernel, ctx: KernelContext): GpuKernel {
  const name = kernelName(ctx.path, k, ctx.sources);
  return (printers[k.kind] as (k: Kernel, ctx: KernelContext, name: string) => GpuKernel)(
    k,
    ctx,
    name,
  );
}
