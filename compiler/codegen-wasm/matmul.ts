// Matmul -> WebAssembly (f32x4 SIMD), in the GotoBLAS/BLIS scheme that
// XNNPACK's and MLAS's wasm GEMMs also follow: both operands are packed into
// the thread's scratch so that one register-blocked micro-kernel serves every
// transpose, batch offset and edge.
//
// Work items are (batch, column panel of NC, row block of MB), the row block
// innermost, so consecutive items of one thread share B's packed panel. An
// item walks k in blocks of KC; per block it packs A's [MB, KC] block into
// micro-panels [MB/MR][KC][MR] and (unless this thread packed the same panel
// for the item before, all of k fitting in scratch) B's [KC, NC] panel into
// [NC/NR][KC][NR], both zero-padded to whole tiles (transposed operands 4 x 4
// blocks at a time through shuffles), then runs the MR x NR micro-kernel
// over every tile, B's micro-panel (KC * NR floats) staying in L1 while A's
// micro-panels stream from L2. The micro-kernel keeps MR * NR/4 f32x4
// accumulators in locals, broadcasts A with v128.load32_splat and loads B's
// rows as v128, one f32x4.relaxed_madd per pair (module.ts rewrites it to
// mul + add for the plain-SIMD binary). Its k loop is not unrolled: TurboFan
// schedules an unrolled body's loads first and spills (4x unrolled: 25
// GFLOP/s on 1024^3, rolled: 41 plain, 46 relaxed; bench/wasm-matmul.ts).
// Between k blocks the accumulators park in a C tile in scratch (an f32
// round trip: exact); after the last block the epilogue (bias, activation)
// runs on them, f32x4 on whole tiles, per element on edge tiles, and stores.
//
// Products of fewer than 4 rows or columns (a batch-1 GEMV, a regression's
// one output) skip packing and the tile: matmul-few-rows.ts streams them.
//
// Bit-identity across thread splits: each output element's sum runs over
// p = 0..k-1 in order, starting from 0, whatever item or tile computes it
// (the few-rows dot products: in an order fixed per element, see there).

import {
  dimAdd,
  dimAsConst,
  dimConst,
  dimFloorDiv,
  dimMul,
  numElements,
  type Dim,
} from "../dims.ts";
import type { IExpr, MatmulKernel, MatmulOperand } from "../kernel.ts";
import type { KernelContext } from "../backend.ts";
import type { Instr } from "./instr.ts";
import type { WasmKernelCode } from "../codegen-wasm.ts";
import { Exprs, type Env, type IndexLeaf, type Lane } from "./scalar.ts";
import { fewColumns, fewRows } from "./matmul-few-rows.ts";
import { FnBuilder, get, HI, i32, LO, SCRATCH, set, sizeOf, tee } from "./function.ts";

/** Micro-kernel rows and columns (MR * NR/4 accumulators + NR/4 B vectors + 1 A splat in 16 xmm). */
const MR = 4;
const NR = 8;
/** Cache blocking: rows per item, columns per item (B's packed panel), k per block. */
const MB = 32;
const NC = 256;
/**
 * Columns per item of a product of few rows (at most 4 row blocks, or rows
 * known only at run time: a batch): narrower panels give threads more items
 * (a recurrent step's [B, 32] @ [32, 128]: 4 rather than 1 at B = 50) for
 * the price of packing A once per panel, small then (and B is still packed
 * once per thread and panel).
 */
const NC_FEW_ROWS = 64;
/**
 * Items a product of one row block over a long k (more than one k block, or
 * k known only at run time: LeNet's filter gradients, k = batch x pixels) is
 * split into along n: it is otherwise one or a few items, which threads
 * cannot share. Each item packs A's rows anew (m x k floats against
 * m x n/2 x k multiply-adds; 4 items cost LeNet's [6, 50176] @ [50176, 25]^T
 * 10% on one thread); the order of each sum is the same for any panel width.
 */
const LONG_K_ITEMS = 2;
/** Columns per such item when n is known only at run time. */
const NC_LONG_K = 16;
const KC = 256;

/** Locals the packed path reads: the item's operands, output and block, the call's packing state. */
interface PackedLocals {
  aOff: number;
  bOff: number;
  oOff: number;
  i0: number;
  j0: number;
  mb: number;
  nc: number;
  kb: number;
  kc: number;
  lastB: number;
  lastJ0: number;
  fresh: number;
  bBase: number;
  aBase: number;
  lastA: number;
  lastI0: number;
}
/** At most this much of the scratch holds B's panel over all of k (more k: packed block by block). */
const B_PANEL_BYTES = 1 << 20;

/** A tuple of N numbers (up to the lengths used here). */
type Tuple<N extends number, T extends number[] = []> = T["length"] extends N
  ? T
  : Tuple<N, [...T, number]>;

