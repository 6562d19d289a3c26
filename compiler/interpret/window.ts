// Reference (float64) implementations of the sliding-window primitives, for
// interpret.ts's table. Each is the definition written as plain loops over
// [N, C, H, W] tensors, so it is obviously right rather than fast: every tap
// of every window checks whether it falls in the padding.

import type { Dim } from "../dims.ts";
import type { OpParams, Pool2d } from "../ir.ts";
import type { Tensor } from "../interpret.ts";
import { axes, outSize, type Axis } from "../shapes/geometry.ts";

interface DimCtx {
  dim(d: Dim): number;
}

function zeros(shape: number[]): Tensor {
  return { dtype: "f32", shape, data: new Float64Array(shape.reduce((p, d) => p * d, 1)) };
}

/** The input position tap `k` of output position `o` reads along one axis (may be padding). */
const at = (o: number, k: number, a: Axis) => o * a.stride - a.lo + k * a.dilation;

/**
 * Calls `f(n, o, c, oh, ow, ih, iw, kh, kw)` for every (batch, output
 * channel, input channel, output position, in-bounds tap): the index space
 * all three conv primitives sum over.
 */
function convTaps(
  p: OpParams["conv2d"],
  [N, O, C, H, W, KH, KW]: number[],
  f: (...ix: number[]) => void,
): void {
  const [ah, aw] = axes(p);
  const OH = outSize(H!, KH!, ah);
  const OW = outSize(W!, KW!, aw);
  for (let n = 0; n < N!; n++)
    for (let o = 0; o < O!; o++)
      for (let c = 0; c < C!; c++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++)
            for (let kh = 0; kh < KH!; kh++) {
              const ih = at(oh, kh, ah);
              if (ih < 0 || ih >= H!) continue;
              for (let kw = 0; kw < KW!; kw++) {
                const iw = at(ow, kw, aw);
                if (iw < 0 || iw >= W!) continue;
                f(n, o, c, oh, ow, ih, iw, kh, kw);
              }
            }
}

/** out[n, o, oh, ow] = sum over c, kh, kw of x[n, c, ih, iw] * w[o, c, kh, kw]. */
export function conv2dImpl(p: OpParams["conv2d"], [x, w]: Tensor[]): Tensor {
  const [N, C, H, W] = x!.shape as [number, number, number, number];
  const [O, , KH, KW] = w!.shape as [number, number, number, number];
  const [ah, aw] = axes(p);
  const OH = outSize(H, KH, ah);
  const OW = outSize(W, KW, aw);
  const out = zeros([N, O, OH, OW]);
  convTaps(p, [N, O, C, H, W, KH, KW], (n, o, c, oh, ow, ih, iw, kh, kw) => {
    out.data[((n! * O + o!) * OH + oh!) * OW + ow!]! +=
      x!.data[((n! * C + c!) * H + ih!) * W + iw!]! *
      w!.data[((o! * C + c!) * KH + kh!) * KW + kw!]!;
  });
  return out;
}

/** gx[n, c, ih, iw] = sum of ct[n, o, oh, ow] * w[o, c, kh, kw] over the taps that read (ih, iw). */
export function conv2dGradInputImpl(
  p: OpParams["conv2d_grad_input"],
  [ct, w]: Tensor[],
  ctx: DimCtx,
): Tensor {
  const [N, O, OH, OW] = ct!.shape as [number, number, number, number];
  const [, C, KH, KW] = w!.shape as [number, number, number, number];
  const [H, W] = p.size.map(ctx.dim) as [number, number];
  const out = zeros([N, C, H, W]);
  convTaps(p, [N, O, C, H, W, KH, KW], (n, o, c, oh, ow, ih, iw, kh, kw) => {
    out.data[((n! * C + c!) * H + ih!) * W + iw!]! +=
      ct!.data[((n! * O + o!) * OH + oh!) * OW + ow!]! *
      w!.data[((o! * C + c!) * KH + kh!) * KW + kw!]!;
  });
  return out;
}

