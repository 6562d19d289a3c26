// Sizes are data in the plan (SizeExpr), so every runtime, in any language,
// evaluates the same description; this is the JS one.

import type { SizeExpr } from "./program.ts";

/** The value of `e` under the run-time dims `D` (floor division and floored remainder, like the dims algebra). */
export function evalSize(e: SizeExpr, D: readonly number[]): number {
  if (typeof e === "number") return e;
  if ("d" in e) return D[e.d]!;
  if ("add" in e) return e.add.reduce<number>((s, x) => s + evalSize(x, D), 0);
  if ("mul" in e) return e.mul.reduce<number>((s, x) => s * evalSize(x, D), 1);
  if ("max" in e) return Math.max(...e.max.map((x) => evalSize(x, D)));
  if ("min" in e) return Math.min(...e.min.map((x) => evalSize(x, D)));
  if ("div" in e) return Math.floor(evalSize(e.div[0], D) / evalSize(e.div[1], D));
  const b = evalSize(e.mod[1], D);
  return ((evalSize(e.mod[0], D) % b) + b) % b;
}

/** A byte count as an error message says it: bytes under 1 MiB, else MiB and the exact count. */
export const bytesText = (bytes: number): string =>
  bytes < 2 ** 20 ? `${bytes} bytes` : `${(bytes / 2 ** 20).toFixed(1)} MiB (${bytes} bytes)`;
