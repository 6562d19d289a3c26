// A matmul item with fewer rows (m < 4: batch-1 inference, a GEMV) or fewer
// columns (n < 4: a regression's one output, a logits gradient's column)
// than the micro-kernel's tile, streamed from the operands without packing:
// packing would copy every element of the large operand for one or two uses,
// and a 4 x 8 tile would compute 4 rows (8 columns) for one.
//
// Both run one code for out'[i, j] = sum_p A'[i, p] B'[p, j] over few rows
// i: for few rows, A' = A and B' = B; for few columns the transpose
// out^T = B^T A^T (A' = B^T, B' = A^T, stored as they are, read at swapped
// strides). By how B' lies:
// - contiguous along j: per row, strips of 32, then 4 columns keep 8 (1)
//   f32x4 accumulators, each step p one broadcast of A'[i, p] and the strip's
//   row p of B', in the order p = 0..k-1 from 0 like the micro-kernel (so an
//   element sums exactly as in a packed tile); the last columns one at a time
//   in lane 0 (load32_splat);
// - contiguous along p: dot products, 4 columns at a time (one A' vector for
//   four B' columns), lane l summing p = l mod 4 in order, the lanes folded as
//   (l0 + l2) + (l1 + l3), then the last k mod 4 terms in order.
// Either order depends on the element alone (not on the item or the split).

import type { Instr } from "./instr.ts";
import { get, i32, set, shuffle32 } from "./function.ts";
import type { MatmulWriter } from "./matmul.ts";

/** The item's operand and output addresses, its columns and rows (locals of the writer's function). */
export interface SmallItem {
  aOff: number;
  bOff: number;
  oOff: number;
  i0: number;
  mb: number;
  j0: number;
  nc: number;
}

/**
 * out'[i, j] for i in [0, rows), j in [j0, j0 + nc); A'[i, p] at
 * a + i * aI + p * aP, B'[p, j] at b + p * bP + j * bJ (bytes, locals).
 */
interface View {
  swapped: boolean;
  rows: number;
  /** Where out''s rows start (a local; absent: 0). */
  rowAt?: number;
  j0: number;
  nc: number;
  oOff: number;
  a: number;
  aI: number;
  aP: number;
  /** Whether A' is contiguous along p (aP = 4). */
  aContig: boolean;
  b: number;
  bP: number;
  bJ: number;
  /** Whether B' is contiguous along j (bJ = 4; else along p). */
  bAlongJ: boolean;
}

const madd: Instr = ["f32x4.relaxed_madd"];
const zero: Instr = ["v128.const", 0, 0, 0, 0];

/** Rows [0, M) of the item's columns [j0, j0 + nc). */
export function fewRows(w: MatmulWriter, e: SmallItem): void {
  const { a, b } = w.k;
  const [a0, aI, aP, b0, bP, bJ] = w.ints(6);
  w.emit(get(e.aOff), set(a0), get(e.bOff), set(b0));
  bytes(w, a.transposed ? null : w.K, aI);
  bytes(w, a.transposed ? w.M : null, aP);
  bytes(w, b.transposed ? null : w.N, bP);
  bytes(w, b.transposed ? w.K : null, bJ);
  const v = { swapped: false, rows: w.M, j0: e.j0, nc: e.nc, oOff: e.oOff };
  small(w, { ...v, a: a0, aI, aP, aContig: !a.transposed, b: b0, bP, bJ, bAlongJ: !b.transposed });
}

/**
 * Columns [0, N) (or `cols`: [from, from + count), a packed item's last
 * columns) of the item's rows [i0, i0 + mb), as rows of out^T = B^T A^T.
 */
