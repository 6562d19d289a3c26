// kernel-walk.ts's rewrite (mapSExpr) and the analyses built on its tables:
// cost, the buffers a kernel reads and writes.

import { describe, expect, it } from "vitest";
import { dimConst } from "../compiler/dims.ts";
import type { IExpr, Kernel, SExpr } from "../compiler/kernel.ts";
import { iadd, iloop, imul, lit } from "../compiler/kernel.ts";
import {
  kernelInputs,
  kernelOutputs,
  mapIExpr,
  mapSExpr,
  sexprCost,
} from "../compiler/kernel-walk.ts";
import { sexprToString } from "../compiler/scalar-print/dump.ts";

const load = (buf: number, index: IExpr, dtype: "f32" | "i32" = "f32"): SExpr => ({
  k: "load",
  buf,
  index,
  dtype,
});
const gathered: IExpr = { k: "val", e: load(7, iloop(1), "i32") };
const exp = (a: SExpr): SExpr => ({ k: "unary", op: "exp", a, dtype: "f32" });
const add = (a: SExpr, b: SExpr): SExpr => ({ k: "binary", op: "add", a, b, dtype: "f32" });
const draw: SExpr = {
  k: "random",
  seed: load(5, gathered, "i32"),
  stream: 1,
  index: { k: "lin" },
  dtype: "f32",
};
/** add(exp(b2[i0]), random(b5[int(b7[i1])], 1, lin)) */
const tree = add(exp(load(2, iloop(0))), draw);

describe("mapSExpr", () => {
  it("replaces nodes top-down, through index expressions into gathered values", () => {
    const renamed = mapSExpr(tree, {
      s: (e) => (e.k === "load" && e.buf === 7 ? load(8, iloop(1), "i32") : null),
      i: (e) => (e.k === "loop" && e.i === 0 ? iloop(3) : null),
    });
    expect(sexprToString(renamed)).toBe("add(exp(b2[i3]), random(b5[int(b8[i1])], 1, lin))");
    expect(sexprToString(tree)).toBe("add(exp(b2[i0]), random(b5[int(b7[i1])], 1, lin))");
  });

  it("keeps unchanged subtrees as the original objects and does not walk into a replacement", () => {
    const byLit = mapSExpr(tree, { s: (e) => (e.k === "unary" ? lit(1, "f32") : null) });
    expect(sexprToString(byLit)).toBe("add(1, random(b5[int(b7[i1])], 1, lin))");
    expect(byLit.k === "binary" && byLit.b).toBe(draw);
    expect(mapSExpr(tree, {})).toBe(tree);
    // The replacement contains a loop the map would rewrite: it stays.
    const ix = mapIExpr(iadd(iloop(0), iloop(1)), {
      i: (e) => (e.k === "loop" && e.i === 1 ? imul(iloop(0), iloop(2)) : null),
    });
    expect(ix).toEqual(iadd(iloop(0), imul(iloop(0), iloop(2))));
  });
});

describe("analyses", () => {
  it("sexprCost: one per arithmetic node, four per random draw, loads and index arithmetic free", () => {
    expect(sexprCost(tree)).toBe(1 + 1 + 4);
    expect(sexprCost(load(1, imul(gathered, iloop(0))))).toBe(0);
  });

  it("kernelInputs: operands, then every load in evaluation order (gathers and scatter targets included)", () => {
    const mm: Kernel = {
      kind: "matmul",
      out: 0,
      batch: [],
      m: dimConst(2),
      n: dimConst(2),
      k: dimConst(2),
      a: { buf: 3, transposed: false, batch: iloop(0) },
      b: { buf: 3, transposed: true, batch: iloop(0) },
      epilogue: add({ k: "acc", dtype: "f32" }, load(4, iloop(1))),
    };
    expect(kernelInputs(mm)).toEqual([3, 4]);
    const sc: Kernel = {
      kind: "scatter",
      out: 9,
      shape: [dimConst(4)],
      domain: [dimConst(2)],
      target: gathered,
      valid: { k: "compare", op: "gt", a: load(1, iloop(0)), b: lit(0, "f32"), dtype: "bool" },
      value: tree,
    };
    expect(kernelInputs(sc)).toEqual([1, 2, 5, 7]);
    expect(kernelOutputs(sc)).toEqual([9]);
    const scan: Kernel = {
      kind: "scan",
      id: 0,
      length: dimConst(3),
      reverse: false,
      carries: [{ init: 10, cur: 11, next: 12, final: 13 }],
      stacked: [
        { buf: 14, write: false },
        { buf: 15, write: true },
      ],
      body: [
        {
          kind: "map",
          out: 12,
          shape: [dimConst(2)],
          body: add(load(11, iloop(0)), load(14, iloop(0))),
        },
      ],
    };
    expect(kernelInputs(scan)).toEqual([10, 14, 11]);
    expect(kernelOutputs(scan)).toEqual([15, 13]);
  });
});
