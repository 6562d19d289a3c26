/// <reference types="@webgpu/types" />
// Getting a GPUDevice, and noticing when it fails. Only the default limits
// are requested: the compiler sizes every kernel to fit them, so a module
// runs on any WebGPU device. Errors the GPU reports asynchronously (a lost
// device, an uncaptured validation error) are kept and thrown by the next
// call, so a failure is never silent.

export interface DeviceOptions {
  /** A `GPU` (navigator.gpu, or `create()` of the `webgpu` package in Node); default navigator.gpu. */
  gpu?: GPU;
  /** A device to run on; the caller owns it (dispose() leaves it alive). */
  device?: GPUDevice;
}

const HOW_TO_GET_WEBGPU =
  "in a browser, use one with WebGPU enabled; in Node, pass `gpu` from the `webgpu` package " +
  '(`import { create } from "webgpu"; createModel({ gpu: create([]) })`), and without a GPU install ' +
  "Debian's chromium package for SwiftShader and set " +
  "VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json";

/** A device from `opts.device`, or a new one (default limits) from `opts.gpu` or navigator.gpu. */
export async function acquireDevice(
  opts: DeviceOptions = {},
): Promise<{ device: GPUDevice; owned: boolean }> {
  if (opts.device) return { device: opts.device, owned: false };
  const gpu = opts.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu ?? undefined;
  if (!gpu) throw new Error(`WebGPU is not available here: ${HOW_TO_GET_WEBGPU}`);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error(`WebGPU found no GPU adapter: ${HOW_TO_GET_WEBGPU}`);
  return { device: await adapter.requestDevice(), owned: true };
}

/** The first asynchronous failure of a device: lost, or an error no scope caught. */
export class DeviceWatch {
  private failure: Error | null = null;
  private disposed = false;

  private readonly onError = (e: Event) => {
    this.failure ??= new Error(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  };

  constructor(private readonly device: GPUDevice) {
    void device.lost.then((info) => {
      // A device we destroyed ourselves is not a failure.
      if (this.disposed) return;
      this.failure ??= new Error(
        `the WebGPU device was lost (${info.reason}): ${info.message || "no message"}`,
      );
    });
    device.addEventListener("uncapturederror", this.onError);
  }

  /** Throws the failure, if any: the device can no longer be trusted. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /** Stop watching (a caller's device outlives the models on it). */
  dispose(): void {
    this.disposed = true;
    this.device.removeEventListener("uncapturederror", this.onError);
  }
}
