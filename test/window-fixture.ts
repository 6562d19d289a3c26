// Test cases for the sliding-window primitives (conv2d, pooling and their
// gradients), shared by the gradient table (test/autodiff.test.ts, which
// uses each op's first case) and the codegen table (test/codegen.test.ts,
// which runs them all). The first cases are deliberately awkward: a symbolic
// batch, non-square kernels, stride 2 along H only, dilation 2 along W only,
// asymmetric padding, and input sizes with a row no window reads.

import type { Pool2d, TensorType, Var, Window2d, WindowOp } from "../compiler/ir.ts";
import { shapeOf } from "../compiler/dims.ts";
import { f32, type Emit } from "./graph-helpers.ts";

export type { WindowOp };

export interface WindowCase {
  name: string;
  types: TensorType[];
  body: (e: Emit, ...xs: Var[]) => Var;
  /** Run-time sizes besides B = 2 (image sizes known only when inputs arrive). */
  dims?: Record<string, number>;
}

/** x [B, 3, 6, 7] * w [4, 3, 3, 2] -> [B, 4, 4, 6]: OH = (6+1+2-2-1) div 2 + 1, OW = (7+0+1-2-1) + 1. */
const awkward: Window2d = { stride: [2, 1], padding: [1, 2, 0, 1], dilation: [1, 2] };
/** LeNet's first layer: 5x5, "same" padding 2. */
const lenet: Window2d = { stride: [1, 1], padding: [2, 2, 2, 2], dilation: [1, 1] };
const valid: Window2d = { stride: [1, 1], padding: [0, 0, 0, 0], dilation: [1, 1] };

/** Windows [3, 2] with stride [2, 1] overlap in both directions; x [B, 2, 7, 5] -> [B, 2, 3, 5]. */
const overlapping: Pool2d = { window: [3, 2], stride: [2, 1], padding: [1, 0, 0, 1] };
/** LeNet's pooling: 2x2, stride 2, no padding; 5 -> 2 leaves the last row unread. */
const halving: Pool2d = { window: [2, 2], stride: [2, 2], padding: [0, 0, 0, 0] };

const conv = (name: string, p: Window2d, x: TensorType, w: TensorType): WindowCase => ({
  name,
  types: [x, w],
  body: (e, a, b) => e("conv2d", p, a!, b!),
});

export const windowCases: Record<WindowOp, WindowCase[]> = {
  conv2d: [
    conv("stride 2, dilation 2, asymmetric padding", awkward, f32("B", 3, 6, 7), f32(4, 3, 3, 2)),
    conv("5x5 same padding", lenet, f32("B", 1, 8, 8), f32(3, 1, 5, 5)),
    conv("valid, many channels", valid, f32("B", 6, 5, 5), f32(5, 6, 3, 3)),
    {
      ...conv("run-time image size", awkward, f32("B", 3, "H", "W"), f32(4, 3, 3, 2)),
      dims: { H: 9, W: 6 },
    },
  ],
  conv2d_grad_input: [
    {
      // H = 7 and 6 give the same OH under stride 2: `size` says which.
      name: "stride 2, dilation 2, asymmetric padding, size [7, 7]",
      types: [f32("B", 4, 4, 6), f32(4, 3, 3, 2)],
      body: (e, ct, w) => e("conv2d_grad_input", { ...awkward, size: shapeOf(7, 7) }, ct!, w!),
    },
    {
      name: "5x5 same padding",
      types: [f32("B", 3, 8, 8), f32(3, 2, 5, 5)],
      body: (e, ct, w) => e("conv2d_grad_input", { ...lenet, size: shapeOf(8, 8) }, ct!, w!),
    },
  ],
  conv2d_grad_filter: [
    {
      name: "stride 2, dilation 2, asymmetric padding",
      types: [f32("B", 3, 7, 7), f32("B", 4, 4, 6)],
      body: (e, x, ct) => e("conv2d_grad_filter", { ...awkward, size: shapeOf(3, 2) }, x!, ct!),
    },
    {
      name: "valid 3x3",
      types: [f32("B", 2, 6, 5), f32("B", 3, 4, 3)],
      body: (e, x, ct) => e("conv2d_grad_filter", { ...valid, size: shapeOf(3, 3) }, x!, ct!),
    },
  ],
  max_pool: [
    {
      name: "overlapping 3x2 windows with padding",
      types: [f32("B", 2, 7, 5)],
      body: (e, x) => e("max_pool", overlapping, x!),
    },
    {
      name: "2x2 stride 2",
      types: [f32("B", 3, 5, 6)],
      body: (e, x) => e("max_pool", halving, x!),
    },
  ],
  max_pool_grad: [
    {
      name: "overlapping 3x2 windows with padding",
      types: [f32("B", 2, 7, 5), f32("B", 2, 3, 5)],
      body: (e, x, ct) => e("max_pool_grad", overlapping, x!, ct!),
    },
    {
      name: "2x2 stride 2",
      types: [f32("B", 3, 5, 6), f32("B", 3, 2, 3)],
      body: (e, x, ct) => e("max_pool_grad", halving, x!, ct!),
    },
  ],
  max_pool_pick: [
    {
      name: "overlapping 3x2 windows with padding",
      types: [f32("B", 2, 7, 5), f32("B", 2, 7, 5)],
      body: (e, x, g) => e("max_pool_pick", overlapping, x!, g!),
    },
    {
      name: "run-time image size",
      types: [f32("B", 2, "H", "W"), f32("B", 2, "H", "W")],
      body: (e, x, g) => e("max_pool_pick", overlapping, x!, g!),
      dims: { H: 8, W: 6 },
    },
  ],
  avg_pool: [
    {
      name: "overlapping 3x2 windows with padding",
      types: [f32("B", 2, 7, 5)],
      body: (e, x) => e("avg_pool", overlapping, x!),
    },
    {
      name: "2x2 stride 2",
      types: [f32("B", 3, 5, 6)],
      body: (e, x) => e("avg_pool", halving, x!),
    },
  ],
  avg_pool_grad: [
    {
      name: "overlapping 3x2 windows with padding, size [7, 5]",
      types: [f32("B", 2, 3, 5)],
      body: (e, ct) => e("avg_pool_grad", { ...overlapping, size: shapeOf(7, 5) }, ct!),
    },
  ],
};
