// Elementwise kernels. A body that reads no loop index (only `lin`, or
// nothing) runs flat: work items are chunks of CHUNK elements. Otherwise the
// items are the rows of the output (every axis but the last), and each row's
// elements run as an inner loop over the last axis. Either way the inner
// loop does four elements per iteration as f32x4 / i32x4 (scalar.ts) and a
// scalar loop the rest; invariants of the inner loop (a broadcast operand,
// the row's start address in each buffer) are computed once per row or chunk.
// A row whose bounds checks change along it (a concat along the last axis,
// a pad) runs as segments, each with its checks decided at compile time.
// Elements are independent, so any split of the items gives the same bits.

import { dimAsConst, numElements } from "../dims.ts";
import type { KernelContext } from "../backend.ts";
import { iadd, lit, type IExpr, type MapKernel, type SExpr } from "../kernel.ts";
import { mapSExpr, someSExpr, visitSExpr, type NodeMap } from "../kernel-walk.ts";
import { FnBuilder, get, HI, i32, LO, set, sizeOf } from "./function.ts";
import type { Instr } from "./instr.ts";
import { Exprs, type Env } from "./scalar.ts";
import type { PrintedCode } from "../codegen-wasm.ts";
import { size } from "../size-expr.ts";

/** Elements per work item of a flat map. */
const CHUNK = 1024;

/** Inner loops of at most this many iterations, known at compile time, are unrolled. */
export const UNROLL = 16;

/**
 * `for (c = from; c + 4 <= end; c += 4) vector(); for (; c < end; c++) scalar();`
 * over the counter local `c`, with `end` a local. `vectorise` false: the scalar loop only.
 * `known`: c's start and end at compile time, when they are constants; a
 * short loop is then unrolled, c set to a constant before each step (which
 * the engine folds into the index arithmetic).
 */
export function innerLoop(
  fn: FnBuilder,
  c: number,
  end: number,
  vector: () => void,
  scalar: () => void,
  vectorise = true,
  known: { from: number; to: number } | null = null,
): void {
  if (known && known.to - known.from <= UNROLL) {
    let at = known.from;
    for (; vectorise && at + 4 <= known.to; at += 4) {
      fn.emit(i32(at), set(c));
      vector();
    }
    for (; at < known.to; at++) {
      fn.emit(i32(at), set(c));
      scalar();
    }
    return fn.emit(i32(known.to), set(c));
  }
  if (vectorise)
    fn.whileLoop(
      () => fn.emit(get(c), i32(4), ["i32.add"], get(end), ["i32.le_s"]),
      () => {
        vector();
        fn.emit(get(c), i32(4), ["i32.add"], set(c));
      },
    );
  fn.whileLoop(
    () => fn.emit(get(c), get(end), ["i32.lt_s"]),
    () => {
      scalar();
      fn.emit(get(c), i32(1), ["i32.add"], set(c));
    },
  );
}

/** Stores element `index` of the kernel's output: scalar (at lane 0 of the counter) or four lanes. */
export function store(x: Exprs, out: number, index: IExpr, value: SExpr, vector: boolean): void {
  const fn = x.fn;
  if (vector) {
    x.vaddress(out, index);
    x.element(() => x.v(value));
    if (value.dtype === "bool") fn.emit(["i32x4.neg"]); // lane masks -> 0/1
    return fn.emit(["v128.store", 0]);
  }
  x.address(out, index, 0);
  x.element(() => x.s(value));
  fn.emit([value.dtype === "f32" ? "f32.store" : "i32.store", 0]);
}

