// The page's script (bundled with train-run.ts by the test): fetch a compiled
// module and the data the server holds, then run the same routine as Node.
// The test calls these exports through page.evaluate.

import { trainRun, type ModelModule, type RunResult } from "./train-run.ts";

async function bytes(path: string): Promise<ArrayBuffer> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return res.arrayBuffer();
}

/** Whether Chromium offers this page a WebGPU adapter, and why not. */
export async function adapter(): Promise<{ ok: true } | { ok: false; why: string }> {
  if (!("gpu" in navigator)) return { ok: false, why: "navigator.gpu is undefined" };
  const a = await navigator.gpu.requestAdapter();
  return a ? { ok: true } : { ok: false, why: "navigator.gpu.requestAdapter() returned null" };
}

/** trainRun on the module compiled for `backend` (served at /<backend>/model.mjs). */
export async function run(opts: {
  seed: number;
  steps: number;
  backend: "js" | "webgpu";
}): Promise<RunResult> {
  // A specifier the bundler cannot resolve: the browser imports it at run time.
  const url = `/${opts.backend}/model.mjs`;
  const mod = (await import(url)) as ModelModule;
  const [x, y, px] = await Promise.all(["/x.bin", "/y.bin", "/px.bin"].map(bytes));
  return trainRun(mod, opts, {
    x: new Float32Array(x!),
    y: new Int32Array(y!),
    px: new Float32Array(px!),
  });
}