const ceilDiv = (d: Dim, t: number) => dimFloorDiv(dimAdd(d, dimConst(t - 1)), dimConst(t));
const roundUp = (n: number, t: number) => Math.ceil(n / t) * t;

/**
 * Scratch layout (byte offsets from the thread's scratch): packed B, packed
 * A, the C tile (only when k may span several blocks), an edge tile; sized
 * down to the product when its dims are constants. B's region holds the
 * panel's first `kWhole` rows of k, block after block (`blockBytes` apart),
 * so that when k fits, the items after the first that share the panel skip
 * packing; a longer k packs each block anew into the first slot.
 */
function scratchLayout(k: MatmulKernel) {
  const [mc, nc, kc] = [dimAsConst(k.m), dimAsConst(k.n), dimAsConst(k.k)];
  const kb = kc === null ? KC : Math.max(1, Math.min(KC, kc));
  const longK = mc !== null && mc <= MB && (kc === null || kc > KC);
  const split = nc === null ? NC_LONG_K : roundUp(Math.ceil(nc / LONG_K_ITEMS), NR);
  const fewRows = mc === null || mc <= 4 * MB ? NC_FEW_ROWS : NC;
  const panel = longK ? Math.min(NC, split) : fewRows;
  const nb = nc === null ? panel : Math.min(panel, roundUp(Math.max(nc, 1), NR));
  const mb = mc === null ? MB : Math.min(MB, roundUp(Math.max(mc, 1), MR));
  const fit = Math.max(KC, Math.floor(B_PANEL_BYTES / (4 * nb) / KC) * KC);
  const kWhole = kc === null ? fit : Math.max(kb, Math.min(kc, fit));
  const b = 0;
  const a = b + 4 * Math.max(kWhole, kb) * nb;
  const c = a + 4 * kb * mb;
  const edge = c + (kc !== null && kc <= KC ? 0 : 4 * mb * nb);
  return {
    b,
    a,
    c,
    edge,
    total: roundUp(edge + 4 * MR * NR, 64),
    tileRows: mb / MR,
    kWhole,
    blockBytes: 4 * nb,
    panel,
  };
}

export function matmulToWasm(k: MatmulKernel, ctx: KernelContext, name: string): WasmKernelCode {
  return new MatmulWriter(k, ctx).write(name);
}

export class MatmulWriter {
  readonly f: FnBuilder;
  private readonly L: ReturnType<typeof scratchLayout>;
  /** Locals of the whole function. */
  readonly M: number;
  readonly N: number;
  readonly K: number;
  /** The epilogue's loop indices: the batch axes, then i, then j. */
  readonly loops: number[];
  /** The item's batch matrix (linear over the batch axes), and the epilogue's row start in `lin`. */
  private readonly bl: number;
  private readonly lin: number;
  private readonly v = (t: "i32" | "f32" | "v128") => this.f.local(t);

  constructor(
    readonly k: MatmulKernel,
    private readonly ctx: KernelContext,
  ) {
    for (const b of [k.a.buf, k.b.buf])
      if (ctx.buffers[b] && ctx.buffers[b].dtype !== "f32")
        throw new Error(`codegen-wasm: matmul operand b${b} is not f32`);
    this.f = new FnBuilder(ctx);
    this.L = scratchLayout(k);
    [this.M, this.N, this.K] = this.ints(3);
    this.loops = [...k.batch.map(() => this.v("i32")), this.v("i32"), this.v("i32")];
    [this.bl, this.lin] = this.ints(2);
  }

  /** `n` fresh i32 locals. */
  ints<N extends number>(n: N): Tuple<N> {
    return Array.from({ length: n }, () => this.f.local("i32")) as Tuple<N>;
  }

  emit(...ins: Instr[]) {
    this.f.emit(...ins);
  }

  /** Pushes min(a, b) (signed). */
  private min(a: () => void, b: () => void) {
    const [x, y] = [this.f.temp("i32"), this.f.temp("i32")];
    a();
    this.emit(tee(x));
    b();
    this.emit(tee(y), get(x), get(y), ["i32.lt_s"], ["select"]);
    this.f.release(x, "i32");
    this.f.release(y, "i32");
  }

