// What an emitted module says of its tensors: shapes as numbers or dim
// names (`spec`, the .d.ts comments, the plan's descriptions).

import { dimAsConst, dimToString, type Dim } from "../dims.ts";
import type { ProgramIR, TensorType } from "../ir.ts";

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
    params: program.params.map((p) => ({
      name: p.path,
      dtype: p.type.dtype,
      shape: shapeSpec(p.type.shape),
    })),
  };
}
