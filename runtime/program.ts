// The shape of a compiled program as the runtime sees it: generated kernels
// and plans, plus the descriptions the public API validates against. The
// compiler's emit phase writes an object of this type into the module; the
// runtime never sees the compiler's IRs.

import type { StackLevel } from "./stacked.ts";

export type DTypeName = "f32" | "i32" | "bool";

export type EntryName = "init" | "predict" | "evaluate" | "step";

/** f32 data lives in Float32Arrays; i32 and bool in Int32Arrays. */
export type Buffer = Float32Array | Int32Array;

/**
 * A size from the run-time dims, as data (runtime/sizes.ts evaluates it):
 * a constant, dim `d` (an index into `ProgramPlan.dims`), or integer
 * arithmetic (`div` floors, `mod` is the floored remainder).
 */
export type SizeExpr =
  | number
  | { d: number }
  | { add: SizeExpr[] }
  | { mul: SizeExpr[] }
  | { div: [SizeExpr, SizeExpr] }
  | { mod: [SizeExpr, SizeExpr] }
  | { max: SizeExpr[] }
  | { min: SizeExpr[] };

/** Where an entry's graph input comes from at run time. */
export type InSlot =
  | { kind: "input"; name: string }
  | { kind: "param"; index: number }
  | { kind: "state"; index: number }
  | { kind: "seed" }
  /** f32 scalar: 1-based count of step() calls, for Adam's bias correction. */
  | { kind: "step" }
  /**
   * f32 scalar (v2): this step's learning rate, from `schedule` (runtime/schedule.ts)
   * over a run of `epochs` epochs (the train block's, unless createModel gets another).
   * Only a non-constant schedule has the slot: a constant lr is compiled into the step.
   */
  | { kind: "lr"; schedule: Schedule; epochs: number };

/**
 * A learning-rate schedule (v2 train blocks), evaluated by the runtime per
 * step: t is the 1-based step, e the 1-based epoch. `step_decay` and
 * `exponential` change per epoch; `cosine` decays to 0 at the run's last step.
 */
export type Schedule =
  | { kind: "constant"; lr: number }
  | { kind: "step_decay"; lr: number; every: number; gamma: number }
  | { kind: "exponential"; lr: number; gamma: number }
  | { kind: "linear_warmup"; lr: number; steps: number }
  | { kind: "cosine"; lr: number; warmup: number };

/** Where an entry's graph output goes. */
export type OutSlot =
  | { kind: "output"; name: string }
  | { kind: "metric"; name: string }
  | { kind: "loss" }
  | { kind: "param"; index: number }
  | { kind: "state"; index: number };

export interface BufferPlan {
  dtype: DTypeName;
  size: SizeExpr;
  /** Pool slot for temporaries; -1 for inputs and outputs. */
  pool: number;
}

/**
 * The order an entry runs its kernels in: a kernel (by index into
 * `EntryPlan.kernels`), or a scan: `length` runs of `body` with the scan's
 * step (T[scan], counting down when `reverse`) visible to its kernels, and
 * carries double-buffered: cur <- init before the loop, cur <- next after
 * each step, final <- cur after the loop (a runtime swaps or copies).
 */
export type Step =
  | { kernel: number }
  | {
      scan: number;
      length: SizeExpr;
      reverse: boolean;
      carries: { init: number; cur: number; next: number; final: number | null }[];
      body: Step[];
    };

/** A JS kernel: reads and writes buffers by index, with the dims D and the scans' steps T. */
export type JsKernel = (b: Buffer[], D: readonly number[], T: Int32Array) => void;

/**
 * A WebGPU kernel: one WGSL module with one compute entry point `main`.
 * @group(0) @binding(0) is a uniform record of 64 i32 (bound with a dynamic
 * offset): slots 0..31 hold the run-time dims, 32..63 the current step of
 * scans 0..31. @binding(1 + i) is buffer `bindings[i].buf`, read_write when
 * `write`. `grid` counts the workgroups to dispatch (x, y, z).
 */
export interface GpuKernel {
  name: string;
  wgsl: string;
  bindings: { buf: number; write: boolean }[];
  grid: [SizeExpr, SizeExpr, SizeExpr];
}

/**
 * A WASM kernel: one exported function `(lo: i32, hi: i32, scratch: i32) -> ()`
 * of the program's module, computing work items [lo, hi) of `items`. Any split
 * of [0, items) into contiguous ranges, run in any order or on any threads,
 * gives bit-identical results. It reads the dims D at byte 4*d, the scans'
 * steps T at 128 + 4*s, and buffer i's byte address at 256 + 4*i of the
 * shared linear memory; `scratch` points at `scratch` private bytes (64-byte aligned).
 */
