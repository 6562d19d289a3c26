// An entry's schedule unrolled at one dims binding into the flat list of
// operations a call performs on the memory: kernel calls, scan steps
// written to T, carry swaps and copies. It depends on the dims only, so it
// is worked out once per binding. A scan's carries ping-pong through the
// buffer table: after each step the cur and next entries trade addresses
// (no copy); only init -> cur before the loop and final <- cur after it copy,
// from whatever addresses the table holds at that point.

import type { EntryPlan, Step, WasmKernel } from "../program.ts";
import { evalSize } from "../sizes.ts";
import { MAX_SCANS } from "./memory.ts";

export type WasmOp =
  | { op: "kernel"; kernel: number }
  | { op: "step"; scan: number; t: number }
  | { op: "swap"; a: number; b: number }
  /** Copy `bytes` from buffer src's current address to buffer dst's. */
  | { op: "copy"; dst: number; src: number; bytes: number };

export function unroll(plan: EntryPlan<WasmKernel>, D: readonly number[]): WasmOp[] {
  const ops: WasmOp[] = [];
  const items = plan.kernels.map((k) => evalSize(k.items, D));
  const bytes = (i: number) => 4 * evalSize(plan.buffers[i]!.size, D);
  const walk = (steps: readonly Step[]) => {
    for (const s of steps) {
      if ("kernel" in s) {
        // No items (a dim bound to 0): nothing to compute.
        if (items[s.kernel]! > 0) ops.push({ op: "kernel", kernel: s.kernel });
        continue;
      }
      if (s.scan >= MAX_SCANS)
        throw new Error(`WASM kernels read at most ${MAX_SCANS} scan steps (scan ${s.scan})`);
      const L = evalSize(s.length, D);
      for (const c of s.carries)
        ops.push({
          op: "copy",
          dst: c.cur,
          src: c.init,
          bytes: Math.min(bytes(c.init), bytes(c.cur)),
        });
      for (let t = 0; t < L; t++) {
        ops.push({ op: "step", scan: s.scan, t: s.reverse ? L - 1 - t : t });
        walk(s.body);
        for (const c of s.carries) ops.push({ op: "swap", a: c.cur, b: c.next });
      }
      for (const c of s.carries)
        if (c.final !== null)
          ops.push({
            op: "copy",
            dst: c.final,
            src: c.cur,
            bytes: Math.min(bytes(c.cur), bytes(c.final)),
          });
      // An odd count leaves cur and next swapped: swap back, so a rerun (an
      // outer scan's next step) finds them where the plan put them.
      if (L % 2 === 1) for (const c of s.carries) ops.push({ op: "swap", a: c.cur, b: c.next });
    }
  };
  walk(plan.schedule);
  return ops;
}
