// The canonical IR text (forward and gradient graphs) as snapshots, and the
// verifier's reports on broken graphs.

import { describe, expect, expectTypeOf, it } from "vitest";
import { grad } from "../compiler/autodiff.ts";
import { Builder } from "../compiler/builder.ts";
import { dimConst, dimVar } from "../compiler/dims.ts";
import { printGraph } from "../compiler/ir-print.ts";
import { IrVerifyError, verify } from "../compiler/ir-verify.ts";
import { VarGen, type Eqn, type Graph } from "../compiler/ir.ts";
import { simplify } from "../compiler/simplify.ts";
import { build, f32, i32 } from "./graph-helpers.ts";

/** A dense layer with tanh and a summed loss. */
function dense(gen = new VarGen()) {
  return build(
    [f32("B", 4), f32(4, 3), f32(3)],
    (e, x, w, b) => {
      const logits = e("add", {}, e("matmul", {}, x!, w!), b!);
      return e("reduce_sum", { axes: [0, 1] }, e("tanh", {}, logits));
    },
    { names: ["x", "w", "b"], gen },
  );
}

describe("printGraph", () => {
  it("prints a forward graph", () => {
    expect(printGraph(dense().graph)).toMatchInlineSnapshot(`
      "in %0:f32[B, 4] (x), %1:f32[4, 3] (w), %2:f32[3] (b)
        %3:f32[B, 3] = matmul %0 %1
        %4:f32[B, 3] = add %3 %2
        %5:f32[B, 3] = tanh %4
        %6:f32[] = reduce_sum{axes=[0, 1]} %5
      out %6"
    `);
  });

  it("numbers vars by first appearance, whatever ids the VarGen handed out", () => {
    expect(printGraph(dense(new VarGen(1000)).graph)).toBe(printGraph(dense().graph));
  });

  it("prints the gradient graph, and its simplified form", () => {
    const { graph, gen, inputs } = dense();
    const g = grad(graph, graph.outputs[0]!, inputs.slice(1), gen).graph;
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "in %0:f32[B, 4] (x), %1:f32[4, 3] (w), %2:f32[3] (b)
        %3:f32[B, 3] = matmul %0 %1
        %4:f32[B, 3] = add %3 %2
        %5:f32[B, 3] = tanh %4
        %6:f32[] = reduce_sum{axes=[0, 1]} %5
        %7:f32[] = const{value=1, dtype=f32, shape=[]}
        %8:f32[1, 1] = reshape{shape=[1, 1]} %7
        %9:f32[B, 3] = broadcast{shape=[B, 3]} %8
        %10:f32[] = const{value=1, dtype=f32, shape=[]}
        %11:f32[B, 3] = mul %5 %5
        %12:f32[B, 3] = sub %10 %11
        %13:f32[B, 3] = mul %9 %12
        %14:f32[3] (grad(b)) = reduce_sum{axes=[0]} %13
        %15:f32[4, B] = transpose{perm=[1, 0]} %0
        %16:f32[4, 3] (grad(w)) = matmul %15 %13
      out %6, %16, %14"
    `);
    expect(printGraph(simplify(g))).toMatchInlineSnapshot(`
      "in %0:f32[B, 4] (x), %1:f32[4, 3] (w), %2:f32[3] (b)
        %3:f32[B, 3] = matmul %0 %1
        %4:f32[B, 3] = add %3 %2
        %5:f32[B, 3] = tanh %4
        %6:f32[] = reduce_sum{axes=[0, 1]} %5
        %7:f32[] = const{value=1, dtype=f32, shape=[]}
        %8:f32[B, 3] = mul %5 %5
        %9:f32[B, 3] = sub %7 %8
        %10:f32[3] (grad(b)) = reduce_sum{axes=[0]} %9
        %11:f32[4, B] = transpose{perm=[1, 0]} %0
        %12:f32[4, 3] (grad(w)) = matmul %11 %9
      out %6, %12, %10"
    `);
  });

  it("prints symbolic params and the gradient of movement ops", () => {
    const T = dimVar("T");
    const { graph, gen, inputs } = build([f32("T", 6), i32(2)], (e, x, idx) => {
      const s = e(
        "slice",
        { start: [dimConst(1), dimConst(0)], stop: [T, dimConst(6)], step: [1, 2] },
        x!,
      );
      const g = e("gather", { axis: 1 }, s, idx!);
      return e("reduce_sum", { axes: [0, 1] }, e("mul", {}, g, g));
    });
    const r = grad(graph, graph.outputs[0]!, [inputs[0]!], gen);
    verify(r.graph);
    expect(printGraph(simplify(r.graph))).toMatchInlineSnapshot(`
      "in %0:f32[T, 6] (x0), %1:i32[2] (x1)
        %2:f32[T - 1, 3] = slice{start=[1, 0], stop=[T, 6], step=[1, 2]} %0
        %3:f32[T - 1, 2] = gather{axis=1} %2 %1
        %4:f32[T - 1, 2] = mul %3 %3
        %5:f32[] = reduce_sum{axes=[0, 1]} %4
        %6:f32[T - 1, 2] = add %3 %3
        %7:f32[T - 1, 3] = scatter_add{axis=1, shape=[T - 1, 3]} %6 %1
        %8:f32[T, 6] (grad(x0)) = pad{lo=[1, 0], hi=[0, 1], interior=[0, 1]} %7
      out %5, %8"
    `);
  });
});

describe("Eqn", () => {
  it("narrows its params by its op, with no cast", () => {
    const { graph } = dense();
    const axes = graph.eqns.flatMap((e) => (e.op === "reduce_sum" ? e.params.axes : []));
    expect(axes).toEqual([0, 1]);
    expectTypeOf<Extract<Eqn, { op: "transpose" }>["params"]>().toEqualTypeOf<{
      perm: number[];
    }>();
  });

  it("rejects params of another op, in a literal and in the builder", () => {
    const gen = new VarGen();
    const x = gen.fresh(f32(2, 3));
    const y = gen.fresh(f32(3, 2));
    // @ts-expect-error: a transpose's params are { perm }, not a reduction's { axes }
    const bad: Eqn = { op: "transpose", params: { axes: [0] }, inputs: [x], outs: [y] };
    expect(() => verify({ inputs: [x], eqns: [bad], outputs: [y] })).toThrow(
      /equation 0: the shape rule of transpose rejects its inputs/,
    );
    // @ts-expect-error: the builder checks the params against the op too
    expect(() => new Builder(gen).emit("transpose", { axes: [0] }, [x])).toThrow(TypeError);
  });
});

describe("verify", () => {
  it("accepts well-formed graphs", () => {
    const { graph, gen, inputs } = dense();
    verify(graph);
    verify(grad(graph, graph.outputs[0]!, inputs, gen).graph);
  });

  it("reports a use before definition with the equation in context", () => {
    const { graph } = dense();
    // Move tanh before the add that defines its input.
    const eqns = [...graph.eqns];
    const [tanh] = eqns.splice(2, 1) as [Eqn];
    eqns.splice(1, 0, tanh);
    const broken: Graph = { ...graph, eqns };
    expect(() => verify(broken)).toThrow(IrVerifyError);
    expect(() => verify(broken)).toThrowErrorMatchingInlineSnapshot(`
      [IrVerifyError: invalid IR at equation 1: %4 is used before it is defined
         in %0:f32[B, 4] (x), %1:f32[4, 3] (w), %2:f32[3] (b)
           %3:f32[B, 3] = matmul %0 %1
      >>   %5:f32[B, 3] = tanh %4
           %4:f32[B, 3] = add %3 %2
           %6:f32[] = reduce_sum{axes=[0, 1]} %5
         out %6]
    `);
  });

  it("reports a var defined twice", () => {
    const { graph } = dense();
    const [first] = graph.eqns as [Eqn];
    const broken: Graph = { ...graph, eqns: [first, ...graph.eqns] };
    expect(() => verify(broken)).toThrow(/equation 1: %3 is defined twice/);
  });

  it("reports an undefined output", () => {
    const { graph, gen } = dense();
    const stray = gen.fresh(f32());
    expect(() => verify({ ...graph, outputs: [stray] })).toThrow(
      /graph outputs: output %7 is never defined\n(.*\n)*>> out %7/,
    );
  });

  it("reports an equation whose output type disagrees with its shape rule", () => {
    const { graph } = dense();
    const eqns = graph.eqns.map((e, i) =>
      i === 1 ? { ...e, outs: [{ ...e.outs[0]!, type: f32("B", 4) }] } : e,
    );
    expect(() => verify({ ...graph, eqns })).toThrow(
      /equation 1: add should produce f32\[B, 3\], but its outputs are typed f32\[B, 4\]/,
    );
  });

  it("reports an equation its shape rule rejects", () => {
    const { graph } = dense();
    const eqns = graph.eqns.map((e, i) =>
      i === 0 ? { ...e, inputs: [e.inputs[1]!, e.inputs[0]!] } : e,
    );
    expect(() => verify({ ...graph, eqns })).toThrow(
      /equation 0: the shape rule of matmul rejects its inputs: inner dimensions/,
    );
  });

  it("shows only a window of a long graph", () => {
    const { graph } = build([f32(2)], (e, x) => {
      let y = x!;
      for (let i = 0; i < 12; i++) y = e("neg", {}, y);
      return y;
    });
    const eqns = [...graph.eqns];
    eqns[6] = { ...eqns[6]!, inputs: [eqns[8]!.outs[0]!] };
    let msg = "";
    try {
      verify({ ...graph, eqns });
    } catch (e) {
      msg = (e as Error).message;
    }
    const lines = msg.split("\n");
    expect(lines[0]).toBe("invalid IR at equation 6: %7 is used before it is defined");
    expect(lines[1]).toBe("   ...");
    expect(lines.filter((l) => l.startsWith(">>"))).toEqual([">>   %8:f32[2] = neg %7"]);
    expect(lines).toHaveLength(1 + 1 + 7 + 1);
  });
});
