// Kernel IR -> WebAssembly: each kernel one function `(lo, hi, scratch)`
// over its work items (the WASM target contract), in the model's one module
// (codegen-wasm/module.ts assembles it). The kernel shapes live in
// codegen-wasm/: map.ts (rows or chunks, the inner axis as f32x4),
// reduce.ts (lane accumulators along the reduced or the output axis),
// matmul.ts (packed, register-blocked), scatter.ts (serial, one item);
// scalar.ts prints the expressions, mathlib.ts the transcendental functions.
// A scan is a schedule step; its body kernels print as ordinary kernels.

import type { KernelContext } from "./backend.ts";
import { dimAdd } from "./dims.ts";
import { kernelName, type Kernel, type ScanKernel } from "./kernel.ts";
import { kernelWork } from "./kernel-walk.ts";
import { sizeOf } from "./codegen-wasm/function.ts";
import type { SizeExpr } from "../runtime/program.ts";
import type { WasmFunction } from "./codegen-wasm/instr.ts";
import { mapToWasm } from "./codegen-wasm/map.ts";
import { matmulToWasm } from "./codegen-wasm/matmul.ts";
import { reduceToWasm } from "./codegen-wasm/reduce.ts";
import { scatterToWasm } from "./codegen-wasm/scatter.ts";

/** One printed kernel: its function and how the runtime splits it. */
export interface WasmKernelCode {
  fn: WasmFunction;
  /** Work items: the function computes [lo, hi) of them; any split gives the same bits. */
  items: SizeExpr;
  /** Bytes of scratch each thread needs (0: none). */
  scratch: number;
  /** About how many scalar operations the whole kernel does (the threading threshold). */
  work: SizeExpr;
}

type Leaf = Exclude<Kernel, ScanKernel>;
/** A kernel's function, items and scratch, as its shape's printer makes them. */
export type PrintedCode = Omit<WasmKernelCode, "work">;
type Printers = {
  [K in Leaf["kind"]]: (
    k: Extract<Leaf, { kind: K }>,
    ctx: KernelContext,
    name: string,
  ) => PrintedCode;
};

const printers: Printers = {
  map: mapToWasm,
  reduce: reduceToWasm,
  matmul: matmulToWasm,
  scatter: scatterToWasm,
};

/**
 * One kernel (not a scan) as a function of the model's module; its work is
 * its arithmetic plus the elements it stores (kernel-walk.ts's kernelWork,
 * what `dump --explain` reports too).
 */
export function kernelToWasm(k: Leaf, ctx: KernelContext): WasmKernelCode {
  const name = kernelName(ctx.path, k, ctx.sources);
  const code = (printers[k.kind] as (k: Leaf, ctx: KernelContext, name: string) => PrintedCode)(
    k,
    ctx,
    name,
  );
  const { flops, written } = kernelWork(k);
  return { ...code, work: sizeOf(dimAdd(flops, written), ctx) };
}
