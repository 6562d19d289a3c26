// What a module compiled for the WASM backend links in: createModel(), the
// shared model core (runtime/model.ts) around the WASM executor, with worker
// threads where the environment offers SharedArrayBuffer (Node, a
// cross-origin-isolated page) and on the calling thread alone otherwise;
// createModelSync(), the same executor on the calling thread only, for code
// that cannot await.

import type { ModelOptions } from "../model-core.ts";
import { openModel, type Model } from "../model.ts";
import { WASM_MAX_PAGES, type WasmProgram } from "../program.ts";
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

function threadOption(opts: WasmModelOptions, fn: string): number | undefined {
  if (typeof opts !== "object" || opts === null) return undefined;
  const t = opts.threads;
  if (t !== undefined && !(Number.isInteger(t) && t >= 1))
    throw new Error(`${fn}(): \`threads\` must be an integer >= 1, got ${String(t)}`);
  return t;
}

/** A memory for `chosen` that holds everything below `callAt` (the residents and scratch areas). */
function memoryFor(wasm: WasmProgram, chosen: Chosen, callAt: number, shared: boolean): WasmMemory {
  // WASM_MAX_PAGES caps a program's own maximum (an import's maximum may be below the module's).
  const maximum = Math.min(wasm.maxPages, WASM_MAX_PAGES);
  const initial = Math.max(chosen.minPages, Math.ceil(callAt / PAGE));
  if (initial > maximum)
    throw new Error(
      `the model's parameters and optimizer state need ${initial} pages of WebAssembly memory, ` +
        `more than its maximum ${maximum}`,
    );
  // A shared memory reserves its whole maximum up front, which an engine
  // short of address space (32-bit, mobile) may refuse at 4 GiB: halve the
  // maximum until it is accepted (a call that needs more then fails, saying so).
  for (let max = maximum; ; max = Math.max(initial, Math.floor(max / 2))) {
    try {
      return new WasmMemory(new WebAssembly.Memory({ initial, maximum: max, shared }), max);
    } catch (e) {
      if (!(e instanceof RangeError) || max === initial) throw e;
    }
  }
}

export function createModel(
  plan: WasmPlan,
  wasm: WasmProgram,
  opts: WasmModelOptions = {},
): Promise<Model> {
  let requested: number | undefined;
  try {
    requested = threadOption(opts, "createModel");
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
    // Workers that fail to start (a CSP without `worker-src blob:`, a
    // worker limit) leave the model on this thread: the same bits, and the
    // extra scratch areas are merely unused.
    const pool = shared
      ? await Threads.start(
          chosen.module,
          memory.memory,
          kernelNames(p),
          layout.scratch.slice(1),
        ).catch(() => null)
      : null;
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
  const requested = threadOption(opts, "createModelSync");
  if (requested !== undefined && requested !== 1)
    throw new Error(
      `createModelSync() runs on the calling thread only; use createModel() for ${requested} threads`,
    );
  return syncModel(plan, opts, "wasm", (p, D) => {
    const chosen = compileSync(wasm, false);
    const layout = residentLayout(p, D, 1);
    const memory = memoryFor(wasm, chosen, layout.callAt, false);
    const instance = new WebAssembly.Instance(chosen.module, { env: { memory: memory.memory } });
    const wx = new WasmExecutor(p, { instance, memory, threads: null, layout });
    // Without workers no kernel call waits on another thread: run() returns its results.
    return { ex: wx as SyncExecutor, params: (core) => core.named(wx.readParams()) };
  });
}