  write(name: string): WasmKernelCode {
    const { f, k, ctx, M, N, K } = this;
    const nb = k.batch.length;
    f.dim(k.m);
    this.emit(set(M));
    f.dim(k.n);
    this.emit(set(N));
    f.dim(k.k);
    this.emit(set(K));
    const [nIB, nJP, item, ib, jp, t] = this.ints(6);
    const bl = this.bl;
    const [aOff, bOff, oOff, i0, j0, mb, nc, kb, kc, lastB, lastJ0, fresh, bBase, aBase] =
      this.ints(14);
    const [lastA, lastI0] = this.ints(2);
    this.emit(get(M), i32(MB - 1), ["i32.add"], i32(MB), ["i32.div_s"], set(nIB));
    const NCk = this.L.panel;
    this.emit(get(N), i32(NCk - 1), ["i32.add"], i32(NCk), ["i32.div_s"], set(nJP));
    this.emit(i32(-1), set(lastB), i32(-1), set(lastJ0), i32(-1), set(lastA), i32(-1), set(lastI0));

    f.forLoop(
      item,
      () => this.emit(get(LO)),
      () => this.emit(get(HI)),
      () => {
        this.emit(
          get(item),
          get(nIB),
          ["i32.rem_u"],
          set(ib),
          get(item),
          get(nIB),
          ["i32.div_u"],
          set(t),
        );
        this.emit(
          get(t),
          get(nJP),
          ["i32.rem_u"],
          set(jp),
          get(t),
          get(nJP),
          ["i32.div_u"],
          set(bl),
        );
        // The batch loop indices, row-major in bl.
        this.emit(get(bl), set(t));
        for (let a = nb - 1; a >= 0; a--) {
          if (a === 0) {
            this.emit(get(t), set(this.loops[0]!));
            break;
          }
          this.emit(get(t));
          f.dim(k.batch[a]!);
          this.emit(["i32.rem_u"], set(this.loops[a]!), get(t));
          f.dim(k.batch[a]!);
          this.emit(["i32.div_u"], set(t));
        }
        this.operandAddress(k.a, K, aOff);
        this.operandAddress(k.b, N, bOff);
        // out + 4 * (outAt + bl * M * N)
        this.emit(get(f.buf(k.out)));
        if (k.outAt) this.index(k.outAt);
        this.emit(get(bl), get(M), ["i32.mul"], get(N), ["i32.mul"]);
        if (k.outAt) this.emit(["i32.add"]);
        this.emit(i32(4), ["i32.mul"], ["i32.add"], set(oOff));
        this.emit(get(ib), i32(MB), ["i32.mul"], set(i0), get(jp), i32(NCk), ["i32.mul"], set(j0));
        this.min(
          () => this.emit(i32(MB)),
          () => this.emit(get(M), get(i0), ["i32.sub"]),
        );
        this.emit(set(mb));
        this.min(
          () => this.emit(i32(NCk)),
          () => this.emit(get(N), get(j0), ["i32.sub"]),
        );
        this.emit(set(nc));
        const small = { aOff, bOff, oOff, i0, mb, j0, nc };
        const l = { ...small, kb, kc, lastB, lastJ0, fresh, bBase, aBase, lastA, lastI0 };
        // Fewer rows or columns than a tile (known, or only at run time): streamed, unpacked.
        const paths: [Dim, number, () => void][] = [
          [k.m, M, () => fewRows(this, small)],
          [k.n, N, () => fewColumns(this, small)],
        ];
        const choose = (at: number): void => {
          if (at === paths.length) return this.packedAndEdge(l);
          const [d, local, path] = paths[at]!;
          const c = dimAsConst(d);
          if (c !== null) return c < MR ? path() : choose(at + 1);
          f.ifElse(
            () => this.emit(get(local), i32(MR), ["i32.lt_s"]),
            path,
            () => choose(at + 1),
          );
        };
        choose(0);
      },
    );

    const items = dimMul(
      dimMul(numElements(k.batch), ceilDiv(k.n, this.L.panel)),
      ceilDiv(k.m, MB),
    );
    const work = dimMul(dimConst(2), numElements([...k.batch, k.m, k.n, k.k]));
    return {
      fn: f.finish(name),
      items: sizeOf(items, ctx),
      // A constant m or n < MR never packs.
      scratch: Math.min(dimAsConst(k.m) ?? MR, dimAsConst(k.n) ?? MR) < MR ? 0 : this.L.total,
      work: sizeOf(work, ctx),
    };
  }

  /**
   * packed(), but an item's last 1-3 columns past a whole tile (a 10-wide
   * logits layer's last 2) go through fewColumns: a tile would compute 8.
   */
  private packedAndEdge(l: PackedLocals) {
    const { f } = this;
    const n = dimAsConst(this.k.n);
    // Panels are whole tiles wide: only the last one (N's remainder) has an edge.
    if (n !== null && (n % NR === 0 || n % NR >= NR / 2)) return this.packed(l);
    const [r, from] = this.ints(2);
    // r = nc % NR when under NR / 2, else 0; the packed part: nc - r columns.
    this.emit(get(l.nc), i32(NR - 1), ["i32.and"], tee(r), i32(0), get(r), i32(NR / 2));
    this.emit(["i32.lt_s"], ["select"], set(r), get(l.nc), get(r), ["i32.sub"], set(l.nc));
    f.ifElse(
      () => this.emit(get(l.nc), i32(0), ["i32.gt_s"]),
      () => this.packed(l),
    );
    f.ifElse(
      () => this.emit(get(r)),
      () => {
        this.emit(get(l.j0), get(l.nc), ["i32.add"], set(from));
        fewColumns(this, l, { from, count: r });
      },
    );
  }

