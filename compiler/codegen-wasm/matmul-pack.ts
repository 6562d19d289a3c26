// Operand packing for the matmul (see matmul.ts for the scheme): copies a
// block of A or B into the thread's scratch as zero-padded micro-panels
// [panels][kc][W], from a source contiguous along the panel (row copies) or
// stored the other way round (4 x 4 blocks transposed through shuffles), so
// that the micro-kernel (matmul-micro.ts) reads one layout for every
// transpose and edge. Apart from matmul.ts, which decides what to pack when.

import type { Instr } from "./instr.ts";
import { get, i32, set, shuffle32 } from "./function.ts";
import type { MatmulWriter } from "./matmul.ts";

/**
 * A packer: `valid` columns of `kc` rows of the source whose address `src`
 * pushes (rows `stride` elements apart), into panels W wide at dst (a local).
 */
type Pack = (
  w: MatmulWriter,
  dst: number,
  src: () => void,
  stride: number,
  W: number,
  valid: number,
  kc: number,
) => void;

/**
 * Packs into [panels][kc][W], zero-padded, from a source whose rows run
 * along the panel: element (p, c) of panel q at src + 4 * (p * stride + q * W + c).
 */
export const packContig: Pack = (w, dst, src, stride, W, valid, kc) => {
  const { f } = w;
  const [s, st, q, p, cv, d, sp, c] = w.ints(8);
  src();
  w.emit(set(s), get(stride), i32(4), ["i32.mul"], set(st));
  const rows = (inner: () => void) =>
    f.forLoop(
      p,
      () => w.emit(i32(0)),
      () => w.emit(get(kc)),
      () => {
        inner();
        w.emit(get(d), i32(4 * W), ["i32.add"], set(d), get(sp), get(st), ["i32.add"], set(sp));
      },
    );
  w.blocks(q, cv, valid, W, () => {
    w.emit(get(dst), get(q), get(kc), ["i32.mul"], i32(4 * W), ["i32.mul"], ["i32.add"], set(d));
    w.emit(get(s), get(q), i32(4 * W), ["i32.mul"], ["i32.add"], set(sp));
    f.ifElse(
      () => w.emit(get(cv), i32(W), ["i32.eq"]),
      () =>
        rows(() => {
          for (let x = 0; x + 4 <= W; x += 4)
            w.emit(get(d), get(sp), ["v128.load", x * 4], ["v128.store", x * 4]);
          for (let x = W - (W % 4); x < W; x++)
            w.emit(get(d), get(sp), ["f32.load", x * 4], ["f32.store", x * 4]);
        }),
      () =>
        // An edge panel: whole groups of 4 valid columns as vectors, the rest zeros, then
        // the valid columns of the group the edge cuts one by one.
        rows(() => {
          for (let x = 0; x + 4 <= W; x += 4)
            f.ifElse(
              () => w.emit(i32(x + 4), get(cv), ["i32.le_s"]),
              () => w.emit(get(d), get(sp), ["v128.load", x * 4], ["v128.store", x * 4]),
              () => w.emit(get(d), ["v128.const", 0, 0, 0, 0], ["v128.store", x * 4]),
            );
          for (let x = W - (W % 4); x < W; x++)
            w.emit(get(d), ["f32.const", 0], ["f32.store", x * 4]);
          f.forLoop(
            c,
            () => w.emit(get(cv), i32(~3), ["i32.and"]),
            () => w.emit(get(cv)),
            () => {
              w.emit(get(d), get(c), i32(4), ["i32.mul"], ["i32.add"]);
              w.emit(get(sp), get(c), i32(4), ["i32.mul"], ["i32.add"], ["f32.load", 0]);
              w.emit(["f32.store", 0]);
            },
          );
        }),
    );
  });
};

/**
 * Packs like packContig from a source stored the other way round:
 * element (p, c) of panel q at src + 4 * ((q * W + c) * stride + p).
 */
