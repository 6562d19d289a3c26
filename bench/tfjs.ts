// TensorFlow.js for the benchmark, loaded the way a bundler loads it. Under
// plain Node, "@tensorflow/tfjs-core" resolves to its CommonJS bundle, which
// registers no gradient functions, and its ES build (where
// dist/register_all_gradients.js lives) uses directory imports Node's ESM
// loader rejects; vitest gets around both through Vite. Here esbuild (a
// dependency already) bundles the ES builds of tfjs-core, its gradients and
// the backend (the CPU one, or WebGPU's for bench/webgpu.ts) into one module,
// so all three share one engine.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import type * as TF from "@tensorflow/tfjs-core";

export type Tf = typeof TF;

/** The WebGPU backend finds its device through navigator.gpu (bench/webgpu-setup.ts sets it). */
export async function loadTfjs(backend: "cpu" | "webgpu" = "cpu"): Promise<Tf> {
  const dir = mkdtempSync(join(tmpdir(), "dlg-bench-tfjs-"));
  try {
    const out = join(dir, "tfjs.mjs");
    await build({
      stdin: {
        contents: [
          'export * from "@tensorflow/tfjs-core";',
          'import "@tensorflow/tfjs-core/dist/register_all_gradients.js";',
          `import "@tensorflow/tfjs-backend-${backend}";`,
        ].join("\n"),
        resolveDir: import.meta.dirname,
        loader: "js",
      },
      bundle: true,
      platform: "node",
      format: "esm",
      // The ES builds, so the backend and the gradients import the same tfjs-core.
      mainFields: ["module", "main"],
      // CommonJS parts (seedrandom, long) may require Node built-ins.
      banner: {
        js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
      },
      outfile: out,
      logLevel: "error",
    });
    const tf = (await import(pathToFileURL(out).href)) as Tf;
    if (!(await tf.setBackend(backend)))
      throw new Error(`TF.js could not start its ${backend} backend`);
    await tf.ready();
    return tf;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
