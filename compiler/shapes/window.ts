// Shape rules of the sliding-window primitives: conv2d and its two
// transposes, max/avg pooling and their gradients. Inputs are channels first,
// [N, C, H, W]. The rules are function declarations (hoisted), so shapes.ts
// can list them in its table although this file imports ShapeError from it.

import { dimAsConst, dimConst, dimEq, dimToString, shapeToString, type Dim } from "../dims.ts";
import type { OpParams, Pool2d, TensorType, Window2d } from "../ir.ts";
import { ShapeError } from "../shapes.ts";
import { axes, outDim, outFormula, settingsProblem, type Axis } from "./geometry.ts";

const show = (t: TensorType) => shapeToString(t.shape);

function image(t: TensorType, k: number, what: string, op: string): void {
  if (t.dtype !== "f32")
    throw new ShapeError("E3008", `${op} needs a float ${what}, got ${t.dtype}${show(t)}`, [
      { input: k, message: `this is ${t.dtype}${show(t)}` },
    ]);
  if (t.shape.length !== 4)
    throw new ShapeError(
      "E3003",
      `${op} needs a rank-4 ${what}, got ${show(t)}`,
      [{ input: k, message: `this is ${show(t)}` }],
      what === "input" ? ["images are channels first: [batch, channels, height, width]"] : [],
    );
}

function settings(p: Window2d | Pool2d): void {
  const problem = settingsProblem(p);
  if (problem) throw new ShapeError("E3031", problem);
}

/** How messages name an op: pooling as users write it, the rest by primitive. */
const shown: Record<string, string> = { max_pool: "max pooling", avg_pool: "average pooling" };

const pair = (xs: number[]) => (xs[0] === xs[1] ? `${xs[0]}` : `[${xs.join(", ")}]`);
const padText = (xs: number[]) =>
  xs.every((x) => x === xs[0]) ? `${xs[0]}` : `[${xs.join(", ")}]`;

/**
 * [OH, OW] of a window over `x`'s last two axes; a size that is a constant
 * <= 0 is the user's error (E3030), spelled out with every number involved.
 */
function spatialOut(
  op: string,
  p: Window2d | Pool2d,
  x: TensorType,
  kernel: Dim[],
  kernelLabel: { input: number; message: string } | null,
): Dim[] {
  const ax = axes(p);
  return [0, 1].map((i) => {
    const a = ax[i] as Axis;
    const size = x.shape[2 + i]!;
    const out = outDim(size, kernel[i]!, a);
    const c = dimAsConst(out);
    if (c !== null && c <= 0) {
      const k = kernel.map(dimToString).join("x");
      const dil =
        "dilation" in p && p.dilation.some((d) => d !== 1) ? `, dilation ${pair(p.dilation)}` : "";
      const labels = [{ input: 0, message: `this is ${show(x)}` }];
      if (kernelLabel) labels.push(kernelLabel);
      throw new ShapeError(
        "E3030",
        `${shown[op] ?? op} output would be empty: input ${show(x)} with a ${k} ${"window" in p ? "window" : "kernel"}, stride ${pair(p.stride)}${dil} and padding ${padText(p.padding)}`,
        labels,
        [
          `output ${i === 0 ? "height" : "width"} = ${outFormula(dimToString(size), dimToString(kernel[i]!), a)} = ${c}`,
        ],
      );
    }
    return out;
  });
}

/** `want` and `got` must agree (the transposes are told the size they restore). */
function agree(op: string, what: string, want: Dim[], got: Dim[], input: number): void {
  if (want.length !== got.length || !want.every((d, i) => dimEq(d, got[i]!)))
    throw new ShapeError(
      "E3010",
      `${op}: ${what} is ${shapeToString(got)}, expected ${shapeToString(want)}`,
      [{ input, message: `this is ${shapeToString(got)}` }],
    );
}

function arity(ins: TensorType[], n: number, op: string): void {
  if (ins.length !== n) throw new ShapeError("E9001", `${op} takes ${n} inputs, got ${ins.length}`);
}

