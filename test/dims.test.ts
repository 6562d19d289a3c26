import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DimOverflow,
  dimAdd,
  dimAsConst,
  dimConst,
  dimEq,
  dimEval,
  dimExactDiv,
  dimFloorDiv,
  dimKey,
  dimMod,
  dimMin,
  dimMul,
  dimSub,
  dimSubst,
  dimToJs,
  dimToString,
  dimVar,
  dimVars,
  numElements,
  shapeOf,
  shapeToString,
  type Dim,
} from "../compiler/dims.ts";
import { nodeHost } from "../cli/node-host.ts";
import { elaborate } from "../compiler/elaborate.ts";
import { iexprToString } from "../compiler/scalar-print/dump.ts";

const B = dimVar("B");
const H = dimVar("H");
const c = dimConst;

describe("dims", () => {
  it("normalises sums and products so equal dims compare equal", () => {
    expect(dimEq(dimMul(c(4), H), dimMul(H, c(4)))).toBe(true);
    expect(dimEq(dimSub(dimAdd(H, c(1)), c(1)), H)).toBe(true);
    expect(dimEq(dimMul(c(2), dimAdd(B, c(1))), dimAdd(dimMul(c(2), B), c(2)))).toBe(true);
    expect(dimEq(B, H)).toBe(false);
    expect(dimToString(dimAdd(dimMul(c(4), H), c(1)))).toBe("4 * H + 1");
  });

  it("divides exactly only when it can prove it", () => {
    expect(dimToString(dimExactDiv(dimMul(c(4), H), H)!)).toBe("4");
    expect(dimToString(dimExactDiv(dimAdd(dimMul(c(2), B), c(2)), c(2))!)).toBe("B + 1");
    expect(dimExactDiv(c(7), c(2))).toBeNull();
    expect(dimExactDiv(dimAdd(B, c(1)), c(2))).toBeNull();
    expect(dimExactDiv(H, c(0))).toBeNull();
  });

  it("folds floor division and mod of constants like conv output sizes", () => {
    // (W + 2P - K) div S + 1 with W=28, P=2, K=5, S=1 -> 28
    const out = dimAdd(dimFloorDiv(dimSub(dimAdd(c(28), c(4)), c(5)), c(1)), c(1));
    expect(dimToString(out)).toBe("28");
    expect(dimToString(dimMod(c(-7), c(3)))).toBe("2");
    expect(dimToString(dimFloorDiv(c(-7), c(2)))).toBe("-4");
  });

  it("keeps symbolic floor division opaque but evaluable", () => {
    const W = dimVar("W");
    const out = dimAdd(dimFloorDiv(dimSub(W, c(5)), c(2)), c(1));
    expect(dimToString(out)).toBe("(W - 5) div 2 + 1");
    expect(dimEval(out, { W: 28 })).toBe(12);
    expect(dimVars(out)).toEqual(["W"]);
    const js = dimToJs(out, (n) => `d[${JSON.stringify(n)}]`);
    expect(new Function("d", `return ${js}`)({ W: 28 })).toBe(12);
  });

  it("substitutes bound names", () => {
    const n = dimVar("n");
    const sub = dimSubst(
      dimAdd(n, dimMul(c(4), H)),
      new Map([
        ["n", c(32)],
        ["H", c(8)],
      ]),
    );
    expect(dimToString(sub)).toBe("64");
  });

  it("prints shapes and counts elements", () => {
    const s = shapeOf("B", 784);
    expect(shapeToString(s)).toBe("[B, 784]");
    expect(dimToString(numElements(s))).toBe("784 * B");
    expect(dimEval(numElements(s), { B: 3 })).toBe(2352);
    expect(() => dimEval(B, {})).toThrow(/not bound/);
  });

  it("brackets div and mod inside products and under a leading minus", () => {
    const W = dimVar("W");
    // The issue's `[B, B mod 3, 4]`: its element count printed as `4 * (B % 3 + 3) % 3 * B` was wrong.
    const n = numElements([B, dimMod(B, c(3)), c(4)]);
    expect(dimToString(n)).toBe("4 * (B mod 3) * B");
    const js = dimToJs(n, () => "B");
    expect(new Function("B", `return ${js}`)(4)).toBe(16);
    expect(dimToString(dimNegate(dimFloorDiv(W, c(2))))).toBe("-(W div 2)");
    expect(dimToString(dimFloorDiv(dimMul(c(2), W), dimAdd(H, c(1))))).toBe("(2 * W) div (H + 1)");
    expect(dimToString(dimMod(dimNegate(W), c(-3)))).toBe("(-W) mod (-3)");
  });

  it("brackets a dim that is not an atom inside a kernel index dump", () => {
    const dim = (d: Dim) => ({ k: "dim" as const, d });
    const index = { k: "mul" as const, a: { k: "loop" as const, i: 0 }, b: dim(dimAdd(B, c(1))) };
    expect(iexprToString(index)).toBe("i0*(B + 1)");
    expect(iexprToString({ ...index, b: dim(dimMod(B, c(3))) })).toBe("i0*(B mod 3)");
    expect(iexprToString({ ...index, b: dim(B) })).toBe("i0*B");
  });

  it("refuses arithmetic beyond the integers a double holds exactly", () => {
    const big = c(2 ** 40);
    expect(() => dimMul(big, big)).toThrow(DimOverflow);
    expect(() => dimMul(dimMul(B, big), big)).toThrow(DimOverflow);
    expect(() => c(2 ** 60)).toThrow(DimOverflow);
    expect(dimToString(dimMul(c(2 ** 26), c(2 ** 26)))).toBe(String(2 ** 52));
  });

  it("bounds dims from below, assuming every named dim is at least 1", () => {
    const W = dimVar("W");
    expect(dimMin(dimAdd(dimMul(c(2), B), c(1)))).toBe(3);
    expect(dimMin(dimSub(B, c(1)))).toBe(0);
    expect(dimMin(dimSub(c(1), B))).toBe(-Infinity);
    expect(dimMin(dimMod(W, c(4)))).toBe(0);
    expect(dimMin(dimAdd(dimFloorDiv(W, c(2)), c(1)))).toBe(1);
    expect(dimMin(dimMul(B, H))).toBe(1);
    expect(dimMin(c(-2))).toBe(-2);
  });
});

