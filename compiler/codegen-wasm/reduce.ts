// Reductions, in one of two shapes chosen by where the body's loads are
// contiguous:
//
// - "inner": one work item per output element; the innermost reduced axis
//   runs four elements at a time into four lane accumulators (and a scalar
//   one for the tail), folded at the end as ((a0 . a1) . (a2 . a3)) . tail.
//   A row sum, a softmax's max and denominator, a mean over the last axis.
// - "outer": work items are blocks of BLOCK consecutive outputs along the
//   output's last axis; four neighbouring outputs reduce at once, each lane
//   in plain serial order over the reduced domain. Column sums (a bias
//   gradient: the sum over the batch of [B, n]) read rows contiguously.
//
// Either way an output element's sum runs in an order fixed by the kernel
// alone, so any split of the items gives the same bits. argmax (first strict
// maximum, 0 when any element is NaN, as the JS backend) runs scalar.

import { dimAsConst, dimConst, dimFloorDiv, dimAdd, numElements, type Dim } from "../dims.ts";
import type { KernelContext } from "../backend.ts";
import { iadd, type IExpr, type ReduceKernel, type SExpr } from "../kernel.ts";
import { sexprCost, visitSExpr } from "../kernel-walk.ts";
import type { WasmKernelCode } from "../codegen-wasm.ts";
import { size } from "../codegen-wgsl/module.ts";
import { FnBuilder, get, HI, i32, LO, set, sizeOf, tee } from "./function.ts";
import type { Instr } from "./instr.ts";
import { Exprs, type Env } from "./scalar.ts";
import { innerLoop } from "./map.ts";

/** Outputs per work item of an "outer" reduction. */
const BLOCK = 16;

type Op = Instr[0];
type Vt = "f32" | "i32";

/** A partial's starting value: 0 for a sum, the lowest value for a max. */
function initOf(op: "sum" | "max", vt: Vt, vector: boolean): Instr {
  const x = op === "sum" ? 0 : vt === "f32" ? -Infinity : -2147483648;
  if (!vector) return vt === "f32" ? ["f32.const", x] : i32(x);
  return vt === "f32" ? ["v128.const", x, x, x, x] : ["v128.const", "i32x4", x, x, x, x];
}

/** [a, b] -> a . b for scalars (sum: +, max: NaN-propagating max). */
function combine(fn: FnBuilder, op: "sum" | "max", vt: Vt): void {
  if (op === "sum") return fn.emit([vt === "f32" ? "f32.add" : "i32.add"]);
  if (vt === "f32") return fn.emit(["f32.max"]);
  const [a, b] = [fn.temp("i32"), fn.temp("i32")];
  fn.emit(set(b), tee(a), get(b), get(a), get(b), ["i32.gt_s"], ["select"]);
  fn.release(a, "i32");
  fn.release(b, "i32");
}

/** Loads of `body` that are gathers (neither invariant nor contiguous) when `x`'s counter varies. */
function gathers(x: Exprs, body: SExpr): number {
  let n = 0;
  visitSExpr(body, {
    s: (e) => {
      if (e.k !== "load" || !x.varies(e.index)) return;
      const lin = x.linear(e.index);
      if (!lin || lin.c !== 1) n++;
    },
  });
  return n;
}

const atLeast4 = (d: Dim) => {
  const c = dimAsConst(d);
  return c === null || c >= 4;
};

export function reduceToWasm(k: ReduceKernel, ctx: KernelContext, name: string): WasmKernelCode {
  const r = k.shape.length;
  const q = k.red.length;
  const n = numElements(k.shape);
  const work = size.mul(sizeOf(numElements([...k.shape, ...k.red]), ctx), sexprCost(k.body) + 1);
  const probe = (env: Env) => gathers(new Exprs(new FnBuilder(ctx), env), k.body);
  const innerOk = k.op !== "argmax" && q > 0 && atLeast4(k.red[q - 1]!);
  const outerOk = k.op !== "argmax" && r > 0 && q > 0 && atLeast4(k.shape[r - 1]!);
  const gInner = innerOk
    ? probe({ loop: () => ({}), red: (i) => ({ vary: i === q - 1 }), lin: () => ({}), counter: 0 })
    : Infinity;
  const gOuter = outerOk
    ? probe({
        loop: (i) => ({ vary: i === r - 1 }),
        red: () => ({}),
        lin: () => ({ vary: true }),
        counter: 0,
      })
    : Infinity;
  const code = outerOk && gOuter < gInner ? outer(k, ctx, name) : inner(k, ctx, name, innerOk);
  return { ...code, work };
}

