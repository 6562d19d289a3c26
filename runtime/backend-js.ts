// What a module compiled for the JS backend links in: its createModel()
// (the async API every backend shares) and createModelSync() (the JS
// backend's synchronous path), plus the helpers its generated kernels call.

import { JsExecutor } from "./js-executor.ts";
import type { ModelOptions } from "./model-core.ts";
import { openModel, type Model } from "./model.ts";
import { createModelSync as createSync, type SyncModel } from "./model-sync.ts";
import type { ProgramPlan } from "./program.ts";

export { randomUniform } from "./rng.ts";
export { checkStored, noteNonFinite, scratchF64 } from "./kernels.ts";

export function createModel(plan: ProgramPlan, opts: ModelOptions = {}): Promise<Model> {
  return openModel(plan, opts, "js", (p, D) => new JsExecutor(p, D));
}

export function createModelSync(plan: ProgramPlan, opts: ModelOptions = {}): SyncModel {
  return createSync(plan, opts);
}
