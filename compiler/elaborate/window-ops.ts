// Intrinsics for the sliding-window primitives: `conv` (2-D convolution with
// a given filter tensor), `window_max` and `window_mean` (pooling), and the
// layers users write, `conv2d`, `conv1d`, `maxpool` and `avgpool`. Images are
// channels first, [batch, channels, height, width]; sequences [batch,
// channels, length].
//
// The layers are intrinsics rather than std blocks because `padding:` takes an
// int or a string naming an option ("same", "valid"), which a block parameter
// cannot, and because "same" padding depends on the input's size. `conv2d`
// and `conv1d` work their padding out here, then call the std blocks
// `conv2d_layer` / `conv1d_layer` (which declare the filters and the bias) with
// it spelled out per side; their params keep the layer's name (`conv2d_1.w`).

import type { Span } from "../../grammar/index.ts";
import { dimAsConst, dimConst, dimToString, type Dim } from "../dims.ts";
import type { OpParams, Var } from "../ir.ts";
import { fail, type Ctx } from "./context.ts";
import { apply, staticInt } from "./expr.ts";
import { arg, intrinsic, tensorVar } from "./intrinsics.ts";
import { emit, need, tensor } from "./tensor-ops.ts";
import { entryValue } from "./types.ts";
import { describe, int, type Arg, type CallSite, type IntrinsicFn, type Value } from "./values.ts";

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

const paddingForms = (rank: 1 | 2) =>
  `padding is "same" (keep the size at stride 1; with stride s, ceil(size / s)), "valid" (none), an int for every side, ${rank === 2 ? "[height, width] or [top, bottom, left, right]" : "or [left, right]"}`;

/**
 * What a window needs to work out "same" padding along each spatial axis:
 * the input's sizes, the extent one window covers (dilation * (k - 1) + 1)
 * and the stride.
 */
interface Fit {
  sizes: Dim[];
  /** What messages call each axis. */
  names: string[];
  extents: number[];
  stride: number[];
}

/**
 * TensorFlow's "same": ceil(size / stride) outputs, from a total padding of
 * max((out - 1) * stride + extent - size, 0), the odd one at the end (bottom,
 * right). At stride 1 that is extent - 1 whatever the size, so a symbolic size
 * is fine there; at a larger stride the size must be known.
 */
function samePadding(ctx: Ctx, fit: Fit, span: Span): number[] {
  return fit.sizes.flatMap((size, i) => {
    const s = fit.stride[i]!;
    const e = fit.extents[i]!;
    let total = e - 1;
    if (s !== 1) {
      const n = dimAsConst(size);
      if (n === null)
        fail(
          ctx,
          "E3031",
          `padding "same" at stride ${s} needs a known ${fit.names[i]}, but it is ${dimToString(size)}`,
          span,
          {
            notes: [
              'at stride 1 "same" pads by kernel - 1 whatever the size; at a larger stride the amount depends on the size',
            ],
          },
        );
      total = Math.max((Math.ceil(n / s) - 1) * s + e - n, 0);
    }
    const before = Math.floor(total / 2);
    return [before, total - before];
  });
}

/**
 * Padding per side of `rank` spatial axes ([top, bottom, left, right] for
 * two, [left, right] for one): an int for every side, one per axis, one per
 * side, "same" or "valid".
 */
function paddingArg(ctx: Ctx, a: Arg | undefined, rank: 1 | 2, fit: () => Fit): number[] {
  if (!a) return new Array<number>(2 * rank).fill(0);
  const v = need(a.value);
  if (v.kind === "string") {
    if (v.value === "valid") return new Array<number>(2 * rank).fill(0);
    if (v.value === "same") return samePadding(ctx, fit(), a.span);
    fail(ctx, "E3031", `unknown padding "${v.value}"`, a.span, { help: paddingForms(rank) });
  }
  if (v.kind === "list" && v.items.length === 2 * rank)
    return v.items.map((item, i) => staticInt(ctx, item, v.spans?.[i] ?? a.span, "`padding`"));
  if (v.kind !== "list") {
    if (v.kind !== "int" && v.kind !== "dim")
      fail(
        ctx,
        "E2007",
        `\`padding\` must be an int, a list or a string, but it is ${describe(v)}`,
        a.span,
        { help: paddingForms(rank) },
      );
    const p = staticInt(ctx, v, a.span, "`padding`");
    return new Array<number>(2 * rank).fill(p);
  }
  if (rank === 1)
    fail(
      ctx,
      "E2007",
      `\`padding\` takes one int or two ([left, right]), got ${describe(v)}`,
      a.span,
      {
        help: paddingForms(rank),
      },
    );
  const [h, w] = pairArg(ctx, a, [0, 0], "`padding`") as [number, number];
  return [h, h, w, w];
}

