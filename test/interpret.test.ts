import { describe, expect, it } from "vitest";
import { dimConst, dimVar, shapeOf } from "../compiler/dims.ts";
import { interpret, scalar, type Tensor } from "../compiler/interpret.ts";
import { randomUniform } from "../runtime/rng.ts";
import { bool, build, f32, i32, t, view, type Emit } from "./graph-helpers.ts";
import type { TensorType, Var } from "../compiler/ir.ts";

/** Run a one-output graph built from `body` on `inputs`. */
function run(
  types: TensorType[],
  body: (e: Emit, ...xs: Var[]) => Var,
  inputs: Tensor[],
  dims: Record<string, number> = {},
) {
  const { graph } = build(types, body);
  return view(interpret(graph, inputs, dims)[0]!);
}

describe("interpret: elementwise and broadcasting", () => {
  it("broadcasts binary ops numpy-style on both sides", () => {
    const r = run([f32(2, 1), f32(3)], (e, a, b) => e("sub", {}, a, b), [
      t("f32", [2, 1], [10, 20]),
      t("f32", [3], [1, 2, 3]),
    ]);
    expect(r).toEqual({ dtype: "f32", shape: [2, 3], data: [9, 8, 7, 19, 18, 17] });
  });

  it("compares into bool and selects with a broadcast condition", () => {
    const r = run(
      [f32(3), f32(2, 1), bool(2, 1)],
      (e, a, b, c) => e("select", {}, c, e("cast", { dtype: "f32" }, e("gt", {}, a, b)), a),
      [t("f32", [3], [1, 5, 9]), t("f32", [2, 1], [4, 6]), t("bool", [2, 1], [1, 0])],
    );
    // row 0: cond true -> (a > 4) = [0, 1, 1]; row 1: cond false -> a.
    expect(r.data).toEqual([0, 1, 1, 1, 5, 9]);
    expect(r.shape).toEqual([2, 3]);
  });

  it("applies unary functions in float64", () => {
    const r = run([f32(4)], (e, x) => e("sigmoid", {}, x), [t("f32", [4], [0, 1, -1, 40])]);
    expect(r.data[0]).toBe(0.5);
    expect(r.data[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 15);
    expect(r.data[2]).toBeCloseTo(1 / (1 + Math.exp(1)), 15);
    expect(r.data[3]).toBe(1);
    const s = run([f32(4)], (e, x) => e("sign", {}, x), [t("f32", [4], [-3, 0, 2, -0])]);
    expect(s.data.map((v) => v + 0)).toEqual([-1, 0, 1, 0]);
  });

  it("truncates i32 arithmetic and casts like C", () => {
    const r = run([i32(4), i32(4)], (e, a, b) => e("div", {}, a, b), [
      t("i32", [4], [7, -7, 9, 1]),
      t("i32", [4], [2, 2, 3, 0]),
    ]);
    expect(r.data).toEqual([3, -3, 3, 0]);
    const c = run([f32(4)], (e, x) => e("cast", { dtype: "i32" }, x), [
      t("f32", [4], [1.9, -1.9, 0.5, -0.5]),
    ]);
    expect(c).toEqual({ dtype: "i32", shape: [4], data: [1, -1, 0, 0] });
    const bl = run([f32(3)], (e, x) => e("cast", { dtype: "bool" }, x), [
      t("f32", [3], [0, 2, -0.1]),
    ]);
    expect(bl.data).toEqual([0, 1, 1]);
  });
});

describe("interpret: sources", () => {
  it("fills consts, iota along an axis, and dimval from bound dims", () => {
    const { graph } = build([f32("B", 2)], (e, x) => [
      e("const", { value: 1.5, dtype: "f32", shape: shapeOf("B", 2) }),
      e("iota", { shape: shapeOf(2, 3), axis: 1, dtype: "i32" }),
      e("dimval", { dim: dimVar("B"), dtype: "f32" }),
      x,
    ]);
    const [c, io, d] = interpret(graph, [t("f32", [3, 2], [0, 0, 0, 0, 0, 0])]).map(view);
    expect(c).toEqual({ dtype: "f32", shape: [3, 2], data: [1.5, 1.5, 1.5, 1.5, 1.5, 1.5] });
    expect(io).toEqual({ dtype: "i32", shape: [2, 3], data: [0, 1, 2, 0, 1, 2] });
    expect(d!.data).toEqual([3]);
  });

  it("draws random numbers from runtime/rng.ts by flat row-major index", () => {
    const { graph } = build([i32()], (e, s) => [
      e("random", { shape: shapeOf(2, 3), stream: 5 }, s),
      e("random", { shape: shapeOf(2, 3), stream: 6 }, s),
    ]);
    const [a, b] = interpret(graph, [scalar(42, "i32")]).map(view);
    expect(a!.data).toEqual([0, 1, 2, 3, 4, 5].map((i) => randomUniform(42, 5, i)));
    expect(a!.data).not.toEqual(b!.data);
    const again = interpret(graph, [scalar(42, "i32")]).map(view);
    expect(again[0]).toEqual(a);
    const other = interpret(graph, [scalar(43, "i32")]).map(view);
    expect(other[0]!.data).not.toEqual(a!.data);
    for (const v of a!.data) expect(v >= 0 && v < 1).toBe(true);
  });
});

describe("interpret: reductions and matmul", () => {
  const x = t("f32", [2, 3, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

  it("sums and maxes over several axes", () => {
    expect(run([f32(2, 3, 2)], (e, a) => e("reduce_sum", { axes: [0, 2] }, a), [x])).toEqual({
      dtype: "f32",
      shape: [3],
      data: [1 + 2 + 7 + 8, 3 + 4 + 9 + 10, 5 + 6 + 11 + 12],
    });
    expect(run([f32(2, 3, 2)], (e, a) => e("reduce_max", { axes: [1] }, a), [x]).data).toEqual([
      5, 6, 11, 12,
    ]);
    expect(run([f32(2, 3, 2)], (e, a) => e("reduce_sum", { axes: [0, 1, 2] }, a), [x])).toEqual({
      dtype: "f32",
      shape: [],
      data: [78],
    });
  });

  it("argmax returns the first maximum", () => {
    const r = run([f32(2, 4)], (e, a) => e("argmax", { axis: 1 }, a), [
      t("f32", [2, 4], [1, 7, 7, 2, -1, -3, -1, -2]),
    ]);
    expect(r).toEqual({ dtype: "i32", shape: [2], data: [1, 0] });
  });

  it("broadcasts matmul batch dims", () => {
    const a = t("f32", [2, 1, 2, 3], [1, 2, 3, 4, 5, 6, -1, 0, 1, 2, 2, 2]);
    const b = t("f32", [3, 3, 1], [1, 0, 0, 0, 1, 0, 1, 1, 1]);
    const r = run([f32(2, 1, 2, 3), f32(3, 3, 1)], (e, p, q) => e("matmul", {}, p, q), [a, b]);
    expect(r.shape).toEqual([2, 3, 2, 1]);
    // batch (i, j) multiplies a[i, 0] by b[j].
    const expected: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++)
        for (let m = 0; m < 2; m++) {
          let s = 0;
          for (let k = 0; k < 3; k++) s += a.data[i * 6 + m * 3 + k]! * b.data[j * 3 + k]!;
          expected.push(s);
        }
    expect(r.data).toEqual(expected);
    expect(expected.slice(0, 6)).toEqual([1, 4, 2, 5, 6, 15]);
  });
});

describe("interpret: movement", () => {
  const m = t("f32", [3, 4], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

  it("slices with steps and pads with interior zeros", () => {
    const s = run(
      [f32(3, 4)],
      (e, x) => e("slice", { start: shapeOf(0, 1), stop: shapeOf(3, 4), step: [2, 2] }, x),
      [m],
    );
    expect(s).toEqual({ dtype: "f32", shape: [2, 2], data: [1, 3, 9, 11] });
    const p = run(
      [f32(2, 2)],
      (e, x) => e("pad", { lo: shapeOf(1, 0), hi: shapeOf(0, 2), interior: [0, 1] }, x),
      [t("f32", [2, 2], [1, 2, 3, 4])],
    );
    expect(p).toEqual({
      dtype: "f32",
      shape: [3, 5],
      data: [0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 3, 0, 4, 0, 0],
    });
  });

  it("transposes, reshapes, broadcasts and concatenates", () => {
    expect(run([f32(3, 4)], (e, x) => e("transpose", { perm: [1, 0] }, x), [m]).data).toEqual([
      0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11,
    ]);
    expect(
      run([f32(3, 4)], (e, x) => e("reshape", { shape: shapeOf(2, 6) }, x), [m]).shape,
    ).toEqual([2, 6]);
    expect(
      run([f32(2, 1)], (e, x) => e("broadcast", { shape: shapeOf(2, 2, 3) }, x), [
        t("f32", [2, 1], [1, 2]),
      ]).data,
    ).toEqual([1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]);
    expect(
      run([f32(2, 1), f32(2, 2)], (e, a, b) => e("concat", { axis: 1 }, a, b), [
        t("f32", [2, 1], [1, 2]),
        t("f32", [2, 2], [3, 4, 5, 6]),
      ]).data,
    ).toEqual([1, 3, 4, 2, 5, 6]);
  });

  it("gathers along an axis, reading 0 out of range", () => {
    const r = run([f32(3, 4), i32(2, 2)], (e, x, i) => e("gather", { axis: 1 }, x, i), [
      m,
      t("i32", [2, 2], [3, 0, -1, 4]),
    ]);
    expect(r.shape).toEqual([3, 2, 2]);
    expect(r.data).toEqual([3, 0, 0, 0, 7, 4, 0, 0, 11, 8, 0, 0]);
  });

  it("scatter_add accumulates repeated indices and drops out-of-range ones", () => {
    const r = run(
      [f32(2, 3), i32(3)],
      (e, u, i) => e("scatter_add", { axis: 1, shape: shapeOf(2, 2) }, u, i),
      [t("f32", [2, 3], [1, 2, 3, 4, 5, 6]), t("i32", [3], [1, 1, 2])],
    );
    expect(r).toEqual({ dtype: "f32", shape: [2, 2], data: [0, 3, 0, 9] });
  });
});

describe("interpret: checking", () => {
  it("binds named dims from input shapes and rejects inconsistent inputs", () => {
    const { graph } = build([f32("B", 2), f32("B")], (e, a, b) =>
      e("add", {}, a, e("reshape", { shape: [dimVar("B"), dimConst(1)] }, b)),
    );
    const r = interpret(graph, [t("f32", [2, 2], [1, 2, 3, 4]), t("f32", [2], [10, 20])]);
    expect(view(r[0]!).data).toEqual([11, 12, 23, 24]);
    expect(() =>
      interpret(graph, [t("f32", [2, 2], [1, 2, 3, 4]), t("f32", [3], [1, 2, 3])]),
    ).toThrow(/input 1 \(x1\): expected f32\[B\]/);
  });
});
