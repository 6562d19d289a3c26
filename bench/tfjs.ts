// TensorFlow.js for the benchmark, loaded the way a bundler loads it. Under
// plain Node, "@tensorflow/tfjs-core" resolves to its CommonJS bundle, which
// registers no gradient functions, and its ES build (where
// dist/register_all_gradients.js lives) uses directory imports Node's ESM
// loader rejects; vitest gets around both through Vite. Here esbuild (a
// dependency already) bundles the ES builds of tfjs-core, its gradients and
// the backend (the CPU one, WASM's for bench/cpu.ts, or WebGPU's for
// bench/webgpu.ts) into one module, so all three share one engine. The WASM
// backend is told where its .wasm files are (the package's dist/, which the
// bundle no longer sits beside) and runs single-threaded: its threaded build
// starts Emscripten pthreads as Web Workers, which Node does not have.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import type * as TF from "@tensorflow/tfjs-core";

export type Tf = typeof TF;

type Wasm = { setWasmPaths(prefix: string): void };

/** The WebGPU backend finds its device through navigator.gpu (bench/webgpu-setup.ts sets it). */
export async function loadTfjs(backend: "cpu" | "wasm" | "webgpu" = "cpu"): Promise<Tf> {
  const dir = mkdtempSync(join(tmpdir(), "dlg-bench-tfjs-"));
  try {
    const out = join(dir, "tfjs.mjs");
    await build({
      stdin: {
        contents: [
          'export * from "@tensorflow/tfjs-core";',
          'import "@tensorflow/tfjs-core/dist/register_all_gradients.js";',
          backend === "wasm"
            ? 'export { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";'
            : `import "@tensorflow/tfjs-backend-${backend}";`,
        ].join("\n"),
        resolveDir: import.meta.dirname,
        loader: "js",
      },
      bundle: true,
      platform: "node",
      format: "esm",
      // The ES builds, so the backend and the gradients import the same tfjs-core.
      mainFields: ["module", "main"],
      // CommonJS parts (seedrandom, long) may require Node built-ins; the WASM
      // backend's Emscripten glue also reads __dirname.
      banner: {
        js: [
          'import { createRequire } from "node:module";',
          'import { dirname as __dlgDirname } from "node:path";',
          'import { fileURLToPath as __dlgPath } from "node:url";',
          "const require = createRequire(import.meta.url);",
          "const __filename = __dlgPath(import.meta.url);",
          "const __dirname = __dlgDirname(__filename);",
        ].join(" "),
      },
      outfile: out,
      logLevel: "error",
    });
    const tf = (await import(pathToFileURL(out).href)) as Tf & Partial<Wasm>;
    if (tf.setWasmPaths) {
      const dist = dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm"));
      tf.setWasmPaths(`${dist}/`);
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    }
    if (!(await tf.setBackend(backend)))
      throw new Error(`TF.js could not start its ${backend} backend`);
    await tf.ready();
    return tf;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
