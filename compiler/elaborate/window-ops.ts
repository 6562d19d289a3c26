// Intrinsics for the sliding-window primitives: `conv` (2-D convolution with
// a given filter tensor), `window_max` and `window_mean` (pooling). std's
// conv2d, maxpool and avgpool blocks are written on top of them. Images are
// channels first, [batch, channels, height, width].

import type { Span } from "../../grammar/index.ts";
import type { OpParams } from "../ir.ts";
import { fail, type Ctx } from "./context.ts";
import { staticInt } from "./expr.ts";
import { arg, intrinsic, tensorVar } from "./intrinsics.ts";
import { emit, need, tensor } from "./tensor-ops.ts";
import { describe, type Arg, type IntrinsicFn } from "./values.ts";

/** An int for both axes, or `[for H, for W]`. */
function pairArg(ctx: Ctx, a: Arg | undefined, dflt: number[], what: string): number[] {
  if (!a) return dflt;
  const v = need(a.value);
  if (v.kind !== "list") {
    const n = staticInt(ctx, v, a.span, what);
    return [n, n];
  }
  if (v.items.length !== 2)
    fail(
      ctx,
      "E2007",
      `${what} takes one int or two ([height, width]), got ${describe(v)}`,
      a.span,
    );
  return v.items.map((item, i) => staticInt(ctx, item, v.spans?.[i] ?? a.span, what));
}

/** `p` on every side, `[ph, pw]` per axis, or `[top, bottom, left, right]`. */
function paddingArg(ctx: Ctx, a: Arg | undefined): number[] {
  if (!a) return [0, 0, 0, 0];
  const v = need(a.value);
  if (v.kind === "list" && v.items.length === 4)
    return v.items.map((item, i) => staticInt(ctx, item, v.spans?.[i] ?? a.span, "`padding`"));
  const [h, w] = pairArg(ctx, a, [0, 0], "`padding`") as [number, number];
  return [h, h, w, w];
}

/** Emit a window op, its spans pointing at the input (and the filters). */
function windowOp<P extends "conv2d" | "max_pool" | "avg_pool">(
  ctx: Ctx,
  op: P,
  params: OpParams[P],
  args: Arg[],
  span: Span,
) {
  const inputs = args.map((a) => tensorVar(ctx, a));
  return tensor(
    ctx,
    emit(
      ctx,
      op,
      params,
      inputs,
      span,
      args.map((a) => a.span),
    ),
  );
}

// Built on demand (not at module load): intrinsics.ts imports this file and we import it back.
const conv = (): IntrinsicFn =>
  intrinsic(
    "conv(x, filters, stride?, padding?, dilation?)",
    "conv(x: [n, c, h, w], filters: [o, c, kh, kw], stride: int | [int, int] = 1, padding: int | [int, int] | [top, bottom, left, right] = 0, dilation: int | [int, int] = 1) -> [n, o, oh, ow]",
    (ctx, args, site) => {
      const params: OpParams["conv2d"] = {
        stride: pairArg(ctx, args.get("stride"), [1, 1], "`stride`"),
        padding: paddingArg(ctx, args.get("padding")),
        dilation: pairArg(ctx, args.get("dilation"), [1, 1], "`dilation`"),
      };
      const xs = [arg(args, "x", site), arg(args, "filters", site)];
      return windowOp(ctx, "conv2d", params, xs, site.span);
    },
  );

function pool(name: "window_max" | "window_mean", op: "max_pool" | "avg_pool"): IntrinsicFn {
  return intrinsic(
    `${name}(x, size, stride?, padding?)`,
    `${name}(x: [n, c, h, w], size: int | [int, int], stride: int | [int, int] = size, padding: int | [int, int] | [top, bottom, left, right] = 0) -> [n, c, oh, ow]`,
    (ctx, args, site) => {
      const sa = arg(args, "size", site);
      const window = pairArg(ctx, sa, [1, 1], "the window size");
      const params: OpParams["max_pool"] = {
        window,
        stride: pairArg(ctx, args.get("stride"), window, "`stride`"),
        padding: paddingArg(ctx, args.get("padding")),
      };
      return windowOp(ctx, op, params, [arg(args, "x", site)], site.span);
    },
  );
}

export function windowIntrinsics(): IntrinsicFn[] {
  return [conv(), pool("window_max", "max_pool"), pool("window_mean", "avg_pool")];
}
