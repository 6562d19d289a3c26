// The matmul's register-blocked micro-kernel (see matmul.ts for the scheme):
// over every MR x NR tile of an item's block, MR * NR/4 f32x4 accumulators
// summed over the block's k from the packed A and B micro-panels, then parked
// in the C tile between k blocks or, after the last, run through the epilogue
// and stored. Apart from matmul.ts, which plans the items, blocks and packing,
// so that each reads as one thing.

import { dimAsConst } from "../dims.ts";
import { get, i32, SCRATCH, set, tee } from "./function.ts";
import type { MatmulWriter } from "./matmul.ts";

/** Micro-kernel rows and columns (MR * NR/4 accumulators + NR/4 B vectors + 1 A splat in 16 xmm). */
export const MR = 4;
export const NR = 8;

/** Every MR x NR tile of the item's block: the micro-kernel, then a park in the C tile or the epilogue. */
export function tiles(
  w: MatmulWriter,
  e: {
    kb: number;
    kc: number;
    mb: number;
    nc: number;
    oOff: number;
    i0: number;
    j0: number;
    bBase: number;
  },
) {
  const { f, k, L, K } = w;
  const [jr, ir, pa, pb, end, ct, rv, cv, r, c] = w.ints(10);
  const V = NR / 4;
  const acc = Array.from({ length: MR * V }, () => f.local("v128"));
  const bv = Array.from({ length: V }, () => f.local("v128"));
  const av = f.local("v128");
  const accF = f.local("f32");
  const A = (x: number, y: number) => acc[x * V + y]!;
  const [ei, ej] = [w.loops[k.batch.length]!, w.loops[k.batch.length + 1]!];

  /** One k step of the tile's first `rows` rows (the others keep their sums). */
  const step = (rows: number) => {
    for (let y = 0; y < V; y++) w.emit(get(pb), ["v128.load", 16 * y], set(bv[y]!));
    for (let x = 0; x < rows; x++) {
      w.emit(get(pa), ["v128.load32_splat", 4 * x], set(av));
      for (let y = 0; y < V; y++)
        w.emit(get(av), get(bv[y]!), get(A(x, y)), ["f32x4.relaxed_madd"], set(A(x, y)));
    }
  };
  const ctOffset = (x: number, y: number) => (x * NR + y * 4) * 4;
  const tileRow = () => w.emit(get(e.i0), get(ir), i32(MR), ["i32.mul"], ["i32.add"]);
  const tileCol = () => w.emit(get(e.j0), get(jr), i32(NR), ["i32.mul"], ["i32.add"]);
  const linRow = () => w.linRow();
  // Whole rows of 8 columns with an f32 epilogue: the epilogue four lanes at a time on the
  // accumulators, row x when x < rv (rows past the edge of the matrix are not stored).
  const vecStore = () => {
    for (let x = 0; x < MR; x++) {
      const row = () => {
        tileRow();
        w.emit(i32(x), ["i32.add"], set(ei));
        linRow();
        for (let y = 0; y < V; y++) {
          tileCol();
          w.emit(i32(4 * y), ["i32.add"], set(ej));
          w.storeVector(e.oOff, A(x, y));
        }
      };
      if (x === 0) row();
      else f.ifElse(() => w.emit(i32(x), get(rv), ["i32.lt_s"]), row);
    }
  };
  // Otherwise the tile goes to the edge buffer and the epilogue runs per element.
  const scalar = () => {
    for (let x = 0; x < MR; x++)
      for (let y = 0; y < V; y++)
        w.emit(get(SCRATCH), get(A(x, y)), ["v128.store", L.edge + ctOffset(x, y)]);
    f.forLoop(
      r,
      () => w.emit(i32(0)),
      () => w.emit(get(rv)),
      () => {
        tileRow();
        w.emit(get(r), ["i32.add"], set(ei));
        linRow();
        f.forLoop(
          c,
          () => w.emit(i32(0)),
          () => w.emit(get(cv)),
          () => {
            tileCol();
            w.emit(get(c), ["i32.add"], set(ej));
            w.element(SCRATCH, r, i32(NR), c);
            w.emit(["f32.load", L.edge], set(accF));
            w.storeScalar(e.oOff, [get(accF)]);
          },
        );
      },
    );
  };
  const vector = k.epilogue.dtype === "f32";

  w.blocks(jr, cv, e.nc, NR, () =>
    w.blocks(ir, rv, e.mb, MR, () => {
      w.emit(
        get(SCRATCH),
        i32(L.a),
        ["i32.add"],
        get(ir),
        get(e.kc),
        ["i32.mul"],
        i32(4 * MR),
        ["i32.mul"],
        ["i32.add"],
        set(pa),
      );
      w.emit(
        get(e.bBase),
        get(jr),
        get(e.kc),
        ["i32.mul"],
        i32(4 * NR),
        ["i32.mul"],
        ["i32.add"],
        set(pb),
      );
      w.emit(
        get(SCRATCH),
        i32(L.c),
        ["i32.add"],
        get(jr),
        i32(L.tileRows),
        ["i32.mul"],
        get(ir),
        ["i32.add"],
        i32(4 * MR * NR),
        ["i32.mul"],
        ["i32.add"],
        set(ct),
      );
      f.ifElse(
        () => w.emit(get(e.kb), ["i32.eqz"]),
        () => acc.forEach((a) => w.emit(["v128.const", 0, 0, 0, 0], set(a))),
        () => {
          for (let x = 0; x < MR; x++)
            for (let y = 0; y < V; y++)
              w.emit(get(ct), ["v128.load", ctOffset(x, y)], set(A(x, y)));
        },
      );
      // do { step; pa += MR; pb += NR } while (pb < pb's end), when kc > 0.
      w.emit(get(pb), get(e.kc), i32(4 * NR), ["i32.mul"], ["i32.add"], set(end));
      f.ifElse(
        () => w.emit(get(e.kc), i32(0), ["i32.gt_s"]),
        () => {
          const loop = (rows: number) => () => {
            w.emit(["loop"]);
            step(rows);
            w.emit(get(pa), i32(MR * 4), ["i32.add"], set(pa));
            w.emit(get(pb), i32(NR * 4), ["i32.add"], tee(pb), get(end), ["i32.lt_u"]);
            w.emit(["br_if", 0], ["end"]);
          };
          // An edge tile of 1 or 2 rows (LeNet's 6 filters: rows 4, 5) multiplies those
          // alone: the rows past it are never stored.
          const mc = dimAsConst(k.m);
          if (mc !== null && (mc % MR === 0 || mc % MR > MR / 2)) loop(MR)();
          else f.ifElse(() => w.emit(get(rv), i32(MR / 2), ["i32.le_s"]), loop(MR / 2), loop(MR));
        },
      );
      f.ifElse(
        () => w.emit(get(e.kb), get(e.kc), ["i32.add"], get(K), ["i32.lt_s"]),
        () => {
          for (let x = 0; x < MR; x++)
            for (let y = 0; y < V; y++)
              w.emit(get(ct), get(A(x, y)), ["v128.store", ctOffset(x, y)]);
        },
        () =>
          vector
            ? f.ifElse(() => w.emit(get(cv), i32(NR), ["i32.eq"]), vecStore, scalar)
            : scalar(),
      );
    }),
  );
}