  /** The item's rows in packed blocks of k through the micro-kernel (`l`: the item's and the call's locals). */
  private packed(l: PackedLocals) {
    const { f, k, M, N, K } = this;
    const { aOff, bOff, oOff, i0, j0, mb, nc, kb, kc, lastB, lastJ0, fresh, bBase, aBase } = l;
    const { lastA, lastI0 } = l;
    // Whether B's panel must be packed (again): k does not fit, or this call has not packed it last.
    this.emit(get(K), i32(this.L.kWhole), ["i32.gt_s"], get(bOff), get(lastB), ["i32.ne"]);
    this.emit(["i32.or"], get(j0), get(lastJ0), ["i32.ne"], ["i32.or"], set(fresh));
    this.emit(get(bOff), set(lastB), get(j0), set(lastJ0));
    // k blocks: do { ... } while (kb < K), so k = 0 still stores the epilogue of zero sums.
    this.emit(i32(0), set(kb), ["loop"]);
    this.min(
      () => this.emit(i32(KC)),
      () => this.emit(get(K), get(kb), ["i32.sub"]),
    );
    this.emit(set(kc));
    // Block kb of B's panel, unless this call packed the panel before (all of k fits).
    this.emit(get(SCRATCH), i32(this.L.b), ["i32.add"]);
    this.emit(get(kb), i32(this.L.blockBytes), ["i32.mul"], i32(0));
    this.emit(get(K), i32(this.L.kWhole), ["i32.le_s"], ["select"], ["i32.add"]);
    this.emit(set(bBase));
    f.ifElse(
      () => this.emit(get(fresh)),
      () => {
        const at = (p: number, j: number) => () =>
          this.emit(
            get(bOff),
            get(p),
            get(k.b.transposed ? K : N),
            ["i32.mul"],
            get(j),
            ["i32.add"],
            i32(4),
            ["i32.mul"],
            ["i32.add"],
          );
        // B[p, j] at (p * N + j) or, transposed, (j * K + p).
        if (k.b.transposed) this.packStrided(bBase, at(j0, kb), K, NR, nc, kc);
        else this.packContig(bBase, at(kb, j0), N, NR, nc, kc);
      },
    );
    // A[i, p] at (i * K + p) or, transposed, (p * M + i).
    const atA = (p: number, i: number) => () =>
      this.emit(
        get(aOff),
        get(p),
        get(k.a.transposed ? M : K),
        ["i32.mul"],
        get(i),
        ["i32.add"],
        i32(4),
        ["i32.mul"],
        ["i32.add"],
      );
    this.emit(get(SCRATCH), i32(this.L.a), ["i32.add"], set(aBase));
    // A's block, unless it is the one this call packed last (k in one block: a product of
    // one row block, its items along n).
    f.ifElse(
      () => {
        this.emit(get(K), i32(KC), ["i32.gt_s"], get(aOff), get(lastA), ["i32.ne"]);
        this.emit(["i32.or"], get(i0), get(lastI0), ["i32.ne"], ["i32.or"]);
      },
      () => {
        if (k.a.transposed) this.packContig(aBase, atA(kb, i0), M, MR, mb, kc);
        else this.packStrided(aBase, atA(i0, kb), K, MR, mb, kc);
        this.emit(get(aOff), set(lastA), get(i0), set(lastI0));
      },
    );
    this.tiles({ kb, kc, mb, nc, oOff, i0, j0, bBase });
    this.emit(get(kb), i32(KC), ["i32.add"], tee(kb), get(K), ["i32.lt_s"], ["br_if", 0], ["end"]);
  }

  /** Sets `dst` to the byte address of operand `o`'s matrix: buf + 4 * (at + batch * rows * cols). */
  private operandAddress(o: MatmulOperand, cols: number, dst: number) {
    const rows = o === this.k.a ? this.M : this.K;
    this.emit(get(this.f.buf(o.buf)));
    this.index(o.batch);
    this.emit(get(rows), ["i32.mul"], get(cols), ["i32.mul"]);
    if (o.at) {
      this.index(o.at);
      this.emit(["i32.add"]);
    }
    this.emit(i32(4), ["i32.mul"], ["i32.add"], set(dst));
  }