/** The last two axes of x, for a 2-D window over it (shape errors come from the op itself). */
const spatial = (x: Var): Dim[] => x.type.shape.slice(-2);
const imageAxes = ["height", "width"];

// Built on demand (not at module load): intrinsics.ts imports this file and we import it back.
const conv = (): IntrinsicFn =>
  intrinsic(
    "conv(x, filters, stride?, padding?, dilation?)",
    'conv(x: [n, c, h, w], filters: [o, c, kh, kw], stride: int | [int, int] = 1, padding: int | [int, int] | [top, bottom, left, right] | "same" | "valid" = 0, dilation: int | [int, int] = 1) -> [n, o, oh, ow]',
    (ctx, args, site) => {
      const xa = arg(args, "x", site);
      const fa = arg(args, "filters", site);
      const x = tensorVar(ctx, xa);
      const w = tensorVar(ctx, fa);
      const stride = pairArg(ctx, args.get("stride"), [1, 1], "`stride`");
      const dilation = pairArg(ctx, args.get("dilation"), [1, 1], "`dilation`");
      const fit = (): Fit => ({
        sizes: spatial(x),
        names: imageAxes,
        extents: spatial(w).map((k, i) => {
          const n = dimAsConst(k);
          if (n === null)
            fail(
              ctx,
              "E3031",
              `padding "same" needs a known kernel size, but it is ${dimToString(k)}`,
              fa.span,
            );
          return dilation[i]! * (n - 1) + 1;
        }),
        stride,
      });
      const params: OpParams["conv2d"] = {
        stride,
        padding: paddingArg(ctx, args.get("padding"), 2, fit),
        dilation,
      };
      return tensor(ctx, emit(ctx, "conv2d", params, [x, w], site.span, [xa.span, fa.span]));
    },
  );

/** Hover texts of the layers, as a std block's `///` doc. */
const layerDocs = {
  conv2d:
    '2-D convolution layer: `filters` learned `kernel` x `kernel` filters slide over x [batch, channels, height, width] (moving by `stride`, over `padding` zeros, with `dilation` - 1 pixels between taps), each giving one output channel, plus one bias per filter. `padding: "same"` keeps ceil(size / stride) positions (TensorFlow\'s rule, the odd row at the end); `"valid"` (0) pads nothing. The filters w [filters, channels, kernel, kernel] start He-normal, std = sqrt(2 / (channels * kernel * kernel)); the bias b starts 0.',
  conv1d:
    '1-D convolution layer over x [batch, channels, length]: `filters` learned filters of `kernel` taps (w [filters, channels, kernel], PyTorch\'s Conv1d layout, He-normal with fan_in = channels * kernel) plus one bias per filter. `padding` is an int, [left, right], "same" (ceil(length / stride) outputs) or "valid".',
  maxpool:
    'Max pooling: each `size` x `size` window of x [batch, channels, height, width] becomes its largest value. Windows move by `stride`, by default a whole window; `padding` (an int, or "same" for ceil(size / stride) outputs) lets them hang over the edge, and padding never wins. The gradient goes to the first maximum of each window.',
  avgpool:
    "Average pooling: each `size` x `size` window of x [batch, channels, height, width] becomes its mean. Windows move by `stride` (by default a whole window). An int `padding`'s zeros count in the mean (PyTorch's default); with \"same\" (ceil(size / stride) outputs) each window averages only what is inside the image (TensorFlow's).",
};

