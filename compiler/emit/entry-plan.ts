// One entry's plan as module text: its buffers, pools and schedule as data
// (sizes as SizeExprs), and its kernels as whatever the backend prints (JS
// functions, WGSL modules), listed in schedule order.

import type { Step } from "../../runtime/program.ts";
import type { Backend, KernelContext, KernelPrinter } from "../backend.ts";
import { dimVars, numElements, type Dim } from "../dims.ts";
import type { Kernel, KernelProgram, MemoryPlan } from "../kernel.ts";
import { jsData } from "../mangle.ts";
import { sizeExpr } from "../size-expr.ts";

export interface EntryText {
  /** Declarations: the entry's kernels (and a checkNumerics build's table of sources). */
  decls: string;
  /** A JS expression evaluating to the entry's EntryPlan (runtime/program.ts). */
  plan: string;
}

/** What a backend's kernel printer is told of kernel `path` of entry `p`. */
export function kernelContext(
  p: KernelProgram,
  dims: readonly string[],
  path: string,
  used = new Set<string>(),
  numericsTable: string | null = null,
): KernelContext {
  return { dims, path, used, buffers: p.buffers, sources: p.sources, numericsTable };
}

/**
 * The entry's kernels print with `shared`, the printer of a module holding
 * several entries, which its caller finishes; else with a fresh printer of
 * the backend's, finished here (a module of this one entry).
 */
export function entryText(
  backend: Backend,
  p: KernelProgram,
  mem: MemoryPlan,
  dims: readonly string[],
  prefix: string,
  slots: { inSlots: readonly object[]; outSlots: readonly object[] },
  /** A checkNumerics build: the entry's name and what to say of each of `p.sources` (plain data). */
  numerics: object | null = null,
  shared?: KernelPrinter,
): EntryText {
  const printer = shared ?? backend.printer();
  const used = new Set<string>();
  const size = (d: Dim) => {
    for (const v of dimVars(d)) used.add(v);
    return sizeExpr(d, dims);
  };
  const numericsTable = numerics === null ? null : `${prefix}_src`;
  const decls: string[] =
    numericsTable !== null ? [`const ${numericsTable} = ${jsData(numerics)};`] : [];
  const kernels: string[] = [];
  const ctx = (path: string) => kernelContext(p, dims, path, used, numericsTable);
  const schedule = (ks: readonly Kernel[], path: string): Step[] =>
    ks.map((k, n): Step => {
      const at = `${path}_${n}`;
      if (k.kind === "scan")
        return {
          scan: k.id,
          length: size(k.length),
          reverse: k.reverse,
          carries: k.carries,
          body: schedule(k.body, at),
        };
      const printed = printer.kernel(k, ctx(at));
      if (printed.decl) decls.push(printed.decl);
      kernels.push(printed.expr);
      return { kernel: kernels.length - 1 };
    });
  const steps = schedule(p.kernels, prefix);
  const buffers = p.buffers.map((b) =>
    jsData({ dtype: b.dtype, size: size(numElements(b.shape)), pool: mem.poolOf[b.id]! }),
  );
  const pools = mem.slots.map((s) => {
    const sizes = s.sizes.map(size);
    return jsData({ dtype: s.cls, size: sizes.length === 1 ? sizes[0]! : { max: sizes } });
  });
  const bySlot = (kind: "in" | "out") =>
    p.buffers
      .flatMap((b) => (b.role.kind === kind ? [{ id: b.id, slot: b.role.slot }] : []))
      .sort((a, b) => a.slot - b.slot)
      .map((b) => b.id);
  const plan = [
    "{",
    `  buffers: [${buffers.join(", ")}],`,
    `  pools: [${pools.join(", ")}],`,
    `  inSlots: ${jsData(slots.inSlots)},`,
    `  inBufs: ${JSON.stringify(bySlot("in"))},`,
    `  outSlots: ${jsData(slots.outSlots)},`,
    `  outBufs: ${JSON.stringify(bySlot("out"))},`,
    `  dims: ${JSON.stringify(dims.flatMap((d, i) => (used.has(d) ? [i] : [])))},`,
    `  kernels: [${kernels.join(", ")}],`,
    `  schedule: ${JSON.stringify(steps)},`,
    "}",
  ].join("\n");
  if (!shared) decls.push(printer.finish());
  return { decls: decls.filter((d) => d !== "").join("\n\n"), plan };
}
