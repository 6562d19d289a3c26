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
// This file plans the items, the cache blocks and the scratch, and stores the
// epilogue; the packing is matmul-pack.ts, the micro-kernel's tile loops
// matmul-micro.ts (each one concern, this file under the line budget).
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
import type { PrintedCode } from "../codegen-wasm.ts";
import { Exprs, type Env, type IndexLeaf, type Lane } from "./scalar.ts";
import { fewColumns, fewRows } from "./matmul-few-rows.ts";
import { MR, NR, tiles } from "./matmul-micro.ts";
import { packContig, packStrided } from "./matmul-pack.ts";
import { FnBuilder, get, HI, i32, LO, SCRATCH, set, sizeOf, tee } from "./function.ts";

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

export function matmulToWasm(k: MatmulKernel, ctx: KernelContext, name: string): PrintedCode {
  return new MatmulWriter(k, ctx).write(name);
}

export class MatmulWriter {
  readonly f: FnBuilder;
  readonly L: ReturnType<typeof scratchLayout>;
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
  min(a: () => void, b: () => void) {
    const [x, y] = [this.f.temp("i32"), this.f.temp("i32")];
    a();
    this.emit(tee(x));
    b();
    this.emit(tee(y), get(x), get(y), ["i32.lt_s"], ["select"]);
    this.f.release(x, "i32");
    this.f.release(y, "i32");
  }

  /**
   * for (q = 0; q < ceil(count / W); q++) { width = min(W, count - q * W); body }:
   * `count` (a local) in blocks of W, the last one cut (panels, tiles).
   */
  blocks(q: number, width: number, count: number, W: number, body: () => void) {
    this.f.forLoop(
      q,
      () => this.emit(i32(0)),
      () => this.emit(get(count), i32(W - 1), ["i32.add"], i32(W), ["i32.div_s"]),
      () => {
        this.min(
          () => this.emit(i32(W)),
          () => this.emit(get(count), get(q), i32(W), ["i32.mul"], ["i32.sub"]),
        );
        this.emit(set(width));
        body();
      },
    );
  }

  write(name: string): PrintedCode {
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
    return {
      fn: f.finish(name),
      items: sizeOf(items, ctx),
      // A constant m or n < MR never packs.
      scratch: Math.min(dimAsConst(k.m) ?? MR, dimAsConst(k.n) ?? MR) < MR ? 0 : this.L.total,
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
    const at = (off: number, cols: number) => (r: number, c: number) => () =>
      this.element(off, r, get(cols), c);
    // B[p, j] at (p * N + j) or, transposed, (j * K + p); A[i, p] at (i * K + p) or,
    // transposed, (p * M + i).
    const atB = at(bOff, k.b.transposed ? K : N);
    const atA = at(aOff, k.a.transposed ? M : K);
    f.ifElse(
      () => this.emit(get(fresh)),
      () => {
        if (k.b.transposed) packStrided(this, bBase, atB(j0, kb), K, NR, nc, kc);
        else packContig(this, bBase, atB(kb, j0), N, NR, nc, kc);
      },
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
        if (k.a.transposed) packContig(this, aBase, atA(kb, i0), M, MR, mb, kc);
        else packStrided(this, aBase, atA(i0, kb), K, MR, mb, kc);
        this.emit(get(aOff), set(lastA), get(i0), set(lastI0));
      },
    );
    tiles(this, { kb, kc, mb, nc, oOff, i0, j0, bBase });
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
   * Pushes the byte address of element (r, c) (locals) of the row-major f32
   * matrix at `base` (a local); `cols` pushes its row length.
   */
  element(base: number, r: number, cols: Instr, c: number) {
    this.emit(get(base), get(r), cols, ["i32.mul"], get(c), ["i32.add"]);
    this.emit(i32(4), ["i32.mul"], ["i32.add"]);
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
    this.element(oOff, ei, get(this.N), ej);
    const lanes = (l: Lane): Instr[] =>
      l === "v" ? [get(a)] : [get(a), ["f32x4.extract_lane", l]];
    new Exprs(this.f, this.env(lanes, ej)).v(this.k.epilogue);
    this.emit(["v128.store", 0]);
  }

  /** Stores the epilogue of the f32 accumulator `acc` pushes at output (i, j), the loops i, j set (and lin). */
  storeScalar(oOff: number, acc: Instr[]) {
    const [ei, ej] = [this.loops[this.k.batch.length]!, this.loops[this.k.batch.length + 1]!];
    this.element(oOff, ei, get(this.N), ej);
    new Exprs(
      this.f,
      this.env(() => acc),
    ).s(this.k.epilogue);
    this.emit([this.k.epilogue.dtype === "f32" ? "f32.store" : "i32.store", 0]);
  }
}
