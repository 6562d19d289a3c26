// The memory plan: which temporaries of one entry share storage. Kernels run
// in a fixed order, so a temporary is live from the kernel that writes it to
// the last kernel that reads it; temporaries whose live ranges do not overlap
// share a pool slot. Sizes are symbolic (they may depend on the batch `B`), so
// a slot's size is the max of its members' sizes, evaluated once per dims
// binding by the runtime. Inputs and outputs are never pooled: inputs belong
// to the caller, outputs are handed to it.

import { dimKey, numElements } from "./dims.ts";
import type { ArrayClass, BufId, KernelProgram, MemoryPlan, PoolSlot } from "./kernel.ts";
import { kernelInputs, kernelOutputs } from "./kernel-walk.ts";

export function arrayClass(dtype: string): ArrayClass {
  return dtype === "f32" ? "f32" : "i32";
}

/** A min-heap of slot indices: the lowest free slot is what the plan always takes. */
class MinHeap {
  private readonly xs: number[] = [];

  push(x: number): void {
    const xs = this.xs;
    let i = xs.push(x) - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (xs[up]! <= x) break;
      xs[i] = xs[up]!;
      i = up;
    }
    xs[i] = x;
  }

  /** The least element satisfying `ok`, dropping lesser ones that fail it (stale entries). */
  least(ok: (x: number) => boolean = () => true): number | undefined {
    while (this.xs.length > 0 && !ok(this.xs[0]!)) this.pop();
    return this.xs[0];
  }

  pop(): number | undefined {
    const xs = this.xs;
    const top = xs[0];
    const last = xs.pop()!;
    if (xs.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= xs.length) break;
      const c = l + 1 < xs.length && xs[l + 1]! < xs[l]! ? l + 1 : l;
      if (xs[c]! >= last) break;
      xs[i] = xs[c]!;
      i = c;
    }
    xs[i] = last;
    return top;
  }
}

/**
 * Each temporary takes the lowest-numbered free slot of its array class that
 * already holds its size, else the lowest free one of its class, else a new
 * slot. Free slots sit in min-heaps (one per class, one per class and size)
 * and busy ones in a heap by the kernel that frees them, so a program of n
 * kernels plans in O(n log n) instead of scanning every slot per temporary
 * (which was quadratic: a training step keeps every activation live).
 */
export function planMemory(p: KernelProgram): MemoryPlan {
  const lastUse = new Map<BufId, number>();
  p.kernels.forEach((k, t) => {
    for (const b of kernelInputs(k)) lastUse.set(b, t);
  });
  const poolOf = p.buffers.map(() => -1);
  const slots: PoolSlot[] = [];
  /** Per slot: the dimKey of each of its sizes; whether it is free now. */
  const keysOf: Set<string>[] = [];
  const free: boolean[] = [];
  const freeByClass = new Map<string, MinHeap>();
  const freeBySize = new Map<string, MinHeap>();
  const heapOf = (m: Map<string, MinHeap>, k: string) => {
    let h = m.get(k);
    if (!h) m.set(k, (h = new MinHeap()));
    return h;
  };
  const sizeKey = (cls: ArrayClass, key: string) => `${cls}|${key}`;
  const release = (slot: number) => {
    free[slot] = true;
    const cls = slots[slot]!.cls;
    heapOf(freeByClass, cls).push(slot);
    for (const key of keysOf[slot]!) heapOf(freeBySize, sizeKey(cls, key)).push(slot);
  };
  const isFree = (slot: number) => free[slot]!;
  // Busy slots by the last kernel that reads their current member: kernels
  // run in order, so they free up in the order of those kernels.
  const byUntil = new MinHeap();
  const untilOf = new Map<number, number[]>();
  p.kernels.forEach((k, t) => {
    // A slot is free once its current member's last reader ran before this kernel.
    while ((byUntil.least() ?? t) < t) {
      const u = byUntil.pop()!;
      for (const slot of untilOf.get(u)!) release(slot);
      untilOf.delete(u);
    }
    // A scan writes several buffers; its body's own temporaries are not pooled here.
    kernelOutputs(k).forEach((out) => place(out, t));
  });
  function place(out: BufId, t: number): void {
    const buf = p.buffers[out]!;
    if (buf.role.kind !== "temp") return;
    const cls = arrayClass(buf.dtype);
    const size = numElements(buf.shape);
    const key = dimKey(size);
    let slot =
      freeBySize.get(sizeKey(cls, key))?.least(isFree) ?? freeByClass.get(cls)?.least(isFree);
    if (slot === undefined) {
      slot = slots.length;
      slots.push({ cls, members: [], sizes: [] });
      keysOf.push(new Set());
    }
    free[slot] = false;
    poolOf[out] = slot;
    const s = slots[slot]!;
    s.members.push(out);
    if (!keysOf[slot]!.has(key)) {
      keysOf[slot]!.add(key);
      s.sizes.push(size);
    }
    // A temporary nobody reads still needs its slot during its own kernel; a
    // kernel never writes storage it also reads.
    const until = lastUse.get(out) ?? t;
    if (until < t) release(slot);
    else {
      const list = untilOf.get(until);
      if (list) list.push(slot);
      else {
        untilOf.set(until, [slot]);
        byUntil.push(until);
      }
    }
  }
  return { poolOf, slots };
}
