// Runs a lowered KernelProgram on WebGPU one kernel at a time, each printed
// by compiler/codegen-wgsl.ts and dispatched by runtime/webgpu/run-kernel.ts,
// with scans stepped here (cur <- init, the body per step with its step in the
// uniform record, cur <- next, final <- cur): enough to test the WGSL of
// every kernel kind against the interpreter without the plan and the
// executor in between.

import { dimEval, numElements } from "../compiler/dims.ts";
import { kernelToWgsl } from "../compiler/codegen-wgsl.ts";
import type { Tensor } from "../compiler/interpret.ts";
import type { Kernel, KernelProgram } from "../compiler/kernel.ts";
import type { KernelContext } from "../compiler/backend.ts";
import type { Buffer, GpuKernel } from "../runtime/program.ts";
import { runGpuKernel } from "../runtime/webgpu/run-kernel.ts";

export interface GpuRun {
  /** The program's outputs, by out slot. */
  outputs: Buffer[];
  /** Every kernel printed, in program order (scan bodies once each). */
  kernels: GpuKernel[];
}

/** Run `p` with graph inputs `inputs` (by in slot) and run-time dims `dims` (by name). */
export async function runOnGpu(
  device: GPUDevice,
  p: KernelProgram,
  inputs: readonly Tensor[],
  dims: Readonly<Record<string, number>> = {},
): Promise<GpuRun> {
  const names = Object.keys(dims).sort();
  const D = names.map((n) => dims[n]!);
  const bufs: Buffer[] = p.buffers.map((b) => {
    const n = dimEval(numElements(b.shape), dims);
    return b.dtype === "f32" ? new Float32Array(n) : new Int32Array(n);
  });
  for (const b of p.buffers) if (b.role.kind === "in") bufs[b.id]!.set(inputs[b.role.slot]!.data);
  const printed = new Map<Kernel, GpuKernel>();
  const iters: number[] = [];
  const run = async (ks: readonly Kernel[], path: string): Promise<void> => {
    for (const [n, k] of ks.entries()) {
      if (k.kind === "scan") {
        const len = dimEval(k.length, dims);
        for (const c of k.carries) bufs[c.cur]!.set(bufs[c.init]!);
        for (let s = 0; s < len; s++) {
          iters[k.id] = k.reverse ? len - 1 - s : s;
          await run(k.body, `${path}_${n}`);
          for (const c of k.carries) bufs[c.cur]!.set(bufs[c.next]!);
        }
        for (const c of k.carries) if (c.final !== null) bufs[c.final]!.set(bufs[c.cur]!);
        continue;
      }
      let g = printed.get(k);
      if (!g) {
        const ctx: KernelContext = {
          dims: names,
          path: `${path}_${n}`,
          used: new Set(),
          buffers: p.buffers,
          sources: p.sources,
          numericsTable: null,
        };
        printed.set(k, (g = kernelToWgsl(k, ctx)));
      }
      const out = await runGpuKernel(device, g, bufs, {
        dims: D,
        iters: Array.from(iters, (t) => t ?? 0),
      });
      for (const b of g.bindings) if (b.write) bufs[b.buf] = out[b.buf]!;
    }
  };
  await run(p.kernels, "k");
  const outs = p.buffers.filter((b) => b.role.kind === "out");
  outs.sort((a, b) => (a.role as { slot: number }).slot - (b.role as { slot: number }).slot);
  return { outputs: outs.map((b) => bufs[b.id]!), kernels: [...printed.values()] };
}
