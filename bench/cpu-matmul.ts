// bench/cpu-models/matmul.dlg: one 1024 x 1024 by 1024 x 1024 matmul, the
// forward pass only (dlg's predict(), c = a @ b), with the result read back.

import type * as Jax from "@jax-js/jax";
import { OnnxGraph } from "./cpu-onnx.ts";
import { jaxForward, tfjsForward } from "./cpu-peers.ts";
import { uniform, type CpuWorkload } from "./cpu-workload.ts";

const n = 1024;

export const matmul: CpuWorkload = {
  key: "matmul",
  title: "matmul 1024 x 1024 x 1024 (forward)",
  forwardInputs: { a: [n, n], b: [n, n] },
  output: "c",
  flops: 2 * n ** 3,
  batchAt: (k) => ({ a: uniform(n * n, 11 + 2 * k), b: uniform(n * n, 12 + 2 * k) }),

  forward: {
    tfjs: (tf) =>
      tfjsForward(tf, {}, (b) => tf.matMul(tf.tensor2d(b.a!, [n, n]), tf.tensor2d(b.b!, [n, n]))),
    jax(jax) {
      const np = jax.numpy;
      type B = { a: Jax.Array; b: Jax.Array };
      return jaxForward(
        jax,
        {},
        (_p, b: B) => np.matmul(b.a, b.b),
        (b) => ({ a: np.array(b.a!).reshape([n, n]), b: np.array(b.b!).reshape([n, n]) }),
      );
    },
    onnx() {
      const g = new OnnxGraph();
      return g.model(g.node("MatMul", [g.input("a", [n, n]), g.input("b", [n, n])]));
    },
  },
};
