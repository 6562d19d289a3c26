// std's v2 additions: `padding: "same"` on conv2d, conv1d, maxpool and
// avgpool, `flip`, `conv1d`, `gelu` and `bidirectional`. Output sizes are
// checked against TensorFlow's rule (ceil(size / stride)); values and
// gradients against TensorFlow.js on the same weights (dlg in its float64
// interpreter, channels first; tfjs channels last, transposed in its loss);
// gradients also against central finite differences in float64.

import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { loadModule, type Batch } from "../cli/module.ts";
import { compile } from "../cli/node-host.ts";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import { shapeToString } from "../compiler/dims.ts";
import { elaborate, stdPath } from "../compiler/elaborate.ts";
import { grad } from "../compiler/autodiff.ts";
import { lowerGraph } from "../compiler/fuse.ts";
import { VarGen, type Graph } from "../compiler/ir.ts";
import { simplify } from "../compiler/simplify.ts";
import { kernelToString } from "../compiler/scalar-print/dump.ts";
import {
  prepareDlg,
  randomParams,
  randomValues,
  relativeError,
  runDlg,
  tf,
  tfGrads,
  type DlgRun,
  type Values,
  sumLossModel,
  tfValues,
  nhwc,
  nchw,
  hwio,
} from "./tfjs-helpers.ts";

const TOL = 1e-4;

