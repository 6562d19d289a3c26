// One graph compiled by the JS backend the way emit compiles an entry, and
// the plan evaluated with the runtime's kernel helpers in scope: how the
// codegen and scan tests run a single graph without a whole model.

import { jsBackend } from "../compiler/backends/js.ts";
import { jsHelpers } from "../compiler/codegen-js.ts";
import { entryModuleText, lowerEntry } from "../compiler/emit.ts";
import type { LowerOptions } from "../compiler/fuse.ts";
import type { Graph } from "../compiler/ir.ts";
import { checkStored, noteNonFinite, scratchF64 } from "../runtime/kernels.ts";
import type { EntryPlan } from "../runtime/program.ts";
import { randomUniform } from "../runtime/rng.ts";

const helpers: Record<(typeof jsHelpers)[number], unknown> = {
  randomUniform,
  scratchF64,
  noteNonFinite,
  checkStored,
};

/** The EntryPlan of `g` with no slots (buffers bound by position), for EntryRunner. */
export function graphPlan(g: Graph, dims: readonly string[], opts: LowerOptions = {}): EntryPlan {
  const js = entryModuleText(jsBackend, lowerEntry(g, opts), dims, "k", {
    inSlots: [],
    outSlots: [],
  });
  return new Function(...jsHelpers, `${js.decls}\nreturn ${js.plan};`)(
    ...jsHelpers.map((h) => helpers[h]),
  ) as EntryPlan;
}
