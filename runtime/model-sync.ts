// The synchronous path (a JS or WASM module's createModelSync()): the same
// core as the async model, around an executor that runs on the calling
// thread, with every method returning its result directly. For code that
// cannot await (a tight loop of small steps, a synchronous callback); the
// async createModel() is the API every backend shares.

import type { BackendName, Executor } from "./executor.ts";
import { JsExecutor } from "./js-executor.ts";
import {
  ModelCore,
  type Dims,
  type HostTensors,
  type Inputs,
  type ModelOptions,
  type Outputs,
  type Scores,
} from "./model-core.ts";
import type { Buffer, EntryName, ProgramPlan } from "./program.ts";

/** An executor whose every method completes before it returns. */
export interface SyncExecutor extends Executor {
  run(
    name: EntryName,
    D: readonly number[],
    inputs: ReadonlyMap<number, Buffer>,
  ): Map<number, Buffer>;
  read(): HostTensors;
  write(params: readonly Float32Array[], state: readonly Float32Array[]): void;
}

export interface SyncModel<B extends BackendName = "js"> {
  readonly backend: B;
  predict(inputs: Inputs, dims?: Dims): Outputs;
  step(batch: Inputs, dims?: Dims): Scores;
  evaluate(batch: Inputs, dims?: Dims): Scores;
  /**
   * The current parameter values, by path. JS: live views, the same arrays
   * for the model's lifetime. WASM: copies, read at each access (the values
   * live in the module's memory, which moves when it grows).
   */
  readonly params: Record<string, Float32Array>;
  /** Number of step() calls that completed (restored by load()). */
  readonly steps: number;
  save(metadata?: Record<string, string>): Uint8Array;
  load(bytes: Uint8Array): Record<string, string>;
  dispose(): void;
}

export function createModelSync(plan: ProgramPlan, opts: ModelOptions = {}): SyncModel {
  let live: Record<string, Float32Array> | undefined;
  return syncModel(plan, opts, "js", (p, D) => {
    const ex = new JsExecutor(p, D);
    return { ex, params: (core) => (live ??= Object.freeze(core.named(ex.liveParams))) };
  });
}

/**
 * The synchronous model on `backend` around the executor `open` makes, whose
 * `params` gives what `model.params` reads; the params are initialised
 * before it returns.
 */
export function syncModel<K, B extends BackendName>(
  plan: ProgramPlan<K>,
  opts: ModelOptions,
  backend: B,
  open: (
    plan: ProgramPlan<K>,
    D: readonly number[],
  ) => { ex: SyncExecutor; params: (core: ModelCore) => Record<string, Float32Array> },
): SyncModel<B> {
  const core = new ModelCore(plan, opts, backend);
  const init = core.initCall();
  const { ex, params } = open(plan, core.D);
  if (init) {
    try {
      ex.run(init.name, init.D, init.inputs);
    } catch (e) {
      ex.dispose();
      throw e;
    }
  }
  let disposed = false;
  const opened = () => {
    if (disposed) throw new Error(`model ${plan.model} has been disposed`);
    return ex;
  };
  const scores = (name: "step" | "evaluate", batch: Inputs, dims: Dims | undefined) => {
    const x = opened();
    const c = core.call(name, batch, dims);
    return core.scores(c, x.run(c.name, c.D, c.inputs));
  };
  return {
    backend,
    predict(inputs, dims) {
      const x = opened();
      const c = core.call("predict", inputs, dims);
      return core.outputs(c, x.run(c.name, c.D, c.inputs));
    },
    step: (batch, dims) => scores("step", batch, dims),
    evaluate: (batch, dims) => scores("evaluate", batch, dims),
    get params() {
      return params(core);
    },
    get steps() {
      return core.steps;
    },
    save(metadata) {
      const x = opened();
      return core.encode(x.read(), core.metadata(metadata));
    },
    load(bytes) {
      const x = opened();
      const r = core.parse(bytes);
      x.write(r.params, r.state);
      return core.restored(r);
    },
    dispose() {
      disposed = true;
      ex.dispose();
    },
  };
}