function check(src: string) {
  return elaborate("main.dlg", {
    readFile: (p: string) => (p === "main.dlg" ? src : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  });
}

/**
 * dlg against tfjs on the same inputs and params: the output, the loss
 * sum(out * t) and its gradient wrt every param and x. `layer` is the tfjs
 * side, from the named tensors (x, and the params by dlg path). With
 * `grads: false` only the output and the loss are compared.
 */
function expectTfjs(
  src: string,
  x: Values,
  t: Values,
  layer: (v: Record<string, tf.Tensor>) => tf.Tensor,
  salt: number,
  grads = true,
): DlgRun {
  const params = randomParams(src, salt);
  const dlg = runDlg(src, { x, t }, { params });
  const tensors = Object.fromEntries(
    Object.entries({ x, ...params }).map(([k, v]) => [k, tf.tensor(v.data, v.shape)]),
  );
  const out = tfValues(() => layer(tensors));
  tf.dispose(Object.values(tensors));
  expect(dlg.outputs.out!.shape).toEqual(out.shape);
  expect(relativeError(dlg.outputs.out!, out.data), "output").toBeLessThan(TOL);
  const run = tfGrads({ x, t, ...params }, (v) => tf.sum(tf.mul(layer(v), v.t!)));
  expect(Math.abs(dlg.loss - run.loss) / Math.max(1, Math.abs(run.loss))).toBeLessThan(TOL);
  if (!grads) return dlg;
  for (const [path, g] of Object.entries(dlg.paramGrads))
    expect(relativeError(g, run.grads[path]!), `d loss / d ${path}`).toBeLessThan(TOL);
  expect(relativeError(dlg.inputGrads.x!, run.grads.x!), "d loss / d x").toBeLessThan(TOL);
  return dlg;
}

/**
 * The float64 autodiff gradients of `src`'s loss wrt every param and x
 * against central differences (h = 1e-6), element by element.
 */
function expectFiniteDifferences(src: string, x: Values, t: Values, salt: number): void {
  const prepared = prepareDlg(src);
  const params = randomParams(src, salt);
  const run = prepared.run({ x, t }, params);
  const h = 1e-6;
  const nudged = (v: Values, i: number, d: number): Values => ({
    shape: v.shape,
    data: v.data.map((a, k) => (k === i ? a + d : a)),
  });
  const numeric = (loss: (d: number, i: number) => number, n: number) =>
    Array.from({ length: n }, (_, i) => (loss(h, i) - loss(-h, i)) / (2 * h));
  const checks: [string, Values, number[]][] = [
    [
      "x",
      run.inputGrads.x!,
      numeric((d, i) => prepared.loss({ x: nudged(x, i, d), t }, params), x.data.length),
    ],
  ];
  for (const [path, p] of Object.entries(params))
    checks.push([
      path,
      run.paramGrads[path]!,
      numeric(
        (d, i) => prepared.loss({ x, t }, { ...params, [path]: nudged(p, i, d) }),
        p.data.length,
      ),
    ]);
  for (const [name, analytic, fd] of checks)
    expect(relativeError(analytic, fd), `d loss / d ${name}`).toBeLessThan(1e-6);
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

describe('padding: "same"', () => {
  it("keeps ceil(size / stride) for odd and even sizes, kernels and strides", () => {
    const layers: string[] = [];
    const want: string[] = [];
    for (const [h, w] of [
      [7, 8],
      [9, 6],
    ] as const)
      for (const s of [1, 2, 3])
        for (const k of [2, 3, 4]) {
          const out = `${ceilDiv(h, s)}, ${ceilDiv(w, s)}]`;
          layers.push(`conv2d(x${h}, 5, kernel: ${k}, stride: ${s}, padding: "same")`);
          want.push(`[B, 5, ${out}`);
          layers.push(`maxpool(x${h}, ${k}, stride: ${s}, padding: "same")`);
          want.push(`[B, 2, ${out}`);
          layers.push(`avgpool(x${h}, ${k}, stride: ${s}, padding: "same")`);
          want.push(`[B, 2, ${out}`);
          layers.push(`conv1d(s${h}, 4, kernel: ${k}, stride: ${s}, padding: "same")`);
          want.push(`[B, 4, ${ceilDiv(h, s)}]`);
        }
    const r = check(`dim B
model m {
  input x7: [B, 2, 7, 8]
  input x9: [B, 2, 9, 6]
  input s7: [B, 3, 7]
  input s9: [B, 3, 9]
${layers.map((l, i) => `  output o${i} = ${l}`).join("\n")}
}`);
    expect(r.diagnostics).toEqual([]);
    const outs = r.models.get("m")!.outputs.map((o) => shapeToString(o.var.type.shape));
    expect(outs).toEqual(want);
  });

  it('"same" at stride 1 keeps a size only known at run time; "valid" is no padding', () => {
    const r = check(`dim B, H, W
model m {
  input x: [B, 3, H, W]
  output a = conv2d(x, 4, kernel: 5, padding: "same")
  output b = maxpool(x, 3, stride: 1, padding: "same")
  output c = conv2d(x, 4, kernel: 3, padding: "valid")
  output d = x |> avgpool(2, padding: "valid")
}`);
    expect(r.diagnostics).toEqual([]);
    expect(r.models.get("m")!.outputs.map((o) => shapeToString(o.var.type.shape))).toEqual([
      "[B, 4, H, W]",
      "[B, 3, H, W]",
      "[B, 4, H - 2, W - 2]",
      "[B, 3, (H - 2) div 2 + 1, (W - 2) div 2 + 1]",
    ]);
  });

  it("reports an unknown option and a stride that needs a known size", () => {
    const r = check(`dim B, H
model m {
  input x: [B, 3, H, 8]
  output a = conv2d(x, 4, kernel: 3, padding: "full")
  output b = maxpool(x, 2, padding: "same")
  output c = conv1d(x[:, :, 0, :], 4, kernel: 3, padding: "samee")
}`);
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      'E3031 unknown padding "full"',
      'E3031 padding "same" at stride 2 needs a known height, but it is H',
      'E3031 unknown padding "samee"',
    ]);
    expect(r.diagnostics[0]!.help).toMatch(/"same".*"valid"/);
  });

  const x78 = randomValues([2, 3, 7, 8], 1);
  const convCases = [
    { name: "3x3, stride 1", k: 3, s: 1, o: [4, 7, 8] },
    // 7 -> 4 and 8 -> 4 at stride 2 with a 4x4 kernel: 3 and 2 rows of padding, the odd one at the end.
    { name: "4x4, stride 2 (asymmetric)", k: 4, s: 2, o: [4, 4, 4] },
    { name: "2x2, stride 3", k: 2, s: 3, o: [4, 3, 3] },
  ];
  for (const c of convCases)
    it(`conv2d ${c.name} matches tf.conv2d(..., "same")`, () => {
      const src = sumLossModel(
        [3, 7, 8],
        c.o,
        `conv2d(x, 4, kernel: ${c.k}, stride: ${c.s}, padding: "same")`,
      );
      expectTfjs(
        src,
        x78,
        randomValues([2, ...c.o], 2),
        (v) =>
          nchw(
            tf.add(
              tf.conv2d(
                nhwc(v.x!) as tf.Tensor4D,
                hwio(v["conv2d_1.w"]!) as tf.Tensor4D,
                c.s,
                "same",
              ),
              v["conv2d_1.b"]!,
            ),
          ),
        3,
      );
    });

  const poolCases = [
    { layer: "maxpool", k: 3, s: 2, o: [3, 4, 4] },
    { layer: "maxpool", k: 2, s: 2, o: [3, 4, 4] },
    { layer: "avgpool", k: 3, s: 1, o: [3, 7, 8] },
    { layer: "avgpool", k: 2, s: 2, o: [3, 4, 4] },
    { layer: "avgpool", k: 4, s: 3, o: [3, 3, 3] },
  ];
  // All-negative inputs: a padded zero would win a max if it took part.
  const negative = randomValues([2, 3, 7, 8], 4, -2, -0.1);
  for (const c of poolCases)
    it(`${c.layer} ${c.k}x${c.k}, stride ${c.s} matches tf's "same" (padding never counts)`, () => {
      const src = sumLossModel(
        [3, 7, 8],
        c.o,
        `${c.layer}(x, ${c.k}, stride: ${c.s}, padding: "same")`,
      );
      const pool = c.layer === "maxpool" ? tf.maxPool : tf.avgPool;
      const t = randomValues([2, ...c.o], 5);
      // tfjs-backend-cpu's AvgPoolGrad divides by the whole window even where its forward
      // divided by the part inside the image, so for avgpool the gradient is checked against
      // central differences instead.
      const tfjsGrads = c.layer === "maxpool";
      const layer = (v: Record<string, tf.Tensor>) =>
        nchw(pool(nhwc(v.x!) as tf.Tensor4D, c.k, c.s, "same"));
      expectTfjs(src, negative, t, layer, 6, tfjsGrads);
      if (!tfjsGrads) expectFiniteDifferences(src, negative, t, 6);
    });

  it("conv2d and avgpool gradients match central differences", () => {
    const x = randomValues([2, 2, 5, 4], 7);
    expectFiniteDifferences(
      sumLossModel([2, 5, 4], [3, 3, 2], 'conv2d(x, 3, kernel: 4, stride: 2, padding: "same")'),
      x,
      randomValues([2, 3, 3, 2], 8),
      9,
    );
    expectFiniteDifferences(
      sumLossModel([2, 5, 4], [2, 3, 2], 'avgpool(x, 3, stride: 2, padding: "same")'),
      x,
      randomValues([2, 2, 3, 2], 10),
      11,
    );
  });
});

