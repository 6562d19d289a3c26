import { describe, expect, it } from "vitest";
import {
  dimAdd,
  dimConst,
  dimEq,
  dimEval,
  dimExactDiv,
  dimFloorDiv,
  dimMod,
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
} from "../compiler/dims.ts";

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
});