/** Folds the value on the stack into scalar accumulator `acc`. */
function stepScalar(fn: FnBuilder, op: "sum" | "max", vt: Vt, acc: number): void {
  fn.emit(get(acc));
  combine(fn, op, vt);
  fn.emit(set(acc));
}

/** Folds the vector on the stack into vector accumulator `acc`; bools (lane masks) count as 0/1. */
function stepVector(fn: FnBuilder, op: "sum" | "max", body: SExpr, acc: number): void {
  const f = body.dtype === "f32";
  if (body.dtype === "bool") fn.emit(["i32x4.neg"]);
  const ins: Op = op === "sum" ? (f ? "f32x4.add" : "i32x4.add") : f ? "f32x4.max" : "i32x4.max_s";
  fn.emit(get(acc), [ins], set(acc));
}

/** One item per output element; the innermost reduced axis vectorised when `vectorise`. */
function inner(
  k: ReduceKernel,
  ctx: KernelContext,
  name: string,
  vectorise: boolean,
): Omit<WasmKernelCode, "work"> {
  const fn = new FnBuilder(ctx);
  const r = k.shape.length;
  const q = k.red.length;
  const vt: "f32" | "i32" = k.body.dtype === "f32" ? "f32" : "i32";
  const o = fn.local("i32");
  const oi = k.shape.map(() => fn.local("i32"));
  const ri = k.red.map(() => fn.local("i32"));
  const c = q > 0 ? ri[q - 1]! : fn.local("i32");
  const env: Env = {
    loop: (i) => ({ base: [get(oi[i]!)] }),
    red: (i) => (i === q - 1 ? { vary: true } : { base: [get(ri[i]!)] }),
    lin: () => ({ base: [get(o)] }),
    counter: c,
  };
  const hoist: Instr[] = [];
  const x = new Exprs(fn, env, hoist);
  const at: IExpr = k.outAt === undefined ? { k: "lin" } : iadd(k.outAt, { k: "lin" });
  const acc = fn.local(vt);
  const vacc = fn.local("v128");
  const end = fn.local("i32");

  // The innermost loop (and its hoisted invariants), then the outer reduced loops around it.
  let innermost: Instr[];
  let init: Instr[];
  let result: Instr[];
  if (k.op === "argmax") {
    const [best, arg, nan, flat, v] = [
      fn.local(vt),
      fn.local("i32"),
      fn.local("i32"),
      fn.local("i32"),
      fn.local(vt),
    ];
    const f = vt === "f32";
    init = [
      f ? ["f32.const", -Infinity] : i32(-2147483648),
      set(best),
      i32(0),
      set(arg),
      i32(0),
      set(nan),
      i32(0),
      set(flat),
    ];
    innermost = fn.capture(() =>
      innerLoop(
        fn,
        c,
        end,
        () => {},
        () => {
          x.s(k.body);
          fn.emit(set(v));
          fn.ifElse(
            () => fn.emit(get(v), get(best), [f ? "f32.gt" : "i32.gt_s"]),
            () => fn.emit(get(v), set(best), get(flat), set(arg)),
            f
              ? () => fn.emit(get(v), get(v), ["f32.ne"], get(nan), ["i32.or"], set(nan))
              : undefined,
          );
          fn.emit(get(flat), i32(1), ["i32.add"], set(flat));
        },
        false,
      ),
    );
    result = [i32(0), get(arg), get(nan), ["select"]];
  } else {
    const op = k.op;
    init = [initOf(op, vt, true), set(vacc), initOf(op, vt, false), set(acc)];
    innermost = fn.capture(() =>
      innerLoop(
        fn,
        c,
        end,
        () => {
          x.v(k.body);
          stepVector(fn, op, k.body, vacc);
        },
        () => {
          x.s(k.body);
          stepScalar(fn, op, vt, acc);
        },
        vectorise,
      ),
    );
    // ((a0 . a1) . (a2 . a3)) . tail
    const lane: Op = vt === "f32" ? "f32x4.extract_lane" : "i32x4.extract_lane";
    result = fn.capture(() => {
      if (!vectorise) return fn.emit(get(acc));
      fn.emit(get(vacc), [lane, 0], get(vacc), [lane, 1]);
      combine(fn, op, vt);
      fn.emit(get(vacc), [lane, 2], get(vacc), [lane, 3]);
      combine(fn, op, vt);
      combine(fn, op, vt);
      fn.emit(get(acc));
      combine(fn, op, vt);
    });
  }
  if (q === 0) {
    // Nothing reduced: the body once (sum: 0 + v; max: max(lowest, v)).
    innermost = fn.capture(() => {
      fn.emit(i32(0), set(c), i32(1), set(end));
      fn.emit(...innermost);
    });
  }

  fn.forLoop(
    o,
    () => fn.emit(get(LO)),
    () => fn.emit(get(HI)),
    () => {
      fn.delinearize(o, k.shape, oi);
      fn.emit(...init);
      const level = (a: number): void => {
        if (a >= q - 1) {
          if (q > 0) {
            fn.emit(i32(0), set(c));
            fn.dim(k.red[q - 1]!);
            fn.emit(set(end));
          }
          return fn.emit(...hoist, ...innermost);
        }
        fn.forLoop(
          ri[a]!,
          () => fn.emit(i32(0)),
          () => fn.dim(k.red[a]!),
          () => level(a + 1),
        );
      };
      level(0);
      x.address(k.out, at, 0);
      fn.emit(...result, [ctx.buffers[k.out]!.dtype === "f32" ? "f32.store" : "i32.store", 0]);
    },
  );
  return { fn: fn.finish(name), items: sizeOf(numElements(k.shape), ctx), scratch: 0 };
}

