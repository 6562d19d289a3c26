import { describe, expect, it } from "vitest";
import { dimConst, dimVar, shapeOf, shapeToString } from "../compiler/dims.ts";
import { allOps, type TensorType } from "../compiler/ir.ts";
import { infer, shapeRules, ShapeError } from "../compiler/shapes.ts";

const f32 = (...s: (number | string)[]): TensorType => ({ dtype: "f32", shape: shapeOf(...s) });
const i32 = (...s: (number | string)[]): TensorType => ({ dtype: "i32", shape: shapeOf(...s) });
const str = (ts: TensorType[]) => ts.map((t) => `${t.dtype}${shapeToString(t.shape)}`).join(" ");

function fails(f: () => unknown): ShapeError {
  try {
    f();
  } catch (e) {
    if (e instanceof ShapeError) return e;
    throw e;
  }
  throw new Error("expected a ShapeError");
}

describe("shape rules", () => {
  it("has a rule for every primitive", () => {
    for (const op of allOps) expect(typeof shapeRules[op]).toBe("function");
  });

  it("broadcasts numpy-style with symbolic dims", () => {
    expect(str(infer("add", {}, [f32("B", 10), f32(10)]))).toBe("f32[B, 10]");
    expect(str(infer("mul", {}, [f32("B", 1), f32(1, 5)]))).toBe("f32[B, 5]");
    expect(str(infer("lt", {}, [f32("B"), f32()]))).toBe("bool[B]");
    const e = fails(() => infer("add", {}, [f32("B", 10), f32(3)]));
    expect(e.code).toBe("E3001");
    expect(e.labels.map((l) => l.message)).toEqual(["this is [B, 10]", "this is [3]"]);
  });

  it("checks matmul inner dims and broadcasts batch dims", () => {
    expect(str(infer("matmul", {}, [f32("B", 784), f32(784, 256)]))).toBe("f32[B, 256]");
    expect(str(infer("matmul", {}, [f32(2, "T", 4), f32(4, 5)]))).toBe("f32[2, T, 5]");
    const e = fails(() => infer("matmul", {}, [f32("B", 784), f32(300, 10)]));
    expect(e.code).toBe("E3002");
    expect(e.message).toContain("[B, 784] @ [300, 10]");
  });

  it("checks reductions, reshape and movement ops", () => {
    expect(str(infer("reduce_sum", { axes: [1] }, [f32("B", 10)]))).toBe("f32[B]");
    expect(str(infer("argmax", { axis: 1 }, [f32("B", 10)]))).toBe("i32[B]");
    expect(fails(() => infer("reduce_sum", { axes: [2] }, [f32("B", 10)])).code).toBe("E3005");
    expect(str(infer("reshape", { shape: shapeOf("B", 2, 392) }, [f32("B", 784)]))).toBe(
      "f32[B, 2, 392]",
    );
    expect(fails(() => infer("reshape", { shape: shapeOf("B", 780) }, [f32("B", 784)])).code).toBe(
      "E3006",
    );
    expect(str(infer("transpose", { perm: [1, 0] }, [f32("B", 3)]))).toBe("f32[3, B]");
    expect(str(infer("broadcast", { shape: shapeOf("B", 3) }, [f32(3)]))).toBe("f32[B, 3]");
    const sl = {
      start: [dimConst(0), dimConst(1)],
      stop: [dimVar("B"), dimConst(8)],
      step: [1, 3],
    };
    expect(str(infer("slice", sl, [f32("B", 8)]))).toBe("f32[B, 3]");
    const pad = { lo: [dimConst(1)], hi: [dimConst(2)], interior: [1] };
    expect(str(infer("pad", pad, [f32(3)]))).toBe("f32[8]");
    expect(str(infer("concat", { axis: 1 }, [f32("B", 3), f32("B", 4)]))).toBe("f32[B, 7]");
    expect(fails(() => infer("concat", { axis: 1 }, [f32("B", 3), f32(5, 4)])).code).toBe("E3010");
    expect(str(infer("gather", { axis: 0 }, [f32(100, 8), i32("B", "T")]))).toBe("f32[B, T, 8]");
    expect(
      str(infer("scatter_add", { axis: 0, shape: shapeOf(100, 8) }, [f32("B", 8), i32("B")])),
    ).toBe("f32[100, 8]");
  });

  it("rejects wrong element types", () => {
    expect(fails(() => infer("add", {}, [f32(3), i32(3)])).code).toBe("E3008");
    expect(fails(() => infer("select", {}, [f32(3), f32(3), f32(3)])).code).toBe("E3008");
    expect(fails(() => infer("gather", { axis: 0 }, [f32(3), f32(3)])).code).toBe("E3008");
  });
});
