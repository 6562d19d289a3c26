// The JS backend's Executor: params and optimizer state in typed arrays, the
// generated kernels run synchronously through execute.ts's EntryRunner.
// Params and state are double-buffered: an entry that updates them writes
// the back buffers while still reading the front ones, so no kernel ever
// reads storage it is overwriting. State buffers then swap; parameter fronts
// stay the same arrays for the executor's lifetime (the synchronous model
// hands them out as live `params`), so the update is copied into them.

import { EntryRunner } from "./execute.ts";
import type { Executor } from "./executor.ts";
import type { Buffer, EntryName, EntryPlan, OutSlot, ProgramPlan } from "./program.ts";
import { evalSize } from "./sizes.ts";

/**
 * A pair of buffers per tensor: `front` is current, `back` is written by the
 * next update. `fixedFront` keeps the front arrays the same objects (they are
 * handed out), copying the update in rather than swapping.
 */
class DoubleBuffered {
  front: Float32Array[];
  back: Float32Array[];
  constructor(
    sizes: readonly number[],
    private readonly fixedFront: boolean,
  ) {
    this.front = sizes.map((n) => new Float32Array(n));
    this.back = sizes.map((n) => new Float32Array(n));
  }
  /** The back buffer `i` holds the new value: make it current. */
  commit(i: number): void {
    if (this.fixedFront) {
      this.front[i]!.set(this.back[i]!);
      return;
    }
    const t = this.front[i]!;
    this.front[i] = this.back[i]!;
    this.back[i] = t;
  }
}

const persistent = (s: OutSlot) => s.kind === "param" || s.kind === "state";

export class JsExecutor implements Executor {
  private readonly params: DoubleBuffered;
  private readonly state: DoubleBuffered;
  private readonly runners = new Map<EntryName, EntryRunner>();

  /** `D`: the model's dims (NaN where not fixed), which size the params and state. */
  constructor(plan: ProgramPlan, D: readonly number[]) {
    this.params = new DoubleBuffered(
      plan.params.map((t) => evalSize(t.numel, D)),
      true,
    );
    this.state = new DoubleBuffered(
      plan.state.map((t) => evalSize(t.numel, D)),
      false,
    );
    for (const [name, entry] of Object.entries(plan.entries) as [EntryName, EntryPlan][])
      if (entry) this.runners.set(name, new EntryRunner(entry, persistent));
  }

  /** The arrays the kernels read the params from: the same objects for the executor's lifetime. */
  get liveParams(): readonly Float32Array[] {
    return this.params.front;
  }

  run(name: EntryName, D: readonly number[], host: ReadonlyMap<number, Buffer>) {
    const r = this.runners.get(name);
    if (!r) throw new Error(`internal: the plan has no ${name} entry`);
    const e = r.plan;
    const inputs = e.inSlots.map((s, k): Buffer => {
      if (s.kind === "param") return this.params.front[s.index]!;
      if (s.kind === "state") return this.state.front[s.index]!;
      return host.get(k)!;
    });
    const outs = new Map<number, Buffer>();
    e.outSlots.forEach((s, k) => {
      if (s.kind === "param") outs.set(k, this.params.back[s.index]!);
      if (s.kind === "state") outs.set(k, this.state.back[s.index]!);
    });
    // A run that throws (a checkNumerics build) commits nothing: the fronts are untouched.
    const results = r.run(D, inputs, outs);
    const out = new Map<number, Buffer>();
    e.outSlots.forEach((s, k) => {
      if (s.kind === "param") this.params.commit(s.index);
      else if (s.kind === "state") this.state.commit(s.index);
      else out.set(k, results[k]!);
    });
    return out;
  }

  read() {
    return {
      params: this.params.front.map((a) => a.slice()),
      state: this.state.front.map((a) => a.slice()),
    };
  }

  write(params: readonly Float32Array[], state: readonly Float32Array[]): void {
    params.forEach((p, i) => this.params.front[i]!.set(p));
    state.forEach((s, i) => this.state.front[i]!.set(s));
  }

  dispose(): void {
    this.runners.clear();
  }
}
