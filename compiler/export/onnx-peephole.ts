// Patterns over IR equations that one ONNX op computes faster than the
// primitives it is made of: Gemm for a 2-D `x @ w + b`, Softmax for std's
// `exp(x - max) / sum(exp(x - max))`, LayerNormalization for std's
// layer_norm. A pattern writes the fused node for the
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
 * What `v` is the kept-dims form of (a reshape to x's shape with a 1 at
 * axis `a`, possibly broadcast back and behind stop_gradient): the
 * reshape's input, or undefined.
 */
function unkept(v: Var, d: Defs, x: Var, a: number): Var | undefined {
  const keep = x.type.shape.map((dim, i) => (i === a ? null : dim));
  const isKeep = (w: Var) =>
    w.type.shape.length === keep.length &&
    w.type.shape.every((dim, i) => (keep[i] === null ? true : dimEq(dim, keep[i]!)));
  let e = d.def(v);
  while (e && (e.op === "stop_gradient" || e.op === "broadcast") && isKeep(e.outs[0]!))
    e = d.def(e.inputs[0]!);
  if (e?.op !== "reshape" || !isKeep(e.outs[0]!) || dimAsConst(e.outs[0]!.type.shape[a]!) !== 1)
    return undefined;
  return e.inputs[0];
}

/** `v` is reduction `op` of `x` over axis `a` alone. */
function isReduction(
  v: Var | undefined,
  d: Defs,
  op: "reduce_max" | "reduce_sum",
  x: Var,
  a: number,
) {
  const r = v && d.def(v);
  return (
    (r?.op === "reduce_max" || r?.op === "reduce_sum") &&
    r.op === op &&
    r.params.axes.length === 1 &&
    r.params.axes[0] === a &&
    r.inputs[0]!.id === x.id
  );
}

/** `v` is reduction `op` of `x` over axis `a`, kept as a size-1 axis. */
const keptReduction = (v: Var, d: Defs, op: "reduce_max" | "reduce_sum", x: Var, a: number) =>
  isReduction(unkept(v, d, x, a), d, op, x, a);

/** The value of a scalar `const`, or undefined. */
function constOf(v: Var, d: Defs): number | undefined {
  const e = d.def(v);
  return e?.op === "const" && e.params.shape.length === 0 ? e.params.value : undefined;
}

/** `v` is std's `mean(x, axis: a, keepdims: true)`: sum over `a` divided by its size. */
function keptMean(v: Var, d: Defs, x: Var, a: number): boolean {
  const inner = unkept(v, d, x, a);
  const div = inner && d.def(inner);
  const n = dimAsConst(x.type.shape[a]!);
  return (
    div?.op === "div" &&
    n !== null &&
    constOf(div.inputs[1]!, d) === n &&
    isReduction(div.inputs[0]!, d, "reduce_sum", x, a)
  );
}

/** The operands of a commutative `op` equation defining `v`, in both orders. */
function operands(v: Var, d: Defs, op: "add" | "mul"): [Var, Var][] {
  const e = d.def(v);
  return e?.op === op
    ? [
        [e.inputs[0]!, e.inputs[1]!],
        [e.inputs[1]!, e.inputs[0]!],
      ]
    : [];
}

/**
 * std's layer_norm over the last axis, `centred / sqrt(variance + eps) *
 * scale + shift` with centred = x - mean(x) and variance = mean(centred ^ 2):
 * LayerNormalization(x, scale, shift, epsilon: eps).
 */
function layerNorm(e: Eqn, d: Defs, s: Scope): string[] | null {
  if (e.op !== "add") return null;
  const out = e.outs[0]!;
  const a = out.type.shape.length - 1;
  const n = out.type.shape[a];
  const isVector = (v: Var) =>
    v.type.dtype === "f32" &&
    v.type.shape.length === 1 &&
    n !== undefined &&
    dimEq(v.type.shape[0]!, n);
  const [p, q] = e.inputs as [Var, Var];
  const orders: [Var, Var][] = [
    [p, q],
    [q, p],
  ];
  for (const [scaled, shift] of orders)
    for (const [normed, scale] of operands(scaled, d, "mul")) {
      const div = d.def(normed);
      if (div?.op !== "div" || !isVector(scale) || !isVector(shift)) continue;
      const [centred, root] = div.inputs as [Var, Var];
      const sub = d.def(centred);
      const sqrt = d.def(root);
      if (sub?.op !== "sub" || sqrt?.op !== "sqrt") continue;
      const x = sub.inputs[0]!;
      if (!sameShape(x, out) || !keptMean(sub.inputs[1]!, d, x, a)) continue;
      for (const [variance, epsVar] of operands(sqrt.inputs[0]!, d, "add")) {
        const eps = constOf(epsVar, d);
        // variance = mean(pow(centred, 2)): the pow is what the mean's sum reads.
        const inner = unkept(variance, d, x, a);
        const mean = inner && d.def(inner);
        const sum = mean?.op === "div" ? d.def(mean.inputs[0]!) : undefined;
        const pow = sum?.op === "reduce_sum" ? d.def(sum.inputs[0]!) : undefined;
        const squares =
          pow?.op === "pow" && pow.inputs[0]!.id === centred.id && constOf(pow.inputs[1]!, d) === 2;
        if (eps === undefined || !squares || !keptMean(variance, d, pow.outs[0]!, a)) continue;
        return [
          s.one("LayerNormalization", [d.name(x), d.name(scale), d.name(shift)], {
            axis: a,
            epsilon: { f: eps },
          }),
        ];
      }
    }
  return null;
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

const patterns = [gemm, softmax, layerNorm];

/** The fused node's outputs for the pattern `e` ends, or null. */
export function peephole(e: Eqn, d: Defs, s: Scope): string[] | null {
  for (const p of patterns) {
    const r = p(e, d, s);
    if (r) return r;
  }
  return null;
}
