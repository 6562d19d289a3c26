// Running one entry: bind buffers for a dims binding (pooled temporaries and
// output buffers are allocated once per binding and cached), fill the input
// slots, run the generated kernels, hand back the output buffers.

import type { Buffer, DTypeName, EntryPlan } from "./program.ts";

export function allocate(dtype: DTypeName | "f32" | "i32", n: number): Buffer {
  return dtype === "f32" ? new Float32Array(n) : new Int32Array(n);
}

interface Binding {
  /** Buffers by index; input slots (and persistent outputs) are overwritten per call. */
  b: Buffer[];
}

/** How many dims bindings (batch sizes) keep their buffers; a full epoch typically needs two. */
const MAX_BINDINGS = 4;

export class EntryRunner {
  private readonly bindings = new Map<string, Binding>();
  /** Output buffers that the caller supplies per call (params, state), so they are not allocated. */
  private readonly external: Set<number>;

  constructor(
    readonly plan: EntryPlan,
    externalOutputs: (slot: EntryPlan["outSlots"][number]) => boolean,
  ) {
    this.external = new Set(plan.outBufs.filter((_, k) => externalOutputs(plan.outSlots[k]!)));
  }

  private bind(D: readonly number[]): Binding {
    const key = D.join(",");
    const hit = this.bindings.get(key);
    if (hit) return hit;
    const pools = this.plan.pools.map((p) => allocate(p.dtype, p.size(D)));
    const inputs = new Set(this.plan.inBufs);
    const b = this.plan.buffers.map((buf, i) => {
      const n = buf.size(D);
      if (buf.pool >= 0) return pools[buf.pool]!.subarray(0, n);
      // Inputs and caller-supplied outputs are filled in per call.
      if (inputs.has(i) || this.external.has(i)) return allocate(buf.dtype, 0);
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
    this.plan.run(b, D);
    return this.plan.outBufs.map((i) => b[i]!);
  }
}
