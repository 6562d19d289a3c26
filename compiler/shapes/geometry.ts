// Geometry of the 2-D sliding-window primitives (conv2d, pooling and their
// transposes), shared by the shape rules, the interpreter and the lowering so
// that all three agree on one formula. Along one spatial axis a window with
// kernel size K, stride s, padding lo/hi and dilation d over an input of size
// H has OH = (H + lo + hi - d * (K - 1) - 1) div s + 1 positions, and tap k
// of output position o reads input position o * s - lo + k * d (a read
// outside [0, H) is padding).

import { dimAdd, dimConst, dimFloorDiv, dimMul, dimSub, type Dim } from "../dims.ts";
import type { Pool2d, Window2d } from "../ir.ts";

/** One spatial axis of a window: everything but the sizes, which may be symbolic. */
export interface Axis {
  stride: number;
  lo: number;
  hi: number;
  dilation: number;
}

/** The two spatial axes (H, then W) of a conv or pool's params. */
export function axes(p: Window2d | Pool2d): [Axis, Axis] {
  const dil = "dilation" in p ? p.dilation : [1, 1];
  const axis = (i: number): Axis => ({
    stride: p.stride[i]!,
    lo: p.padding[2 * i]!,
    hi: p.padding[2 * i + 1]!,
    dilation: dil[i]!,
  });
  return [axis(0), axis(1)];
}

/** The extent one window covers: d * (K - 1) + 1. */
export function span(kernel: Dim, a: Axis): Dim {
  return dimAdd(dimMul(dimConst(a.dilation), dimSub(kernel, dimConst(1))), dimConst(1));
}

/** Output positions along one axis, symbolically: (H + lo + hi - span) div s + 1. */
export function outDim(size: Dim, kernel: Dim, a: Axis): Dim {
  const room = dimSub(dimAdd(size, dimConst(a.lo + a.hi)), span(kernel, a));
  return dimAdd(dimFloorDiv(room, dimConst(a.stride)), dimConst(1));
}

/** The same for concrete sizes (the interpreter). */
export function outSize(size: number, kernel: number, a: Axis): number {
  return Math.floor((size + a.lo + a.hi - a.dilation * (kernel - 1) - 1) / a.stride) + 1;
}

/** The formula of `outDim` with the numbers filled in, for diagnostics. */
export function outFormula(size: string, kernel: string, a: Axis): string {
  const d = a.dilation === 1 ? "" : `${a.dilation} * `;
  return `(${size} + ${a.lo} + ${a.hi} - ${d}(${kernel} - 1) - 1) div ${a.stride} + 1`;
}

/** Problems with the integer settings themselves (before any shape is looked at), or null. */
export function settingsProblem(p: Window2d | Pool2d): string | null {
  const ints = (xs: number[], n: number, min: number) =>
    xs.length === n && xs.every((x) => Number.isInteger(x) && x >= min);
  if (!ints(p.stride, 2, 1))
    return `stride must be two integers >= 1, got [${p.stride.join(", ")}]`;
  if (!ints(p.padding, 4, 0))
    return `padding must be four integers >= 0 (top, bottom, left, right), got [${p.padding.join(", ")}]`;
  if ("dilation" in p && !ints(p.dilation, 2, 1))
    return `dilation must be two integers >= 1, got [${p.dilation.join(", ")}]`;
  if ("window" in p) {
    if (!ints(p.window, 2, 1))
      return `the pooling window must be two integers >= 1, got [${p.window.join(", ")}]`;
    // A window made only of padding would have no maximum (and average only zeros).
    const [kh, kw] = p.window as [number, number];
    const [t, b, l, r] = p.padding as [number, number, number, number];
    if (Math.max(t, b) >= kh || Math.max(l, r) >= kw)
      return `pooling padding must be smaller than the window (${kh}x${kw}), got [${p.padding.join(", ")}]`;
  }
  return null;
}