/** A pooling window's settings, "same" padding worked out from x's size. */
function poolParams(ctx: Ctx, args: Map<string, Arg>, x: Var, sizeArg: Arg): OpParams["max_pool"] {
  const window = pairArg(ctx, sizeArg, [1, 1], "the window size");
  const stride = pairArg(ctx, args.get("stride"), window, "`stride`");
  const fit = (): Fit => ({ sizes: spatial(x), names: imageAxes, extents: window, stride });
  return { window, stride, padding: paddingArg(ctx, args.get("padding"), 2, fit) };
}

const poolShown = (name: string) =>
  `${name}(x: [n, c, h, w], size: int | [int, int], stride: int | [int, int] = size, padding: int | [int, int] | [top, bottom, left, right] | "same" | "valid" = 0) -> [n, c, oh, ow]`;

/** The pooling primitives as they are: padding never wins the max, and counts as zeros in the mean. */
function pool(
  name: "window_max" | "window_mean" | "maxpool",
  op: "max_pool" | "avg_pool",
): IntrinsicFn {
  return intrinsic(`${name}(x, size, stride?, padding?)`, poolShown(name), (ctx, args, site) => {
    const xa = arg(args, "x", site);
    const x = tensorVar(ctx, xa);
    const params = poolParams(ctx, args, x, arg(args, "size", site));
    return tensor(ctx, emit(ctx, op, params, [x], site.span, [xa.span]));
  });
}

/**
 * Average pooling. With an int (or list) padding the padded zeros count in
 * the mean, as in PyTorch's default; with "same" each window averages only
 * the elements inside the image, as TensorFlow's does: the sum is divided by
 * the fraction of the window that is inside, itself an average pool of ones.
 */
const avgpool = (): IntrinsicFn => ({
  doc: layerDocs.avgpool,
  ...intrinsic("avgpool(x, size, stride?, padding?)", poolShown("avgpool"), (ctx, args, site) => {
    const xa = arg(args, "x", site);
    const x = tensorVar(ctx, xa);
    const params = poolParams(ctx, args, x, arg(args, "size", site));
    const y = emit(ctx, "avg_pool", params, [x], site.span, [xa.span]);
    const pa = args.get("padding");
    const same = pa !== undefined && need(pa.value).kind === "string";
    if (!same || params.padding.every((p) => p === 0)) return tensor(ctx, y);
    const shape = [dimConst(1), dimConst(1), ...spatial(x)];
    const ones = emit(ctx, "const", { value: 1, dtype: "f32", shape }, [], site.span);
    const inside = emit(ctx, "avg_pool", params, [ones], site.span);
    return tensor(ctx, emit(ctx, "div", {}, [y, inside], site.span));
  }),
});

/** A std block by name, as a function (the layers below hand their work to one). */
function stdBlock(ctx: Ctx, name: string, span: Span) {
  const entry = ctx.s.std.lookup(name);
  const v = entry && entryValue(ctx, entry, span);
  if (!v || v.kind !== "fn" || v.fn.kind !== "block") throw new Error(`std block ${name} missing`);
  return v.fn;
}

/**
 * Call std block `layer` for intrinsic `name` with the call's arguments, its
 * `padding` replaced by one int per side (`sides`). The block runs under the
 * intrinsic's name, so its params are `conv2d_1.w`, and under the call's site,
 * so a shared binding's path reaches it.
 */
function callLayer(
  ctx: Ctx,
  name: string,
  layer: string,
  args: Map<string, Arg>,
  site: CallSite,
  sides: Record<string, number>,
): Value {
  const named = new Map(args);
  const span = args.get("padding")?.span ?? site.span;
  named.delete("padding");
  for (const [k, n] of Object.entries(sides)) named.set(k, { value: int(n), span });
  const fn = { ...stdBlock(ctx, layer, site.span), name };
  const { callee: _, ...inner } = site;
  return apply(ctx, fn, [], named, inner);
}

const intOr = (ctx: Ctx, a: Arg | undefined, dflt: number, what: string) =>
  a ? staticInt(ctx, a.value, a.span, what) : dflt;

