// The model object every emitted module's createModel() returns, on every
// backend: the shared core (model-core.ts) around the backend's Executor,
// every method a Promise. Calls run one at a time in the order they were
// made, so a step's seed and step number are those of the steps before it,
// even when the caller does not await each call; a call that throws (bad
// inputs, a failed run) rejects and leaves the model as it was.

import type { BackendName, Executor, OpenExecutor } from "./executor.ts";
import type { ProgramPlan } from "./program.ts";
import {
  ModelCore,
  type Dims,
  type Inputs,
  type ModelOptions,
  type Outputs,
  type Scores,
} from "./model-core.ts";

export type { Dims, Inputs, ModelOptions, Outputs, Scores } from "./model-core.ts";
export { stepSeed } from "./model-core.ts";

export interface Model {
  /** The backend the module was compiled for. */
  readonly backend: BackendName;
  predict(inputs: Inputs, dims?: Dims): Promise<Outputs>;
  step(batch: Inputs, dims?: Dims): Promise<Scores>;
  evaluate(batch: Inputs, dims?: Dims): Promise<Scores>;
  /** Copies of the current parameter values, by path (a readback on a GPU backend). */
  params(): Promise<Record<string, Float32Array>>;
  /** Number of step() calls that completed (restored by load()). */
  readonly steps: number;
  /** A checkpoint; `metadata` adds caller entries (e.g. a data position) to its `__metadata__`. */
  save(metadata?: Record<string, string>): Promise<Uint8Array>;
  /** Restore a checkpoint (params, state, step count, seed); resolves to its `__metadata__`. */
  load(bytes: Uint8Array): Promise<Record<string, string>>;
  /** Release the backend's resources (GPU buffers) once pending calls finish; later calls reject. */
  dispose(): void;
}

/** A model on `backend` whose executor `open` makes; the params are initialised before it resolves. */
export async function openModel<K>(
  plan: ProgramPlan<K>,
  opts: ModelOptions,
  backend: BackendName,
  open: OpenExecutor<K>,
): Promise<Model> {
  const core = new ModelCore(plan, opts, backend);
  const init = core.initCall();
  const ex: Executor = await open(plan, core.D);
  try {
    if (init) await ex.run(init.name, init.D, init.inputs);
  } catch (e) {
    ex.dispose();
    throw e;
  }
  let disposed = false;
  let tail: Promise<unknown> = Promise.resolve();
  /** Run `f` after every call made before it, whether those succeeded or not. */
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    if (disposed) return Promise.reject(new Error(`model ${plan.model} has been disposed`));
    const run = tail.then(f);
    tail = run.catch(() => undefined);
    return run;
  };
  const scores = (name: "step" | "evaluate", batch: Inputs, dims: Dims | undefined) =>
    serial(async () => {
      const c = core.call(name, batch, dims);
      return core.scores(c, await ex.run(c.name, c.D, c.inputs));
    });
  return {
    backend,
    predict: (inputs, dims) =>
      serial(async () => {
        const c = core.call("predict", inputs, dims);
        return core.outputs(c, await ex.run(c.name, c.D, c.inputs));
      }),
    step: (batch, dims) => scores("step", batch, dims),
    evaluate: (batch, dims) => scores("evaluate", batch, dims),
    params: () => serial(async () => core.named((await ex.read()).params)),
    get steps() {
      return core.steps;
    },
    save: (metadata) =>
      serial(async () => {
        const meta = core.metadata(metadata);
        return core.encode(await ex.read(), meta);
      }),
    load: (bytes) =>
      serial(async () => {
        const r = core.parse(bytes);
        await ex.write(r.params, r.state);
        return core.restored(r);
      }),
    dispose() {
      if (disposed) return;
      disposed = true;
      void tail.then(() => ex.dispose());
    },
  };
}
