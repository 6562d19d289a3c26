// Every block of std/prelude.dlg, differentiated: for each one a tiny model
// calls it with small, non-square shapes, reduces the result to a scalar
// loss with fixed random weights (`loss sum(o * r)`, r an input), and the
// float64 autodiff gradients wrt every param and every f32 input are
// compared with central differences. The table is keyed by block name and
// must cover exactly the blocks std declares, so a new std block without a
// row fails here.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "../grammar/index.ts";
import { grad } from "../compiler/autodiff.ts";
import { dimAsConst } from "../compiler/dims.ts";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import { elaborate, stdPath } from "../compiler/elaborate.ts";
import { interpret, scalar, tensor, type Tensor } from "../compiler/interpret.ts";
import { VarGen, type ModelIR } from "../compiler/ir.ts";
import { uniform } from "./graph-helpers.ts";

interface Values {
  shape: number[];
  data: number[];
}

const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/** Deterministic values in [lo, hi). */
function rand(shape: number[], salt: number, lo = -1, hi = 1): Values {
  return { shape, data: uniform(size(shape), salt, lo, hi) };
}

/** Deterministic values in [-1, 1) with |v| >= 0.2: far from a kink at 0. */
function awayFromZero(shape: number[], salt: number): Values {
  const v = rand(shape, salt, -0.8, 0.8);
  return { shape, data: v.data.map((a) => a + (a < 0 ? -0.2 : 0.2)) };
}

/** Deterministic ints in [0, n). */
function ints(shape: number[], salt: number, n: number): Values {
  return { shape, data: rand(shape, salt, 0, n).data.map(Math.floor) };
}

function model(src: string): ModelIR {
  const r = elaborate("main.dlg", {
    readFile: (p: string) => (p === "main.dlg" ? src : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  });
  const text = renderDiagnostics(r.diagnostics, r.sources);
  if (text !== "") throw new Error(`the test model does not check:\n${text}`);
  const m = [...r.models.values()][0];
  if (!m) throw new Error("no model");
  return m;
}

function maxId(m: ModelIR): number {
  let id = 0;
  for (const g of [m.forward, m.init]) {
    g.inputs.forEach((v) => (id = Math.max(id, v.id)));
    g.eqns.forEach((e) => e.outs.forEach((v) => (id = Math.max(id, v.id))));
  }
  return id;
}

interface Run {
  loss: number;
  /** d loss / d param by path, then d loss / d input by name (f32 inputs only). */
  grads: Record<string, Values>;
}

/**
 * The model elaborated and differentiated once. Params get fixed random
 * values in [-0.8, 0.8) (not their init, so layer_norm's scale is not all
 * ones and biases are not zero); the seed is fixed, and `training` is given.
 */
function prepare(src: string, training: boolean, salt: number) {
  const m = model(src);
  if (!m.loss) throw new Error(`model ${m.name} declares no loss`);
  const floatInputs = m.inputs.filter((i) => i.var.type.dtype === "f32");
  const wrt = [...m.params.map((p) => p.var), ...floatInputs.map((i) => i.var)];
  const g = grad(m.forward, m.loss, wrt, new VarGen(1 + maxId(m)));
  const params: Record<string, Values> = Object.fromEntries(
    m.params.map((p, i) => {
      const shape = p.var.type.shape.map((d) => {
        const c = dimAsConst(d);
        if (c === null) throw new Error(`param ${p.path} has a run-time size`);
        return c;
      });
      return [p.path, rand(shape, 1000 * salt + i, -0.8, 0.8)];
    }),
  );
  const args = (vals: Record<string, Values>): Tensor[] => [
    ...m.inputs.map((i) => {
      const v = vals[i.name];
      if (!v) throw new Error(`no value for input ${i.name}`);
      return tensor(i.var.type.dtype, v.shape, v.data);
    }),
    ...m.params.map((p) => tensor("f32", vals[p.path]!.shape, vals[p.path]!.data)),
    scalar(7, "i32"),
    scalar(training ? 1 : 0, "bool"),
  ];
  const nOut = m.forward.outputs.length;
  const names = [...m.params.map((p) => p.path), ...floatInputs.map((i) => i.name)];
  return {
    params,
    names,
    run(vals: Record<string, Values>): Run {
      const out = interpret(g.graph, args(vals));
      const grads = out.slice(nOut);
      return {
        loss: out[nOut - 1]!.data[0]!,
        grads: Object.fromEntries(
          names.map((n, i) => [n, { shape: [...grads[i]!.shape], data: [...grads[i]!.data] }]),
        ),
      };
    },
    loss(vals: Record<string, Values>): number {
      return interpret(m.forward, args(vals))[nOut - 1]!.data[0]!;
    },
  };
}

/**
 * Central differences (h = 1e-6) of the loss wrt each element of each param
 * and f32 input; returns the analytic run and, per tensor, the relative
 * error max |analytic - numeric| / max(1e-3, max |analytic|, max |numeric|).
 */
function gradCheck(c: Case, salt: number): { run: Run; errors: Record<string, number> } {
  const p = prepare(c.src, c.training ?? false, salt);
  const vals: Record<string, Values> = { ...c.inputs, ...p.params };
  const run = p.run(vals);
  const h = 1e-6;
  const errors: Record<string, number> = {};
  for (const name of p.names) {
    const analytic = run.grads[name]!;
    const base = vals[name]!;
    const numeric = base.data.map((_, j) => {
      const at = (d: number) => {
        const data = [...base.data];
        data[j]! += d;
        return p.loss({ ...vals, [name]: { shape: base.shape, data } });
      };
      return (at(h) - at(-h)) / (2 * h);
    });
    expect(analytic.shape, name).toEqual(base.shape);
    let diff = 0;
    let scale = 1e-3;
    numeric.forEach((n, j) => {
      const a = analytic.data[j]!;
      diff = Math.max(diff, Math.abs(a - n));
      scale = Math.max(scale, Math.abs(a), Math.abs(n));
    });
    errors[name] = diff / scale;
  }
  return { run, errors };
}

interface Case {
  /** What varies between the cases of one block. */
  label: string;
  src: string;
  inputs: Record<string, Values>;
  /** Run with `training` true (dropout); false by default. */
  training?: boolean;
  /** Further assertions on the analytic gradients. */
  check?: (run: Run, inputs: Record<string, Values>) => void;
}

/** x |> call, then loss sum(o * r). */
function layer(
  call: string,
  xType: string,
  oType: string,
  x: Values,
  r: Values,
  extra: Partial<Case> = {},
): Case {
  return {
    label: call,
    src: `dim B, T
model m {
  input x: ${xType}
  input r: ${oType}
  output o = x |> ${call}
  loss sum(o * r)
}`,
    inputs: { x, r },
    ...extra,
  };
}

const close = (a: number[], b: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 12));