  /** Pushes index expression `e` (the loops bound to their locals). */
  private index(e: IExpr): void {
    new Exprs(this.f, this.env()).ix(e);
  }

  /** Where the epilogue's leaves live: every loop in its local, `acc` as given. */
  private env(acc?: (lane: Lane) => Instr[], vectorJ?: number): Env {
    const nb = this.k.batch.length;
    const loop = (i: number): IndexLeaf =>
      i === nb + 1 && vectorJ !== undefined ? { vary: true } : { base: [get(this.loops[i]!)] };
    return {
      loop,
      // lin = bl * M * N + i * N + j, the row's part in this.lin.
      lin: () =>
        vectorJ === undefined
          ? { base: [get(this.lin), get(this.loops[nb + 1]!), ["i32.add"]] }
          : { base: [get(this.lin)], vary: true },
      ...(vectorJ !== undefined && { counter: vectorJ, accVaries: true }),
      ...(acc && { acc }),
    };
  }

  /**
   * Packs `valid` columns (panels W wide, zero-padded) by `kc` rows into
   * [panels][kc][W] at dst (a local), from a source whose rows (stride
   * `stride` elements) run along the panel: element (p, c) of panel q at
   * src + 4 * (p * stride + q * W + c).
   */
  private packContig(
    dst: number,
    src: () => void,
    stride: number,
    W: number,
    valid: number,
    kc: number,
  ) {
    const { f } = this;
    const [s, st, q, p, cv, d, sp, c] = this.ints(8);
    src();
    this.emit(set(s), get(stride), i32(4), ["i32.mul"], set(st));
    const rows = (inner: () => void) =>
      f.forLoop(
        p,
        () => this.emit(i32(0)),
        () => this.emit(get(kc)),
        () => {
          inner();
          this.emit(
            get(d),
            i32(4 * W),
            ["i32.add"],
            set(d),
            get(sp),
            get(st),
            ["i32.add"],
            set(sp),
          );
        },
      );
    f.forLoop(
      q,
      () => this.emit(i32(0)),
      () => this.emit(get(valid), i32(W - 1), ["i32.add"], i32(W), ["i32.div_s"]),
      () => {
        this.min(
          () => this.emit(i32(W)),
          () => this.emit(get(valid), get(q), i32(W), ["i32.mul"], ["i32.sub"]),
        );
        this.emit(set(cv));
        this.emit(
          get(dst),
          get(q),
          get(kc),
          ["i32.mul"],
          i32(4 * W),
          ["i32.mul"],
          ["i32.add"],
          set(d),
        );
        this.emit(get(s), get(q), i32(4 * W), ["i32.mul"], ["i32.add"], set(sp));
        f.ifElse(
          () => this.emit(get(cv), i32(W), ["i32.eq"]),
          () =>
            rows(() => {
              for (let x = 0; x + 4 <= W; x += 4)
                this.emit(get(d), get(sp), ["v128.load", x * 4], ["v128.store", x * 4]);
              for (let x = W - (W % 4); x < W; x++)
                this.emit(get(d), get(sp), ["f32.load", x * 4], ["f32.store", x * 4]);
            }),
          () =>
            // An edge panel: whole groups of 4 valid columns as vectors, the rest zeros, then
            // the valid columns of the group the edge cuts one by one.
            rows(() => {
              for (let x = 0; x + 4 <= W; x += 4)
                f.ifElse(
                  () => this.emit(i32(x + 4), get(cv), ["i32.le_s"]),
                  () => this.emit(get(d), get(sp), ["v128.load", x * 4], ["v128.store", x * 4]),
                  () => this.emit(get(d), ["v128.const", 0, 0, 0, 0], ["v128.store", x * 4]),
                );
              for (let x = W - (W % 4); x < W; x++)
                this.emit(get(d), ["f32.const", 0], ["f32.store", x * 4]);
              f.forLoop(
                c,
                () => this.emit(get(cv), i32(~3), ["i32.and"]),
                () => this.emit(get(cv)),
                () => {
                  this.emit(get(d), get(c), i32(4), ["i32.mul"], ["i32.add"]);
                  this.emit(get(sp), get(c), i32(4), ["i32.mul"], ["i32.add"], ["f32.load", 0]);
                  this.emit(["f32.store", 0]);
                },
              );
            }),
        );
      },
    );
  }