/** gw[o, c, kh, kw] = sum of x[n, c, ih, iw] * ct[n, o, oh, ow] over batch and positions. */
export function conv2dGradFilterImpl(
  p: OpParams["conv2d_grad_filter"],
  [x, ct]: Tensor[],
  ctx: DimCtx,
): Tensor {
  const [N, C, H, W] = x!.shape as [number, number, number, number];
  const [, O, OH, OW] = ct!.shape as [number, number, number, number];
  const [KH, KW] = p.size.map(ctx.dim) as [number, number];
  const out = zeros([O, C, KH, KW]);
  convTaps(p, [N, O, C, H, W, KH, KW], (n, o, c, oh, ow, ih, iw, kh, kw) => {
    out.data[((o! * C + c!) * KH + kh!) * KW + kw!]! +=
      x!.data[((n! * C + c!) * H + ih!) * W + iw!]! *
      ct!.data[((n! * O + o!) * OH + oh!) * OW + ow!]!;
  });
  return out;
}

/**
 * Calls `f(plane, pooledIndex, taps)` for every window of a pool over
 * [N, C, H, W] (`size` = [H, W]): `taps` lists the in-bounds input indices
 * of the window in row-major order, offsets within the whole tensor.
 */
function windows(
  p: Pool2d,
  shape: number[],
  f: (pooledIndex: number, taps: number[]) => void,
): number[] {
  const [N, C, H, W] = shape as [number, number, number, number];
  const [KH, KW] = p.window as [number, number];
  const [ah, aw] = axes(p);
  const OH = outSize(H, KH, ah);
  const OW = outSize(W, KW, aw);
  let pooledIndex = 0;
  for (let plane = 0; plane < N * C; plane++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const taps: number[] = [];
        for (let kh = 0; kh < KH; kh++)
          for (let kw = 0; kw < KW; kw++) {
            const ih = at(oh, kh, ah);
            const iw = at(ow, kw, aw);
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) taps.push((plane * H + ih) * W + iw);
          }
        f(pooledIndex++, taps);
      }
  return [N, C, OH, OW];
}

/** The tap holding the first maximum of x in a window (the settings rule out windows without taps). */
function firstMax(x: Tensor, taps: number[]): number {
  let best = taps[0]!;
  for (const t of taps) if (x.data[t]! > x.data[best]!) best = t;
  return best;
}

function pooledZeros(p: Pool2d, x: Tensor): Tensor {
  return zeros(windows(p, x.shape, () => {}));
}

export function maxPoolImpl(p: OpParams["max_pool"], [x]: Tensor[]): Tensor {
  const out = pooledZeros(p, x!);
  windows(p, x!.shape, (i, taps) => (out.data[i] = x!.data[firstMax(x!, taps)]!));
  return out;
}

/** Each ct element lands on its window's first maximum of x (overlapping windows add up). */
export function maxPoolGradImpl(p: OpParams["max_pool_grad"], [x, ct]: Tensor[]): Tensor {
  const out = zeros([...x!.shape]);
  windows(p, x!.shape, (i, taps) => (out.data[firstMax(x!, taps)]! += ct!.data[i]!));
  return out;
}

export function maxPoolPickImpl(p: OpParams["max_pool_pick"], [x, g]: Tensor[]): Tensor {
  const out = pooledZeros(p, x!);
  windows(p, x!.shape, (i, taps) => (out.data[i] = g!.data[firstMax(x!, taps)]!));
  return out;
}

/** The window's sum divided by the full window size (padding counts as zeros). */
export function avgPoolImpl(p: OpParams["avg_pool"], [x]: Tensor[]): Tensor {
  const out = pooledZeros(p, x!);
  const k = p.window[0]! * p.window[1]!;
  windows(p, x!.shape, (i, taps) => {
    out.data[i] = taps.reduce((s, t) => s + x!.data[t]!, 0) / k;
  });
  return out;
}

export function avgPoolGradImpl(p: OpParams["avg_pool_grad"], [ct]: Tensor[], ctx: DimCtx): Tensor {
  const [N, C] = ct!.shape as [number, number];
  const out = zeros([N, C, ...p.size.map(ctx.dim)]);
  const k = p.window[0]! * p.window[1]!;
  windows(p, out.shape, (i, taps) => {
    for (const t of taps) out.data[t]! += ct!.data[i]! / k;
  });
  return out;
}
