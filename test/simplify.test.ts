// Every case simplifies a graph, verifies the result, checks that the
// interpreter computes the same values before and after, and then looks at
// what was left.

import { describe, expect, it } from "vitest";
import { grad } from "../compiler/autodiff.ts";
import { shapeAsConst, shapeOf } from "../compiler/dims.ts";
import { interpret, tensor, type Tensor } from "../compiler/interpret.ts";
import { printGraph } from "../compiler/ir-print.ts";
import { verify } from "../compiler/ir-verify.ts";
import type { Graph } from "../compiler/ir.ts";
import { bindInputs, dce, simplify } from "../compiler/simplify.ts";
import { bool, build, f32, uniform, view, type Emit } from "./graph-helpers.ts";

const fill = (e: Emit, value: number, ...shape: number[]) =>
  e("const", { value, dtype: "f32", shape: shapeOf(...shape) });

function inputsFor(g: Graph): Tensor[] {
  return g.inputs.map((v, i) => {
    const shape = shapeAsConst(v.type.shape)!;
    const n = shape.reduce((p, d) => p * d, 1);
    const data = uniform(n, i + 1, -2, 2).map((x) => (v.type.dtype === "f32" ? x : x > 0 ? 1 : 0));
    return tensor(v.type.dtype, shape, data);
  });
}

/** Simplify `g`, check it is valid and computes the same outputs, and return it. */
function simplified(g: Graph): Graph {
  verify(g);
  const s = simplify(g);
  verify(s);
  const xs = inputsFor(g);
  // Rewrites like 0 - x -> -x may flip the sign of a zero; compare with == on numbers.
  const values = (h: Graph) =>
    interpret(h, xs).map((t) => ({ ...view(t), data: view(t).data.map((v) => v + 0) }));
  expect(values(s)).toEqual(values(g));
  return s;
}

const ops = (g: Graph) => g.eqns.map((e) => e.op);

describe("dead code and common subexpressions", () => {
  it("removes equations no output needs", () => {
    const { graph } = build([f32(3)], (e, x) => {
      e("exp", {}, x!);
      e("log", {}, e("tanh", {}, x!));
      return e("neg", {}, x!);
    });
    expect(ops(simplified(graph))).toEqual(["neg"]);
    expect(ops(dce(graph))).toEqual(["neg"]);
  });

  it("merges equal equations, but not ones whose params differ", () => {
    const { graph } = build([f32(2, 3)], (e, x) => {
      const a = e("reduce_sum", { axes: [1] }, e("exp", {}, x!));
      const b = e("reduce_sum", { axes: [1] }, e("exp", {}, x!));
      const c = e("reduce_sum", { axes: [0] }, e("exp", {}, x!));
      return [e("add", {}, a, b), c];
    });
    const s = simplified(graph);
    expect(ops(s)).toEqual(["exp", "reduce_sum", "reduce_sum", "add"]);
    const add = s.eqns[3]!;
    expect(add.inputs[0]).toBe(add.inputs[1]);
  });
});

describe("constant folding", () => {
  it("folds arithmetic, comparisons, casts and selects of constants", () => {
    const { graph } = build([f32(3)], (e, x) => {
      const six = e("mul", {}, fill(e, 2), fill(e, 3));
      const flag = e("lt", {}, six, fill(e, 10));
      const chosen = e("select", {}, flag, e("exp", {}, fill(e, 0)), fill(e, 5));
      const asInt = e("cast", { dtype: "i32" }, e("add", {}, chosen, fill(e, 1.7)));
      return e("mul", {}, x!, e("cast", { dtype: "f32" }, asInt));
    });
    // exp(0) + 1.7 = 2.7 -> i32 2 -> f32 2.
    expect(printGraph(simplified(graph))).toMatchInlineSnapshot(`
      "in %0:f32[3] (x0)
        %1:f32[] = const{value=2, dtype=f32, shape=[]}
        %2:f32[3] = mul %0 %1
      out %2"
    `);
  });

  it("folds movement and reductions of a fill into a fill of the result shape", () => {
    const { graph } = build([], (e) => {
      const b = e(
        "broadcast",
        { shape: shapeOf(2, 3) },
        e("reshape", { shape: shapeOf(1, 1) }, fill(e, 1.5)),
      );
      return e("reduce_sum", { axes: [1] }, e("transpose", { perm: [1, 0] }, b));
    });
    expect(printGraph(simplified(graph))).toMatchInlineSnapshot(`
      "in
        %0:f32[3] = const{value=3, dtype=f32, shape=[3]}
      out %0"
    `);
  });
});

