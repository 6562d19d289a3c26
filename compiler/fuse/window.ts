// Lowering of the sliding-window primitives to the kernel IR, for fuse.ts.
// No new kernel kinds: a convolution is an im2col map kernel (every window
// tap laid out as a column, padding read as zeros) feeding the matmul kernel,
// so all the matmul codegen's blocking applies; its transposes are the same
// matmul the other way round plus an im2col or a col2im scatter. Pooling is a
// reduction over the window; max-pool gradients first find each window's
// first maximum (an argmax reduction over the flattened window), then scatter
// to or gather from that tap.

import { dimConst, numElements, type Dim } from "../dims.ts";
import type { DType, Eqn, Op, Pool2d, Var, Window2d, WindowOp } from "../ir.ts";
import {
  iadd,
  iconst,
  idim,
  idiv,
  iloop,
  imod,
  imul,
  ired,
  linearize,
  lit,
  type BufId,
  type IExpr,
  type Kernel,
  type SExpr,
} from "../kernel.ts";
import { axes, outDim, type Axis } from "../shapes/geometry.ts";

/** Inputs a window op's matmul reads as whole stored matrices (the rest are read per element). */
export function matmulOperands(op: Op): number[] {
  return op === "conv2d" ? [1] : op === "conv2d_grad_input" ? [0, 1] : [];
}

/** What the lowering needs from fuse.ts. */
export interface WindowLowering {
  /** Element `idx` of `v` in a kernel iterating over `domain` (cheap producers fused in). */
  elem(domain: Dim[], v: Var, idx: IExpr[]): SExpr;
  /** The buffer holding materialised `v`. */
  buffer(v: Var): BufId;
  /** A fresh temporary (pooled by the memory plan like any other). */
  temp(dtype: DType, shape: Dim[]): BufId;
  /** How the transposes lower: scatter kernels, or reductions that gather (LowerOptions.scatter). */
  scatter: "serial" | "gather";
}

const loops = (n: number, from = 0) => Array.from({ length: n }, (_, i) => iloop(from + i));
const bool = (a: SExpr, b: SExpr): SExpr => ({ k: "and", a, b, dtype: "bool" });

/** Input position `o * s - lo + k * d` along one axis. */
function position(o: IExpr, k: IExpr, a: Axis): IExpr {
  return iadd(iadd(imul(o, iconst(a.stride)), iconst(-a.lo)), imul(k, iconst(a.dilation)));
}

/**
 * The in-bounds test of positions (ih, iw) in an H x W image, or null when
 * no tap can fall in the padding. Without padding before (lo = 0) no position
 * is negative, and without padding after (hi = 0) the output size formula
 * keeps the last tap at most H - 1, so each side needs a test only when padded.
 */
function inBounds(pos: IExpr[], size: Dim[], ax: Axis[]): SExpr | null {
  let valid: SExpr | null = null;
  const both = (c: SExpr) => (valid = valid ? bool(valid, c) : c);
  pos.forEach((p, i) => {
    if (ax[i]!.lo > 0) both({ k: "icompare", op: "ge", a: p, b: iconst(0), dtype: "bool" });
    if (ax[i]!.hi > 0) both({ k: "icompare", op: "lt", a: p, b: idim(size[i]!), dtype: "bool" });
  });
  return valid;
}

/**
 * The inverse of `position` for gathering transposes: the window (oh, ow)
 * whose tap (kh, kw) reads input position (h, w), and the condition that
 * one exists: o * s = pos + lo - k * d lands on the stride, inside [0, OH).
 */
