// Splitting kernels that bind more buffers than a device allows. WebGPU's
// default limit is 8 storage buffers per shader stage, and fusion happily
// builds a kernel reading more (a concat of many parts, an optimizer update
// reading a dozen tensors): such a kernel computes part of its expression
// into a temporary first. The part is a subtree of the kernel's scalar
// expression over the kernel's own iteration domain (for a reduction, the
// output's loops and the reduced ones together), so the temporary has that
// domain's shape and the kernel reads it back at the same point.

import type { DType } from "../ir.ts";
import type { Dim } from "../dims.ts";
import {
  iloop,
  linearize,
  type BufId,
  type BufferDecl,
  type IExpr,
  type Kernel,
  type KernelProgram,
  type SExpr,
} from "../kernel.ts";
import { exprBuffers, kernelInputs, mapSExpr, sexprChildren, sexprCost } from "../kernel-walk.ts";

/** The buffers a kernel binds: what it reads and what it writes. */
export function boundBuffers(k: Kernel): BufId[] {
  const out = kernelInputs(k);
  if (k.kind !== "scan" && !out.includes(k.out)) out.push(k.out);
  return out;
}

/** Whether `e` reads the matmul accumulator (which only its own kernel has). */
function readsAcc(e: SExpr): boolean {
  return e.k === "acc" || sexprChildren(e).s.some(readsAcc);
}

/**
 * The subtree of `root` (not `root` itself) to compute first: among those
 * reading at least two buffers and at most `room`, the one reading the most
 * (the costliest on ties), so the kernel loses as many bindings as it can.
 */
function pickSubtree(root: SExpr, room: number): SExpr | null {
  let best: { e: SExpr; n: number; cost: number } | null = null;
  const visit = (e: SExpr, isRoot: boolean) => {
    if (!isRoot && e.k !== "load" && !readsAcc(e)) {
      const n = exprBuffers({ s: [e] }).length;
      const cost = sexprCost(e);
      if (n >= 2 && n <= room && (!best || n > best.n || (n === best.n && cost > best.cost)))
        best = { e, n, cost };
    }
    for (const c of sexprChildren(e).s) visit(c, false);
  };
  visit(root, true);
  return best === null ? null : (best as { e: SExpr }).e;
}

function replace(root: SExpr, target: SExpr, by: SExpr): SExpr {
  return mapSExpr(root, { s: (x) => (x === target ? by : null) });
}

class Splitter {
  constructor(
    private readonly buffers: BufferDecl[],
    private readonly max: number,
  ) {}

  private temp(dtype: DType, shape: Dim[]): BufId {
    const id = this.buffers.length;
    this.buffers.push({ id, dtype, shape, role: { kind: "temp" } });
    return id;
  }

  /** `k` and the kernels computing its hoisted parts first, in order. */
  split(k: Kernel): Kernel[] {
    if (k.kind === "scan") return [{ ...k, body: k.body.flatMap((b) => this.split(b)) }];
    const before: Kernel[] = [];
    let cur = k;
    while (boundBuffers(cur).length > this.max) {
      const next = this.hoist(cur, before);
      if (next === null)
        throw new Error(
          `fuse: a ${cur.kind} kernel binds ${boundBuffers(cur).length} buffers and cannot be split below ${this.max}`,
        );
      cur = next;
    }
    return [...before, cur];
  }

  /** Move one subtree of `k`'s expression into a kernel of its own (pushed on `before`). */
  private hoist(k: Exclude<Kernel, { kind: "scan" }>, before: Kernel[]): typeof k | null {
    // Bindings the hoisted kernel may read: all but its own output.
    const room = this.max - 1;
    switch (k.kind) {
      case "map": {
        const sub = pickSubtree(k.body, room);
        if (!sub) return null;
        const t = this.temp(sub.dtype, k.shape);
        before.push({ kind: "map", out: t, shape: k.shape, body: sub, ...src(k) });
        const back: SExpr = { k: "load", buf: t, index: { k: "lin" }, dtype: sub.dtype };
        return { ...k, body: replace(k.body, sub, back) };
      }
      case "matmul": {
        // The epilogue runs over the output's loops (batch..., i, j) and `lin`.
        const shape = [...k.batch, k.m, k.n];
        const sub = pickSubtree(k.epilogue, room);
        if (!sub) {
          // Nothing to hoist without the accumulator: store the product and
          // run the epilogue as a map kernel reading it (split further if need be).
          const dtype = k.epilogue.dtype;
          const t = this.temp(dtype, shape);
          before.push({ ...k, out: t, epilogue: { k: "acc", dtype }, outAt: undefined });
          const prod: SExpr = { k: "load", buf: t, index: { k: "lin" }, dtype };
          const body = mapSExpr(k.epilogue, { s: (x) => (x.k === "acc" ? prod : null) });
          return { kind: "map", out: k.out, ...at(k), shape, body, ...src(k) };
        }
        const t = this.temp(sub.dtype, shape);
        before.push({ kind: "map", out: t, shape, body: sub, ...src(k) });
        const back: SExpr = { k: "load", buf: t, index: { k: "lin" }, dtype: sub.dtype };
        return { ...k, epilogue: replace(k.epilogue, sub, back) };
      }
      case "reduce": {
        // Over the output's loops then the reduced ones: `lin` (the output
        // element) and `red` i become plain loops of the temporary's domain.
        const sub = pickSubtree(k.body, room);
        if (!sub) return null;
        const n = k.shape.length;
        const shape = [...k.shape, ...k.red];
        const outLoops = k.shape.map((_, i) => iloop(i));
        const body = mapSExpr(sub, {
          i: (x) =>
            x.k === "lin" ? linearize(k.shape, outLoops) : x.k === "red" ? iloop(n + x.i) : null,
        });
        const t = this.temp(sub.dtype, shape);
        before.push({ kind: "map", out: t, shape, body, ...src(k) });
        const at = linearize(shape, [
          ...outLoops,
          ...k.red.map((_, i) => ({ k: "red", i }) as IExpr),
        ]);
        const back: SExpr = { k: "load", buf: t, index: at, dtype: sub.dtype };
        return { ...k, body: replace(k.body, sub, back) };
      }
      case "scatter":
        // Serial scatters only run on backends without binding limits.
        return null;
    }
  }
}

const src = (k: Kernel) => (k.src === undefined ? {} : { src: k.src });
const at = (k: { outAt?: IExpr }) => (k.outAt === undefined ? {} : { outAt: k.outAt });

/**
 * `p` with every kernel binding more than `max` buffers split (scan bodies
 * included); new temporaries join `p.buffers`. A no-op when all fit.
 */
export function splitWideKernels(p: KernelProgram, max: number): KernelProgram {
  const s = new Splitter(p.buffers, max);
  return { ...p, kernels: p.kernels.flatMap((k) => s.split(k)) };
}
