// The seam between the compiler's back half and a target. Every phase up to
// lowering is target-blind; a backend says how to lower (its cost model,
// limits and scatter strategy, as LowerOptions), how to print the kernels of
// the kernel IR (JS functions, WGSL modules, one WASM module), and which
// runtime its modules link. emit.ts writes everything else (buffers, pools,
// the schedule, the model's description) once, as plan data every runtime
// interprets alike.

import type { KernelSource, Kernel, ScanKernel, BufferDecl } from "./kernel.ts";
import type { LowerOptions } from "./fuse.ts";

export type Target = "js" | "webgpu" | "wasm";

/** What a backend's kernel printer is told about the kernel's surroundings. */
export interface KernelContext {
  /** The program's run-time dims, in plan order (a kernel reads dim i as the runtime's D[i]). */
  dims: readonly string[];
  /** A unique path (`e2_5`, `e2_5_0` inside a scan): the kernel's name starts with it. */
  path: string;
  /** Collects the run-time dims the kernel reads, so the runtime knows which must be bound. */
  used: Set<string>;
  /** The entry's buffers (dtypes, shapes), by id. */
  buffers: readonly BufferDecl[];
  sources: readonly KernelSource[];
  /** A checkNumerics build: the name of the entry's table of sources (JS only). */
  numericsTable: string | null;
}

/** One printed kernel: declarations to put in the module, and the expression the plan lists. */
export interface PrintedKernel {
  decl: string;
  expr: string;
}

/**
 * Prints the kernels of one module: kernel() for each, entry by entry in
 * schedule order, then finish() once, for what needs every kernel (WASM's
 * one binary holds them all).
 */
export interface KernelPrinter {
  kernel(k: Exclude<Kernel, ScanKernel>, ctx: KernelContext): PrintedKernel;
  /** Declarations to put after every kernel's and before the plan, or "". */
  finish(): string;
}

/**
 * What one entry of a module for a target may hold: its runtime keeps the
 * run-time dims and the scans' steps in fixed slots (WebGPU's uniform
 * record, WASM's header page) and WASM the buffers' addresses in a table in
 * that page. compile.ts refuses a model past them with E4012.
 */
export interface TargetLimits {
  dims: number;
  scans: number;
  buffers: number;
}

/** A model past its target's TargetLimits (compile.ts reports it as E4012). */
export class TargetLimitError extends Error {}

export interface Backend {
  readonly target: Target;
  /** How fusion lowers for this target. */
  readonly lower: Required<LowerOptions>;
  readonly limits: TargetLimits;
  /** Whether `checkNumerics` builds exist for this target. */
  readonly numerics: boolean;
  /** A fresh printer for one module's kernels. */
  printer(): KernelPrinter;
  /** The kernel as `dlg dump --stage kernels` shows it after the IR line (its code), or "". */
  show(k: Exclude<Kernel, ScanKernel>, ctx: KernelContext): string;
  /**
   * The bundled runtime (a script defining `const __dlg = {...}`), built once
   * from runtime/ by scripts/build-runtime.ts, and the names the module body
   * takes from it.
   */
  runtime: { code: string; imports: readonly string[] };
  /** The module's exports after `plan` and `spec`. */
  exports: string;
}

/** A printer for a backend whose kernels stand alone (each prints to its own declarations). */
export function eachKernel(kernel: KernelPrinter["kernel"]): () => KernelPrinter {
  return () => ({ kernel, finish: () => "" });
}
