// A small hand-built scan that exercises every part of the primitive: two
// consts (weights), a tuple carry, a scanned input along axis 1, two stacked
// outputs, and `reverse`. The autodiff and codegen tables both check it.

import { Builder } from "../compiler/builder.ts";
import { dimConst, dimVar } from "../compiler/dims.ts";
import { VarGen, type Var } from "../compiler/ir.ts";
import { f32, type Emit } from "./graph-helpers.ts";

/** Inputs: w [3, 3], u [2, 3], h0 [B, 3], x [B, 4, 2]. */
export const scanInputs = [f32(3, 3), f32(2, 3), f32("B", 3), f32("B", 4, 2)];

/**
 * h, c carried; per step z = tanh(x_t @ u + h @ w), c' = c * sigmoid(z) + z,
 * h' = tanh(c') * h; yields h' and c' * x_t[:, :1]. Returns ys_1 + ys_2 + h_T
 * + c_T broadcast over time, so every output of the scan reaches the result.
 */
export function scanExample(e: Emit, w: Var, u: Var, h0: Var, x: Var, reverse = true): Var {
  // Body vars come from their own generator: a body is a graph of its own.
  const gen = new VarGen(1_000_000);
  const b = new Builder(gen);
  const [bw, bu, h, c, xt] = [w, u, h0, h0, x].map((v, i) =>
    gen.fresh(i === 4 ? f32("B", 2) : v.type),
  ) as [Var, Var, Var, Var, Var];
  const o = (op: "add" | "mul" | "matmul", a: Var, y: Var) => b.emit(op, {}, [a, y]);
  const z = b.emit("tanh", {}, [o("add", o("matmul", xt, bu), o("matmul", h, bw))]);
  const c2 = o("add", o("mul", c, b.emit("sigmoid", {}, [z])), z);
  const h2 = o("mul", b.emit("tanh", {}, [c2]), h);
  const first = b.emit(
    "slice",
    { start: [dimConst(0), dimConst(0)], stop: [dimVar("B"), dimConst(1)], step: [1, 1] },
    [xt],
  );
  const y2 = o("mul", c2, first);
  const body = { inputs: [bw, bu, h, c, xt], eqns: b.eqns, outputs: [h2, c2, h2, y2] };
  const c0 = e("mul", {}, h0, e("const", { value: 0.5, dtype: "f32", shape: [] }));
  const params = { body, length: dimConst(4), axis: 1, reverse, nConsts: 2, nCarry: 2, nXs: 1 };
  const [hT, cT, ys1, ys2] = e.multi!("scan", params, w, u, h0, c0, x) as [Var, Var, Var, Var];
  const col = (v: Var) => e("reshape", { shape: [dimVar("B"), dimConst(1), dimConst(3)] }, v);
  return e("add", {}, e("add", {}, ys1, ys2), e("add", {}, col(hT), col(cT)));
}
