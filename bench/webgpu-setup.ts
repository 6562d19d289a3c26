// One WebGPU instance for the whole WebGPU bench, and the two peers loaded on
// it. Dawn (the `webgpu` package) gives Node a real WebGPU; with no GPU driver
// it finds an adapter only through SwiftShader's Vulkan ICD, which Debian's
// chromium package ships, so VK_ICD_FILENAMES points there unless the caller
// set it (an empty value keeps the system's Vulkan drivers).
//
// Each engine asks `gpu` for its own adapter and device (a WebGPU adapter
// hands out one device): dlg through createModel({ gpu }), TF.js and jax-js
// through navigator.gpu. All three are the same physical adapter.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";

const swiftshader = "/usr/lib/chromium/vk_swiftshader_icd.json";
if (process.env.VK_ICD_FILENAMES === undefined && existsSync(swiftshader)) {
  process.env.VK_ICD_FILENAMES = swiftshader;
}
// Imported after the variable is set: Dawn reads it when the instance is made.
const { create, globals } = await import("webgpu");
Object.assign(globalThis, globals);

/**
 * The process's WebGPU entry point. Kept referenced by this module for the
 * whole run: Dawn tears the instance down when it is collected, and devices
 * made from it then crash or hang.
 */
export const gpu: GPU = create([]);
// TF.js and jax-js look for WebGPU where a browser puts it.
Object.defineProperty(globalThis, "navigator", {
  value: { gpu, userAgent: "node" },
  configurable: true,
  writable: true,
});

/** "vendor architecture device (description)" of the adapter every engine gets, or why none. */
export async function adapterDescription(): Promise<string> {
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    throw new Error(
      "no WebGPU adapter: install chromium (it ships SwiftShader) or set VK_ICD_FILENAMES " +
        `(now ${process.env.VK_ICD_FILENAMES ?? "unset"})`,
    );
  }
  const i = adapter.info;
  return [i.vendor, i.architecture, i.device, i.description && `(${i.description})`]
    .filter((s) => s)
    .join(" ");
}

export type Tf = typeof TF;

/**
 * TF.js with its WebGPU backend, bundled by esbuild for the reasons
 * bench/tfjs.ts gives (the CommonJS build registers no gradients; the ES
 * build's directory imports fail under Node's loader).
 */
export async function loadTfjsWebgpu(): Promise<Tf> {
  const dir = mkdtempSync(join(tmpdir(), "dlg-bench-tfjs-webgpu-"));
  try {
    const out = join(dir, "tfjs.mjs");
    await build({
      stdin: {
        contents: [
          'export * from "@tensorflow/tfjs-core";',
          'import "@tensorflow/tfjs-core/dist/register_all_gradients.js";',
          'import "@tensorflow/tfjs-backend-webgpu";',
        ].join("\n"),
        resolveDir: import.meta.dirname,
        loader: "js",
      },
      bundle: true,
      platform: "node",
      format: "esm",
      mainFields: ["module", "main"],
      banner: {
        js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
      },
      outfile: out,
      logLevel: "error",
    });
    const tf = (await import(pathToFileURL(out).href)) as Tf;
    if (!(await tf.setBackend("webgpu")))
      throw new Error("TF.js could not start its WebGPU backend");
    await tf.ready();
    return tf;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
