// What a module compiled for the WASM backend links in: createModel(), the
// shared model core (runtime/model.ts) around the WASM executor, with worker
// threads where the environment offers SharedArrayBuffer (Node, a
// cross-origin-isolated page) and on the calling thread alone otherwise;
// createModelSync(), the same executor on the calling thread only, for code
// that cannot await.

import type { ModelOptions } from "../model-core.ts";
import { openModel, type Model } from "../model.ts";
import type { WasmProgram } from "../program.ts";
import { syncModel, type SyncExecutor, type SyncModel } from "../model-sync.ts";
import { compileAsync, compileSync, type Chosen } from "./binary.ts";
import { residentLayout, WasmExecutor, kernelNames, type WasmPlan } from "./executor.ts";
import { PAGE, WasmMemory } from "./memory.ts";
import { availableCores, canThread, Threads } from "./threads.ts";

export interface WasmModelOptions extends ModelOptions {
  /** Threads that run the kernels (workers plus the caller); default min(cores, 4); 1: no workers. */
  threads?: number;
}

/** Threads are used by default up to this many: more rarely pays for the synchronisation. */
const DEFAULT_MAX_THREADS = 4;

function threadOption(opts: WasmModelOptions): number | undefined {
  if (typeof opts !== "object" || opts === null) return undefined;
  const t = opts.threads;
  if (t !== undefined && !(Number.isInteger(t) && t >= 1))
    throw new Error(`createModel(): \`threads\` must be an integer >= 1, got ${String(t)}`);
  return t;
}

/** A memory for `chosen` that holds everything below `callAt` (the residents and scratch areas). */
function memoryFor(wasm: WasmProgram, chosen: Chosen, callAt: number, shared: boolean): WasmMemory {
  const initial = Math.max(chosen.minPages, Math.ceil(callAt / PAGE));
  if (initial > wasm.maxPages)
    throw new Error(
      `the model's parameters and optimizer state need ${initial} pages of WebAssembly memory, ` +
        `more than its maximum ${wasm.maxPages}`,
    );
  const memory = new WebAssembly.Memory({ initial, maximum: wasm.maxPages, shared });
  return new WasmMemory(memory, wasm.maxPages);
}

export function createModel(
  plan: WasmPlan,
  wasm: WasmProgram,
  opts: WasmModelOptions = {},
): Promise<Model> {
  let requested: number | undefined;
  try {
    requested = threadOption(opts);
  } catch (e) {
    return Promise.reject(e);
  }
  return openModel(plan, opts, "wasm", async (p, D) => {
    const threads = canThread()
      ? (requested ?? Math.min(await availableCores(), DEFAULT_MAX_THREADS))
      : 1;
    const shared = threads > 1;
    const chosen = await compileAsync(wasm, shared);
    const layout = residentLayout(p, D, threads);
    const memory = memoryFor(wasm, chosen, layout.callAt, shared);
    const instance = await WebAssembly.instantiate(chosen.module, {
      env: { memory: memory.memory },
    });
    let pool: Threads | null = null;
    if (shared)
      pool = await Threads.start(
        chosen.module,
        memory.memory,
        kernelNames(p),
        layout.scratch.slice(1),
      );
    try {
      return new WasmExecutor(p, { instance, memory, threads: pool, layout });
    } catch (e) {
      pool?.dispose();
      throw e;
    }
  });
}

/** The model on the calling thread only (no workers), every method synchronous. */
export function createModelSync(
  plan: WasmPlan,
  wasm: WasmProgram,
  opts: WasmModelOptions = {},
): SyncModel<"wasm"> {
  const requested = threadOption(opts);
  if (requested !== undefined && requested !== 1)
    throw new Error(
      `createModelSync() runs on the calling thread only; use createModel() for ${requested} threads`,
    );
  return syncModel(plan, opts, "wasm", (p, D) => {
    const chosen = compileSync(wasm, false);
    const layout = residentLayout(p, D, 1);
    const memory = memoryFor(wasm, chosen, layout.callAt, false);
    const instance = new WebAssembly.Instance(chosen.module, { env: { memory: memory.memory } });
    // Without workers no kernel call waits on another thread: run() returns its results.
    const ex = new WasmExecutor(p, { instance, memory, threads: null, layout }) as SyncExecutor;
    return { ex, params: (core) => core.named(ex.read().params) };
  });
}
