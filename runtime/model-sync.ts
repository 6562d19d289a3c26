// The JS backend's synchronous path (a JS module's createModelSync()): the
// same core as the async model, around the JS executor, with every method
// returning its result directly and `params` as live views of the arrays
// the kernels read. For code that cannot await (a tight loop of small
// steps, a synchronous callback); the async createModel() is the API every
// backend shares.

import { JsExecutor } from "./js-executor.ts";
import {
  ModelCore,
  type Dims,
  type Inputs,
  type ModelOptions,
  type Outputs,
  type Scores,
} from "./model-core.ts";
import type { ProgramPlan } from "./program.ts";

export interface SyncModel {
  readonly backend: "js";
  predict(inputs: Inputs, dims?: Dims): Outputs;
  step(batch: Inputs, dims?: Dims): Scores;
  evaluate(batch: Inputs, dims?: Dims): Scores;
  /** Live views of the current parameter values, by path: the same arrays for the model's lifetime. */
  readonly params: Record<string, Float32Array>;
  /** Number of step() calls that completed (restored by load()). */
  readonly steps: number;
  save(metadata?: Record<string, string>): Uint8Array;
  load(bytes: Uint8Array): Record<string, string>;
  dispose(): void;
}

export function createModelSync(plan: ProgramPlan, opts: ModelOptions = {}): SyncModel {
  const core = new ModelCore(plan, opts, "js");
  const init = core.initCall();
  const ex = new JsExecutor(plan, core.D);
  if (init) ex.run(init.name, init.D, init.inputs);
  let disposed = false;
  const open = () => {
    if (disposed) throw new Error(`model ${plan.model} has been disposed`);
    return ex;
  };
  const scores = (name: "step" | "evaluate", batch: Inputs, dims: Dims | undefined) => {
    const x = open();
    const c = core.call(name, batch, dims);
    return core.scores(c, x.run(c.name, c.D, c.inputs));
  };
  return {
    backend: "js",
    predict(inputs, dims) {
      const x = open();
      const c = core.call("predict", inputs, dims);
      return core.outputs(c, x.run(c.name, c.D, c.inputs));
    },
    step: (batch, dims) => scores("step", batch, dims),
    evaluate: (batch, dims) => scores("evaluate", batch, dims),
    params: Object.freeze(core.named(ex.liveParams)),
    get steps() {
      return core.steps;
    },
    save(metadata) {
      const x = open();
      return core.encode(x.read(), core.metadata(metadata));
    },
    load(bytes) {
      const x = open();
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
