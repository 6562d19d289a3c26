// A matmul item of fewer rows than the micro-kernel's tile (m < 4: batch-1
// inference, a GEMV), streamed from the operands without packing: packing B
// would copy every element of it for one or two uses, and a 4-row tile would
// compute 4 rows for one.
//
// B stored [k, n] (rows along the output's columns): per output row, strips
// of 32, then 4 columns keep 8 (1) f32x4 accumulators, each step p one
// broadcast of A[i, p] and the strip's row p of B, in the order p = 0..k-1
// from 0 like the micro-kernel (so a row sums exactly as a packed tile's);
// the last columns one at a time in lane 0 (load32_splat).
// B stored [n, k] (transposed, contiguous along k): dot products, 4 columns
// at a time (one A vector for four B rows), lane l summing p = l mod 4 in
// order, the lanes folded as (l0 + l2) + (l1 + l3), then the last k mod 4
// terms in order. Either order depends on the element alone (not on the
// item or the split).

import type { Instr } from "./instr.ts";
import { get, i32, set } from "./function.ts";
import type { MatmulWriter } from "./matmul.ts";

/** Operand addresses and the item's columns (locals of the writer's function). */
export interface FewRowsItem {
  aOff: number;
  bOff: number;
  oOff: number;
  j0: number;
  nc: number;
}

const madd: Instr = ["f32x4.relaxed_madd"];
const zero: Instr = ["v128.const", 0, 0, 0, 0];

/** Rows [0, M) of the item's columns [j0, j0 + nc). */
export function fewRows(w: MatmulWriter, e: FewRowsItem): void {
  if (w.k.b.transposed) dots(w, e);
  else strips(w, e);
}

/** Pushes the byte address of A[i, p] (i, p: locals). */
function aAt(w: MatmulWriter, e: FewRowsItem, i: number, p: number) {
  const [r, c, s] = w.k.a.transposed ? [p, i, w.M] : [i, p, w.K];
  w.emit(get(e.aOff), get(r), get(s), ["i32.mul"], get(c), ["i32.add"], i32(4), ["i32.mul"]);
  w.emit(["i32.add"]);
}

function strips(w: MatmulWriter, e: FewRowsItem) {
  const { f } = w;
  const nb = w.k.batch.length;
  const [ei, ej] = [w.loops[nb]!, w.loops[nb + 1]!];
  const [end, pa, pb, p, aStep, bStep] = w.ints(6);
  const av = f.local("v128");
  const acc = Array.from({ length: 8 }, () => f.local("v128"));
  const vector = w.k.epilogue.dtype === "f32";
  w.emit(i32(w.k.a.transposed ? 0 : 4), set(aStep));
  if (w.k.a.transposed) w.emit(get(w.M), i32(4), ["i32.mul"], set(aStep));
  w.emit(get(w.N), i32(4), ["i32.mul"], set(bStep));
  w.emit(get(e.j0), get(e.nc), ["i32.add"], set(end), get(e.j0), set(ej));
  /** Strips of `width` columns (4 * vectors, or 1) while they fit. */
  const strip = (width: number) => {
    const V = Math.max(1, width / 4);
    f.whileLoop(
      () => w.emit(get(ej), i32(width), ["i32.add"], get(end), ["i32.le_s"]),
      () => {
        f.forLoop(
          ei,
          () => w.emit(i32(0)),
          () => w.emit(get(w.M)),
          () => {
            for (let y = 0; y < V; y++) w.emit(zero, set(acc[y]!));
            w.emit(i32(0), set(p));
            aAt(w, e, ei, p);
            w.emit(set(pa), get(e.bOff), get(ej), i32(4), ["i32.mul"], ["i32.add"], set(pb));
            f.forLoop(
              p,
              () => w.emit(i32(0)),
              () => w.emit(get(w.K)),
              () => {
                w.emit(get(pa), ["v128.load32_splat", 0], set(av));
                for (let y = 0; y < V; y++) {
                  w.emit(
                    get(av),
                    get(pb),
                    width === 1 ? ["v128.load32_splat", 0] : ["v128.load", 16 * y],
                  );
                  w.emit(get(acc[y]!), madd, set(acc[y]!));
                }
                w.emit(get(pa), get(aStep), ["i32.add"], set(pa));
                w.emit(get(pb), get(bStep), ["i32.add"], set(pb));
              },
            );
            w.linRow();
            const j = f.temp("i32");
            w.emit(get(ej), set(j));
            for (let y = 0; y < V; y++) {
              if (width === 1 || !vector) {
                for (let l = 0; l < Math.min(width, 4); l++) {
                  w.emit(get(j), i32(l + 4 * y), ["i32.add"], set(ej));
                  w.storeScalar(e.oOff, [get(acc[y]!), ["f32x4.extract_lane", l]]);
                }
              } else {
                w.emit(get(j), i32(4 * y), ["i32.add"], set(ej));
                w.storeVector(e.oOff, acc[y]!);
              }
            }
            w.emit(get(j), set(ej));
            f.release(j, "i32");
          },
        );
        w.emit(get(ej), i32(width), ["i32.add"], set(ej));
      },
    );
  };
  strip(32);
  strip(4);
  strip(1);
}

