// An entry's schedule at one dims binding as a flat program the executor
// steps through with a program counter: kernel calls, and each scan as a
// `begin` and a `next` around its body, `next` jumping back to the body
// while steps remain. The program's size is the schedule's, not the scan
// lengths' (a 10 000-step scan is still one body). Sizes and lengths depend
// on the dims only, so it is worked out once per binding.
//
// A scan's carries ping-pong through the buffer table: after each step the
// cur and next entries trade addresses (no copy); only init -> cur before
// the loop and final <- cur after it copy, from whatever addresses the table
// holds at that point.

import type { EntryPlan, Step, WasmKernel } from "../program.ts";
import { evalSize } from "../sizes.ts";
import { MAX_SCANS, type WasmMemory } from "./memory.ts";

/** A scan carry with the bytes its two copies move at this binding. */
export interface Carry {
  init: number;
  cur: number;
  next: number;
  final: number | null;
  /** init -> cur, and cur -> final (0 when final is null). */
  inBytes: number;
  outBytes: number;
}

/** `end`: the index of this scan's `next` op. */
type Begin = {
  op: "begin";
  scan: number;
  length: number;
  reverse: boolean;
  carries: Carry[];
  end: number;
};

export type WasmOp =
  | { op: "kernel"; kernel: number }
  | Begin
  /** `begin`: the index of this scan's `begin` op. */
  | { op: "next"; begin: number };

export function compileSchedule(plan: EntryPlan<WasmKernel>, D: readonly number[]): WasmOp[] {
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
      const carries = s.carries.map((c) => ({
        ...c,
        inBytes: Math.min(bytes(c.init), bytes(c.cur)),
        outBytes: c.final === null ? 0 : Math.min(bytes(c.cur), bytes(c.final)),
      }));
      const at = ops.length;
      const begin = { op: "begin" as const, scan: s.scan, length: evalSize(s.length, D) };
      ops.push({ ...begin, reverse: s.reverse, carries, end: -1 });
      walk(s.body);
      (ops[at] as { end: number }).end = ops.length;
      ops.push({ op: "next", begin: at });
    }
  };
  walk(plan.schedule);
  return ops;
}

/**
 * Performs the control op at `pc` (a scan's begin or next) on `mem`;
 * returns the index of the op to run next. `steps[pc]` counts a running
 * scan's completed steps.
 */
export function control(
  ops: readonly WasmOp[],
  pc: number,
  steps: number[],
  mem: WasmMemory,
): number {
  const op = ops[pc]!;
  if (op.op === "kernel") throw new Error("internal: control() on a kernel");
  const s = op.op === "begin" ? op : (ops[op.begin] as Begin);
  const at = op.op === "begin" ? pc : op.begin;
  if (op.op === "begin") {
    for (const c of s.carries) mem.copy(mem.address(c.cur), mem.address(c.init), c.inBytes);
    steps[at] = 0;
    if (s.length > 0) {
      setStep(s, 0, mem);
      return pc + 1;
    }
  } else {
    swapCarries(s, mem);
    const done = ++steps[at]!;
    if (done < s.length) {
      setStep(s, done, mem);
      return at + 1;
    }
  }
  for (const c of s.carries)
    if (c.final !== null) mem.copy(mem.address(c.final), mem.address(c.cur), c.outBytes);
  // An odd count leaves cur and next swapped: swap back, so a rerun (an
  // outer scan's next step) finds them where the plan put them.
  if (s.length % 2 === 1) swapCarries(s, mem);
  return s.end + 1;
}

// Module functions, not closures: they run at every scan step.

/** Scan s's step i in the header (counted from the end for a reverse scan). */
function setStep(s: Begin, i: number, mem: WasmMemory): void {
  mem.setStep(s.scan, s.reverse ? s.length - 1 - i : i);
}

function swapCarries(s: Begin, mem: WasmMemory): void {
  for (const c of s.carries) mem.swap(c.cur, c.next);
}
