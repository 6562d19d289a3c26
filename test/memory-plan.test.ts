// The memory planner (compiler/memory.ts) keeps its free slots in heaps so a
// long program plans in O(n log n). Its rule is the plain one written out
// below, which scans every slot per temporary: on random kernel programs the
// two must give the same plan, slot for slot. How much dim arithmetic it does
// is counted, not timed (bench/compile-scaling.ts measures the time).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dimConst, dimEq, dimMul, dimVar, numElements, type Dim } from "../compiler/dims.ts";
import type { DType } from "../compiler/ir.ts";
import type {
  BufferDecl,
  Kernel,
  KernelProgram,
  MemoryPlan,
  PoolSlot,
  SExpr,
} from "../compiler/kernel.ts";
import { kernelInputs, kernelOutputs } from "../compiler/kernel-walk.ts";
import { arrayClass, planMemory } from "../compiler/memory.ts";

/** The rule by definition: the first free slot of the class holding this size, else the first free one. */
function referencePlan(p: KernelProgram): MemoryPlan {
  const lastUse = new Map<number, number>();
  p.kernels.forEach((k, t) => kernelInputs(k).forEach((b) => lastUse.set(b, t)));
  const poolOf = p.buffers.map(() => -1);
  const slots: PoolSlot[] = [];
  const busyUntil: number[] = [];
  p.kernels.forEach((k, t) =>
    kernelOutputs(k).forEach((out) => {
      const buf = p.buffers[out]!;
      if (buf.role.kind !== "temp") return;
      const cls = arrayClass(buf.dtype);
      const size = numElements(buf.shape);
      const free = slots.flatMap((s, i) => (s.cls === cls && busyUntil[i]! < t ? [i] : []));
      let slot = free.find((i) => slots[i]!.sizes.some((d) => dimEq(d, size))) ?? free[0];
      if (slot === undefined) {
        slot = slots.length;
        slots.push({ cls, members: [], sizes: [] });
        busyUntil.push(-1);
      }
      const s = slots[slot]!;
      s.members.push(out);
      if (!s.sizes.some((d) => dimEq(d, size))) s.sizes.push(size);
      busyUntil[slot] = lastUse.get(out) ?? t;
      poolOf[out] = slot;
    }),
  );
  return { poolOf, slots };
}

// Shapes whose sizes coincide in several ways: [8] and [2, 4]; [B, 8] and [8, B]; 2 * B.
const shapes: Dim[][] = [
  [dimConst(8)],
  [dimConst(2), dimConst(4)],
  [dimVar("B"), dimConst(8)],
  [dimConst(8), dimVar("B")],
  [dimMul(dimConst(2), dimVar("B"))],
  [dimVar("B")],
];

const bufferArb = fc.record({
  dtype: fc.constantFrom<DType>("f32", "i32", "bool"),
  shape: fc.nat(shapes.length - 1),
  role: fc.constantFrom("temp", "temp", "temp", "in", "out"),
});

/** Buffers, then map kernels each writing one buffer and reading a few (any, even later ones). */
const programArb = fc
  .array(bufferArb, { minLength: 1, maxLength: 40 })
  .chain((bufs) =>
    fc.tuple(
      fc.constant(bufs),
      fc.array(
        fc.record({
          out: fc.nat(bufs.length - 1),
          reads: fc.array(fc.nat(bufs.length - 1), { maxLength: 3 }),
        }),
        { maxLength: 60 },
      ),
    ),
  )
  .map(([bufs, ks]): KernelProgram => {
    const buffers: BufferDecl[] = bufs.map((b, id) => ({
      id,
      dtype: b.dtype,
      shape: shapes[b.shape]!,
      role: b.role === "temp" ? { kind: "temp" } : { kind: b.role, slot: id },
    }));
    const load = (buf: number): SExpr => ({
      k: "load",
      buf,
      index: { k: "lin" },
      dtype: buffers[buf]!.dtype,
    });
    const kernels: Kernel[] = ks.map(({ out, reads }) => ({
      kind: "map",
      out,
      shape: buffers[out]!.shape,
      body: reads.reduce<SExpr>(
        (acc, r) => ({ k: "binary", op: "add", a: acc, b: load(r), dtype: "f32" }),
        { k: "lit", v: 0, dtype: "f32" },
      ),
    }));
    return { buffers, kernels, sources: [] };
  });