export interface WasmKernel {
  /** The export's name. */
  name: string;
  /** Work items (how the kernel splits: rows, row tiles, output elements...). */
  items: SizeExpr;
  /** Bytes of scratch each thread needs (0: none). */
  scratch: number;
  /** About how many scalar operations the whole kernel does (whether threading pays). */
  work: SizeExpr;
}

/** One encoding of the program's WASM module. */
export interface WasmBinary {
  base64: string;
  /** Whether it uses relaxed-SIMD instructions (f32x4.relaxed_madd): an engine without them rejects it. */
  relaxed: boolean;
  /**
   * Byte offset of the `env.memory` import's limits flag: emitted 0x03
   * (shared, min and max); a runtime without SharedArrayBuffer patches a copy
   * to 0x01 (unshared) before compiling.
   */
  memoryFlagAt: number;
}

/** The program's WASM module: the kernels of every entry, as exports. */
export interface WasmProgram {
  /** Preferred first (relaxed, then plain SIMD): the runtime compiles the first WebAssembly.validate accepts. */
  binaries: WasmBinary[];
  /** The memory import's maximum, in 64 KiB pages. */
  maxPages: number;
}

/** Byte addresses of the WASM module's header (page 0): dims, scan steps, the buffer table. */
export const WASM_DIMS_AT = 0;
export const WASM_STEPS_AT = 128;
export const WASM_BUFFERS_AT = 256;
/** Where buffer data may start: page 0 is the header. */
export const WASM_DATA_AT = 65536;
/**
 * The most pages a model's memory gets (the module's declared maximum, and
 * the runtime's cap on any program's): 65535, all but the last of the 4 GiB
 * a 32-bit address reaches: at 65536 pages the memory's byte size (`pages <<
 * 16`, which the kernels' clamped loads compute) wraps to 0.
 */
export const WASM_MAX_PAGES = 65535;
/** The most buffers one entry may have: the table between WASM_BUFFERS_AT and the data. */
export const WASM_MAX_BUFFERS = (WASM_DATA_AT - WASM_BUFFERS_AT) / 4;
/**
 * The memory import's limits flag as emitted (0x03: shared, with min and
 * max), and the same limits unshared (0x01), which a runtime without
 * SharedArrayBuffer patches into a copy of the binary.
 */
export const WASM_SHARED_LIMITS = 0x03;
export const WASM_UNSHARED_LIMITS = 0x01;

/** Uniform record slots: dims first, then scan steps (GpuKernel). */
export const UNIFORM_DIMS = 32;
export const UNIFORM_SCANS = 32;

/** One entry, as data a backend's runtime interprets: buffers, kernels and their order. */
export interface EntryPlan<K = JsKernel> {
  /** Every buffer the kernels index, by position (`b[i]`). */
  buffers: BufferPlan[];
  /** Shared storage for temporaries: each slot holds the largest of its members. */
  pools: { dtype: "f32" | "i32"; size: SizeExpr }[];
  /** Graph input k is buffer inBufs[k], filled from inSlots[k]. */
  inSlots: InSlot[];
  inBufs: number[];
  /** Graph output k is buffer outBufs[k], delivered to outSlots[k]. */
  outSlots: OutSlot[];
  outBufs: number[];
  /** Indices (into `ProgramPlan.dims`) of the dims the kernels and sizes read: all must be bound. */
  dims: number[];
  kernels: K[];
  schedule: Step[];
}

export interface TensorSpec {
  name: string;
  dtype: DTypeName;
  /** Sizes as numbers, or named dims / dim expressions as text (`"B"`, `"4 * H"`). */
  shape: (string | number)[];
}

/** A tensor whose size may depend on dims: inputs, and params sized by model-time dims. */
export interface SizedPlan extends TensorSpec {
  numel: SizeExpr;
  /** Each axis's size, for error messages and checkpoints. */
  sizes: SizeExpr[];
  /** Indices (into `dims`) of the dims this tensor's size depends on. */
  dims: number[];
  /** A param of `repeat`'s, its copies stacked on the leading axes: users see each copy (stacked.ts). */
  stack?: StackLevel[];
}

export interface InputPlan extends SizedPlan {
  /**
   * For an int input whose values are indices (a gather's, one_hot's): each
   * value must lie in [0, size(D)); the runtime checks before running.
   */
  indexes?: { size: SizeExpr; what: string }[];
}

export interface ProgramPlan<K = JsKernel> {
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
  entries: Partial<Record<EntryName, EntryPlan<K>>>;
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
  value: SizeExpr;
  min: number;
  max?: number;
  /** What `value` counts, when the message should show it ("bytes"). */
  unit?: string;
  message: string;
}
