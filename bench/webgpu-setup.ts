// One WebGPU instance for the whole WebGPU bench, and the two peers loaded on
// it. cli/webgpu-node.ts gives Node Dawn's WebGPU (on SwiftShader, the CPU,
// when there is no GPU driver) and keeps it referenced for the process.
//
// Each engine asks `gpu` for its own adapter and device (a WebGPU adapter
// hands out one device): dlg through createModel({ gpu }), TF.js and jax-js
// through navigator.gpu. All three are the same physical adapter.

import type * as Jax from "@jax-js/jax";
import { probeNodeGpu } from "../cli/webgpu-node.ts";

const probe = await probeNodeGpu();
if (!probe.gpu) throw new Error(probe.reason);
export const gpu: GPU = probe.gpu;
// TF.js (loadTfjs("webgpu")) and jax-js look for WebGPU where a browser puts it.
Object.defineProperty(globalThis, "navigator", {
  value: { gpu, userAgent: "node" },
  configurable: true,
  writable: true,
});

/** "vendor architecture device (description)" of the adapter every engine gets. */
export async function adapterDescription(): Promise<string> {
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error("the WebGPU adapter went away");
  const i = adapter.info;
  return [i.vendor, i.architecture, i.device, i.description && `(${i.description})`]
    .filter((s) => s)
    .join(" ");
}

export type JaxJs = typeof Jax;

/** jax-js with WebGPU as the default device of every array it makes. */
export async function loadJaxWebgpu(): Promise<JaxJs> {
  const jax = await import("@jax-js/jax");
  const devices = await jax.init("webgpu");
  if (!devices.includes("webgpu")) throw new Error("jax-js could not start its WebGPU backend");
  jax.defaultDevice("webgpu");
  return jax;
}
