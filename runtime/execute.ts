// Running one entry on the JS backend: bind buffers for a dims binding
// (pooled temporaries and output buffers are allocated once per binding and
// cached), fill the input slots, walk the schedule calling the generated
// kernels, hand back the output buffers.

import type { Buffer, DTypeName, EntryPlan, Step } from "./program.ts";
import { evalSize } from "./sizes.ts";

export function allocate(dtype: DTypeName | "f32" | "i32", n: number): Buffer {
  return dtype === "f32" ? new Float32Array(n) : new Int32Array(n);
}

/** The placeholder of a slot the caller fills per call (shared: nothing writes a length-0 array). */
const unbound = { f32: new Float32Array(0), i32: new Int32Array(0) };
const placeholder = (dtype: DTypeName): Buffer => (dtype === "f32" ? unbound.f32 : unbound.i32);

interface Binding {
  /** Buffers by index; input slots (and persistent outputs) are overwritten per call. */
  b: Buffer[];
}

/** How many dims bindings (batch sizes) keep their buffers; a full epoch typically needs two. */
const MAX_BINDINGS = 4;

/** Walk `steps`: kernels run in order; a scan runs its body once per step, swapping its carries. */
function runSteps(
  plan: EntryPlan,
  steps: readonly Step[],
  b: Buffer[],
  D: readonly number[],
  T: Int32Array,
): void {
  for (const s of steps) {
    if ("kernel" in s) {
      plan.kernels[s.kernel]!(b, D, T);
      continue;
    }
    const L = evalSize(s.length, D);
    for (const c of s.carries) b[c.cur]!.set(b[c.init]!);
    // cur and next trade places after each step (no copy); an odd count leaves
    // them swapped, so they are swapped back to where the plan put them.
    const swap = () => {
      for (const c of s.carries) {
        const t = b[c.cur]!;
        b[c.cur] = b[c.next]!;
        b[c.next] = t;
      }
    };
    for (let i = 0; i < L; i++) {
      T[s.scan] = s.reverse ? L - 1 - i : i;
      runSteps(plan, s.body, b, D, T);
      swap();
    }
    for (const c of s.carries) if (c.final !== null) b[c.final]!.set(b[c.cur]!);
    if (L % 2 === 1) swap();
  }
}

/** The number of scans a schedule names (the size of its T array). */
function scanCount(steps: readonly Step[]): number {
  let n = 0;
  for (const s of steps) if ("scan" in s) n = Math.max(n, s.scan + 1, scanCount(s.body));
  return n;
}

export class EntryRunner {
  private readonly bindings = new Map<string, Binding>();
  /** Output buffers that the caller supplies per call (params, state), so they are not allocated. */
  private readonly external: Set<number>;
  private readonly T: Int32Array;

  constructor(
    readonly plan: EntryPlan,
    externalOutputs: (slot: EntryPlan["outSlots"][number]) => boolean,
  ) {
    this.external = new Set(plan.outBufs.filter((_, k) => externalOutputs(plan.outSlots[k]!)));
    this.T = new Int32Array(scanCount(plan.schedule));
  }

  private bind(D: readonly number[]): Binding {
    const key = D.join(",");
    const hit = this.bindings.get(key);
    if (hit) return hit;
    const pools = this.plan.pools.map((p) => allocate(p.dtype, evalSize(p.size, D)));
    const inputs = new Set(this.plan.inBufs);
    const b = this.plan.buffers.map((buf, i) => {
      const n = evalSize(buf.size, D);
      if (buf.pool >= 0) return pools[buf.pool]!.subarray(0, n);
      // Inputs and caller-supplied outputs are filled in per call.
      if (inputs.has(i) || this.external.has(i)) return placeholder(buf.dtype);
      return allocate(buf.dtype, n);
    });
    if (this.bindings.size >= MAX_BINDINGS)
      this.bindings.delete(this.bindings.keys().next().value!);
    const binding = { b };
    this.bindings.set(key, binding);
    return binding;
  }

  /**
   * Run with `inputs[k]` for graph input k and `outputs` for caller-supplied
   * output buffers (by graph output index); returns every output buffer by
   * graph output index. Returned buffers are reused by the next call with the
   * same dims: copy what must outlive it.
   */
  run(
    D: readonly number[],
    inputs: readonly Buffer[],
    outputs: ReadonlyMap<number, Buffer>,
  ): Buffer[] {
    const { b } = this.bind(D);
    this.plan.inBufs.forEach((i, k) => (b[i] = inputs[k]!));
    for (const [k, buf] of outputs) b[this.plan.outBufs[k]!] = buf;
    runSteps(this.plan, this.plan.schedule, b, D, this.T);
    const results = this.plan.outBufs.map((i) => b[i]!);
    // The cached binding must not keep the caller's arrays (a large batch) alive.
    const empty = (i: number) => (b[i] = placeholder(this.plan.buffers[i]!.dtype));
    this.plan.inBufs.forEach(empty);
    for (const k of outputs.keys()) empty(this.plan.outBufs[k]!);
    return results;
  }
}