  /**
   * Packs like packContig from a source stored the other way round:
   * element (p, c) of panel q at src + 4 * ((q * W + c) * stride + p).
   */
  private packStrided(
    dst: number,
    src: () => void,
    stride: number,
    W: number,
    valid: number,
    kc: number,
  ) {
    const { f } = this;
    const [s, q, p, p0, cv, d, sp, c, rowBytes] = this.ints(9);
    src();
    this.emit(set(s), get(stride), i32(4), ["i32.mul"], set(rowBytes));
    // Rows p0.. of column c: dst[p][c] = src[c][p], a zero past the valid columns.
    const column = (value: () => void) =>
      f.forLoop(
        p,
        () => this.emit(get(p0)),
        () => this.emit(get(kc)),
        () => {
          this.emit(get(d), get(p), i32(4 * W), ["i32.mul"], ["i32.add"]);
          value();
          this.emit(["f32.store", 0]);
        },
      );
    const columns = () =>
      f.forLoop(
        c,
        () => this.emit(i32(0)),
        () => this.emit(i32(W)),
        () => {
          this.emit(get(dst), get(q), get(kc), ["i32.mul"], i32(4 * W), ["i32.mul"], ["i32.add"]);
          this.emit(get(c), i32(4), ["i32.mul"], ["i32.add"], set(d));
          this.emit(get(s), get(q), i32(W), ["i32.mul"], get(c), ["i32.add"], get(rowBytes));
          this.emit(["i32.mul"], ["i32.add"], set(sp));
          f.ifElse(
            () => this.emit(get(c), get(cv), ["i32.lt_s"]),
            () =>
              column(() =>
                this.emit(get(sp), get(p), i32(4), ["i32.mul"], ["i32.add"], ["f32.load", 0]),
              ),
            () => column(() => this.emit(["f32.const", 0])),
          );
        },
      );
    f.forLoop(
      q,
      () => this.emit(i32(0)),
      () => this.emit(get(valid), i32(W - 1), ["i32.add"], i32(W), ["i32.div_s"]),
      () => {
        this.min(
          () => this.emit(i32(W)),
          () => this.emit(get(valid), get(q), i32(W), ["i32.mul"], ["i32.sub"]),
        );
        this.emit(set(cv), i32(0), set(p0));
        // 4 x 4 blocks transposed in registers, the last kc % 4 rows one by one.
        if (W % 4 === 0) {
          this.emit(get(kc), i32(~3), ["i32.and"], set(p0));
          this.transposeBlocks(dst, s, q, p, p0, cv, rowBytes, W, kc);
        }
        columns();
      },
    );
  }

