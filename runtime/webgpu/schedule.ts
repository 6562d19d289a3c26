// An entry's schedule unrolled at one dims binding into the flat list of GPU
// commands a call encodes: dispatches (with the uniform record that holds
// their scan iterations) and copies. Everything here depends on the dims
// only, so it is worked out once per binding, not per call.
//
// Scan carries ping-pong instead of copying: after step t the body's `next`
// buffer holds the carry, so step t + 1 binds it where the body reads `cur`
// and writes into the old `cur` where the body writes `next`. A dispatch
// therefore names a *view*: which physical plan buffer each plan buffer
// index stands for at that step. Only `init -> cur` before the loop and
// `final <- cur` after it copy, so a scan's steps stay in one compute pass.

import { UNIFORM_SCANS, type EntryPlan, type GpuKernel, type Step } from "../program.ts";
import { evalSize } from "../sizes.ts";
import { RecordTable } from "./uniforms.ts";

export type GpuOp =
  /** `view` indexes `Unrolled.views`: the plan buffer each binding's buffer index means. */
  | { op: "dispatch"; kernel: number; record: number; view: number; grid: [number, number, number] }
  /** Copy `bytes` from plan buffer `src` to plan buffer `dst`. */
  | { op: "copy"; src: number; dst: number; bytes: number };

export interface Unrolled {
  ops: GpuOp[];
  /** views[v][i]: the plan buffer that plan buffer i is under view v (view 0: itself). */
  views: number[][];
}

export function unroll(
  plan: EntryPlan<GpuKernel>,
  D: readonly number[],
  records: RecordTable,
): Unrolled {
  const ops: GpuOp[] = [];
  const T = new Array<number>(UNIFORM_SCANS).fill(0);
  const grids = plan.kernels.map(
    (k) => k.grid.map((g) => evalSize(g, D)) as [number, number, number],
  );
  const bytes = (i: number) => 4 * evalSize(plan.buffers[i]!.size, D);
  /** Plan buffers sharing a pool slot share one GPU buffer. */
  const storage = (i: number) => {
    const pool = plan.buffers[i]!.pool;
    return pool >= 0 ? `pool ${pool}` : `buffer ${i}`;
  };
  /** The current view: alias[i] is the plan buffer standing for i. */
  const alias = plan.buffers.map((_, i) => i);
  const views: number[][] = [alias.slice()];
  const viewIds = new Map<string, number>([[alias.join(","), 0]]);
  const currentView = () => {
    const key = alias.join(",");
    let v = viewIds.get(key);
    if (v === undefined) {
      v = views.push(alias.slice()) - 1;
      viewIds.set(key, v);
    }
    return v;
  };
  const copy = (from: number, to: number) => {
    const src = alias[from]!;
    const dst = alias[to]!;
    const n = Math.min(bytes(src), bytes(dst));
    if (n > 0 && storage(src) !== storage(dst)) ops.push({ op: "copy", src, dst, bytes: n });
  };
  const walk = (steps: readonly Step[]) => {
    for (const s of steps) {
      if ("kernel" in s) {
        const grid = grids[s.kernel]!;
        // An empty grid (a dim bound to 0) has nothing to compute.
        if (grid.every((g) => g > 0))
          ops.push({
            op: "dispatch",
            kernel: s.kernel,
            record: records.of(T),
            view: currentView(),
            grid,
          });
        continue;
      }
      if (s.scan >= UNIFORM_SCANS)
        throw new Error(
          `WebGPU kernels read at most ${UNIFORM_SCANS} scan iterations (scan ${s.scan})`,
        );
      const L = evalSize(s.length, D);
      const before = s.carries.map((c) => [alias[c.cur]!, alias[c.next]!] as const);
      for (const c of s.carries) copy(c.init, c.cur);
      for (let t = 0; t < L; t++) {
        T[s.scan] = s.reverse ? L - 1 - t : t;
        walk(s.body);
        // next becomes cur by exchanging the two buffers' roles.
        for (const c of s.carries) [alias[c.cur], alias[c.next]] = [alias[c.next]!, alias[c.cur]!];
      }
      T[s.scan] = 0;
      for (const c of s.carries) if (c.final !== null) copy(c.cur, c.final);
      // The scan is over: only `final` is read after it, and a rerun (an outer scan's next step)
      // starts from init -> cur again, so the views go back to what they were.
      s.carries.forEach((c, j) => ([alias[c.cur], alias[c.next]] = before[j]!));
    }
  };
  walk(plan.schedule);
  return { ops, views };
}