export function conv2dShape(p: OpParams["conv2d"], ins: TensorType[]): TensorType[] {
  arity(ins, 2, "conv2d");
  settings(p);
  const [x, w] = ins as [TensorType, TensorType];
  image(x, 0, "input", "conv2d");
  image(w, 1, "filter", "conv2d");
  if (!dimEq(x.shape[1]!, w.shape[1]!))
    throw new ShapeError(
      "E3010",
      `conv2d: the input has ${dimToString(x.shape[1]!)} channels but the filters expect ${dimToString(w.shape[1]!)}`,
      [
        { input: 0, message: `this is ${show(x)}` },
        { input: 1, message: `this is ${show(w)}` },
      ],
      ["filters are [out channels, in channels, kernel height, kernel width]"],
    );
  const kernel = w.shape.slice(2);
  const out = spatialOut("conv2d", p, x, kernel, {
    input: 1,
    message: `the filters are ${show(w)}`,
  });
  return [{ dtype: "f32", shape: [x.shape[0]!, w.shape[0]!, ...out] }];
}

export function conv2dGradInputShape(
  p: OpParams["conv2d_grad_input"],
  ins: TensorType[],
): TensorType[] {
  arity(ins, 2, "conv2d_grad_input");
  settings(p);
  const [ct, w] = ins as [TensorType, TensorType];
  image(ct, 0, "cotangent", "conv2d_grad_input");
  image(w, 1, "filter", "conv2d_grad_input");
  const x: TensorType = { dtype: "f32", shape: [ct.shape[0]!, w.shape[1]!, ...p.size] };
  const out = spatialOut("conv2d_grad_input", p, x, w.shape.slice(2), null);
  agree("conv2d_grad_input", "the cotangent", [ct.shape[0]!, w.shape[0]!, ...out], ct.shape, 0);
  return [x];
}

export function conv2dGradFilterShape(
  p: OpParams["conv2d_grad_filter"],
  ins: TensorType[],
): TensorType[] {
  arity(ins, 2, "conv2d_grad_filter");
  settings(p);
  const [x, ct] = ins as [TensorType, TensorType];
  image(x, 0, "input", "conv2d_grad_filter");
  image(ct, 1, "cotangent", "conv2d_grad_filter");
  const out = spatialOut("conv2d_grad_filter", p, x, p.size, null);
  agree("conv2d_grad_filter", "the cotangent", [x.shape[0]!, ct.shape[1]!, ...out], ct.shape, 1);
  return [{ dtype: "f32", shape: [ct.shape[1]!, x.shape[1]!, ...p.size] }];
}

const windowDims = (p: Pool2d): Dim[] => p.window.map(dimConst);

/** The pooled shape of x [N, C, H, W]. */
function pooled(op: string, p: Pool2d, x: TensorType): Dim[] {
  settings(p);
  image(x, 0, "input", op);
  return [x.shape[0]!, x.shape[1]!, ...spatialOut(op, p, x, windowDims(p), null)];
}

export function poolShape(op: "max_pool" | "avg_pool") {
  return function rule(p: Pool2d, ins: TensorType[]): TensorType[] {
    arity(ins, 1, op);
    return [{ dtype: "f32", shape: pooled(op, p, ins[0]!) }];
  };
}

export function maxPoolGradShape(p: OpParams["max_pool_grad"], ins: TensorType[]): TensorType[] {
  arity(ins, 2, "max_pool_grad");
  const [x, ct] = ins as [TensorType, TensorType];
  agree("max_pool_grad", "the cotangent", pooled("max_pool_grad", p, x), ct.shape, 1);
  return [x];
}

export function maxPoolPickShape(p: OpParams["max_pool_pick"], ins: TensorType[]): TensorType[] {
  arity(ins, 2, "max_pool_pick");
  const [x, g] = ins as [TensorType, TensorType];
  agree("max_pool_pick", "the picked tensor", x.shape, g.shape, 1);
  return [{ dtype: "f32", shape: pooled("max_pool_pick", p, x) }];
}

export function avgPoolGradShape(p: OpParams["avg_pool_grad"], ins: TensorType[]): TensorType[] {
  arity(ins, 1, "avg_pool_grad");
  const ct = ins[0]!;
  image(ct, 0, "cotangent", "avg_pool_grad");
  const x: TensorType = { dtype: "f32", shape: [ct.shape[0]!, ct.shape[1]!, ...p.size] };
  agree("avg_pool_grad", "the cotangent", pooled("avg_pool_grad", p, x), ct.shape, 0);
  return [x];
}
