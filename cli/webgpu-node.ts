// WebGPU in Node: the `webgpu` package (Dawn, Chrome's implementation). With
// no GPU, Debian's chromium package ships SwiftShader, a Vulkan driver on the
// CPU that Dawn finds through VK_ICD_FILENAMES; it is pointed there when the
// variable is unset. Dawn reads the variable when create() first loads
// Vulkan, so setting process.env before that call takes effect.

import { existsSync } from "node:fs";

export const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

/**
 * The process's GPU object, kept here for the process's lifetime: Dawn
 * crashes or hangs at random if it is garbage-collected while devices live.
 * The promise is what is kept, so concurrent first calls share one object.
 */
let gpu: Promise<GPU> | undefined;

/** navigator.gpu's stand-in for Node (the same object on every call). */
export function nodeGpu(): Promise<GPU> {
  // A failed import may be retried (after `npm install webgpu`).
  return (gpu ??= createNodeGpu().catch((e: unknown) => {
    gpu = undefined;
    throw e;
  }));
}

async function createNodeGpu(): Promise<GPU> {
  if (process.env.VK_ICD_FILENAMES === undefined && existsSync(SWIFTSHADER_ICD))
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  let dawn: typeof import("webgpu");
  try {
    dawn = await import("webgpu");
  } catch (e) {
    throw new Error(
      `WebGPU in Node needs the \`webgpu\` package (Dawn): npm install webgpu ` +
        `(${e instanceof Error ? e.message : String(e)})`,
    );
  }
  // GPUBufferUsage, GPUMapMode and the other constants and classes, as in a browser.
  Object.assign(globalThis, dawn.globals);
  return dawn.create([]);
}

/** nodeGpu(), checked to have an adapter: null, with why, when it has none. */
export async function probeNodeGpu(): Promise<{ gpu: GPU } | { gpu: null; reason: string }> {
  const g = await nodeGpu();
  if (await g.requestAdapter()) return { gpu: g };
  const icd = process.env.VK_ICD_FILENAMES;
  const reason =
    icd === undefined
      ? `no WebGPU adapter: no GPU driver found, and ${SWIFTSHADER_ICD} is missing ` +
        `(install Debian's chromium package for SwiftShader, or set VK_ICD_FILENAMES to a Vulkan ICD)`
      : `no WebGPU adapter with VK_ICD_FILENAMES=${icd}` +
        (existsSync(icd)
          ? ""
          : ` (no such file: install Debian's chromium package for SwiftShader)`);
  return { gpu: null, reason };
}
