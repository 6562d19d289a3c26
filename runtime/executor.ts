// The seam between the model API (runtime/model-core.ts, written once) and a
// backend's runtime: an Executor holds the params and optimizer state where
// its kernels read them (JS typed arrays, GPU buffers) and runs one entry at
// a time. The model core validates every input, binds the dims, counts steps
// and formats checkpoints; an executor never sees a call that would throw
// for the caller's reasons.

import type { Buffer, EntryName, ProgramPlan } from "./program.ts";

/** The backends a module can be compiled for (`dlg compile --target`). */
export type BackendName = "js" | "webgpu" | "wasm";

export interface Executor {
  /**
   * Run entry `name` at dims D. `inputs`: host arrays for the entry's
   * "input", "seed" and "step" in-slots (by in-slot index). Param and state
   * in-slots are the executor's resident tensors; param and state out-slots
   * become current when the run completes. Returns host arrays for the other
   * out-slots (loss, metric, output) by out-slot index; the caller copies
   * what must outlive the next run.
   */
  run(
    name: EntryName,
    D: readonly number[],
    inputs: ReadonlyMap<number, Buffer>,
  ): Map<number, Buffer> | Promise<Map<number, Buffer>>;
  /** Host copies of params and state (in plan order), owned by the caller. */
  read():
    | { params: Float32Array[]; state: Float32Array[] }
    | Promise<{ params: Float32Array[]; state: Float32Array[] }>;
  /** Overwrite params and state (load()); the arrays have the plan's sizes at the model's dims. */
  write(params: readonly Float32Array[], state: readonly Float32Array[]): void | Promise<void>;
  /** Release what the executor holds (GPU buffers); no call follows. */
  dispose(): void;
}

/**
 * Makes a backend's executor for a plan, its params and state sized at the
 * model's dims `D` (NaN where a dim is not fixed at creation) and zeroed;
 * the core then runs the plan's init entry on it.
 */
export type OpenExecutor<K> = (
  plan: ProgramPlan<K>,
  D: readonly number[],
) => Executor | Promise<Executor>;