function windowAt(pos: IExpr[], taps: IExpr[], ax: Axis[], outSize: Dim[]) {
  let valid: SExpr | null = null;
  const both = (c: SExpr) => (valid = valid ? bool(valid, c) : c);
  const o = pos.map((p, i) => {
    const a = ax[i]!;
    const q = iadd(iadd(p, iconst(a.lo)), imul(taps[i]!, iconst(-a.dilation)));
    both({ k: "icompare", op: "ge", a: q, b: iconst(0), dtype: "bool" });
    if (a.stride > 1)
      both({ k: "icompare", op: "eq", a: imod(q, iconst(a.stride)), b: iconst(0), dtype: "bool" });
    const oi = idiv(q, iconst(a.stride));
    both({ k: "icompare", op: "lt", a: oi, b: idim(outSize[i]!), dtype: "bool" });
    return oi;
  });
  return { o, valid: valid ?? lit(1, "bool") };
}

/**
 * The gathering form of a window transpose into `xShape` [N, C, H, W]: each
 * input element sums, over the taps [KH, KW], `value(n, c, kh, kw, oh, ow)`
 * of the window that tap (kh, kw) reads it from (`when` further restricts).
 */
function gatherTaps(
  out: BufId,
  xShape: Dim[],
  kernel: Dim[],
  outSize: Dim[],
  ax: Axis[],
  value: (n: IExpr, c: IExpr, kh: IExpr, kw: IExpr, oh: IExpr, ow: IExpr) => SExpr,
  when?: (n: IExpr, c: IExpr, kh: IExpr, kw: IExpr, oh: IExpr, ow: IExpr) => SExpr,
): Kernel {
  const [n, c, h, w] = loops(4) as [IExpr, IExpr, IExpr, IExpr];
  const [kh, kw] = [ired(0), ired(1)];
  const { o, valid } = windowAt([h, w], [kh, kw], ax, outSize);
  const [oh, ow] = o as [IExpr, IExpr];
  const c2 = when ? bool(valid, when(n, c, kh, kw, oh, ow)) : valid;
  return {
    kind: "reduce",
    op: "sum",
    out,
    shape: xShape,
    red: kernel,
    body: { k: "select", c: c2, a: value(n, c, kh, kw, oh, ow), b: lit(0, "f32"), dtype: "f32" },
  };
}

/** x[n, c, pos] with padding reading `fill`. */
function tap(
  L: WindowLowering,
  domain: Dim[],
  x: Var,
  n: IExpr,
  c: IExpr,
  pos: IExpr[],
  ax: Axis[],
  fill: number,
): SExpr {
  const v = L.elem(domain, x, [n, c, ...pos]);
  const valid = inBounds(pos, x.type.shape.slice(2), ax);
  return valid ? { k: "select", c: valid, a: v, b: lit(fill, "f32"), dtype: "f32" } : v;
}

/** [OH, OW] of a window op over an [N, C, H, W] input with kernel sizes `kernel`. */
function outHW(x: Dim[], kernel: Dim[], ax: Axis[]): Dim[] {
  return [outDim(x[2]!, kernel[0]!, ax[0]!), outDim(x[3]!, kernel[1]!, ax[1]!)];
}

/**
 * im2col: a temporary holding every tap of every window, its axes [N, C, KH,
 * KW, OH, OW] in the order `order` lists them (by their index in that list).
 */
function im2col(
  L: WindowLowering,
  x: Var,
  kernel: Dim[],
  p: Window2d,
  order: number[],
  kernels: Kernel[],
): BufId {
  const ax = axes(p);
  const [N, C] = x.type.shape as [Dim, Dim];
  const full = [N, C, kernel[0]!, kernel[1]!, ...outHW(x.type.shape, kernel, ax)];
  const shape = order.map((i) => full[i]!);
  const at = (i: number) => iloop(order.indexOf(i));
  const [n, c, kh, kw, oh, ow] = [0, 1, 2, 3, 4, 5].map(at) as IExpr[];
  const pos = [position(oh!, kh!, ax[0]!), position(ow!, kw!, ax[1]!)];
  const buf = L.temp("f32", shape);
  kernels.push({ kind: "map", out: buf, shape, body: tap(L, shape, x, n!, c!, pos, ax, 0) });
  return buf;
}

const spatialOf = (v: Var) => v.type.shape.slice(2);