describe("conv1d", () => {
  it("declares [filters, channels, kernel] filters and a bias, and gives (l + pads - span) div stride + 1", () => {
    const r = check(`dim B
model m {
  input x: [B, 3, 20]
  output a = x |> conv1d(8, kernel: 5)
  output b = x |> conv1d(4, kernel: 3, stride: 2, padding: 1, dilation: 2, bias: false)
  output c = x |> conv1d(4, kernel: 3, padding: [2, 0])
}`);
    expect(r.diagnostics).toEqual([]);
    const m = r.models.get("m")!;
    expect(m.outputs.map((o) => shapeToString(o.var.type.shape))).toEqual([
      "[B, 8, 16]",
      // (20 + 2 - 4 - 1) div 2 + 1 = 9.
      "[B, 4, 9]",
      "[B, 4, 20]",
    ]);
    expect(m.params.map((p) => `${p.path} ${shapeToString(p.var.type.shape)}`)).toEqual([
      "conv1d_1.w [8, 3, 5]",
      "conv1d_1.b [8]",
      // bias: false leaves conv1d_2.b unused, and unused params are dropped.
      "conv1d_2.w [4, 3, 3]",
      "conv1d_3.w [4, 3, 3]",
      "conv1d_3.b [4]",
    ]);
  });

  it("reports an empty output and a kernel, stride or dilation below 1 in its own terms", () => {
    const r = check(`dim B
model m {
  input x: [B, 3, 10]
  output a = x |> conv1d(4, kernel: 12)
  output b = x |> conv1d(4, kernel: 3, stride: 0, padding: "same")
  output c = x |> conv1d(4, kernel: 0)
  output d = x |> conv1d(4, kernel: 3, dilation: 0)
}`);
    expect(r.diagnostics.map((d) => `${d.code} ${d.message} | ${d.notes.join("; ")}`)).toEqual([
      "E3030 conv1d output would be empty: length 10, padded by 0, is shorter than the kernel's span 12 | output length = (10 + 0 - 12) div 1 + 1 = -1",
      "E3031 `stride` must be at least 1, got 0 | ",
      "E3031 `kernel` must be at least 1, got 0 | ",
      "E3031 `dilation` must be at least 1, got 0 | ",
    ]);
  });

  /** dlg's [B, C, L] and filters [F, C, K] against tf.conv1d's [B, L, C] and [K, C, F]. */
  const tfConv1d = (s: number, pad: "same" | "valid" | number) => (v: Record<string, tf.Tensor>) =>
    tf.transpose(
      tf.add(
        tf.conv1d(
          tf.transpose(v.x!, [0, 2, 1]) as tf.Tensor3D,
          tf.transpose(v["conv1d_1.w"]!, [2, 1, 0]) as tf.Tensor3D,
          s,
          pad,
        ),
        v["conv1d_1.b"]!,
      ),
      [0, 2, 1],
    );
  const x = randomValues([2, 3, 9], 12);
  for (const c of [
    { pad: "same" as const, s: 1, o: 9, layer: 'conv1d(x, 4, kernel: 3, padding: "same")' },
    {
      pad: "same" as const,
      s: 2,
      o: 5,
      layer: 'conv1d(x, 4, kernel: 4, stride: 2, padding: "same")',
    },
    { pad: "valid" as const, s: 2, o: 3, layer: "conv1d(x, 4, kernel: 4, stride: 2)" },
  ])
    it(`matches tf.conv1d: ${c.layer}`, () => {
      const k = /kernel: (\d)/.exec(c.layer)![1];
      expect(k).toBeDefined();
      expectTfjs(
        sumLossModel([3, 9], [4, c.o], c.layer),
        x,
        randomValues([2, 4, c.o], 13),
        tfConv1d(c.s, c.pad),
        14,
      );
    });

  it("gradients match central differences", () => {
    expectFiniteDifferences(
      sumLossModel(
        [3, 9],
        [2, 5],
        'conv1d(x, 2, kernel: 4, stride: 2, padding: "same", dilation: 1)',
      ),
      x,
      randomValues([2, 2, 5], 15),
      16,
    );
    expectFiniteDifferences(
      sumLossModel(
        [3, 9],
        [2, 3],
        "conv1d(x, 2, kernel: 3, stride: 2, padding: [1, 0], dilation: 2)",
      ),
      x,
      randomValues([2, 2, 3], 17),
      18,
    );
  });
});