/** Items are blocks of BLOCK outputs along the last output axis; four of them reduce at once. */
function outer(k: ReduceKernel, ctx: KernelContext, name: string): Omit<WasmKernelCode, "work"> {
  const fn = new FnBuilder(ctx);
  const r = k.shape.length;
  const op = k.op as "sum" | "max";
  const vt: "f32" | "i32" = k.body.dtype === "f32" ? "f32" : "i32";
  const last = k.shape[r - 1]!;
  const rows = k.shape.slice(0, -1);
  const blocks: Dim = dimFloorDiv(dimAdd(last, dimConst(BLOCK - 1)), dimConst(BLOCK));
  const [item, row, rowLin, j, end] = [
    fn.local("i32"),
    fn.local("i32"),
    fn.local("i32"),
    fn.local("i32"),
    fn.local("i32"),
  ];
  const oi = rows.map(() => fn.local("i32"));
  const ri: number[] = [];
  const env: Env = {
    loop: (i) => (i === r - 1 ? { vary: true } : { base: [get(oi[i]!)] }),
    red: (i) => ({ base: [get(ri[i]!)] }),
    lin: () => ({ base: [get(rowLin)], vary: true }),
    counter: j,
  };
  // No hoisting: everything but the counter changes inside the reduced loops.
  const x = new Exprs(fn, env, null);
  const at: IExpr = k.outAt === undefined ? { k: "lin" } : iadd(k.outAt, { k: "lin" });
  const acc = fn.local(vt);
  const vacc = fn.local("v128");
  k.red.forEach(() => ri.push(fn.local("i32")));
  const nest = (body: () => void) => {
    const level = (a: number): void => {
      if (a === k.red.length) return body();
      fn.forLoop(
        ri[a]!,
        () => fn.emit(i32(0)),
        () => fn.dim(k.red[a]!),
        () => level(a + 1),
      );
    };
    level(0);
  };
  const loop = fn.capture(() =>
    innerLoop(
      fn,
      j,
      end,
      () => {
        x.vaddress(k.out, at);
        fn.emit(initOf(op, vt, true), set(vacc));
        nest(() => {
          x.v(k.body);
          stepVector(fn, op, k.body, vacc);
        });
        fn.emit(get(vacc), ["v128.store", 0]);
      },
      () => {
        x.address(k.out, at, 0);
        fn.emit(initOf(op, vt, false), set(acc));
        nest(() => {
          x.s(k.body);
          stepScalar(fn, op, vt, acc);
        });
        fn.emit(get(acc), [vt === "f32" ? "f32.store" : "i32.store", 0]);
      },
    ),
  );
  fn.forLoop(
    item,
    () => fn.emit(get(LO)),
    () => fn.emit(get(HI)),
    () => {
      // item = row * blocks + block; j runs over [block * BLOCK, min(block * BLOCK + BLOCK, last)).
      fn.emit(get(item));
      fn.dim(blocks);
      fn.emit(["i32.div_u"], set(row), get(item));
      fn.dim(blocks);
      fn.emit(["i32.rem_u"], i32(BLOCK), ["i32.mul"], set(j));
      fn.delinearize(row, rows, oi);
      fn.emit(get(row));
      fn.dim(last);
      fn.emit(["i32.mul"], set(rowLin));
      fn.emit(get(j), i32(BLOCK), ["i32.add"], set(end), get(end));
      fn.dim(last);
      fn.emit(get(end));
      fn.dim(last);
      fn.emit(["i32.lt_s"], ["select"], set(end), ...loop);
    },
  );
  const items = size.mul(sizeOf(numElements(rows), ctx), sizeOf(blocks, ctx));
  return { fn: fn.finish(name), items, scratch: 0 };
}