  /**
   * Rows [0, p0) of panel q of packStrided, four at a time: from each group
   * of 4 source rows (columns of the panel) a v128 of 4 consecutive p (zeros
   * for the columns from cv on, not read: they may lie past memory), then a
   * 4 x 4 transpose (8 shuffles) into 4 packed rows.
   */
  private transposeBlocks(
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
    const { f } = this;
    const [src, out] = this.ints(2);
    const r = Array.from({ length: 4 }, () => this.f.local("v128"));
    const t = Array.from({ length: 4 }, () => this.f.local("v128"));
    /** i8x16.shuffle of two vectors by 32-bit lanes (0-3 the first, 4-7 the second). */
    const shuffle = (a: number, b: number, lanes: number[]): Instr[] => [
      get(a),
      get(b),
      ["i8x16.shuffle", ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])],
    ];
    f.forLoop(
      p,
      () => this.emit(i32(0)),
      () => this.emit(get(p0)),
      () => {
        for (let c4 = 0; c4 < W / 4; c4++) {
          // src: row (q * W + 4 * c4) at column p; out: packed row p, column 4 * c4.
          this.emit(get(s), get(q), i32(W), ["i32.mul"], i32(4 * c4), ["i32.add"], get(rowBytes));
          this.emit(["i32.mul"], ["i32.add"], get(p), i32(4), ["i32.mul"], ["i32.add"], set(src));
          this.emit(get(dst), get(q), get(kc), ["i32.mul"], i32(4 * W), ["i32.mul"], ["i32.add"]);
          this.emit(get(p), i32(4 * W), ["i32.mul"], ["i32.add"], set(out));
          for (let i = 0; i < 4; i++) {
            this.f.ifElse(
              () => this.emit(i32(4 * c4 + i), get(cv), ["i32.lt_s"]),
              () => this.emit(get(src), ["v128.load", 0]),
              () => this.emit(["v128.const", 0, 0, 0, 0]),
              "v128",
            );
            this.emit(set(r[i]!));
            if (i < 3) this.emit(get(src), get(rowBytes), ["i32.add"], set(src));
          }
          this.emit(...shuffle(r[0]!, r[1]!, [0, 4, 1, 5]), set(t[0]!));
          this.emit(...shuffle(r[2]!, r[3]!, [0, 4, 1, 5]), set(t[1]!));
          this.emit(...shuffle(r[0]!, r[1]!, [2, 6, 3, 7]), set(t[2]!));
          this.emit(...shuffle(r[2]!, r[3]!, [2, 6, 3, 7]), set(t[3]!));
          const rows: [number, number, number[]][] = [
            [t[0]!, t[1]!, [0, 1, 4, 5]],
            [t[0]!, t[1]!, [2, 3, 6, 7]],
            [t[2]!, t[3]!, [0, 1, 4, 5]],
            [t[2]!, t[3]!, [2, 3, 6, 7]],
          ];
          rows.forEach(([a, b, lanes], j) =>
            this.emit(get(out), ...shuffle(a, b, lanes), ["v128.store", 4 * (j * W + 4 * c4)]),
          );
        }
      },
      4,
    );
  }

  /** Pushes the byte address of output element (i, j) of the item's matrix (oOff: its start). */
  outAddr(oOff: number, i: () => void, j: () => void) {
    this.emit(get(oOff));
    i();
    this.emit(get(this.N), ["i32.mul"]);
    j();
    this.emit(["i32.add"], i32(4), ["i32.mul"], ["i32.add"]);
  }

  /** Sets `lin` to row i's linear index in the output domain (for the epilogue): bl * M * N + i * N. */
  linRow() {
    const i = this.loops[this.k.batch.length]!;
    this.emit(get(this.bl), get(this.M), ["i32.mul"], get(i), ["i32.add"]);
    this.emit(get(this.N), ["i32.mul"], set(this.lin));
  }

  /** Stores the epilogue of f32x4 accumulator `a` at output (i, j..j+3), the loops i, j set (and lin). */
  storeVector(oOff: number, a: number) {
    const [ei, ej] = [this.loops[this.k.batch.length]!, this.loops[this.k.batch.length + 1]!];
    this.outAddr(
      oOff,
      () => this.emit(get(ei)),
      () => this.emit(get(ej)),
    );
    const lanes = (l: Lane): Instr[] =>
      l === "v" ? [get(a)] : [get(a), ["f32x4.extract_lane", l]];
    new Exprs(this.f, this.env(lanes, ej)).v(this.k.epilogue);
    this.emit(["v128.store", 0]);
  }

  /** Stores the epilogue of the f32 accumulator `acc` pushes at output (i, j), the loops i, j set (and lin). */
  storeScalar(oOff: number, acc: Instr[]) {
    const [ei, ej] = [this.loops[this.k.batch.length]!, this.loops[this.k.batch.length + 1]!];
    this.outAddr(
      oOff,
      () => this.emit(get(ei)),
      () => this.emit(get(ej)),
    );
    new Exprs(
      this.f,
      this.env(() => acc),
    ).s(this.k.epilogue);
    this.emit([this.k.epilogue.dtype === "f32" ? "f32.store" : "i32.store", 0]);
  }

  /** Every MR x NR tile of the item's block: the micro-kernel, then a park in the C tile or the epilogue. */
  private tiles(e: {
    kb: number;
    kc: number;
    mb: number;
    nc: number;
    oOff: number;
    i0: number;
    j0: number;
    bBase: number;
  }) {
    const { f, k, L, K, N } = this;
    const [jr, ir, pa, pb, end, ct, rv, cv, r, c] = this.ints(10);
    const V = NR / 4;
    const acc = Array.from({ length: MR * V }, () => this.v("v128"));
    const bv = Array.from({ length: V }, () => this.v("v128"));
    const av = this.v("v128");
    const accF = this.v("f32");
    const A = (x: number, y: number) => acc[x * V + y]!;
    const [ei, ej] = [this.loops[k.batch.length]!, this.loops[k.batch.length + 1]!];

    /** One k step of the tile's first `rows` rows (the others keep their sums). */
    const step = (rows: number) => {
      for (let y = 0; y < V; y++) this.emit(get(pb), ["v128.load", 16 * y], set(bv[y]!));
      for (let x = 0; x < rows; x++) {
        this.emit(get(pa), ["v128.load32_splat", 4 * x], set(av));
        for (let y = 0; y < V; y++)
          this.emit(get(av), get(bv[y]!), get(A(x, y)), ["f32x4.relaxed_madd"], set(A(x, y)));
      }
    };
    const ctOffset = (x: number, y: number) => (x * NR + y * 4) * 4;
    const tileRow = () => this.emit(get(e.i0), get(ir), i32(MR), ["i32.mul"], ["i32.add"]);
    const tileCol = () => this.emit(get(e.j0), get(jr), i32(NR), ["i32.mul"], ["i32.add"]);
    const linRow = () => this.linRow();
    // Whole rows of 8 columns with an f32 epilogue: the epilogue four lanes at a time on the
    // accumulators, row x when x < rv (rows past the edge of the matrix are not stored).
    const vecStore = () => {
      for (let x = 0; x < MR; x++) {
        const row = () => {
          tileRow();
          this.emit(i32(x), ["i32.add"], set(ei));
          linRow();
          for (let y = 0; y < V; y++) {
            tileCol();
            this.emit(i32(4 * y), ["i32.add"], set(ej));
            this.storeVector(e.oOff, A(x, y));
          }
        };
        if (x === 0) row();
        else f.ifElse(() => this.emit(i32(x), get(rv), ["i32.lt_s"]), row);
      }
    };
    // Otherwise the tile goes to the edge buffer and the epilogue runs per element.
    const scalar = () => {
      for (let x = 0; x < MR; x++)
        for (let y = 0; y < V; y++)
          this.emit(get(SCRATCH), get(A(x, y)), ["v128.store", L.edge + ctOffset(x, y)]);
      f.forLoop(
        r,
        () => this.emit(i32(0)),
        () => this.emit(get(rv)),
        () => {
          tileRow();
          this.emit(get(r), ["i32.add"], set(ei));
          linRow();
          f.forLoop(
            c,
            () => this.emit(i32(0)),
            () => this.emit(get(cv)),
            () => {
              tileCol();
              this.emit(get(c), ["i32.add"], set(ej));
              this.emit(
                get(SCRATCH),
                get(r),
                i32(NR),
                ["i32.mul"],
                get(c),
                ["i32.add"],
                i32(4),
                ["i32.mul"],
                ["i32.add"],
              );
              this.emit(["f32.load", L.edge], set(accF));
              this.storeScalar(e.oOff, [get(accF)]);
            },
          );
        },
      );
    };
    const vector = k.epilogue.dtype === "f32";

    f.forLoop(
      jr,
      () => this.emit(i32(0)),
      () => this.emit(get(e.nc), i32(NR - 1), ["i32.add"], i32(NR), ["i32.div_s"]),
      () => {
        this.min(
          () => this.emit(i32(NR)),
          () => this.emit(get(e.nc), get(jr), i32(NR), ["i32.mul"], ["i32.sub"]),
        );
        this.emit(set(cv));
        f.forLoop(
          ir,
          () => this.emit(i32(0)),
          () => this.emit(get(e.mb), i32(MR - 1), ["i32.add"], i32(MR), ["i32.div_s"]),
          () => {
            this.min(
              () => this.emit(i32(MR)),
              () => this.emit(get(e.mb), get(ir), i32(MR), ["i32.mul"], ["i32.sub"]),
            );
            this.emit(set(rv));
            this.emit(
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
            this.emit(
              get(e.bBase),
              get(jr),
              get(e.kc),
              ["i32.mul"],
              i32(4 * NR),
              ["i32.mul"],
              ["i32.add"],
              set(pb),
            );
            this.emit(
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
              () => this.emit(get(e.kb), ["i32.eqz"]),
              () => acc.forEach((a) => this.emit(["v128.const", 0, 0, 0, 0], set(a))),
              () => {
                for (let x = 0; x < MR; x++)
                  for (let y = 0; y < V; y++)
                    this.emit(get(ct), ["v128.load", ctOffset(x, y)], set(A(x, y)));
              },
            );
            // do { step; pa += MR; pb += NR } while (pb < pb's end), when kc > 0.
            this.emit(get(pb), get(e.kc), i32(4 * NR), ["i32.mul"], ["i32.add"], set(end));
            f.ifElse(
              () => this.emit(get(e.kc), i32(0), ["i32.gt_s"]),
              () => {
                const loop = (rows: number) => () => {
                  this.emit(["loop"]);
                  step(rows);
                  this.emit(get(pa), i32(MR * 4), ["i32.add"], set(pa));
                  this.emit(get(pb), i32(NR * 4), ["i32.add"], tee(pb), get(end), ["i32.lt_u"]);
                  this.emit(["br_if", 0], ["end"]);
                };
                // An edge tile of 1 or 2 rows (LeNet's 6 filters: rows 4, 5) multiplies those
                // alone: the rows past it are never stored.
                const mc = dimAsConst(k.m);
                if (mc !== null && (mc % MR === 0 || mc % MR > MR / 2)) loop(MR)();
                else
                  f.ifElse(
                    () => this.emit(get(rv), i32(MR / 2), ["i32.le_s"]),
                    loop(MR / 2),
                    loop(MR),
                  );
              },
            );
            f.ifElse(
              () => this.emit(get(e.kb), get(e.kc), ["i32.add"], get(K), ["i32.lt_s"]),
              () => {
                for (let x = 0; x < MR; x++)
                  for (let y = 0; y < V; y++)
                    this.emit(get(ct), get(A(x, y)), ["v128.store", ctOffset(x, y)]);
              },
              () =>
                vector
                  ? f.ifElse(() => this.emit(get(cv), i32(NR), ["i32.eq"]), vecStore, scalar)
                  : scalar(),
            );
          },
        );
      },
    );
  }
}
