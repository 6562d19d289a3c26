// Elementwise kernels. A body that reads no loop index (only `lin`, or
// nothing) runs flat: work items are chunks of CHUNK elements. Otherwise the
// items are the rows of the output (every axis but the last), and each row's
// elements run as an inner loop over the last axis. Either way the inner
// loop does four elements per iteration as f32x4 / i32x4 (scalar.ts) and a
// scalar loop the rest; invariants of the inner loop (a broadcast operand,
// the row's start address in each buffer) are computed once per row or chunk.
// Elements are independent, so any split of the items gives the same bits.

import { dimAsConst, numElements } from "../dims.ts";
import type { KernelContext } from "../backend.ts";
import { iadd, type IExpr, type MapKernel, type SExpr } from "../kernel.ts";
import { sexprCost, someSExpr } from "../kernel-walk.ts";
import { FnBuilder, get, HI, i32, LO, set, sizeOf } from "./function.ts";
import type { Instr } from "./instr.ts";
import { Exprs, type Env } from "./scalar.ts";
import type { WasmKernelCode } from "../codegen-wasm.ts";
import { size } from "../codegen-wgsl/module.ts";

/** Elements per work item of a flat map. */
const CHUNK = 1024;

/**
 * `for (c = from; c + 4 <= end; c += 4) vector(); for (; c < end; c++) scalar();`
 * over the counter local `c`, with `end` a local. `vectorise` false: the scalar loop only.
 */
export function innerLoop(
  fn: FnBuilder,
  c: number,
  end: number,
  vector: () => void,
  scalar: () => void,
  vectorise = true,
): void {
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
    x.v(value);
    if (value.dtype === "bool") fn.emit(["i32x4.neg"]); // lane masks -> 0/1
    return fn.emit(["v128.store", 0]);
  }
  x.address(out, index, 0);
  x.s(value);
  fn.emit([value.dtype === "f32" ? "f32.store" : "i32.store", 0]);
}

export function mapToWasm(k: MapKernel, ctx: KernelContext, name: string): WasmKernelCode {
  const fn = new FnBuilder(ctx);
  const n = numElements(k.shape);
  const rank = k.shape.length;
  const at = (lin: IExpr): IExpr => (k.outAt === undefined ? lin : iadd(k.outAt, lin));
  const lin: IExpr = { k: "lin" };
  const work = size.mul(sizeOf(n, ctx), sexprCost(k.body) + 1);
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
    return { fn: fn.finish(name), items: size.ceilDiv(sizeOf(n, ctx), CHUNK), scratch: 0, work };
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
  const loop = row(new Exprs(fn, env, hoist), innerConst === null || innerConst >= 4);
  fn.forLoop(
    r,
    () => fn.emit(get(LO)),
    () => fn.emit(get(HI)),
    () => {
      fn.delinearize(r, k.shape.slice(0, -1), idx);
      fn.emit(get(r));
      fn.dim(inner);
      fn.emit(["i32.mul"], set(rowLin), i32(0), set(c));
      fn.dim(inner);
      fn.emit(set(end), ...hoist, ...loop);
    },
  );
  return {
    fn: fn.finish(name),
    items: sizeOf(numElements(k.shape.slice(0, -1)), ctx),
    scratch: 0,
    work,
  };
}