export function fewColumns(
  w: MatmulWriter,
  e: SmallItem,
  cols?: { from: number; count: number },
): void {
  const { a, b } = w.k;
  const [a0, aI, aP, b0, bP, bJ] = w.ints(6);
  // A'[i, p] = B[p, from + i], B'[p, j] = A[j, p].
  bytes(w, b.transposed ? w.K : null, aI);
  bytes(w, b.transposed ? null : w.N, aP);
  bytes(w, a.transposed ? w.M : null, bP);
  bytes(w, a.transposed ? null : w.K, bJ);
  w.emit(get(e.bOff));
  if (cols) w.emit(get(cols.from), get(aI), ["i32.mul"], ["i32.add"]);
  w.emit(set(a0), get(e.aOff), set(b0));
  const v = {
    swapped: true,
    rows: cols?.count ?? w.N,
    ...(cols && { rowAt: cols.from }),
    j0: e.i0,
    nc: e.mb,
    oOff: e.oOff,
  };
  small(w, { ...v, a: a0, aI, aP, aContig: b.transposed, b: b0, bP, bJ, bAlongJ: a.transposed });
}

/** Sets local `to` to a stride in bytes: 4 * local `l`, or 4 (null: contiguous). */
function bytes(w: MatmulWriter, l: number | null, to: number) {
  if (l === null) w.emit(i32(4), set(to));
  else w.emit(get(l), i32(4), ["i32.mul"], set(to));
}

function small(w: MatmulWriter, v: View) {
  if (v.bAlongJ) strips(w, v);
  else dots(w, v);
}

/** Pushes base + x * sx + y * sy (locals). */
function at(w: MatmulWriter, base: number, x: number, sx: number, y: number, sy: number) {
  w.emit(get(base), get(x), get(sx), ["i32.mul"], ["i32.add"], get(y), get(sy), ["i32.mul"]);
  w.emit(["i32.add"]);
}

/**
 * Stores the epilogue of out'[i, j] (j: `jc` past the local j): an f32x4
 * accumulator's lanes as 4 columns (`lanes` 4, out' unswapped, an f32
 * epilogue), else lane `lane` alone.
 */
function store(
  w: MatmulWriter,
  v: View,
  i: number,
  j: number,
  jc: number,
  acc: number,
  lane: number | "v",
) {
  const nb = w.k.batch.length;
  const [ei, ej] = [w.loops[nb]!, w.loops[nb + 1]!];
  const [row, col] = v.swapped ? [ej, ei] : [ei, ej];
  w.emit(get(i));
  if (v.rowAt !== undefined) w.emit(get(v.rowAt), ["i32.add"]);
  w.emit(set(row), get(j), i32(jc), ["i32.add"], set(col));
  w.linRow();
  if (lane === "v") w.storeVector(v.oOff, acc);
  else w.storeScalar(v.oOff, [get(acc), ["f32x4.extract_lane", lane]]);
}

/** Groups of C columns from j while they fit before `end`: `row` for each row i of out'. */
function columnGroups(
  w: MatmulWriter,
  v: View,
  i: number,
  j: number,
  end: number,
  C: number,
  row: () => void,
) {
  w.f.whileLoop(
    () => w.emit(get(j), i32(C), ["i32.add"], get(end), ["i32.le_s"]),
    () => {
      w.f.forLoop(
        i,
        () => w.emit(i32(0)),
        () => w.emit(get(v.rows)),
        row,
      );
      w.emit(get(j), i32(C), ["i32.add"], set(j));
    },
  );
}

