// The shape of a compiled program as the runtime sees it: generated kernels
// and plans, plus the descriptions the public API validates against. The
// compiler's emit phase writes an object of this type into the module; the
// runtime never sees the compiler's IRs.

export type DTypeName = "f32" | "i32" | "bool";

/** f32 data lives in Float32Arrays; i32 and bool in Int32Arrays. */
export type Buffer = Float32Array | Int32Array;

/** Element count of a buffer from the run-time dims (in `ProgramPlan.dims` order). */
export type SizeFn = (D: readonly number[]) => number;

/** Where an entry's graph input comes from at run time. */
export type InSlot =
  | { kind: "input"; name: string }
  | { kind: "param"; index: number }
  | { kind: "state"; index: number }
  | { kind: "seed" }
  /** f32 scalar: 1-based count of step() calls, for Adam's bias correction. */
  | { kind: "step" };

/** Where an entry's graph output goes. */
export type OutSlot =
  | { kind: "output"; name: string }
  | { kind: "metric"; name: string }
  | { kind: "loss" }
  | { kind: "param"; index: number }
  | { kind: "state"; index: number };

export interface BufferPlan {
  dtype: DTypeName;
  size: SizeFn;
  /** Pool slot for temporaries; -1 for inputs and outputs. */
  pool: number;
}

export interface EntryPlan {
  /** Every buffer the kernels index, by position (`b[i]` in `run`). */
  buffers: BufferPlan[];
  /** Shared storage for temporaries: each slot holds the largest of its members. */
  pools: { dtype: "f32" | "i32"; size: SizeFn }[];
  /** Graph input k is buffer inBufs[k], filled from inSlots[k]. */
  inSlots: InSlot[];
  inBufs: number[];
  /** Graph output k is buffer outBufs[k], delivered to outSlots[k]. */
  outSlots: OutSlot[];
  outBufs: number[];
  /** Indices (into `ProgramPlan.dims`) of the dims the kernels and sizes read: all must be bound. */
  dims: number[];
  /** Runs every kernel of the entry, in order, over the bound buffers. */
  run: (b: Buffer[], D: readonly number[]) => void;
}

export interface TensorSpec {
  name: string;
  dtype: DTypeName;
  /** Sizes as numbers, or named dims / dim expressions as text (`"B"`, `"4 * H"`). */
  shape: (string | number)[];
}

/** A tensor whose size may depend on dims: inputs, and params sized by model-time dims. */
export interface SizedPlan extends TensorSpec {
  numel: SizeFn;
  /** Each axis's size, for error messages and checkpoints. */
  sizes: SizeFn[];
  /** Indices (into `dims`) of the dims this tensor's size depends on. */
  dims: number[];
}

export interface InputPlan extends SizedPlan {
  /**
   * For an int input whose values are indices (a gather's, one_hot's): each
   * value must lie in [0, size(D)); the runtime checks before running.
   */
  indexes?: { size: SizeFn; what: string }[];
}

export interface ProgramPlan {
  model: string;
  dims: string[];
  inputs: InputPlan[];
  outputs: TensorSpec[];
  metrics: string[];
  hasLoss: boolean;
  /**
   * Parameter and optimizer-state shapes may use dims (linreg's `theta: [F]`);
   * those are fixed when the model is created and hold for its lifetime.
   */
  params: SizedPlan[];
  state: SizedPlan[];
  entries: Partial<Record<"init" | "predict" | "evaluate" | "step", EntryPlan>>;
  /** Conditions on the run-time dims, tested as soon as their dims are bound; absent: none. */
  checks?: DimCheckPlan[];
}

/**
 * `min <= value(D) <= max` must hold before anything runs (`B >= 4` for
 * `x[3]` on `[B]`, a buffer's bytes within the limit); else the runtime
 * throws `message` with the dims' values and where they came from.
 */
export interface DimCheckPlan {
  /** Indices (into `ProgramPlan.dims`) of the dims `value` reads. */
  dims: number[];
  value: SizeFn;
  min: number;
  max?: number;
  /** What `value` counts, when the message should show it ("bytes"). */
  unit?: string;
  message: string;
}
