// The WebGPU backend against the reference interpreter: every primitive (the
// table in op-cases.ts is exhaustive over `Op`, so an op without cases fails
// tsc), lowered with the webgpu backend's options (gathering scatters, at
// most 8 storage buffers a kernel), printed as WGSL and run by the WebGPU
// executor on Dawn, within relative 1e-4.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webgpuBackend } from "../compiler/backends/webgpu.ts";
import { entryModuleText, lowerEntry } from "../compiler/emit.ts";
import { interpret } from "../compiler/interpret.ts";
import { allOps, type Graph } from "../compiler/ir.ts";
import type { Buffer, EntryPlan, GpuKernel } from "../runtime/program.ts";
import { acquireDevice } from "../runtime/webgpu/device.ts";
import { WebGpuExecutor } from "../runtime/webgpu/executor.ts";
import { build } from "./graph-helpers.ts";
import { cases, expectClose, graphDims, randomInputs, type Case } from "./op-cases.ts";
import { testGpu } from "./webgpu-env.ts";

const gpu = await testGpu();

/** `g` as a WebGPU entry the way emit compiles one: inputs and outputs in slots x0.., y0... */
function gpuPlan(g: Graph, dims: readonly string[]): EntryPlan<GpuKernel> {
  const text = entryModuleText(webgpuBackend, lowerEntry(g, webgpuBackend.lower), dims, "k", {
    inSlots: g.inputs.map((_, k) => ({ kind: "input", name: `x${k}` })),
    outSlots: g.outputs.map((_, k) => ({ kind: "output", name: `y${k}` })),
  });
  // The kernels are WGSL string literals: the plan is plain data.
  return new Function(`${text.decls}\nreturn ${text.plan};`)() as EntryPlan<GpuKernel>;
}

describe.skipIf(gpu === null)("codegen-wgsl: every primitive matches the interpreter", () => {
  let device: GPUDevice;
  beforeAll(async () => {
    device = (await acquireDevice({ gpu: gpu! })).device;
  });
  afterAll(() => device?.destroy());

  async function check(c: Case, seed = 1): Promise<void> {
    const dims = c.dims ?? {};
    const { graph } = build(c.types, c.body);
    const inputs = randomInputs(c.types, dims, seed, c.range);
    const want = interpret(graph, inputs, dims);
    const names = graphDims(graph);
    const D = names.map((n) => dims[n]!);
    const plan = gpuPlan(graph, names);
    const ex = await WebGpuExecutor.open(
      device,
      { dims: names, params: [], state: [], entries: { predict: plan } },
      D,
    );
    try {
      const host = new Map<number, Buffer>(
        inputs.map((t, k) => [
          k,
          t.dtype === "f32" ? Float32Array.from(t.data) : Int32Array.from(t.data),
        ]),
      );
      const got = await ex.run("predict", D, host);
      want.forEach((w, k) => expectClose(got.get(k)!, w, `${c.name} output ${k}`, 1e-4));
    } finally {
      ex.dispose();
    }
  }

  it("has cases for every op", () => {
    for (const op of allOps) expect(cases[op].length, op).toBeGreaterThan(0);
  });
  for (const op of allOps)
    describe(op, () => {
      for (const c of cases[op] as Case[]) it(c.name, () => check(c));
    });
});