function dots(w: MatmulWriter, e: FewRowsItem) {
  const { f } = w;
  const nb = w.k.batch.length;
  const [ei, ej] = [w.loops[nb]!, w.loops[nb + 1]!];
  const [end, pa, pb, p, k4, rowBytes, j] = w.ints(7);
  const av = f.local("v128");
  const acc = Array.from({ length: 4 }, () => f.local("v128"));
  const fold = (a: number, lanes: number[]) =>
    w.emit(
      get(a),
      get(a),
      get(a),
      ["i8x16.shuffle", ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])],
      ["f32x4.add"],
      set(a),
    );
  w.emit(get(w.K), i32(4), ["i32.mul"], set(rowBytes), get(w.K), i32(~3), ["i32.and"], set(k4));
  w.emit(get(e.j0), get(e.nc), ["i32.add"], set(end), get(e.j0), set(j));
  /** Groups of C columns while they fit. */
  const group = (C: number) =>
    f.whileLoop(
      () => w.emit(get(j), i32(C), ["i32.add"], get(end), ["i32.le_s"]),
      () => {
        f.forLoop(
          ei,
          () => w.emit(i32(0)),
          () => w.emit(get(w.M)),
          () => {
            for (let c = 0; c < C; c++) w.emit(zero, set(acc[c]!));
            // pb: B[j, p] (row j of the stored [n, k]); its column c, rowBytes * c further.
            w.emit(get(e.bOff), get(j), get(rowBytes), ["i32.mul"], ["i32.add"], set(pb));
            f.forLoop(
              p,
              () => w.emit(i32(0)),
              () => w.emit(get(k4)),
              () => {
                aAt(w, e, ei, p);
                if (w.k.a.transposed) {
                  // A[i, p..p+3] lies M apart: lane by lane.
                  w.emit(set(pa), get(pa), ["v128.load32_splat", 0]);
                  for (let l = 1; l < 4; l++) {
                    w.emit(
                      get(pa),
                      get(w.M),
                      i32(4 * l),
                      ["i32.mul"],
                      ["i32.add"],
                      ["f32.load", 0],
                    );
                    w.emit(["f32x4.replace_lane", l]);
                  }
                } else w.emit(["v128.load", 0]);
                w.emit(set(av));
                for (let c = 0; c < C; c++) {
                  w.emit(get(av), get(pb));
                  if (c > 0) w.emit(get(rowBytes), i32(c), ["i32.mul"], ["i32.add"]);
                  w.emit(["v128.load", 0], get(acc[c]!), madd, set(acc[c]!));
                }
                w.emit(get(pb), i32(16), ["i32.add"], set(pb));
              },
              4,
            );
            for (let c = 0; c < C; c++) {
              fold(acc[c]!, [2, 3, 0, 1]);
              fold(acc[c]!, [1, 0, 3, 2]);
            }
            // The last k mod 4 terms, in order, on the folded sums.
            f.forLoop(
              p,
              () => w.emit(get(k4)),
              () => w.emit(get(w.K)),
              () => {
                aAt(w, e, ei, p);
                w.emit(["v128.load32_splat", 0], set(av));
                for (let c = 0; c < C; c++) {
                  w.emit(get(av), get(e.bOff), get(j), i32(c), ["i32.add"], get(rowBytes), [
                    "i32.mul",
                  ]);
                  w.emit(
                    ["i32.add"],
                    get(p),
                    i32(4),
                    ["i32.mul"],
                    ["i32.add"],
                    ["v128.load32_splat", 0],
                  );
                  w.emit(get(acc[c]!), madd, set(acc[c]!));
                }
              },
            );
            w.linRow();
            for (let c = 0; c < C; c++) {
              w.emit(get(j), i32(c), ["i32.add"], set(ej));
              w.storeScalar(e.oOff, [get(acc[c]!), ["f32x4.extract_lane", 0]]);
            }
          },
        );
        w.emit(get(j), i32(C), ["i32.add"], set(j));
      },
    );
  group(4);
  group(1);
}
