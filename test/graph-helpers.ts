// Small helpers for tests that build graph IR by hand with the Builder.

import { Builder } from "../compiler/builder.ts";
import { shapeOf } from "../compiler/dims.ts";
import {
  VarGen,
  type DType,
  type Graph,
  type Op,
  type OpParams,
  type TensorType,
  type Var,
} from "../compiler/ir.ts";
import { tensor, type Tensor } from "../compiler/interpret.ts";
import { randomUniform } from "../runtime/rng.ts";

export const f32 = (...shape: (number | string)[]): TensorType => ({
  dtype: "f32",
  shape: shapeOf(...shape),
});
export const i32 = (...shape: (number | string)[]): TensorType => ({
  dtype: "i32",
  shape: shapeOf(...shape),
});
export const bool = (...shape: (number | string)[]): TensorType => ({
  dtype: "bool",
  shape: shapeOf(...shape),
});

/** `e("matmul", {}, x, w)`: emit one equation and return its output; `e.multi` returns all (scan). */
export type Emit = (<P extends Op>(op: P, params: OpParams[P], ...inputs: Var[]) => Var) & {
  /** Present on the emitters `build` makes; hand-rolled emitters may leave it out. */
  multi?: <P extends Op>(op: P, params: OpParams[P], ...inputs: Var[]) => Var[];
};

export interface Built {
  graph: Graph;
  gen: VarGen;
  inputs: Var[];
  outputs: Var[];
}

/**
 * A graph with inputs of the given types (hinted x0, x1, ... unless named)
 * and the outputs `body` returns.
 */
export function build(
  types: TensorType[],
  body: (e: Emit, ...xs: Var[]) => Var | Var[],
  opts: { gen?: VarGen; names?: string[] } = {},
): Built {
  const gen = opts.gen ?? new VarGen();
  const inputs = types.map((t, i) => gen.fresh(t, opts.names?.[i] ?? `x${i}`));
  const b = new Builder(gen);
  const e: Emit = Object.assign(
    <P extends Op>(op: P, params: OpParams[P], ...xs: Var[]) => b.emit(op, params, xs),
    {
      multi: <P extends Op>(op: P, params: OpParams[P], ...xs: Var[]) =>
        b.emitMulti(op, params, xs),
    },
  );
  const out = body(e, ...inputs);
  const outputs = Array.isArray(out) ? out : [out];
  return { graph: { inputs, eqns: b.eqns, outputs }, gen, inputs, outputs };
}

/** Deterministic pseudo-random values in [lo, hi), one stream per `salt`. */
export function uniform(n: number, salt: number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, (_, i) => lo + (hi - lo) * randomUniform(1234, salt, i));
}

export function t(dtype: DType, shape: number[], data: number[]): Tensor {
  return tensor(dtype, shape, data);
}

/** Plain nested-free view of a tensor for `toEqual`. */
export function view(x: Tensor): { dtype: DType; shape: number[]; data: number[] } {
  return { dtype: x.dtype, shape: x.shape, data: [...x.data] };
}