const dimNegate = (d: Dim) => dimSub(c(0), d);

/** Random dims expressions over A, B, C: sums, products, floor division and mod, nested, with negative constants. */
const dimExpr = fc.letrec<{ dim: Dim }>((tie) => ({
  dim: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("A", "B", "C").map(dimVar),
    fc.integer({ min: -6, max: 6 }).map(c),
    fc.tuple(tie("dim"), tie("dim")).map(([a, b]) => dimAdd(a, b)),
    fc.tuple(tie("dim"), tie("dim")).map(([a, b]) => dimSub(a, b)),
    fc.tuple(tie("dim"), tie("dim")).map(([a, b]) => dimMul(a, b)),
    fc
      .tuple(tie("dim"), tie("dim"), fc.boolean())
      .filter(([, b]) => dimAsConst(b) !== 0)
      .map(([a, b, isDiv]) => (isDiv ? dimFloorDiv(a, b) : dimMod(a, b))),
  ),
})).dim;

const env = fc.record({
  A: fc.integer({ min: 1, max: 40 }),
  B: fc.integer({ min: 1, max: 40 }),
  C: fc.integer({ min: 1, max: 40 }),
});

/** A dims expression read back through the grammar: the value of `output y = <text>`. */
function parseDim(text: string): Dim | number | string {
  const src = `dim A, B, C\nmodel m {\n  input x: [A, B, C]\n  output y = ${text}\n}\n`;
  const r = elaborate("p.dlg", { readFile: (p) => (p === "p.dlg" ? src : nodeHost.readFile(p)) });
  if (r.diagnostics.length) return r.diagnostics.map((d) => d.message).join("; ");
  const m = [...r.models.values()][0]!;
  const e = m.forward.eqns.find((q) => q.outs[0]!.id === m.outputs[0]!.var.id)!;
  if (e.op === "dimval") return e.params.dim;
  if (e.op === "const") return e.params.value;
  return `read back as a ${e.op}`;
}

describe("dimKey", () => {
  it("is equal exactly when dimEq holds (the memory plan groups sizes by it)", () => {
    fc.assert(
      fc.property(dimExpr, dimExpr, (a, b) => {
        expect(dimKey(a) === dimKey(b)).toBe(dimEq(a, b));
        // A rewritten but equal dim keeps its key: a + b - b is a.
        expect(dimKey(dimSub(dimAdd(a, b), b))).toBe(dimKey(a));
      }),
      { numRuns: 400 },
    );
  });
});

describe("dims printers (property)", () => {
  it("print JS that evaluates like dimEval", () => {
    fc.assert(
      fc.property(dimExpr, env, (d, vals) => {
        const want = dimEval(d, vals);
        fc.pre(Number.isFinite(want));
        const js = dimToJs(d, (n) => `v.${n}`);
        const got: number = new Function("v", `return ${js}`)(vals);
        // `===`: a floored remainder of 0 by a negative divisor is -0 in JS, still 0.
        expect(got === want, `${js} = ${got}, dimEval = ${want}`).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("print .dlg text that the grammar reads back as the same dim", () => {
    fc.assert(
      fc.property(dimExpr, (d) => {
        const back = parseDim(dimToString(d));
        const k = dimAsConst(d);
        if (k !== null) expect(back).toBe(k);
        else
          expect(
            typeof back === "object" && dimEq(back, d),
            `${dimToString(d)} read back as ${typeof back === "object" ? dimToString(back) : back}`,
          ).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});