function conv2d(e: Eqn<"conv2d">, out: BufId, L: WindowLowering): Kernel[] {
  const [x, w] = e.inputs as [Var, Var];
  const kernel = spatialOf(w);
  const ks: Kernel[] = [];
  // col[n, (oh, ow), (c, kh, kw)]; out[n] = w[O, C*KH*KW] @ col[n]^T.
  const col = im2col(L, x, kernel, e.params, [0, 4, 5, 1, 2, 3], ks);
  const [, , OH, OW] = e.outs[0]!.type.shape as [Dim, Dim, Dim, Dim];
  ks.push({
    kind: "matmul",
    out,
    batch: [x.type.shape[0]!],
    m: w.type.shape[0]!,
    k: numElements(w.type.shape.slice(1)),
    n: numElements([OH, OW]),
    a: { buf: L.buffer(w), transposed: false, batch: iconst(0) },
    b: { buf: col, transposed: true, batch: iloop(0) },
    epilogue: { k: "acc", dtype: "f32" },
  });
  return ks;
}

function conv2dGradInput(e: Eqn<"conv2d_grad_input">, out: BufId, L: WindowLowering): Kernel[] {
  const [ct, w] = e.inputs as [Var, Var];
  const ax = axes(e.params);
  const [N, O, OH, OW] = ct.type.shape as [Dim, Dim, Dim, Dim];
  const [, C, KH, KW] = w.type.shape as [Dim, Dim, Dim, Dim];
  // dcol[n] = w^T [C*KH*KW, O] @ ct[n] [O, OH*OW], then each column adds back onto its taps.
  const domain = [N, C, KH, KW, OH, OW];
  const dcol = L.temp("f32", domain);
  const [n, c, kh, kw, oh, ow] = loops(6);
  const pos = [position(oh!, kh!, ax[0]!), position(ow!, kw!, ax[1]!)];
  const xShape = e.outs[0]!.type.shape;
  const last: Kernel =
    L.scatter === "gather"
      ? gatherTaps(out, xShape, [KH, KW], [OH, OW], ax, (n, c, kh, kw, oh, ow) => ({
          k: "load",
          buf: dcol,
          index: linearize(domain, [n, c, kh, kw, oh, ow]),
          dtype: "f32",
        }))
      : {
          kind: "scatter",
          out,
          shape: xShape,
          domain,
          target: linearize(xShape, [n!, c!, ...pos]),
          valid: inBounds(pos, xShape.slice(2), ax) ?? lit(1, "bool"),
          value: { k: "load", buf: dcol, index: { k: "lin" }, dtype: "f32" },
        };
  return [
    {
      kind: "matmul",
      out: dcol,
      batch: [N],
      m: numElements([C, KH, KW]),
      k: O,
      n: numElements([OH, OW]),
      a: { buf: L.buffer(w), transposed: true, batch: iconst(0) },
      b: { buf: L.buffer(ct), transposed: false, batch: iloop(0) },
      epilogue: { k: "acc", dtype: "f32" },
    },
    last,
  ];
}

function conv2dGradFilter(e: Eqn<"conv2d_grad_filter">, out: BufId, L: WindowLowering): Kernel[] {
  const [x, ct] = e.inputs as [Var, Var];
  const [N, O, OH, OW] = ct.type.shape as [Dim, Dim, Dim, Dim];
  const ks: Kernel[] = [];
  // gw [O, C*KH*KW] = ct as [O, N*OH*OW] @ (col as [C*KH*KW, N*OH*OW])^T: one
  // matmul whose inner dimension runs over the whole batch.
  const colT = im2col(L, x, e.params.size, e.params, [1, 2, 3, 0, 4, 5], ks);
  const ctShape = [O, N, OH, OW];
  const ctT = L.temp("f32", ctShape);
  const [o, n, oh, ow] = loops(4);
  ks.push({
    kind: "map",
    out: ctT,
    shape: ctShape,
    body: L.elem(ctShape, ct, [n!, o!, oh!, ow!]),
  });
  ks.push({
    kind: "matmul",
    out,
    batch: [],
    m: O,
    k: numElements([N, OH, OW]),
    n: numElements([x.type.shape[1]!, ...e.params.size]),
    a: { buf: ctT, transposed: false, batch: iconst(0) },
    b: { buf: colT, transposed: true, batch: iconst(0) },
    epilogue: { k: "acc", dtype: "f32" },
  });
  return ks;
}

