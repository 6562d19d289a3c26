// What an emitted module says of its tensors: shapes as numbers or dim
// names (`spec`, the .d.ts comments, the plan's descriptions).

import { dimAsConst, dimToString, type Dim } from "../dims.ts";
import type { ProgramIR, TensorType } from "../ir.ts";
import { copyNames } from "../../runtime/stacked.ts";

export function shapeSpec(shape: readonly Dim[]): (string | number)[] {
  return shape.map((d) => dimAsConst(d) ?? dimToString(d));
}

/** The user-facing description exported as `spec`. */
export function specOf(program: ProgramIR) {
  const t = (x: { name: string; type: TensorType }) => ({
    name: x.name,
    dtype: x.type.dtype,
    shape: shapeSpec(x.type.shape),
  });
  return {
    model: program.model,
    dims: program.dims,
    inputs: program.inputs.map(t),
    outputs: program.outputs.map(t),
    metrics: program.metrics,
    params: userParams(program).map(t),
  };
}

/**
 * The params as users see them: each param, or, stacked by `repeat`, each
 * of its copies (`repeat_1.0.dense_1.w`: runtime/stacked.ts names them).
 */
export function userParams(program: ProgramIR): { name: string; type: TensorType }[] {
  return program.params.flatMap((p) => {
    if (!p.stack) return [{ name: p.path, type: p.type }];
    const type = { dtype: p.type.dtype, shape: p.type.shape.slice(p.stack.length) };
    return copyNames(p.path, p.stack).map((name) => ({ name, type }));
  });
}