describe("algebraic identities", () => {
  it("drops x * 1, x + 0, x - 0 and x / 1, broadcasting x where the other operand was larger", () => {
    const { graph } = build([f32(3)], (e, x) => [
      e("mul", {}, fill(e, 1), e("add", {}, x!, fill(e, 0))),
      e("div", {}, e("sub", {}, x!, fill(e, 0)), fill(e, 1)),
      e("add", {}, fill(e, 0, 2, 3), x!),
    ]);
    const s = simplified(graph);
    expect(s.outputs[0]).toBe(graph.inputs[0]);
    expect(s.outputs[1]).toBe(graph.inputs[0]);
    expect(ops(s)).toEqual(["broadcast"]);
  });

  it("turns x * 0 into zeros and 0 - x into -x", () => {
    const { graph } = build([f32(2, 3)], (e, x) => [
      e("mul", {}, x!, fill(e, 0)),
      e("sub", {}, fill(e, 0), x!),
    ]);
    expect(printGraph(simplified(graph))).toMatchInlineSnapshot(`
      "in %0:f32[2, 3] (x0)
        %1:f32[2, 3] = const{value=0, dtype=f32, shape=[2, 3]}
        %2:f32[2, 3] = neg %0
      out %1, %2"
    `);
  });

  it("removes double negation, identity reshapes, casts and transposes", () => {
    const { graph } = build([f32(2, 3)], (e, x) => [
      e("neg", {}, e("neg", {}, x!)),
      e("reshape", { shape: shapeOf(2, 3) }, x!),
      e("cast", { dtype: "f32" }, x!),
      e("transpose", { perm: [0, 1] }, x!),
      e("broadcast", { shape: shapeOf(2, 3) }, x!),
    ]);
    const s = simplified(graph);
    expect(s.eqns).toEqual([]);
    expect(s.outputs.every((v) => v === graph.inputs[0])).toBe(true);
  });

  it("composes reshapes and transposes, cancelling inverse pairs", () => {
    const { graph } = build([f32(2, 3, 4)], (e, x) => [
      e("reshape", { shape: shapeOf(4, 6) }, e("reshape", { shape: shapeOf(6, 4) }, x!)),
      e("transpose", { perm: [1, 2, 0] }, e("transpose", { perm: [2, 0, 1] }, x!)),
      e("transpose", { perm: [0, 2, 1] }, e("transpose", { perm: [1, 0, 2] }, x!)),
    ]);
    const s = simplified(graph);
    expect(printGraph(s)).toMatchInlineSnapshot(`
      "in %0:f32[2, 3, 4] (x0)
        %1:f32[4, 6] = reshape{shape=[4, 6]} %0
        %2:f32[3, 4, 2] = transpose{perm=[1, 2, 0]} %0
      out %1, %0, %2"
    `);
  });

  it("picks the branch of a select on a constant condition, and merges equal branches", () => {
    const { graph } = build([f32(3), f32(2, 3), bool(3)], (e, a, b, c) => [
      e("select", {}, e("const", { value: 1, dtype: "bool", shape: [] }), a!, b!),
      e("select", {}, e("const", { value: 0, dtype: "bool", shape: [] }), a!, b!),
      e("select", {}, c!, a!, a!),
    ]);
    const s = simplified(graph);
    expect(ops(s)).toEqual(["broadcast"]);
    expect(s.outputs[1]).toBe(graph.inputs[1]);
    expect(s.outputs[2]).toBe(graph.inputs[0]);
  });
});

describe("bindInputs", () => {
  it("specialises a training flag so the inactive branch disappears", () => {
    const { graph, inputs } = build(
      [f32(4), bool()],
      (e, x, training) => {
        const keep = e(
          "ge",
          {},
          e(
            "random",
            { shape: shapeOf(4), stream: 0 },
            e("const", { value: 7, dtype: "i32", shape: [] }),
          ),
          fill(e, 0.5),
        );
        const dropped = e("select", {}, keep, e("mul", {}, x!, fill(e, 2)), fill(e, 0));
        return e("select", {}, training!, dropped, x!);
      },
      { names: ["x", "training"] },
    );
    const bound = bindInputs(graph, new Map([[inputs[1]!, 0]]));
    expect(bound.inputs).toEqual([inputs[0]]);
    const s = simplified(bound);
    expect(s.eqns).toEqual([]);
    expect(s.outputs).toEqual([inputs[0]]);
    const train = simplified(bindInputs(graph, new Map([[inputs[1]!, 1]])));
    expect(ops(train)).toContain("random");
  });
});

describe("on gradient graphs", () => {
  it("cleans up what autodiff emits without changing the gradient", () => {
    const { graph, gen, inputs } = build([f32(2, 3), f32(3)], (e, x, w) =>
      e("reduce_sum", { axes: [0, 1] }, e("mul", {}, e("sigmoid", {}, e("add", {}, x!, w!)), x!)),
    );
    const g = grad(graph, graph.outputs[0]!, inputs, gen).graph;
    const s = simplified(g);
    expect(s.eqns.length).toBeLessThan(g.eqns.length);
    expect(ops(s)).not.toContain("broadcast");
  });
});
