// An entry's schedule unrolled at one dims binding into the flat list of GPU
// commands a call encodes: dispatches (with the uniform record that holds
// their scan iterations) and carry copies. Everything here depends on the
// dims only, so it is worked out once per binding, not per call.

import { evalSize } from "../sizes.ts";
import { UNIFORM_SCANS, type EntryPlan, type GpuKernel, type Step } from "../program.ts";
import { RecordTable } from "./uniforms.ts";

export type GpuOp =
  | { op: "dispatch"; kernel: number; record: number; grid: [number, number, number] }
  /** Copy `bytes` from plan buffer `src` to plan buffer `dst` (scan carries). */
  | { op: "copy"; src: number; dst: number; bytes: number };

export function unroll(
  plan: EntryPlan<GpuKernel>,
  D: readonly number[],
  records: RecordTable,
): GpuOp[] {
  const ops: GpuOp[] = [];
  const T = new Array<number>(UNIFORM_SCANS).fill(0);
  const grids = plan.kernels.map(
    (k) => k.grid.map((g) => evalSize(g, D)) as [number, number, number],
  );
  const bytes = (i: number) => 4 * evalSize(plan.buffers[i]!.size, D);
  const copy = (src: number, dst: number) => {
    const n = Math.min(bytes(src), bytes(dst));
    if (n > 0 && src !== dst) ops.push({ op: "copy", src, dst, bytes: n });
  };
  const walk = (steps: readonly Step[]) => {
    for (const s of steps) {
      if ("kernel" in s) {
        const grid = grids[s.kernel]!;
        // An empty grid (a dim bound to 0) has nothing to compute.
        if (grid.every((g) => g > 0))
          ops.push({ op: "dispatch", kernel: s.kernel, record: records.of(T), grid });
        continue;
      }
      if (s.scan >= UNIFORM_SCANS)
        throw new Error(
          `WebGPU kernels read at most ${UNIFORM_SCANS} scan iterations (scan ${s.scan})`,
        );
      const L = evalSize(s.length, D);
      for (const c of s.carries) copy(c.init, c.cur);
      for (let t = 0; t < L; t++) {
        T[s.scan] = s.reverse ? L - 1 - t : t;
        walk(s.body);
        for (const c of s.carries) copy(c.next, c.cur);
      }
      T[s.scan] = 0;
      for (const c of s.carries) if (c.final !== null) copy(c.cur, c.final);
    }
  };
  walk(plan.schedule);
  return ops;
}
