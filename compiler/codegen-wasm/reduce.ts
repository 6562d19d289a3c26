// Reductions, in one of two shapes chosen by where the body's loads are
// contiguous:
//
// - "inner": one work item per output element; the innermost reduced axis
//   runs eight elements at a time into two sets of four lane accumulators
//   (then four at a time, and a scalar one for the tail), merged lanewise and
//   folded at the end as ((a0 . a1) . (a2 . a3)) . tail.
//   A row sum, a softmax's max and denominator, a mean over the last axis.
// - "outer": work items are blocks of BLOCK consecutive outputs along the
//   output's last axis; four vectors of a block (then two, then one)
//   reduce in one pass as independent chains, each lane in plain serial
//   order over the reduced domain. Column sums (a bias
//   gradient: the sum over the batch of [B, n]) read rows contiguously.
//
// f32 sums accumulate in f64 (two f64x2 per four lanes), as the JS backend's
// float64 `acc +=` does, so a long sum is as accurate and almost always the
// same float32 after the final rounding. Either way an output element's sum
// runs in an order fixed by the kernel alone, so any split of the items
// gives the same bits. argmax (the first strict maximum, 0 when any element
// is NaN, as the JS backend) runs scalar.

import { dimAsConst, dimAdd, dimConst, dimFloorDiv, numElements, type Dim } from "../dims.ts";
import type { KernelContext } from "../backend.ts";
import { iadd, type IExpr, type ReduceKernel, type SExpr } from "../kernel.ts";
import { visitSExpr } from "../kernel-walk.ts";
import type { PrintedCode } from "../codegen-wasm.ts";
import { size } from "../size-expr.ts";
import { FnBuilder, get, HI, i32, LO, set, sizeOf, tee } from "./function.ts";
import type { Instr } from "./instr.ts";
import { Exprs, type Env } from "./scalar.ts";
import { innerLoop, UNROLL } from "./map.ts";

/** Outputs per work item of an "outer" reduction. */
const BLOCK = 16;

type Op = Instr[0];

