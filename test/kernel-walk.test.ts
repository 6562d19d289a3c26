// The generic children/fold helpers of the kernel IR's expression trees.

import { describe, expect, it } from "vitest";
import { dimVar } from "../compiler/dims.ts";
import {
  exprBuffers,
  foldSExpr,
  iexprChildren,
  sexprChildren,
  someIExpr,
  someSExpr,
  visitSExpr,
} from "../compiler/kernel-walk.ts";
import {
  iadd,
  iconst,
  idim,
  iloop,
  imul,
  ired,
  lit,
  type IExpr,
  type SExpr,
} from "../compiler/kernel.ts";

const load = (buf: number, index: IExpr): SExpr => ({ k: "load", buf, index, dtype: "f32" });
const gathered: IExpr = { k: "val", e: { k: "load", buf: 7, index: iloop(1), dtype: "i32" } };
/** select(x > 0, exp(b2[i0]), b3[int(b7[i1]) * B]) + random(b5[0], 1, r0) */
const tree: SExpr = {
  k: "binary",
  op: "add",
  dtype: "f32",
  a: {
    k: "select",
    dtype: "f32",
    c: { k: "compare", op: "gt", a: load(2, iloop(0)), b: lit(0, "f32"), dtype: "bool" },
    a: { k: "unary", op: "exp", a: load(2, iloop(0)), dtype: "f32" },
    b: load(3, imul(gathered, idim(dimVar("B")))),
  },
  b: {
    k: "random",
    seed: { k: "load", buf: 5, index: iconst(0), dtype: "i32" },
    stream: 1,
    index: ired(0),
    dtype: "f32",
  },
};

describe("kernel-walk", () => {
  it("children: scalar and index sub-expressions apart, in evaluation order", () => {
    const sel = (tree as Extract<SExpr, { k: "binary" }>).a as Extract<SExpr, { k: "select" }>;
    expect(sexprChildren(sel)).toEqual({ s: [sel.c, sel.a, sel.b], i: [] });
    const rnd = (tree as Extract<SExpr, { k: "binary" }>).b as Extract<SExpr, { k: "random" }>;
    expect(sexprChildren(rnd)).toEqual({ s: [rnd.seed], i: [rnd.index] });
    expect(sexprChildren(load(1, iloop(2)))).toEqual({ s: [], i: [iloop(2)] });
    expect(iexprChildren(gathered)).toEqual({ s: [(gathered as { e: SExpr }).e], i: [] });
    expect(iexprChildren(iadd(iloop(0), iloop(1)))).toEqual({ s: [], i: [iloop(0), iloop(1)] });
    expect(iexprChildren({ k: "iter", scan: 0 })).toEqual({ s: [], i: [] });
  });

  it("some: reaches through index expressions into gathered values and stops at the first hit", () => {
    expect(someSExpr(tree, { i: (e) => e.k === "red" })).toBe(true);
    expect(someSExpr(tree, { i: (e) => e.k === "loop" && e.i === 1 })).toBe(true); // inside val
    expect(someSExpr(tree, { i: (e) => e.k === "lin" })).toBe(false);
    expect(someIExpr(gathered, { s: (e) => e.k === "load" && e.buf === 7 })).toBe(true);
    let seen = 0;
    someSExpr(tree, { s: () => ++seen === 2 });
    expect(seen).toBe(2);
  });

  it("visit: every node once, pre-order", () => {
    const kinds: string[] = [];
    visitSExpr(tree, { s: (e) => kinds.push(e.k), i: (e) => kinds.push(e.k) });
    expect(kinds).toEqual([
      "binary",
      "select",
      "compare",
      "load",
      "loop",
      "lit",
      "unary",
      "load",
      "loop",
      "load",
      "mul",
      "val",
      "load",
      "loop",
      "dim",
      "random",
      "load",
      "const",
      "red",
    ]);
  });

  it("fold: bottom-up over scalar children (a cost, a depth)", () => {
    const cost = foldSExpr<number>(
      tree,
      (e, kids) => (e.k === "load" || e.k === "lit" ? 0 : 1) + kids.reduce((a, b) => a + b, 0),
    );
    expect(cost).toBe(5); // add, select, compare, exp, random
    expect(foldSExpr<number>(tree, (_, kids) => 1 + Math.max(0, ...kids))).toBe(4);
  });

  it("exprBuffers: every buffer loaded, gathers included, in first-use order", () => {
    expect(exprBuffers({ s: [tree] })).toEqual([2, 3, 7, 5]);
    expect(exprBuffers({ i: [gathered], s: [load(1, iconst(0))] })).toEqual([1, 7]);
  });
});
