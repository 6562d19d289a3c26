// The memory plan: which temporaries of one entry share storage. Kernels run
// in a fixed order, so a temporary is live from the kernel that writes it to
// the last kernel that reads it; temporaries whose live ranges do not overlap
// share a pool slot. Sizes are symbolic (they may depend on the batch `B`), so
// a slot's size is the max of its members' sizes, evaluated once per dims
// binding by the runtime. Inputs and outputs are never pooled: inputs belong
// to the caller, outputs are handed to it.

import { dimEq, numElements } from "./dims.ts";
import {
  kernelInputs,
  kernelOutputs,
  type ArrayClass,
  type BufId,
  type KernelProgram,
  type MemoryPlan,
  type PoolSlot,
} from "./kernel.ts";

export function arrayClass(dtype: string): ArrayClass {
  return dtype === "f32" ? "f32" : "i32";
}

export function planMemory(p: KernelProgram): MemoryPlan {
  const lastUse = new Map<BufId, number>();
  p.kernels.forEach((k, t) => {
    for (const b of kernelInputs(k)) lastUse.set(b, t);
  });
  const poolOf = p.buffers.map(() => -1);
  const slots: PoolSlot[] = [];
  const busyUntil: number[] = [];
  // A scan writes several buffers; its body's own temporaries are not pooled here.
  p.kernels.forEach((k, t) => kernelOutputs(k).forEach((out) => place(out, t)));
  function place(out: BufId, t: number): void {
    const buf = p.buffers[out]!;
    if (buf.role.kind !== "temp") return;
    const cls = arrayClass(buf.dtype);
    const size = numElements(buf.shape);
    // A slot is free once its current member's last reader ran before this
    // kernel; a kernel never writes storage it also reads.
    const free = slots.map((s, i) => i).filter((i) => slots[i]!.cls === cls && busyUntil[i]! < t);
    const same = free.find((i) => slots[i]!.sizes.some((d) => dimEq(d, size)));
    let slot = same ?? free[0];
    if (slot === undefined) {
      slot = slots.length;
      slots.push({ cls, members: [], sizes: [] });
      busyUntil.push(-1);
    }
    const s = slots[slot]!;
    s.members.push(out);
    if (!s.sizes.some((d) => dimEq(d, size))) s.sizes.push(size);
    // A temporary nobody reads still needs its slot during its own kernel.
    busyUntil[slot] = lastUse.get(out) ?? t;
    poolOf[out] = slot;
  }
  return { poolOf, slots };
}
