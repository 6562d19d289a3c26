// Lowering of the movement primitives for fuse/lower.ts: a transpose, slice,
// pad, concat or gather is never a kernel of its own but index arithmetic in
// the loads of its consumers (with bounds checks reading zeros where pad,
// concat and gather step outside an input).

import { dimAsConst, dimEq, type Dim } from "../dims.ts";
import type { Eqn, Var } from "../ir.ts";
import { iadd, iconst, idim, idiv, imod, imul, lit, type IExpr, type SExpr } from "../kernel.ts";
import type { Lowerer } from "./lower.ts";

/** Index of `idx` (over `outShape`) into an operand of `inShape` under numpy broadcasting. */
export function broadcastIndex(
  inShape: readonly Dim[],
  outShape: readonly Dim[],
  idx: readonly IExpr[],
): IExpr[] {
  const off = outShape.length - inShape.length;
  return inShape.map((d, a) =>
    dimAsConst(d) === 1 && dimAsConst(outShape[a + off]!) !== 1 ? iconst(0) : idx[a + off]!,
  );
}

export function transposeElem(e: Eqn<"transpose">, idx: readonly IExpr[], L: Lowerer): SExpr {
  const { perm } = e.params;
  const inIdx: IExpr[] = new Array(perm.length);
  perm.forEach((p, i) => (inIdx[p] = idx[i]!));
  return L.elem(e.inputs[0]!, inIdx);
}

export function sliceElem(e: Eqn<"slice">, idx: readonly IExpr[], L: Lowerer): SExpr {
  const p = e.params;
  return L.elem(
    e.inputs[0]!,
    idx.map((x, a) => iadd(idim(p.start[a]!), imul(x, iconst(p.step[a]!)))),
  );
}

export function padElem(e: Eqn<"pad">, idx: readonly IExpr[], L: Lowerer): SExpr {
  const x = e.inputs[0]!;
  const { lo, interior } = e.params;
  let valid: SExpr | null = null;
  const both = (c: SExpr) => (valid = valid ? { k: "and", a: valid, b: c, dtype: "bool" } : c);
  const inIdx = idx.map((o, a) => {
    const step = interior[a]! + 1;
    const loA = idim(lo[a]!);
    if (
      loA.k === "const" &&
      loA.v === 0 &&
      step === 1 &&
      dimEq(x.type.shape[a]!, e.outs[0]!.type.shape[a]!)
    )
      return o;
    // p = o - lo; in range when p >= 0, p is on the stride, and p / stride < size.
    const p = iadd(o, imul(loA, iconst(-1)));
    both({ k: "icompare", op: "ge", a: p, b: iconst(0), dtype: "bool" });
    if (step > 1)
      both({ k: "icompare", op: "lt", a: imod(p, iconst(step)), b: iconst(1), dtype: "bool" });
    const q = idiv(p, iconst(step));
    both({ k: "icompare", op: "lt", a: q, b: idim(x.type.shape[a]!), dtype: "bool" });
    return q;
  });
  const body = L.elem(x, inIdx);
  const dtype = e.outs[0]!.type.dtype;
  return valid ? { k: "select", c: valid, a: body, b: lit(0, dtype), dtype } : body;
}

export function concatElem(e: Eqn<"concat">, idx: readonly IExpr[], L: Lowerer): SExpr {
  const { axis } = e.params;
  const dtype = e.outs[0]!.type.dtype;
  // Offsets of each part along the axis; the last part needs no bounds check.
  const parts = e.inputs.map((x, k) => {
    let off: IExpr = iconst(0);
    for (let j = 0; j < k; j++) off = iadd(off, idim(e.inputs[j]!.type.shape[axis]!));
    return { x, off };
  });
  let body: SExpr | null = null;
  for (let k = parts.length - 1; k >= 0; k--) {
    const { x, off } = parts[k]!;
    const inIdx = idx.map((o, a) => (a === axis ? iadd(o, imul(off, iconst(-1))) : o));
    const v = L.elem(x, inIdx);
    if (body === null) body = v;
    else {
      const end = iadd(off, idim(x.type.shape[axis]!));
      body = {
        k: "select",
        c: { k: "icompare", op: "lt", a: idx[axis]!, b: end, dtype: "bool" },
        a: v,
        b: body,
        dtype,
      };
    }
  }
  return body!;
}

export function gatherElem(e: Eqn<"gather">, idx: readonly IExpr[], L: Lowerer): SExpr {
  const [x, ix] = e.inputs as [Var, Var];
  const { axis } = e.params;
  const r = ix.type.shape.length;
  const at: IExpr = { k: "val", e: L.elem(ix, idx.slice(axis, axis + r)) };
  const inIdx = [...idx.slice(0, axis), at, ...idx.slice(axis + r)];
  const inRange: SExpr = {
    k: "and",
    a: { k: "icompare", op: "ge", a: at, b: iconst(0), dtype: "bool" },
    b: { k: "icompare", op: "lt", a: at, b: idim(x.type.shape[axis]!), dtype: "bool" },
    dtype: "bool",
  };
  const dtype = e.outs[0]!.type.dtype;
  return { k: "select", c: inRange, a: L.elem(x, inIdx), b: lit(0, dtype), dtype };
}