/** Lanes 2 and 3 of a v128 moved to lanes 0 and 1 (for f64x2.promote_low_f32x4). */
const HIGH_HALF: Instr = ["i8x16.shuffle", 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
/** [a b _ _] and [c d _ _] -> [a b c d]. */
const JOIN_LOW: Instr = ["i8x16.shuffle", 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/**
 * One reduction's accumulators: a scalar (the tail, or a scalar kernel) and
 * four lanes. `step`s fold the value on the stack (of the body's dtype,
 * bools as 0/1 or lane masks) into them; the results push the output's
 * value(s) in its dtype.
 */
interface Accumulator {
  init(): void;
  sStep(): void;
  vStep(): void;
  /** Inner shape: the lanes and the scalar folded, one value. */
  folded(): void;
  /** The scalar alone (a kernel that never vectorised, an outer tail). */
  scalar(): void;
  /** Outer shape: the four lanes as four outputs (v128). */
  lanes(): void;
  /** Folds another accumulator's lanes into these, lane by lane (an unrolled loop's second chain). */
  merge(o: Accumulator): void;
  /** The locals of the four lanes (what `merge` reads). */
  readonly vectors: number[];
}

/** An f32 sum in f64: one f64 and two f64x2 (lanes 0-1, 2-3). */
function f64Sum(fn: FnBuilder): Accumulator {
  const [s, lo, hi, t] = [fn.local("f64"), fn.local("v128"), fn.local("v128"), fn.local("v128")];
  return {
    init: () =>
      fn.emit(["f64.const", 0], set(s), ["v128.const", 0, 0, 0, 0], set(lo), get(lo), set(hi)),
    sStep: () => fn.emit(["f64.promote_f32"], get(s), ["f64.add"], set(s)),
    vStep: () => {
      fn.emit(tee(t), ["f64x2.promote_low_f32x4"], get(lo), ["f64x2.add"], set(lo));
      fn.emit(get(t), get(t), HIGH_HALF, ["f64x2.promote_low_f32x4"], get(hi), ["f64x2.add"]);
      fn.emit(set(hi));
    },
    folded: () => {
      fn.emit(get(lo), ["f64x2.extract_lane", 0], get(lo), ["f64x2.extract_lane", 1], ["f64.add"]);
      fn.emit(get(hi), ["f64x2.extract_lane", 0], get(hi), ["f64x2.extract_lane", 1], ["f64.add"]);
      fn.emit(["f64.add"], get(s), ["f64.add"], ["f32.demote_f64"]);
    },
    scalar: () => fn.emit(get(s), ["f32.demote_f64"]),
    vectors: [lo, hi],
    merge: (o) => {
      const [olo, ohi] = o.vectors as [number, number];
      fn.emit(get(lo), get(olo), ["f64x2.add"], set(lo), get(hi), get(ohi), ["f64x2.add"], set(hi));
    },
    lanes: () =>
      fn.emit(get(lo), ["f32x4.demote_f64x2_zero"], get(hi), ["f32x4.demote_f64x2_zero"], JOIN_LOW),
  };
}

/** i32 sums (wrapping, as an Int32Array store of JS's sum) and max of f32 or i32, in the value's own type. */
function plain(fn: FnBuilder, op: "sum" | "max", body: SExpr): Accumulator {
  const f = body.dtype === "f32";
  const t = f ? "f32" : "i32";
  const [s, v] = [fn.local(t), fn.local("v128")];
  const start = op === "sum" ? 0 : f ? -Infinity : -2147483648;
  /** [a, b] -> a . b, scalar. */
  const combine = () => {
    if (op === "sum") return fn.emit([f ? "f32.add" : "i32.add"]);
    if (f) return fn.emit(["f32.max"]);
    const [a, b] = [fn.temp("i32"), fn.temp("i32")];
    fn.emit(set(b), tee(a), get(b), get(a), get(b), ["i32.gt_s"], ["select"]);
    fn.release(a, "i32");
    fn.release(b, "i32");
  };
  const vOp: Op = op === "sum" ? (f ? "f32x4.add" : "i32x4.add") : f ? "f32x4.max" : "i32x4.max_s";
  const lane: Op = f ? "f32x4.extract_lane" : "i32x4.extract_lane";
  return {
    init: () =>
      fn.emit(
        f ? ["f32.const", start] : i32(start),
        set(s),
        f
          ? ["v128.const", start, start, start, start]
          : ["v128.const", "i32x4", start, start, start, start],
        set(v),
      ),
    sStep: () => {
      fn.emit(get(s));
      combine();
      fn.emit(set(s));
    },
    vStep: () => {
      if (body.dtype === "bool") fn.emit(["i32x4.neg"]); // lane masks -> 0/1
      fn.emit(get(v), [vOp], set(v));
    },
    folded: () => {
      fn.emit(get(v), [lane, 0], get(v), [lane, 1]);
      combine();
      fn.emit(get(v), [lane, 2], get(v), [lane, 3]);
      combine();
      combine();
      fn.emit(get(s));
      combine();
    },
    scalar: () => fn.emit(get(s)),
    lanes: () => fn.emit(get(v)),
    vectors: [v],
    merge: (o) => fn.emit(get(v), get(o.vectors[0]!), [vOp], set(v)),
  };
}

const accumulator = (fn: FnBuilder, op: "sum" | "max", body: SExpr): Accumulator =>
  op === "sum" && body.dtype === "f32" ? f64Sum(fn) : plain(fn, op, body);

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

export function reduceToWasm(k: ReduceKernel, ctx: KernelContext, name: string): PrintedCode {
  const r = k.shape.length;
  const q = k.red.length;
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
  return outerOk && gOuter < gInner ? outer(k, ctx, name) : inner(k, ctx, name, innerOk);
}

const storeOp = (ctx: KernelContext, k: ReduceKernel): Op =>
  ctx.buffers[k.out]!.dtype === "f32" ? "f32.store" : "i32.store";

/**
 * Loops over `extents` with indices `idx` (locals) around `body`, from axis
 * `from`; a domain of at most UNROLL points known at compile time (a pool's
 * window) unrolled, its indices set to constants the engine folds.
 */
function loops(
  fn: FnBuilder,
  extents: readonly Dim[],
  idx: readonly number[],
  body: () => void,
  from = 0,
): void {
  const sizes = extents.slice(from).map(dimAsConst);
  const points = sizes.reduce<number | null>(
    (p, d) => (p === null || d === null ? null : p * d),
    1,
  );
  if (points !== null && points <= UNROLL) {
    const unrolled = (a: number): void => {
      if (a === extents.length) return body();
      for (let v = 0; v < sizes[a - from]!; v++) {
        fn.emit(i32(v), set(idx[a]!));
        unrolled(a + 1);
      }
    };
    return unrolled(from);
  }
  const level = (a: number): void => {
    if (a === extents.length) return body();
    fn.forLoop(
      idx[a]!,
      () => fn.emit(i32(0)),
      () => fn.dim(extents[a]!),
      () => level(a + 1),
    );
  };
  level(from);
}

/** One item per output element; the innermost reduced axis vectorised when `vectorise`. */
function inner(k: ReduceKernel, ctx: KernelContext, name: string, vectorise: boolean): PrintedCode {
  const fn = new FnBuilder(ctx);
  const q = k.red.length;
  const o = fn.local("i32");
  const oi = k.shape.map(() => fn.local("i32"));
  const ri = k.red.map(() => fn.local("i32"));
  // The counter: the innermost reduced index (a reduction over nothing runs its body once).
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
  // The store's address is computed in place, after the reduced loops: `x` would hoist an
  // offset one (a scan step's `t*n + lin`) into `hoist`, already emitted inside those loops
  // by then, and the store would read its local unset (every output at element 0).
  const stored = new Exprs(fn, env);
  const end = fn.local("i32");
  const redConst = q > 0 ? dimAsConst(k.red[q - 1]!) : 1;
  const known = redConst === null ? null : { from: 0, to: redConst };

  let init: () => void;
  let innermost: Instr[];
  let result: () => void;
  if (k.op === "argmax") {
    const f = k.body.dtype === "f32";
    const vt = f ? "f32" : "i32";
    const [best, arg, nan, flat, v] = [
      fn.local(vt),
      fn.local("i32"),
      fn.local("i32"),
      fn.local("i32"),
      fn.local(vt),
    ];
    init = () =>
      fn.emit(
        f ? ["f32.const", -Infinity] : i32(-2147483648),
        set(best),
        ...[i32(0), set(arg), i32(0), set(nan), i32(0), set(flat)],
      );
    innermost = fn.capture(() =>
      innerLoop(
        fn,
        c,
        end,
        () => {},
        () => {
          x.element(() => x.s(k.body));
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
        known,
      ),
    );
    result = () => fn.emit(i32(0), get(arg), get(nan), ["select"]);
  } else {
    // Eight elements an iteration into two chains (lanes 0-3 and 4-7 of each 8), merged at the end.
    const [acc, acc2] = [accumulator(fn, k.op, k.body), accumulator(fn, k.op, k.body)];
    const c2 = fn.local("i32");
    const x2 = x.withCounter(c2);
    init = () => {
      acc.init();
      acc2.init();
    };
    innermost = fn.capture(() => {
      if (vectorise && !(known && known.to <= UNROLL))
        fn.whileLoop(
          () => fn.emit(get(c), i32(8), ["i32.add"], get(end), ["i32.le_s"]),
          () => {
            fn.emit(get(c), i32(4), ["i32.add"], set(c2));
            x.element(() => x.v(k.body));
            acc.vStep();
            x2.element(() => x2.v(k.body));
            acc2.vStep();
            fn.emit(get(c), i32(8), ["i32.add"], set(c));
          },
        );
      innerLoop(
        fn,
        c,
        end,
        () => {
          x.element(() => x.v(k.body));
          acc.vStep();
        },
        () => {
          x.element(() => x.s(k.body));
          acc.sStep();
        },
        vectorise,
        known,
      );
    });
    result = () => {
      if (!vectorise) return acc.scalar();
      acc.merge(acc2);
      acc.folded();
    };
  }

  fn.itemLoop(o, k.shape, oi, () => {
    init();
    loops(fn, k.red.slice(0, -1), ri, () => {
      fn.emit(i32(0), set(c));
      if (q > 0) fn.dim(k.red[q - 1]!);
      else fn.emit(i32(1));
      fn.emit(set(end), ...hoist, ...innermost);
    });
    stored.address(k.out, at, 0);
    result();
    fn.emit([storeOp(ctx, k), 0]);
  });
  return { fn: fn.finish(name), items: sizeOf(numElements(k.shape), ctx), scratch: 0 };
}

/** Items are blocks of BLOCK outputs along the last output axis; four of them reduce at once. */
function outer(k: ReduceKernel, ctx: KernelContext, name: string): PrintedCode {
  const fn = new FnBuilder(ctx);
  const r = k.shape.length;
  const op = k.op as "sum" | "max";
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
  const ri = k.red.map(() => fn.local("i32"));
  const env: Env = {
    loop: (i) => (i === r - 1 ? { vary: true } : { base: [get(oi[i]!)] }),
    red: (i) => ({ base: [get(ri[i]!)], inner: true }),
    lin: () => ({ base: [get(rowLin)], vary: true }),
    counter: j,
  };
  // Hoisted per item: what reads neither the counter nor the reduced indices (looped inside).
  const hoist: Instr[] = [];
  const x = new Exprs(fn, env, hoist);
  const at: IExpr = k.outAt === undefined ? { k: "lin" } : iadd(k.outAt, { k: "lin" });
  const acc = accumulator(fn, op, k.body);
  const loop = fn.capture(() =>
    innerLoop(
      fn,
      j,
      end,
      () => {
        x.vaddress(k.out, at);
        acc.init();
        loops(fn, k.red, ri, () => {
          x.element(() => x.v(k.body));
          acc.vStep();
        });
        acc.lanes();
        fn.emit(["v128.store", 0]);
      },
      () => {
        x.address(k.out, at, 0);
        acc.init();
        loops(fn, k.red, ri, () => {
          x.element(() => x.s(k.body));
          acc.sStep();
        });
        acc.scalar();
        fn.emit([storeOp(ctx, k), 0]);
      },
    ),
  );
  // Several vectors of the block reduce together, independent chains in one pass over the
  // reduced domain (each lane still in serial order: the same bits as one vector at a time):
  // four while 16 columns are left, then two while 8 are; then one at a time, then scalars.
  const cs = Array.from({ length: BLOCK / 4 }, () => fn.local("i32"));
  const xs = cs.map((ck) => x.withCounter(ck));
  const accs = cs.map(() => accumulator(fn, op, k.body));
  const pass = (V: number) =>
    fn.capture(() =>
      fn.ifElse(
        () => fn.emit(get(end), get(j), ["i32.sub"], i32(4 * V), ["i32.ge_s"]),
        () => {
          cs.slice(0, V).forEach((ck, v) => fn.emit(get(j), i32(4 * v), ["i32.add"], set(ck)));
          accs.slice(0, V).forEach((a) => a.init());
          loops(fn, k.red, ri, () =>
            xs.slice(0, V).forEach((xv, v) => {
              xv.element(() => xv.v(k.body));
              accs[v]!.vStep();
            }),
          );
          xs.slice(0, V).forEach((xv, v) => {
            xv.vaddress(k.out, at);
            accs[v]!.lanes();
            fn.emit(["v128.store", 0]);
          });
          fn.emit(get(j), i32(4 * V), ["i32.add"], set(j));
        },
      ),
    );
  const passes = [...pass(4), ...pass(2)];
  fn.forLoop(
    item,
    () => fn.emit(get(LO)),
    () => fn.emit(get(HI)),
    () => {
      // item = row * blocks + block; j over [block * BLOCK, min(block * BLOCK + BLOCK, last)).
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
      fn.emit(["i32.lt_s"], ["select"], set(end), ...hoist, ...passes, ...loop);
    },
  );
  const items = size.mul(sizeOf(numElements(rows), ctx), sizeOf(blocks, ctx));
  return { fn: fn.finish(name), items, scratch: 0 };
}