describe("flip", () => {
  const x = randomValues([2, 3, 4], 19);
  for (const axis of [1, -1, 0])
    it(`reverses axis ${axis} as tf.reverse does, gradients included`, () => {
      const src = `dim B
model m {
  input x: [B, 3, 4]
  input t: [B, 3, 4]
  param w: [3, 4]
  y = flip(x * w, axis: ${axis})
  output out = y
  loss sum(y * t)
}`;
      const t = randomValues([2, 3, 4], 20);
      const dlg = expectTfjs(src, x, t, (v) => tf.reverse(tf.mul(v.x!, v.w!), axis), 21);
      expect(dlg.outputs.out!.shape).toEqual([2, 3, 4]);
      expectFiniteDifferences(src, x, t, 22);
    });

  it("flips a run-time length and is no kernel of its own", () => {
    const r = check(`dim B, T
model m {
  input x: [B, T, 5]
  output y = flip(x, axis: 1) * 2.0
}`);
    expect(r.diagnostics).toEqual([]);
    const m = r.models.get("m")!;
    expect(shapeToString(m.outputs[0]!.var.type.shape)).toBe("[B, T, 5]");
    // The reversal is index arithmetic in the multiply's loads: no gather kernel, only the T
    // positions T - 1 - t computed once before the multiply.
    const kernels = lowerGraph(m.forward).kernels.map((k) => kernelToString(k));
    expect(kernels.map((k) => k.split(" ").slice(2, 4).join(" "))).toEqual(["map [T]", "map [B,"]);
  });

  it("has a gradient that is a gather too, once simplified: no scatter kernel", () => {
    const r = check(`dim B, T
model m {
  input x: [B, T, 4]
  input t: [B, T, 4]
  param w: [4]
  loss sum(flip(x * w, axis: 1) * t)
}`);
    expect(r.diagnostics).toEqual([]);
    const m = r.models.get("m")!;
    const g = grad(m.forward, m.loss!, [m.params[0]!.var], new VarGen(1_000_000));
    const kinds = (graph: Graph) =>
      lowerGraph(graph).kernels.map((k) => kernelToString(k).split(" ")[2]);
    // Autodiff's transpose of the gather is a scatter to the same positions ...
    expect(kinds(g.graph)).toContain("scatter_add");
    // ... which simplify turns into a gather from them (the reversal is its own inverse).
    expect(kinds(simplify(g.graph))).not.toContain("scatter_add");
    expect(simplify(g.graph).eqns.filter((e) => e.op === "gather")).toHaveLength(2);
  });

  it("reports a bad axis", () => {
    const r = check(`dim B
model m {
  input x: [B, 3]
  output y = flip(x, axis: 2)
}`);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["E3005"]);
  });
});