/** What "same" needs for a conv layer over x's last `rank` axes, from its `kernel`, `stride` and `dilation`. */
function layerFit(ctx: Ctx, args: Map<string, Arg>, site: CallSite, x: Var, rank: 1 | 2): Fit {
  const sizes = x.type.shape.slice(-rank);
  const ka = arg(args, "kernel", site);
  const kernel = staticInt(ctx, ka.value, ka.span, "`kernel`");
  const stride = intOr(ctx, args.get("stride"), 1, "`stride`");
  const dilation = intOr(ctx, args.get("dilation"), 1, "`dilation`");
  const e = dilation * (kernel - 1) + 1;
  const names = rank === 2 ? imageAxes : ["length"];
  return { sizes, names, extents: sizes.map(() => e), stride: sizes.map(() => stride) };
}

const conv2d = (): IntrinsicFn => ({
  doc: layerDocs.conv2d,
  ...intrinsic(
    "conv2d(x, filters, kernel, stride?, padding?, dilation?, bias?)",
    'conv2d(x: [batch, channels, height, width], filters: int, kernel: int, stride: int = 1, padding: int | [int, int] | [top, bottom, left, right] | "same" | "valid" = 0, dilation: int = 1, bias: bool = true) -> [batch, filters, oh, ow]',
    (ctx, args, site) => {
      const x = tensorVar(ctx, arg(args, "x", site));
      const fit = () => layerFit(ctx, args, site, x, 2);
      const [top, bottom, left, right] = paddingArg(ctx, args.get("padding"), 2, fit);
      const sides = { top: top!, bottom: bottom!, left: left!, right: right! };
      return callLayer(ctx, "conv2d", "conv2d_layer", args, site, sides);
    },
  ),
});

/**
 * conv1d's own E3030: its layer is a 2-D convolution of height 1, whose
 * message would show the user a [b, c, 1, l] image and a 1xk kernel.
 */
function nonEmptyLength(ctx: Ctx, fit: Fit, pads: number, span: Span): void {
  const n = dimAsConst(fit.sizes[0]!);
  const [e, s] = [fit.extents[0]!, fit.stride[0]!];
  if (n === null) return;
  const out = Math.floor((n + pads - e) / s) + 1;
  if (out <= 0)
    fail(
      ctx,
      "E3030",
      `conv1d output would be empty: length ${n}, padded by ${pads}, is shorter than the kernel's span ${e}`,
      span,
      { notes: [`output length = (${n} + ${pads} - ${e}) div ${s} + 1 = ${out}`] },
    );
}

const conv1d = (): IntrinsicFn => ({
  doc: layerDocs.conv1d,
  ...intrinsic(
    "conv1d(x, filters, kernel, stride?, padding?, dilation?, bias?)",
    'conv1d(x: [batch, channels, length], filters: int, kernel: int, stride: int = 1, padding: int | [left, right] | "same" | "valid" = 0, dilation: int = 1, bias: bool = true) -> [batch, filters, ol]',
    (ctx, args, site) => {
      const x = tensorVar(ctx, arg(args, "x", site));
      const fit = () => layerFit(ctx, args, site, x, 1);
      for (const k of ["kernel", "stride", "dilation"]) {
        const a = args.get(k);
        const n = a && staticInt(ctx, a.value, a.span, `\`${k}\``);
        if (n !== undefined && n < 1)
          fail(ctx, "E3031", `\`${k}\` must be at least 1, got ${n}`, a!.span);
      }
      const [left, right] = paddingArg(ctx, args.get("padding"), 1, fit);
      if (x.type.shape.length === 3) nonEmptyLength(ctx, fit(), left! + right!, site.span);
      return callLayer(ctx, "conv1d", "conv1d_layer", args, site, { left: left!, right: right! });
    },
  ),
});

export function windowIntrinsics(): IntrinsicFn[] {
  return [
    conv(),
    pool("window_max", "max_pool"),
    pool("window_mean", "avg_pool"),
    { ...pool("maxpool", "max_pool"), doc: layerDocs.maxpool },
    avgpool(),
    conv2d(),
    conv1d(),
  ];
}