describe("memory plan", () => {
  it("matches the slot-scanning rule on random programs", () => {
    fc.assert(
      fc.property(programArb, (p) => {
        expect(planMemory(p)).toEqual(referencePlan(p));
      }),
      { numRuns: 300 },
    );
  });

  it("gives activations kept for the backward pass a slot each, then reuses them", () => {
    // A training step's shape: n forward temporaries, each read by its
    // successor and again by its mirror image among n backward kernels,
    // whose own temporaries nobody reads. The forward ones need n slots; the
    // first backward one a slot more; every later one reuses what the last
    // reader just released.
    const n = 400;
    const f32 = (id: number): BufferDecl => ({
      id,
      dtype: "f32",
      shape: shapes[2]!,
      role: { kind: "temp" },
    });
    const buffers = Array.from({ length: 2 * n }, (_, id) => f32(id));
    const load = (buf: number): SExpr => ({ k: "load", buf, index: { k: "lin" }, dtype: "f32" });
    const kernels: Kernel[] = buffers.map((b) => ({
      kind: "map",
      out: b.id,
      shape: b.shape,
      // The forward half reads its predecessor; the backward half reads its mirror image.
      body: load(b.id < n ? Math.max(b.id - 1, 0) : 2 * n - 1 - b.id),
    }));
    const plan = planMemory({ buffers, kernels, sources: [] });
    expect(plan.slots.length).toBe(n + 1);
    expect(plan).toEqual(referencePlan({ buffers, kernels, sources: [] }));
  });

  it("does dim arithmetic in proportion to the temporaries, not to temporaries times free slots", () => {
    // Every read of the dim name `B` is dim arithmetic on these buffers' sizes.
    let reads = 0;
    const atom = {
      kind: "var" as const,
      get name() {
        reads++;
        return "B";
      },
    };
    const b: Dim = { terms: [{ coeff: 1, atoms: [atom] }] } as Dim;
    const twoB = dimMul(dimConst(2), b);
    // n temporaries of size B live at once, freed one by one by their mirror
    // kernels (which write outputs); then n of size 2 * B, live at once too,
    // each arriving while the B slots are free: a planner comparing sizes
    // slot by slot does about n^2 / 2 comparisons here.
    const program = (n: number): KernelProgram => {
      const buffers: BufferDecl[] = [];
      const kernels: Kernel[] = [];
      const load = (buf: number): SExpr => ({ k: "load", buf, index: { k: "lin" }, dtype: "f32" });
      const write = (shape: Dim[], role: BufferDecl["role"], body: SExpr) => {
        const id = buffers.length;
        buffers.push({ id, dtype: "f32", shape, role });
        kernels.push({ kind: "map", out: id, shape, body });
        return id;
      };
      for (const shape of [[b], [twoB]]) {
        const temps = Array.from({ length: n }, () =>
          write(shape, { kind: "temp" }, { k: "lit", v: 0, dtype: "f32" }),
        );
        temps.reverse().forEach((t, slot) => write(shape, { kind: "out", slot }, load(t)));
      }
      return { buffers, kernels, sources: [] };
    };
    const work = (n: number) => {
      const p = program(n);
      reads = 0;
      const plan = planMemory(p);
      expect(plan.slots.length).toBe(n);
      return reads;
    };
    const small = work(200);
    // Linear work quadruples; the slot-by-slot planner's grows about 16-fold.
    expect(work(800)).toBeLessThanOrEqual(5 * small);
  });
});