/** Loops [n, c, oh, ow] over the pooled output and the two window taps. */
function poolTaps(p: Pool2d, kh: IExpr, kw: IExpr) {
  const ax = axes(p);
  const [n, c, oh, ow] = loops(4);
  return { ax, n: n!, c: c!, pos: [position(oh!, kh, ax[0]!), position(ow!, kw, ax[1]!)] };
}

/** The reduction of a pool over its window (2-D reduction domain [KH, KW]). */
function poolReduce(e: Eqn<"max_pool" | "avg_pool">, out: BufId, L: WindowLowering): Kernel {
  const x = e.inputs[0]!;
  const shape = e.outs[0]!.type.shape;
  const { ax, n, c, pos } = poolTaps(e.params, ired(0), ired(1));
  const max = e.op === "max_pool";
  const v = tap(L, shape, x, n, c, pos, ax, max ? -Infinity : 0);
  const k = e.params.window[0]! * e.params.window[1]!;
  return {
    kind: "reduce",
    op: max ? "max" : "sum",
    out,
    shape,
    red: e.params.window.map(dimConst),
    body: max ? v : { k: "binary", op: "div", a: v, b: lit(k, "f32"), dtype: "f32" },
  };
}

/**
 * The first maximum of each window of x, as a tap number kh * KW + kw (an
 * argmax over the flattened window, first in row-major order like the
 * interpreter's), stored in an i32 temporary of the pooled shape; and the
 * input position that tap reads.
 */
function windowArgmax(
  e: Eqn<"max_pool_grad" | "max_pool_pick">,
  L: WindowLowering,
  ks: Kernel[],
): { pos: IExpr[]; n: IExpr; c: IExpr; ax: Axis[]; pooled: Dim[] } {
  const x = e.inputs[0]!;
  const [KH, KW] = e.params.window as [number, number];
  const ax = axes(e.params);
  const pooled = [
    ...x.type.shape.slice(0, 2),
    ...outHW(x.type.shape, [dimConst(KH), dimConst(KW)], ax),
  ];
  const arg = L.temp("i32", pooled);
  const r = ired(0);
  const t = poolTaps(e.params, idiv(r, iconst(KW)), imod(r, iconst(KW)));
  ks.push({
    kind: "reduce",
    op: "argmax",
    out: arg,
    shape: pooled,
    red: [dimConst(KH * KW)],
    body: tap(L, pooled, x, t.n, t.c, t.pos, ax, -Infinity),
  });
  // Read back at the current pooled element (the kernels below iterate over `pooled`).
  const a: IExpr = { k: "val", e: { k: "load", buf: arg, index: { k: "lin" }, dtype: "i32" } };
  const back = poolTaps(e.params, idiv(a, iconst(KW)), imod(a, iconst(KW)));
  return { pos: back.pos, n: back.n, c: back.c, ax, pooled };
}

