// TEMPORARY: the plan types of common.md's back-half contract, declared here
// until the lead's runtime/program.ts and runtime/sizes.ts carry them; then
// this file goes and the imports point there. evalSize is runtime/sizes.ts's.

import type { DTypeName, InSlot, OutSlot } from "../program.ts";

export type SizeExpr =
  | number
  | { d: number }
  | { add: SizeExpr[] }
  | { mul: SizeExpr[] }
  | { div: [SizeExpr, SizeExpr] }
  | { mod: [SizeExpr, SizeExpr] }
  | { max: SizeExpr[] }
  | { min: SizeExpr[] };

export type EntryName = "init" | "predict" | "evaluate" | "step";

export type Step =
  | { kernel: number }
  | {
      scan: number;
      length: SizeExpr;
      reverse: boolean;
      carries: { init: number; cur: number; next: number; final: number | null }[];
      body: Step[];
    };

export interface EntryPlan<K> {
  buffers: { dtype: DTypeName; size: SizeExpr; pool: number }[];
  pools: { dtype: "f32" | "i32"; size: SizeExpr }[];
  inSlots: InSlot[];
  inBufs: number[];
  outSlots: OutSlot[];
  outBufs: number[];
  dims: number[];
  kernels: K[];
  schedule: Step[];
}

export interface GpuKernel {
  name: string;
  wgsl: string;
  bindings: { buf: number; write: boolean }[];
  grid: [SizeExpr, SizeExpr, SizeExpr];
}

/** What the WebGPU executor reads of a ProgramPlan. */
export interface GpuProgram {
  dims: string[];
  params: { numel: SizeExpr }[];
  state: { numel: SizeExpr }[];
  entries: Partial<Record<"init" | "predict" | "evaluate" | "step", EntryPlan<GpuKernel>>>;
}