export function mapToWasm(k: MapKernel, ctx: KernelContext, name: string): PrintedCode {
  const fn = new FnBuilder(ctx);
  const n = numElements(k.shape);
  const rank = k.shape.length;
  const at = (lin: IExpr): IExpr => (k.outAt === undefined ? lin : iadd(k.outAt, lin));
  const lin: IExpr = { k: "lin" };
  const flat = rank <= 1 || !someSExpr(k.body, { i: (e) => e.k === "loop" });
  const c = fn.local("i32");
  const end = fn.local("i32");
  const hoist: Instr[] = [];
  const row = (x: Exprs, vectorise: boolean) =>
    fn.capture(() =>
      innerLoop(
        fn,
        c,
        end,
        () => store(x, k.out, at(lin), k.body, true),
        () => store(x, k.out, at(lin), k.body, false),
        vectorise,
      ),
    );

  if (flat) {
    // The counter is lin itself (and a rank-1 body's loop 0).
    const env: Env = { loop: () => ({ vary: true }), lin: () => ({ vary: true }), counter: c };
    const loop = row(new Exprs(fn, env, hoist), true);
    // c = lo * CHUNK; end = min(hi * CHUNK, n)
    fn.emit(get(LO), i32(CHUNK), ["i32.mul"], set(c), get(HI), i32(CHUNK), ["i32.mul"], set(end));
    fn.emit(get(end));
    fn.dim(n);
    fn.emit(get(end));
    fn.dim(n);
    fn.emit(["i32.lt_s"], ["select"], set(end), ...hoist, ...loop);
    return { fn: fn.finish(name), items: size.ceilDiv(sizeOf(n, ctx), CHUNK), scratch: 0 };
  }

  // One item per row: the row's multi-index (all axes but the last) and its first element.
  const inner = k.shape[rank - 1]!;
  const idx = k.shape.slice(0, -1).map(() => fn.local("i32"));
  const [r, rowLin] = [fn.local("i32"), fn.local("i32")];
  const env: Env = {
    loop: (i) => (i === rank - 1 ? { vary: true } : { base: [get(idx[i]!)] }),
    lin: () => ({ base: [get(rowLin)], vary: true }),
    counter: c,
  };
  const innerConst = dimAsConst(inner);
  const x = new Exprs(fn, env, hoist);
  const vectorise = innerConst === null || innerConst >= 4;
  // Each segment of the row: its bounds, then the loops over it.
  const loop = fn.capture(() => {
    for (const seg of segments(x, k.body, innerConst)) {
      if (seg.from === null) fn.emit(i32(0), set(c));
      else fn.emit(i32(seg.from), set(c));
      if (seg.to === null) fn.dim(inner);
      else fn.emit(i32(seg.to));
      fn.emit(set(end));
      innerLoop(
        fn,
        c,
        end,
        () => store(x, k.out, at(lin), seg.body, true),
        () => store(x, k.out, at(lin), seg.body, false),
        vectorise,
        innerConst === null ? null : { from: seg.from ?? 0, to: seg.to ?? innerConst },
      );
    }
  });
  fn.itemLoop(r, k.shape.slice(0, -1), idx, () => {
    fn.emit(get(r));
    fn.dim(inner);
    fn.emit(["i32.mul"], set(rowLin), ...hoist, ...loop);
  });
  return {
    fn: fn.finish(name),
    items: sizeOf(numElements(k.shape.slice(0, -1)), ctx),
    scratch: 0,
  };
}

/** At most this many segments per row (each prints the body once). */
const MAX_SEGMENTS = 8;

/** An index comparison that flips once along the row: `d = slope * counter + k` against 0. */
interface Flip {
  node: Extract<SExpr, { k: "icompare" }>;
  slope: 1 | -1;
  k: number;
}

/**
 * The row split where its bounds checks (concat's and pad's `i < n`, `i - lo
 * >= 0`: comparisons of the counter with constants) change, each segment
 * with those checks replaced by the constant they are there and the selects
 * they decide folded, so a concat's segment computes one operand instead
 * of all of them. `inner` null (a run-time row length), or no such checks:
 * the whole row, as is (null bounds: 0 and the row's length).
 */
function segments(
  x: Exprs,
  body: SExpr,
  inner: number | null,
): { from: number | null; to: number | null; body: SExpr }[] {
  const whole = [{ from: null, to: null, body }];
  if (inner === null) return whole;
  const flips: Flip[] = [];
  visitSExpr(body, {
    s: (e) => {
      if (e.k !== "icompare") return;
      const [a, b] = [x.linear(e.a), x.linear(e.b)];
      if (!a || !b || a.terms.length > 0 || b.terms.length > 0) return;
      const slope = a.c - b.c;
      if (slope === 1 || slope === -1) flips.push({ node: e, slope, k: a.k - b.k });
    },
  });
  // d = slope * counter + k crosses 0 at counter = -k * slope (and eq holds only there).
  const cuts = new Set<number>();
  for (const f of flips) {
    const p = -f.k * f.slope;
    cuts.add(p);
    if (f.node.op === "eq") cuts.add(p + 1);
  }
  const inside = [...cuts].filter((p) => p > 0 && p < inner).sort((a, b) => a - b);
  if (inside.length === 0 || inside.length >= MAX_SEGMENTS) return whole;
  const bounds = [0, ...inside, inner];
  return bounds.slice(0, -1).map((from, s) => {
    const to = bounds[s + 1]!;
    const holds = (f: Flip): boolean => {
      const d = f.slope * from + f.k;
      return f.node.op === "lt" ? d < 0 : f.node.op === "ge" ? d >= 0 : d === 0;
    };
    const known = new Map(flips.map((f) => [f.node as SExpr, holds(f)]));
    return { from, to, body: decided(body, known) };
  });
}

/** `e` with the comparisons in `known` replaced by their values and the selects and ands they decide folded. */
function decided(e: SExpr, known: ReadonlyMap<SExpr, boolean>): SExpr {
  const truth = (x: SExpr): boolean | null => (x.k === "lit" ? x.v !== 0 : null);
  const map: NodeMap = {
    s: (n) => {
      const v = known.get(n);
      if (v !== undefined) return lit(v ? 1 : 0, "bool");
      if (n.k === "select") {
        const c = truth(mapSExpr(n.c, map));
        return c === null ? null : mapSExpr(c ? n.a : n.b, map);
      }
      if (n.k === "and") {
        const [a, b] = [mapSExpr(n.a, map), mapSExpr(n.b, map)];
        const [ta, tb] = [truth(a), truth(b)];
        if (ta === false || tb === false) return lit(0, "bool");
        if (ta === true) return b;
        if (tb === true) return a;
        return { ...n, a, b };
      }
      return null;
    },
  };
  return mapSExpr(e, map);
}
