// The page's script (bundled with train-run.ts by the test): fetch the
// compiled module and the data the server holds, then run the same routine as
// Node. The test calls `run` through page.evaluate and gets the result back.

import { trainRun, type ModelModule, type RunResult } from "./train-run.ts";

async function bytes(path: string): Promise<ArrayBuffer> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return res.arrayBuffer();
}

/** The adapter Chromium offers this page, or why there is none. */
export async function adapter(): Promise<{ ok: true } | { ok: false; why: string }> {
  if (!("gpu" in navigator)) return { ok: false, why: "navigator.gpu is undefined" };
  const a = await navigator.gpu.requestAdapter();
  if (!a) return { ok: false, why: "navigator.gpu.requestAdapter() returned null" };
  return { ok: true };
}

export async function run(opts: {
  seed: number;
  steps: number;
  backend: "js" | "webgpu";
}): Promise<RunResult> {
  // A variable specifier: the bundler leaves this import to the browser.
  const url = "/model.mjs";
  const mod = (await import(url)) as ModelModule;
  const [x, y, px] = await Promise.all(["/x.bin", "/y.bin", "/px.bin"].map(bytes));
  return trainRun(mod, opts, {
    x: new Float32Array(x!),
    y: new Int32Array(y!),
    px: new Float32Array(px!),
  });
}