describe("gelu", () => {
  // TF.js has no gelu op: the tanh approximation (GPT-2's, TF's approximate=True) from tf ops.
  const tfGelu = (x: tf.Tensor) =>
    tf.mul(
      tf.mul(0.5, x),
      tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))),
    );
  it("is the tanh approximation, gradients included", () => {
    const src = sumLossModel([6], [6], "gelu(x)");
    const x = randomValues([2, 6], 23, -4, 4);
    const t = randomValues([2, 6], 24);
    expectTfjs(src, x, t, (v) => tfGelu(v.x!), 25);
    expectFiniteDifferences(src, x, t, 26);
  });
});

describe("bidirectional", () => {
  const file = "test/fixtures/v2/bigru.dlg";
  const text = readFileSync(file, "utf8");
  const host = {
    readFile: (p: string) => (p === file ? text : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };

  it("LANGUAGE.md's bigru: two GRUs with their own params, joined to [B, T, 64]", () => {
    const r = elaborate(file, host);
    expect(r.diagnostics).toEqual([]);
    const m = r.models.get("bigru")!;
    expect(m.params.map((p) => `${p.path} ${shapeToString(p.var.type.shape)}`)).toEqual([
      "bidirectional_1.gru_1.w [8, 96]",
      "bidirectional_1.gru_1.u [32, 96]",
      "bidirectional_1.gru_1.bias [96]",
      "bidirectional_1.gru_1.rbias [96]",
      "bidirectional_1.gru_2.w [8, 96]",
      "bidirectional_1.gru_2.u [32, 96]",
      "bidirectional_1.gru_2.bias [96]",
      "bidirectional_1.gru_2.rbias [96]",
      "dense_1.w [64, 3]",
      "dense_1.b [3]",
    ]);
  });

  it("LANGUAGE.md's bigru compiles and trains: the loss falls over a few steps", async () => {
    const r = compile(file, { host, model: "bigru" });
    expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
    const mod = await loadModule(r.js!);
    const model = await mod.createModel({ seed: 3, dims: {} });
    const [B, T] = [6, 5];
    const batch: Batch = {
      x: Float32Array.from(randomValues([B, T, 8], 27).data),
      y: Int32Array.from({ length: B }, (_, i) => i % 3),
    };
    const losses: number[] = [];
    for (let s = 0; s < 8; s++) losses.push((await model.step(batch, { B, T })).loss);
    expect(losses.every(Number.isFinite), `losses ${losses.join(", ")}`).toBe(true);
    expect(losses[7]!, `losses ${losses.join(", ")}`).toBeLessThan(losses[0]!);
  });

  it("gradients (through both scans and the flips) match central differences", () => {
    const src = `dim B, T
model m {
  input x: [B, T, 3]
  input t: [B, T, 4]
  y = x |> bidirectional(rnn(2))
  output out = y
  loss sum(y * t)
}`;
    expectFiniteDifferences(src, randomValues([2, 4, 3], 28), randomValues([2, 4, 4], 29), 30);
  });

  it("takes any layer of a sequence: a per-step dense, an lstm", () => {
    const r = check(`dim B, T
model m {
  input x: [B, T, 3]
  output y = x |> bidirectional(dense(2))
  output z = x |> bidirectional(lstm(5, forget_bias: 0.0))
}`);
    expect(r.diagnostics).toEqual([]);
    const m = r.models.get("m")!;
    expect(m.outputs.map((o) => shapeToString(o.var.type.shape))).toEqual([
      "[B, T, 4]",
      "[B, T, 10]",
    ]);
    expect(m.params.filter((p) => p.path.endsWith(".u")).map((p) => p.path)).toEqual([
      "bidirectional_2.lstm_1.u",
      "bidirectional_2.lstm_2.u",
    ]);
  });
});

describe("the layers as function values", () => {
  it("a bound conv2d or conv1d shares one param set, whatever its padding", () => {
    const r = check(`dim B
model m {
  input x: [B, 3, 8, 8]
  input s: [B, 3, 10]
  enc = conv2d(4, kernel: 3, padding: "same")
  seq = conv1d(3, kernel: 3, padding: "same")
  a = x |> enc
  output b = a[:, 0:3, :, :] |> enc
  output c = s |> seq |> seq
  output d = x |> maxpool(3, stride: 1, padding: "same") |> conv2d(2, kernel: 2, stride: 2, padding: "same")
}`);
    expect(r.diagnostics).toEqual([]);
    const m = r.models.get("m")!;
    expect(m.outputs.map((o) => shapeToString(o.var.type.shape))).toEqual([
      "[B, 4, 8, 8]",
      "[B, 3, 10]",
      "[B, 2, 4, 4]",
    ]);
    expect(m.params.map((p) => p.path)).toEqual([
      "enc.w",
      "enc.b",
      "seq.w",
      "seq.b",
      "conv2d_1.w",
      "conv2d_1.b",
    ]);
  });
});

describe('"same" padding through the JS backend', () => {
  it("predict() of the compiled module equals the float64 interpreter, and training lowers the loss", async () => {
    const src = `dim B
model m {
  input x: [B, 2, 9, 8]
  input s: [B, 3, 7]
  input y: int[B]
  a = x |> conv2d(4, kernel: 4, stride: 2, padding: "same") |> relu |> maxpool(3, stride: 2, padding: "same")
  b = a |> avgpool(2, stride: 1, padding: "same") |> flatten
  c = s |> conv1d(2, kernel: 3, padding: "same") |> flip(axis: -1) |> flatten
  output logits = concat([b, c], axis: -1) |> gelu |> dense(3)
  loss cross_entropy(logits, y)
}`;
    const host = {
      readFile: (p: string) => (p === "main.dlg" ? src : undefined),
      readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
    };
    const r = compile("main.dlg", { host });
    expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
    const net = await (await loadModule(r.js!)).createModel({ seed: 5 });
    const x = randomValues([3, 2, 9, 8], 31);
    const s = randomValues([3, 3, 7], 32);
    const y = { shape: [3], data: [0, 1, 2] };
    // The module's own initial params, shaped as the interpreter takes them.
    const shapes = randomParams(src, 1);
    const params = Object.fromEntries(
      Object.entries(await net.params()).map(([k, v]) => [
        k,
        { shape: shapes[k]!.shape, data: [...v] },
      ]),
    );
    const want = runDlg(src, { x, s, y }, { params }).outputs.logits!;
    const got = (await net.predict({ x: Float32Array.from(x.data), s: Float32Array.from(s.data) }))
      .logits as Float32Array;
    expect(relativeError(want, got)).toBeLessThan(1e-4);
    const batch: Batch = {
      x: Float32Array.from(x.data),
      s: Float32Array.from(s.data),
      y: Int32Array.from(y.data),
    };
    const losses: number[] = [];
    for (let k = 0; k < 6; k++) losses.push((await net.step(batch, { B: 3 })).loss);
    expect(losses[5]!, `losses ${losses.join(", ")}`).toBeLessThan(losses[0]!);
  });
});
