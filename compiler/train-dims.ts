// The run-time dims a train block fixes: its batch, for the batch dimension
// (an input's leading axis when that is one named dim, `B` of `x: [B, 784]`).
// What sizes are evaluated at wherever the compiler weighs or reports them
// for the train block (`dump --explain`, `dlg bench`'s default batch).

import { dimToString, dimVars } from "./dims.ts";
import type { TensorType } from "./ir.ts";

export function trainDims(
  inputs: readonly { type: TensorType }[],
  batch: number | "full",
): Record<string, number> {
  const dims: Record<string, number> = {};
  if (batch === "full") return dims;
  for (const i of inputs) {
    const lead = i.type.shape[0];
    const names = lead ? dimVars(lead) : [];
    if (lead && names.length === 1 && dimToString(lead) === names[0]) dims[names[0]!] = batch;
  }
  return dims;
}
