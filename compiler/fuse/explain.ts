// What fusion decided and why, recorded as fuse.ts decides it, for
// `dlg dump --stage kernels --explain` (compiler/explain.ts prints it). The
// log only listens: lowering with or without one gives the same kernels.

import type { Eqn, Var } from "../ir.ts";
import type { BufId, Kernel } from "../kernel.ts";

/** One kernel as fusion built it: the equation it stores, and every equation inlined into it. */
export interface KernelNote {
  /** The equation whose value the kernel stores; null for a copy into an output or a slot. */
  root: Eqn | null;
  /** Equations computed inside the kernel rather than read from a buffer, in first-use order. */
  inlined: Eqn[];
}

export class FusionLog {
  /** Why each stored value got a buffer instead of being fused into its readers, by var id. */
  readonly stored = new Map<number, string>();
  /** Why a matmul's epilogue ends where it does (or that it absorbed nothing), by the matmul's var id. */
  readonly epilogue = new Map<number, string>();
  /** The value each buffer holds (a var id of -1: a window op's helper temporary). */
  readonly bufferVar = new Map<BufId, Var>();
  readonly notes = new Map<Kernel, KernelNote>();
  private pending: Eqn[] = [];

  /** `v` gets a buffer because `why`; the first reason given is the one that decided it. */
  store(v: Var, why: string): void {
    if (!this.stored.has(v.id)) this.stored.set(v.id, why);
  }

  buffer(id: BufId, v: Var): void {
    this.bufferVar.set(id, v);
  }

  /** Equation `e` was inlined into the kernel being built. */
  inlined(e: Eqn): void {
    if (!this.pending.includes(e)) this.pending.push(e);
  }

  /** A new kernel (or several: a window op's helpers, then it) starts being built. */
  begin(): void {
    this.pending = [];
  }

  /** The kernels built since `begin()` compute `root`. */
  built(root: Eqn | null, ks: readonly Kernel[]): void {
    const inlined = this.pending.filter((e) => e !== root);
    for (const k of ks) this.notes.set(k, { root, inlined });
    this.pending = [];
  }
}