function maxPoolGrad(e: Eqn<"max_pool_grad">, out: BufId, L: WindowLowering): Kernel[] {
  const [x, ct] = e.inputs as [Var, Var];
  const ks: Kernel[] = [];
  const { pos, n, c, ax, pooled } = windowArgmax(e, L, ks);
  if (L.scatter === "gather") {
    // Each input element sums ct over the windows whose first maximum is it.
    const [KH, KW] = e.params.window as [number, number];
    const arg = (ks[ks.length - 1] as { out: BufId }).out;
    const at = (n: IExpr, c: IExpr, oh: IExpr, ow: IExpr) => linearize(pooled, [n, c, oh, ow]);
    ks.push(
      gatherTaps(
        out,
        x.type.shape,
        [dimConst(KH), dimConst(KW)],
        pooled.slice(2),
        ax,
        (n, c, _kh, _kw, oh, ow) => L.elem(x.type.shape, ct, [n, c, oh, ow]),
        (n, c, kh, kw, oh, ow) => ({
          k: "icompare",
          op: "eq",
          a: { k: "val", e: { k: "load", buf: arg, index: at(n, c, oh, ow), dtype: "i32" } },
          b: iadd(imul(kh, iconst(KW)), kw),
          dtype: "bool",
        }),
      ),
    );
    return ks;
  }
  ks.push({
    kind: "scatter",
    out,
    shape: x.type.shape,
    domain: pooled,
    target: linearize(x.type.shape, [n, c, ...pos]),
    valid: inBounds(pos, x.type.shape.slice(2), ax) ?? lit(1, "bool"),
    value: L.elem(pooled, ct, loops(4)),
  });
  return ks;
}

function maxPoolPick(e: Eqn<"max_pool_pick">, out: BufId, L: WindowLowering): Kernel[] {
  const g = e.inputs[1]!;
  const ks: Kernel[] = [];
  const { pos, n, c, ax, pooled } = windowArgmax(e, L, ks);
  ks.push({ kind: "map", out, shape: pooled, body: tap(L, pooled, g, n, c, pos, ax, 0) });
  return ks;
}

function avgPoolGrad(e: Eqn<"avg_pool_grad">, out: BufId, L: WindowLowering): Kernel {
  const ct = e.inputs[0]!;
  const [KH, KW] = e.params.window as [number, number];
  const xShape = e.outs[0]!.type.shape;
  // Every (output position, tap) pair adds ct / (KH * KW) onto the input it read.
  const domain = [...ct.type.shape, dimConst(KH), dimConst(KW)];
  if (L.scatter === "gather") {
    const ax = axes(e.params);
    return gatherTaps(
      out,
      xShape,
      [dimConst(KH), dimConst(KW)],
      ct.type.shape.slice(2),
      ax,
      (n, c, _kh, _kw, oh, ow) => ({
        k: "binary",
        op: "div",
        a: L.elem(xShape, ct, [n, c, oh, ow]),
        b: lit(KH * KW, "f32"),
        dtype: "f32",
      }),
    );
  }
  const { ax, n, c, pos } = poolTaps(e.params, iloop(4), iloop(5));
  const v = L.elem(domain, ct, loops(4));
  return {
    kind: "scatter",
    out,
    shape: xShape,
    domain,
    target: linearize(xShape, [n, c, ...pos]),
    valid: inBounds(pos, xShape.slice(2), ax) ?? lit(1, "bool"),
    value: { k: "binary", op: "div", a: v, b: lit(KH * KW, "f32"), dtype: "f32" },
  };
}

/** Each window op's kernels into `out`, in order (the last one writes `out`). */
const windowRules: {
  [P in WindowOp]: (e: Eqn<P>, out: BufId, L: WindowLowering) => Kernel[];
} = {
  conv2d,
  conv2d_grad_input: conv2dGradInput,
  conv2d_grad_filter: conv2dGradFilter,
  max_pool: (e, out, L) => [poolReduce(e, out, L)],
  max_pool_grad: maxPoolGrad,
  max_pool_pick: maxPoolPick,
  avg_pool: (e, out, L) => [poolReduce(e, out, L)],
  avg_pool_grad: (e, out, L) => [avgPoolGrad(e, out, L)],
};

/** The kernels computing window op `e` into `out`, in order (the last one writes `out`). */
export function lowerWindow<P extends WindowOp>(
  e: Eqn<P>,
  out: BufId,
  L: WindowLowering,
): Kernel[] {
  return windowRules[e.op](e, out, L);
}