const table: Record<string, Case[]> = {
  // ------------------------------------------------------------ activations
  relu: [layer("relu", "[B, 3]", "[B, 3]", awayFromZero([2, 3], 1), rand([2, 3], 2))],
  leaky_relu: [
    layer("leaky_relu", "[B, 3]", "[B, 3]", awayFromZero([2, 3], 3), rand([2, 3], 4)),
    layer(
      "leaky_relu(alpha: 0.2)",
      "[B, T, 3]",
      "[B, T, 3]",
      awayFromZero([3, 2, 3], 5),
      rand([3, 2, 3], 6),
    ),
  ],
  gelu: [layer("gelu", "[B, T, 3]", "[B, T, 3]", rand([2, 4, 3], 7, -3, 3), rand([2, 4, 3], 8))],
  softmax: [
    layer("softmax", "[B, T, 4]", "[B, T, 4]", rand([2, 3, 4], 9, -3, 3), rand([2, 3, 4], 10)),
    layer(
      "softmax(axis: 1)",
      "[B, T, 4]",
      "[B, T, 4]",
      rand([2, 3, 4], 11, -3, 3),
      rand([2, 3, 4], 12),
    ),
  ],
  log_softmax: [
    layer("log_softmax", "[B, T, 4]", "[B, T, 4]", rand([2, 3, 4], 13, -3, 3), rand([2, 3, 4], 14)),
    layer("log_softmax(axis: 0)", "[B, 4]", "[B, 4]", rand([3, 4], 15, -3, 3), rand([3, 4], 16)),
  ],

  // ------------------------------------------------------------ layers
  dense: [
    layer("dense(5)", "[B, 3]", "[B, 5]", rand([2, 3], 17), rand([2, 5], 18)),
    layer(
      "dense(2, bias: false)",
      "[B, T, 3]",
      "[B, T, 2]",
      rand([3, 2, 3], 19),
      rand([3, 2, 2], 20),
    ),
  ],
  dropout: [
    // Training mode with a fixed seed: the mask is a function of the seed
    // alone, so it is the same constant in every finite-difference run.
    layer("dropout(0.5)", "[B, 6]", "[B, 6]", rand([3, 6], 21), rand([3, 6], 22), {
      label: "dropout(0.5), training",
      training: true,
      check: (run, inputs) => {
        // Each gradient is 0 (dropped) or r / (1 - rate) (kept), and both occur.
        const g = run.grads.x!.data;
        const r = inputs.r!.data;
        let kept = 0;
        g.forEach((v, i) => {
          if (v === 0) return;
          kept++;
          expect(v).toBeCloseTo(r[i]! / 0.5, 12);
        });
        expect(kept).toBeGreaterThan(0);
        expect(kept).toBeLessThan(g.length);
      },
    }),
    layer("dropout(0.5)", "[B, 6]", "[B, 6]", rand([3, 6], 23), rand([3, 6], 24), {
      label: "dropout(0.5), not training",
      check: (run, inputs) => close(run.grads.x!.data, inputs.r!.data),
    }),
  ],
  embedding: [
    {
      label: "embedding(4, 3), ids out of range included",
      src: `dim B, T
model m {
  input ids: int[B, T]
  input r: [B, T, 3]
  output o = ids |> embedding(4, 3)
  loss sum(o * r)
}`,
      inputs: { ids: { shape: [2, 3], data: [0, 3, 1, 5, 3, -1] }, r: rand([2, 3, 3], 25) },
      check: (run) => {
        // Row 2 is never looked up, and out-of-range ids touch no row.
        expect(run.grads["embedding_1.table"]!.data.slice(6, 9)).toEqual([0, 0, 0]);
      },
    },
  ],
  layer_norm: [
    layer("layer_norm", "[B, T, 5]", "[B, T, 5]", rand([3, 2, 5], 26, -2, 3), rand([3, 2, 5], 27)),
  ],
  // Training mode, the one with batch statistics (predict's is affine in x, and random
  // params would give it a negative running variance).
  batch_norm: [
    layer("batch_norm", "[B, 4]", "[B, 4]", rand([5, 4], 28, -2, 2), rand([5, 4], 29), {
      label: "batch_norm on [B, F], training",
      training: true,
    }),
    layer(
      "batch_norm(momentum: 0.5)",
      "[B, 2, 3, 3]",
      "[B, 2, 3, 3]",
      rand([2, 2, 3, 3], 30, -2, 2),
      rand([2, 2, 3, 3], 31),
      { label: "batch_norm on [B, C, H, W], training", training: true },
    ),
  ],

  // ------------------------------------------------------------ convolution and pooling
  // conv2d is an intrinsic that calls this block with its padding per side.
  conv2d_layer: [
    layer(
      "conv2d(2, 3, stride: 2, padding: 1)",
      "[B, 3, 5, 4]",
      "[B, 2, 3, 2]",
      rand([2, 3, 5, 4], 28),
      rand([2, 2, 3, 2], 29),
    ),
    layer(
      "conv2d(3, 2, dilation: 2, bias: false)",
      "[B, 2, 5, 4]",
      "[B, 3, 3, 2]",
      rand([2, 2, 5, 4], 30),
      rand([2, 3, 3, 2], 31),
    ),
  ],
  conv1d_layer: [
    layer(
      'conv1d(2, kernel: 4, stride: 2, padding: "same")',
      "[B, 3, 7]",
      "[B, 2, 4]",
      rand([2, 3, 7], 90),
      rand([2, 2, 4], 91),
    ),
  ],

  // ------------------------------------------------------------ attention
  causal_mask: [
    // The loss goes through exp so the -1e9 entries add exactly 0 (a plain
    // sum(o * r) would carry ~1e9 and drown the differences in rounding).
    {
      label: "causal_mask, t = 3, s = 4",
      src: `dim B
model m {
  input x: [B, 3, 4]
  input r: [B, 3, 4]
  output o = x |> causal_mask
  loss sum(exp(o) * r)
}`,
      inputs: { x: rand([2, 3, 4], 40), r: rand([2, 3, 4], 41) },
      check: (run, inputs) => {
        // Masked scores (key > query) get exactly zero; the rest exp(x) * r.
        const g = run.grads.x!.data;
        const x = inputs.x!.data;
        const r = inputs.r!.data;
        g.forEach((v, i) => {
          const key = i % 4;
          const query = Math.floor(i / 4) % 3;
          if (key > query) expect(v).toBe(0);
          else expect(v).toBeCloseTo(Math.exp(x[i]!) * r[i]!, 12);
        });
      },
    },
  ],
  attention: [false, true].map((causal) => ({
    label: `attention(causal: ${causal})`,
    src: `dim B, T
model m {
  input q: [B, T, 3]
  input k: [B, T, 3]
  input v: [B, T, 3]
  input r: [B, T, 3]
  output o = attention(q, k, v, causal: ${causal})
  loss sum(o * r)
}`,
    inputs: {
      q: rand([2, 4, 3], 42, -2, 2),
      k: rand([2, 4, 3], 43, -2, 2),
      v: rand([2, 4, 3], 44),
      r: rand([2, 4, 3], 45),
    },
  })),
  self_attention: [
    layer("self_attention", "[B, T, 5]", "[B, T, 5]", rand([2, 3, 5], 46), rand([2, 3, 5], 47)),
    layer(
      "self_attention(causal: true)",
      "[B, T, 3]",
      "[B, T, 3]",
      rand([3, 2, 3], 48),
      rand([3, 2, 3], 49),
    ),
  ],
  split_heads: [
    layer(
      "split_heads(2)",
      "[B, T, 6]",
      "[B, 2, T, 3]",
      rand([2, 3, 6], 50),
      rand([2, 2, 3, 3], 51),
      {
        // A pure permutation: d loss / d x[b, t, h * 3 + j] = r[b, h, t, j].
        check: (run, inputs) => {
          const r = inputs.r!.data;
          const want: number[] = [];
          for (let b = 0; b < 2; b++)
            for (let t = 0; t < 3; t++)
              for (let h = 0; h < 2; h++)
                for (let j = 0; j < 3; j++) want.push(r[((b * 2 + h) * 3 + t) * 3 + j]!);
          expect(run.grads.x!.data).toEqual(want);
        },
      },
    ),
  ],
  merge_heads: [
    layer("merge_heads", "[B, 2, T, 4]", "[B, T, 8]", rand([2, 2, 3, 4], 52), rand([2, 3, 8], 53), {
      // A pure permutation: d loss / d x[b, h, t, e] = r[b, t, h * 4 + e].
      check: (run, inputs) => {
        const r = inputs.r!.data;
        const want: number[] = [];
        for (let b = 0; b < 2; b++)
          for (let h = 0; h < 2; h++)
            for (let t = 0; t < 3; t++)
              for (let e = 0; e < 4; e++) want.push(r[(b * 3 + t) * 8 + h * 4 + e]!);
        expect(run.grads.x!.data).toEqual(want);
      },
    }),
  ],
  multi_head_attention: [
    layer(
      "multi_head_attention(3)",
      "[B, T, 6]",
      "[B, T, 6]",
      rand([2, 3, 6], 54),
      rand([2, 3, 6], 55),
    ),
    layer(
      "multi_head_attention(2, causal: true)",
      "[B, T, 4]",
      "[B, T, 4]",
      rand([3, 2, 4], 56),
      rand([3, 2, 4], 57),
    ),
  ],

  // ------------------------------------------------------------ recurrent layers
  rnn: [layer("rnn(5)", "[B, T, 3]", "[B, T, 5]", rand([2, 4, 3], 58), rand([2, 4, 5], 59))],
  lstm: [
    layer("lstm(3)", "[B, T, 2]", "[B, T, 3]", rand([2, 4, 2], 60), rand([2, 4, 3], 61)),
    layer(
      "lstm(2, forget_bias: 0.0)",
      "[B, T, 3]",
      "[B, T, 2]",
      rand([3, 2, 3], 62),
      rand([3, 2, 2], 63),
    ),
  ],
  gru: [layer("gru(3)", "[B, T, 2]", "[B, T, 3]", rand([2, 4, 2], 64), rand([2, 4, 3], 65))],
  bidirectional: [
    layer(
      "bidirectional(rnn(2))",
      "[B, T, 3]",
      "[B, T, 4]",
      rand([2, 4, 3], 92),
      rand([2, 4, 4], 93),
    ),
  ],

  // ------------------------------------------------------------ losses (already scalars)
  mse: [
    {
      label: "mse([B, T, 3], [B, T, 3])",
      src: `dim B, T
model m {
  input pred: [B, T, 3]
  input target: [B, T, 3]
  loss mse(pred, target)
}`,
      inputs: { pred: rand([2, 4, 3], 66), target: rand([2, 4, 3], 67) },
    },
  ],
  cross_entropy: [
    {
      label: "cross_entropy(logits [B, T, 5], labels int[B, T])",
      src: `dim B, T
model m {
  input logits: [B, T, 5]
  input labels: int[B, T]
  loss cross_entropy(logits, labels)
}`,
      inputs: { logits: rand([2, 3, 5], 68, -3, 3), labels: ints([2, 3], 69, 5) },
    },
  ],
  binary_cross_entropy: [
    {
      // Probabilities well inside the clip range [1e-7, 1 - 1e-7]; soft targets.
      label: "binary_cross_entropy([B, 3], [B, 3])",
      src: `dim B
model m {
  input probs: [B, 3]
  input targets: [B, 3]
  loss binary_cross_entropy(probs, targets)
}`,
      inputs: { probs: rand([2, 3], 70, 0.05, 0.95), targets: rand([2, 3], 71, 0, 1) },
    },
  ],
  binary_cross_entropy_with_logits: [
    {
      label: "binary_cross_entropy_with_logits([B, T, 2], [B, T, 2])",
      src: `dim B, T
model m {
  input logits: [B, T, 2]
  input targets: [B, T, 2]
  loss binary_cross_entropy_with_logits(logits, targets)
}`,
      inputs: { logits: awayFromZero([3, 2, 2], 72), targets: rand([3, 2, 2], 73, 0, 1) },
    },
  ],
};