function strips(w: MatmulWriter, v: View) {
  const { f } = w;
  const [end, pa, pb, p, i, j] = w.ints(6);
  const av = f.local("v128");
  const acc = Array.from({ length: 8 }, () => f.local("v128"));
  const vector = w.k.epilogue.dtype === "f32" && !v.swapped;
  w.emit(get(v.j0), get(v.nc), ["i32.add"], set(end), get(v.j0), set(j));
  /** Strips of `width` columns (4 * vectors, or 1) while they fit. */
  const strip = (width: number) => {
    const V = Math.max(1, width / 4);
    columnGroups(w, v, i, j, end, width, () => {
      for (let y = 0; y < V; y++) w.emit(zero, set(acc[y]!));
      w.emit(get(v.a), get(i), get(v.aI), ["i32.mul"], ["i32.add"], set(pa));
      w.emit(get(v.b), get(j), i32(4), ["i32.mul"], ["i32.add"], set(pb));
      f.forLoop(
        p,
        () => w.emit(i32(0)),
        () => w.emit(get(w.K)),
        () => {
          w.emit(get(pa), ["v128.load32_splat", 0], set(av));
          for (let y = 0; y < V; y++) {
            const load: Instr = width === 1 ? ["v128.load32_splat", 0] : ["v128.load", 16 * y];
            w.emit(get(av), get(pb), load, get(acc[y]!), madd, set(acc[y]!));
          }
          w.emit(get(pa), get(v.aP), ["i32.add"], set(pa));
          w.emit(get(pb), get(v.bP), ["i32.add"], set(pb));
        },
      );
      for (let y = 0; y < V; y++)
        if (vector && width > 1) store(w, v, i, j, 4 * y, acc[y]!, "v");
        else for (let l = 0; l < Math.min(width, 4); l++) store(w, v, i, j, 4 * y + l, acc[y]!, l);
    });
  };
  strip(32);
  strip(4);
  strip(1);
}

function dots(w: MatmulWriter, v: View) {
  const { f } = w;
  const [end, pa, pb, p, k4, i, j] = w.ints(7);
  const av = f.local("v128");
  const acc = Array.from({ length: 4 }, () => f.local("v128"));
  const fold = (a: number, lanes: number[]) =>
    w.emit(get(a), get(a), get(a), shuffle32(lanes), ["f32x4.add"], set(a));
  w.emit(get(w.K), i32(~3), ["i32.and"], set(k4));
  w.emit(get(v.j0), get(v.nc), ["i32.add"], set(end), get(v.j0), set(j));
  /** Groups of C columns while they fit. */
  const group = (C: number) =>
    columnGroups(w, v, i, j, end, C, () => {
      for (let c = 0; c < C; c++) w.emit(zero, set(acc[c]!));
      // pb: B'[p, j] (column j, contiguous along p); column j + c, bJ * c further.
      w.emit(get(v.b), get(j), get(v.bJ), ["i32.mul"], ["i32.add"], set(pb));
      f.forLoop(
        p,
        () => w.emit(i32(0)),
        () => w.emit(get(k4)),
        () => {
          at(w, v.a, i, v.aI, p, v.aP);
          if (!v.aContig) {
            // A'[i, p..p+3] lies aP apart: lane by lane.
            w.emit(set(pa), get(pa), ["v128.load32_splat", 0]);
            for (let l = 1; l < 4; l++) {
              w.emit(get(pa), get(v.aP), i32(l), ["i32.mul"], ["i32.add"], ["f32.load", 0]);
              w.emit(["f32x4.replace_lane", l]);
            }
          } else w.emit(["v128.load", 0]);
          w.emit(set(av));
          for (let c = 0; c < C; c++) {
            w.emit(get(av), get(pb));
            if (c > 0) w.emit(get(v.bJ), i32(c), ["i32.mul"], ["i32.add"]);
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
          at(w, v.a, i, v.aI, p, v.aP);
          w.emit(["v128.load32_splat", 0], set(av));
          for (let c = 0; c < C; c++) {
            w.emit(get(av), get(pb), get(p), get(k4), ["i32.sub"], i32(4), ["i32.mul"]);
            w.emit(["i32.add"]);
            if (c > 0) w.emit(get(v.bJ), i32(c), ["i32.mul"], ["i32.add"]);
            w.emit(["v128.load32_splat", 0], get(acc[c]!), madd, set(acc[c]!));
          }
        },
      );
      for (let c = 0; c < C; c++) store(w, v, i, j, c, acc[c]!, 0);
    });
  group(4);
  group(1);
}