export const packStrided: Pack = (w, dst, src, stride, W, valid, kc) => {
  const { f } = w;
  const [s, q, p, p0, cv, d, sp, c, rowBytes] = w.ints(9);
  src();
  w.emit(set(s), get(stride), i32(4), ["i32.mul"], set(rowBytes));
  // Rows p0.. of column c: dst[p][c] = src[c][p], a zero past the valid columns.
  const column = (value: () => void) =>
    f.forLoop(
      p,
      () => w.emit(get(p0)),
      () => w.emit(get(kc)),
      () => {
        w.emit(get(d), get(p), i32(4 * W), ["i32.mul"], ["i32.add"]);
        value();
        w.emit(["f32.store", 0]);
      },
    );
  const columns = () =>
    f.forLoop(
      c,
      () => w.emit(i32(0)),
      () => w.emit(i32(W)),
      () => {
        w.emit(get(dst), get(q), get(kc), ["i32.mul"], i32(4 * W), ["i32.mul"], ["i32.add"]);
        w.emit(get(c), i32(4), ["i32.mul"], ["i32.add"], set(d));
        w.emit(get(s), get(q), i32(W), ["i32.mul"], get(c), ["i32.add"], get(rowBytes));
        w.emit(["i32.mul"], ["i32.add"], set(sp));
        f.ifElse(
          () => w.emit(get(c), get(cv), ["i32.lt_s"]),
          () =>
            column(() =>
              w.emit(get(sp), get(p), i32(4), ["i32.mul"], ["i32.add"], ["f32.load", 0]),
            ),
          () => column(() => w.emit(["f32.const", 0])),
        );
      },
    );
  w.blocks(q, cv, valid, W, () => {
    w.emit(i32(0), set(p0));
    // 4 x 4 blocks transposed in registers, the last kc % 4 rows one by one.
    if (W % 4 === 0) {
      w.emit(get(kc), i32(~3), ["i32.and"], set(p0));
      transposeBlocks(w, dst, s, q, p, p0, cv, rowBytes, W, kc);
    }
    columns();
  });
};

/**
 * Rows [0, p0) of panel q of packStrided, four at a time: from each group
 * of 4 source rows (columns of the panel) a v128 of 4 consecutive p (zeros
 * for the columns from cv on, not read: they may lie past memory), then a
 * 4 x 4 transpose (8 shuffles) into 4 packed rows.
 */
function transposeBlocks(
  w: MatmulWriter,
  dst: number,
  s: number,
  q: number,
  p: number,
  p0: number,
  cv: number,
  rowBytes: number,
  W: number,
  kc: number,
) {
  const { f } = w;
  const [src, out] = w.ints(2);
  const r = Array.from({ length: 4 }, () => f.local("v128"));
  const t = Array.from({ length: 4 }, () => f.local("v128"));
  const shuffle = (a: number, b: number, lanes: number[]): Instr[] => [
    get(a),
    get(b),
    shuffle32(lanes),
  ];
  f.forLoop(
    p,
    () => w.emit(i32(0)),
    () => w.emit(get(p0)),
    () => {
      for (let c4 = 0; c4 < W / 4; c4++) {
        // src: row (q * W + 4 * c4) at column p; out: packed row p, column 4 * c4.
        w.emit(get(s), get(q), i32(W), ["i32.mul"], i32(4 * c4), ["i32.add"], get(rowBytes));
        w.emit(["i32.mul"], ["i32.add"], get(p), i32(4), ["i32.mul"], ["i32.add"], set(src));
        w.emit(get(dst), get(q), get(kc), ["i32.mul"], i32(4 * W), ["i32.mul"], ["i32.add"]);
        w.emit(get(p), i32(4 * W), ["i32.mul"], ["i32.add"], set(out));
        for (let i = 0; i < 4; i++) {
          f.ifElse(
            () => w.emit(i32(4 * c4 + i), get(cv), ["i32.lt_s"]),
            () => w.emit(get(src), ["v128.load", 0]),
            () => w.emit(["v128.const", 0, 0, 0, 0]),
            "v128",
          );
          w.emit(set(r[i]!));
          if (i < 3) w.emit(get(src), get(rowBytes), ["i32.add"], set(src));
        }
        w.emit(...shuffle(r[0]!, r[1]!, [0, 4, 1, 5]), set(t[0]!));
        w.emit(...shuffle(r[2]!, r[3]!, [0, 4, 1, 5]), set(t[1]!));
        w.emit(...shuffle(r[0]!, r[1]!, [2, 6, 3, 7]), set(t[2]!));
        w.emit(...shuffle(r[2]!, r[3]!, [2, 6, 3, 7]), set(t[3]!));
        const rows: [number, number, number[]][] = [
          [t[0]!, t[1]!, [0, 1, 4, 5]],
          [t[0]!, t[1]!, [2, 3, 6, 7]],
          [t[2]!, t[3]!, [0, 1, 4, 5]],
          [t[2]!, t[3]!, [2, 3, 6, 7]],
        ];
        rows.forEach(([a, b, lanes], j) =>
          w.emit(get(out), ...shuffle(a, b, lanes), ["v128.store", 4 * (j * W + 4 * c4)]),
        );
      }
    },
    4,
  );
}
