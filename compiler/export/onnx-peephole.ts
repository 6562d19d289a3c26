// Patterns over IR equations that one ONNX op computes faster than the
// primitives it is made of: Gemm for a 2-D `x @ w + b`, Softmax for std's
// `exp(x - max) / sum(exp(x - max))`. A pattern writes the fused node for the
// equation that ends it; the primitives before it are still converted, and
// the exporter's dead-node pass drops those nothing else reads.

import { dimAsConst, dimEq } from "../dims.ts";
import type { Eqn, Var } from "../ir.ts";
import type { Scope } from "./onnx-graph.ts";

export interface Defs {
  /** The equation defining `v` in this graph (undefined: an input). */
  def(v: Var): Eqn | undefined;
  name(v: Var): string;
}

const sameShape = (a: Var, b: Var) =>
  a.type.shape.length === b.type.shape.length &&
  a.type.shape.every((d, i) => dimEq(d, b.type.shape[i]!));

/** add(matmul(a, w), b) with a, w 2-D and b broadcast along rows: Gemm(a, w, b). */
function gemm(e: Eqn, d: Defs, s: Scope): string[] | null {
  if (e.op !== "add" || e.outs[0]!.type.shape.length !== 2) return null;
  for (const k of [0, 1]) {
    const mm = d.def(e.inputs[k]!);
    const bias = e.inputs[1 - k]!;
    if (mm?.op !== "matmul" || mm.inputs.some((v) => v.type.shape.length !== 2)) continue;
    if (!sameShape(mm.outs[0]!, e.outs[0]!) || bias.type.dtype !== "f32") continue;
    return [s.one("Gemm", [...mm.inputs.map(d.name), d.name(bias)])];
  }
  return null;
}

/**
 * The reduction over axis `a` of `x` that `v` is, kept as a size-1 axis
 * (reshape to x's shape with a 1 at `a`), possibly broadcast back and
 * behind stop_gradient; null when `v` is anything else.
 */
function keptReduction(
  v: Var,
  d: Defs,
  op: "reduce_max" | "reduce_sum",
  x: Var,
  a: number,
): boolean {
  const keep = x.type.shape.map((dim, i) => (i === a ? null : dim));
  const isKeep = (w: Var) =>
    w.type.shape.length === keep.length &&
    w.type.shape.every((dim, i) => (keep[i] === null ? true : dimEq(dim, keep[i]!)));
  let e = d.def(v);
  while (e && (e.op === "stop_gradient" || e.op === "broadcast") && isKeep(e.outs[0]!))
    e = d.def(e.inputs[0]!);
  if (e?.op !== "reshape" || !isKeep(e.outs[0]!) || dimAsConst(e.outs[0]!.type.shape[a]!) !== 1)
    return false;
  const r = d.def(e.inputs[0]!);
  return (
    (r?.op === "reduce_max" || r?.op === "reduce_sum") &&
    r.op === op &&
    r.params.axes.length === 1 &&
    r.params.axes[0] === a &&
    r.inputs[0]!.id === x.id
  );
}

/** div(exp(x - max_a(x)), sum_a(exp(x - max_a(x)))): Softmax(x, axis: a). */
function softmax(e: Eqn, d: Defs, s: Scope): string[] | null {
  if (e.op !== "div") return null;
  const [num, den] = e.inputs;
  const ex = d.def(num!);
  if (ex?.op !== "exp") return null;
  const sub = d.def(ex.inputs[0]!);
  if (sub?.op !== "sub") return null;
  const x = sub.inputs[0]!;
  if (!sameShape(x, e.outs[0]!) || x.type.dtype !== "f32") return null;
  for (let a = 0; a < x.type.shape.length; a++)
    if (
      keptReduction(sub.inputs[1]!, d, "reduce_max", x, a) &&
      keptReduction(den!, d, "reduce_sum", num!, a)
    )
      return [s.one("Softmax", [d.name(x)], { axis: a })];
  return null;
}

const patterns = [gemm, softmax];

/** The fused node's outputs for the pattern `e` ends, or null. */
export function peephole(e: Eqn, d: Defs, s: Scope): string[] | null {
  for (const p of patterns) {
    const r = p(e, d, s);
    if (r) return r;
  }
  return null;
}
