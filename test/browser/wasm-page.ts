// The WASM browser test's page script (bundled with train-run.ts): the same
// routine as Node on the module compiled for wasm, plus what the page knows
// about threads: whether it is cross-origin isolated, how many Web Workers
// the model started (counted by wrapping the Worker constructor), and how
// many chunks of split kernels it handed them (the caller wakes a worker
// with Atomics.notify for each, counted by wrapping it).

import { trainRun, type ModelModule, type RunResult } from "./train-run.ts";

let workers = 0;
const Base = globalThis.Worker;
if (typeof Base === "function")
  globalThis.Worker = class extends Base {
    constructor(...args: ConstructorParameters<typeof Worker>) {
      super(...args);
      workers++;
    }
  };

let wakes = 0;
const notify = Atomics.notify;
Atomics.notify = ((a: Int32Array, i: number, count?: number) => {
  wakes++;
  return notify(a, i, count);
}) as typeof Atomics.notify;

async function bytes(path: string): Promise<ArrayBuffer> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return res.arrayBuffer();
}

export interface WasmPageResult extends RunResult {
  isolated: boolean;
  workers: number;
  /** Atomics.notify calls: at least one per chunk a worker was handed. */
  wakes: number;
  /** predict() of fresh models (same seed) from createModelSync and from createModel. */
  fresh: { sync: number[]; async: number[] };
}

type Probs = { probs: Float32Array };
interface WasmModule extends ModelModule {
  createModelSync(opts: { seed: number }): {
    predict(i: { x: Float32Array }): Probs;
    dispose(): void;
  };
}

export async function run(opts: { seed: number; steps: number }): Promise<WasmPageResult> {
  // A specifier the bundler cannot resolve: the browser imports it at run time.
  const url = "/wasm/model.mjs";
  const mod = (await import(url)) as WasmModule;
  const [x, y, px] = await Promise.all(["/x.bin", "/y.bin", "/px.bin"].map(bytes));
  const data = { x: new Float32Array(x!), y: new Int32Array(y!), px: new Float32Array(px!) };
  const result = await trainRun(mod, { ...opts, backend: "wasm" }, data);
  const sync = mod.createModelSync({ seed: opts.seed });
  const model = await mod.createModel({ seed: opts.seed });
  const fresh = {
    sync: Array.from(sync.predict({ x: data.px }).probs),
    async: Array.from(((await model.predict({ x: data.px })) as Probs).probs),
  };
  sync.dispose();
  model.dispose?.();
  return { ...result, isolated: globalThis.crossOriginIsolated === true, workers, wakes, fresh };
}
