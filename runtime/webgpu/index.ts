/// <reference types="@webgpu/types" />
// What a module compiled for the WebGPU backend links in: its createModel(),
// the shared model core (runtime/model.ts) around the WebGPU executor.
// `opts.device` runs the model on the caller's device; otherwise a device is
// requested from `opts.gpu` or navigator.gpu and destroyed by dispose().

import type { ModelOptions } from "../model-core.ts";
import { openModel, type Model } from "../model.ts";
import type { GpuKernel, ProgramPlan } from "../program.ts";
import { acquireDevice } from "./device.ts";
import { WebGpuExecutor } from "./executor.ts";

function option<T>(v: unknown, name: string, method: string, what: string): T | undefined {
  if (v === undefined) return undefined;
  if (
    typeof v !== "object" ||
    v === null ||
    typeof (v as Record<string, unknown>)[method] !== "function"
  )
    throw new Error(`createModel(): \`${name}\` must be ${what}`);
  return v as T;
}

export function createModel(plan: ProgramPlan<GpuKernel>, opts: ModelOptions = {}): Promise<Model> {
  return openModel(plan, opts, "webgpu", async (p, D) => {
    const gpu = option<GPU>(
      opts.gpu,
      "gpu",
      "requestAdapter",
      "a GPU (navigator.gpu, or create() of the webgpu package)",
    );
    const given = option<GPUDevice>(opts.device, "device", "createBuffer", "a GPUDevice");
    const { device, owned } = await acquireDevice({ gpu, device: given });
    try {
      return await WebGpuExecutor.open(device, p, D, owned);
    } catch (e) {
      if (owned) device.destroy();
      throw e;
    }
  });
}