/** The pooling layers, intrinsics since their padding may be "same", differentiated the same way. */
const pooling: Record<string, Case[]> = {
  // Random values: no ties within a window, and the gaps (~1e-2) dwarf h.
  maxpool: [
    layer(
      "maxpool(2)",
      "[B, 2, 5, 4]",
      "[B, 2, 2, 2]",
      rand([2, 2, 5, 4], 32),
      rand([2, 2, 2, 2], 33),
    ),
    // Overlapping windows hanging over the edge; all-negative inputs, so a
    // padding zero would win if it took part.
    layer(
      "maxpool(3, stride: 2, padding: 1)",
      "[B, 2, 5, 4]",
      "[B, 2, 3, 2]",
      rand([3, 2, 5, 4], 34, -2, -0.1),
      rand([3, 2, 3, 2], 35),
    ),
  ],
  avgpool: [
    layer(
      "avgpool(2)",
      "[B, 2, 5, 4]",
      "[B, 2, 2, 2]",
      rand([2, 2, 5, 4], 36),
      rand([2, 2, 2, 2], 37),
    ),
    layer(
      "avgpool(3, stride: 2, padding: 1)",
      "[B, 2, 5, 4]",
      "[B, 2, 3, 2]",
      rand([3, 2, 5, 4], 38),
      rand([3, 2, 3, 2], 39),
    ),
    // Each window averages only what is inside the image.
    layer(
      'avgpool(3, stride: 2, padding: "same")',
      "[B, 2, 5, 4]",
      "[B, 2, 3, 2]",
      rand([3, 2, 5, 4], 94),
      rand([3, 2, 3, 2], 95),
    ),
  ],
};

const stdBlocks = parse(readFileSync(stdPath("prelude.dlg"), "utf8"))
  .program.decls.filter((d) => d.kind === "Block")
  .map((d) => d.name.name)
  .sort();

describe("std gradients: every block has a row", () => {
  it("the table's keys are exactly std's blocks", () => {
    expect(stdBlocks.length).toBeGreaterThan(20);
    expect(Object.keys(table).sort()).toEqual(stdBlocks);
  });
});

describe("std gradients match central differences", () => {
  Object.entries({ ...table, ...pooling }).forEach(([block, cases], b) =>
    cases.forEach((c, i) =>
      it(`${block}: ${c.label}`, () => {
        const { run, errors } = gradCheck(c, 100 * b + i + 1);
        expect(Object.keys(errors).length).toBeGreaterThan(0);
        for (const [name, err] of Object.entries(errors))
          expect(err, `relative error of d loss / d ${name}`).toBeLessThan(1e-6);
        c.check?.(run, c.inputs);
      }),
    ),
  );
});
