// Function values (LANGUAGE.md v2 "Function values and weight sharing"): a
// call that leaves out its first tensor is a function, a block may take one
// (`f: fn`), and a function bound by an assignment shares one param set
// across its applications. The siamese example runs as written; the shared
// weights' gradient (the sum over both applications) is checked against
// central differences in float64 and against TensorFlow.js on the same
// weights.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadModule, type Batch } from "../cli/module.ts";
import { compile } from "../cli/node-host.ts";
import { renderDiagnostics, type Diagnostic } from "../compiler/diagnostics.ts";
import { shapeToString } from "../compiler/dims.ts";
import { elaborate, stdPath, type ElaborateResult } from "../compiler/elaborate.ts";
import { uniform } from "./graph-helpers.ts";
import {
  prepareDlg,
  randomParams,
  randomValues,
  relativeError,
  tf,
  tfGrads,
  type Values,
} from "./tfjs-helpers.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const siameseFile = "test/fixtures/v2/siamese.dlg";
const siamese = readFileSync(join(root, siameseFile), "utf8");

function host(files: Record<string, string>) {
  return {
    readFile: (p: string) => files[p],
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
}

const run = (src: string): ElaborateResult => elaborate("main.dlg", host({ "main.dlg": src }));

function ok(src: string): ElaborateResult {
  const r = run(src);
  expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
  return r;
}

/** `path: shape` of every param of the (first) model. */
function params(r: ElaborateResult, model?: string): string[] {
  const m = model ? r.models.get(model) : [...r.models.values()][0];
  return m!.params.map((p) => `${p.path}: ${shapeToString(p.var.type.shape)}`);
}

/** The one diagnostic of `src`, with the source text at its span. */
function only(src: string): Diagnostic & { at: string } {
  const r = run(src);
  expect(r.diagnostics.map((d) => d.code)).toHaveLength(1);
  const d = r.diagnostics[0]!;
  return { ...d, at: src.slice(d.span.start, d.span.end) };
}

const TOWER = `block tower(x: [b, n], width: int, act: fn = relu) -> [b, width] {
  return x |> dense(width) |> act |> dense(width)
}
block twice(x: [b, n], f: fn) -> [b, n] {
  return f(f(x))
}
dim B, C
`;

describe("the siamese example of LANGUAGE.md", () => {
  it("shares one encoder between its inputs, named after the binding", () => {
    const r = elaborate(siameseFile, host({ [siameseFile]: siamese }));
    expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
    expect(params(r)).toEqual([
      "encode.dense_1.w: [784, 64]",
      "encode.dense_1.b: [64]",
      "encode.dense_2.w: [64, 64]",
      "encode.dense_2.b: [64]",
    ]);
    // Each param is read by both applications: two matmuls per dense weight.
    const m = r.models.get("siamese")!;
    const w = m.params[0]!.var;
    expect(m.forward.eqns.filter((e) => e.inputs.includes(w))).toHaveLength(2);
  });

  it("compiles and trains as written", { timeout: 60_000 }, async () => {
    const r = compile(siameseFile, { host: host({ [siameseFile]: siamese }) });
    expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
    const mod = await loadModule(r.js!);
    const n = 6;
    const batch: Batch = {
      left: Float32Array.from(uniform(n * 784, 11)),
      right: Float32Array.from(uniform(n * 784, 12)),
      same: Float32Array.from(uniform(n, 13), (v) => (v > 0 ? 1 : 0)),
    };
    const model = await mod.createModel({ seed: 3 });
    const losses: number[] = [];
    for (let s = 0; s < 10; s++) losses.push((await model.step(batch, { B: n })).loss);
    expect(losses.every(Number.isFinite), losses.join(", ")).toBe(true);
    expect(losses[9]!, losses.join(", ")).toBeLessThan(losses[0]!);
  });

  it("hovers show a function value and what is shared", () => {
    const r = elaborate(siameseFile, host({ [siameseFile]: siamese }));
    const at = (text: string, after = "") => {
      const start = siamese.indexOf(text, siamese.indexOf(after));
      return r.types
        .filter((t) => t.span.start === start && t.span.end === start + text.length)
        .flatMap((t) => t.texts);
    };
    expect(at("encode", "encode =")).toContain(
      "encode: fn = tower(64, act: leaky_relu(alpha: 0.1))\n\nshared: every application uses one param set, `encode.*`",
    );
    expect(at("leaky_relu(alpha: 0.1)")[0]).toMatch(/^fn = leaky_relu\(alpha: 0\.1\)/);
  });
});

describe("which calls are functions", () => {
  it("leaves out the first tensor: dense(10) is a function, dense(x, 10) and x |> dense(10) are calls", () => {
    const r = ok(`dim B
model m {
  input x: [B, 4]
  d = dense(10)
  y1 = dense(x, 3)
  y2 = x |> dense(5)
  y3 = x |> d
  output o = sum(y1, axis: -1) + sum(y2, axis: -1) + sum(y3, axis: -1)
}`);
    expect(params(r)).toEqual([
      "dense_1.w: [4, 3]",
      "dense_1.b: [3]",
      "dense_2.w: [4, 5]",
      "dense_2.b: [5]",
      "d.w: [4, 10]",
      "d.b: [10]",
    ]);
  });

  it("applies a function value by pipe or call, and adds named arguments to one (keeping its params)", () => {
    const r = ok(`${TOWER}
model m {
  input x: [B, 4]
  act = leaky_relu(alpha: 0.2)
  f = tower(3)
  g = f(act: tanh)
  total = sum(axis: -1, keepdims: true)
  norm = softmax(axis: 0)
  output o = sum(act(x), axis: -1) + sum(x |> act, axis: -1) + sum(g(x), axis: -1)
    + sum(x |> total, axis: -1) + sum(x |> norm |> total, axis: -1)
}`);
    // `g` is `f` with another activation: it applies f's param set, as f would.
    expect(params(r)).toEqual([
      "f.dense_1.w: [4, 3]",
      "f.dense_1.b: [3]",
      "f.dense_2.w: [3, 3]",
      "f.dense_2.b: [3]",
    ]);
    // leaky_relu(alpha: 0.2) is where(x > 0, x, 0.2 * x); tanh replaced tower's default relu.
    const ops = [...r.models.values()][0]!.forward.eqns.map((e) => e.op);
    expect(ops).toContain("tanh");
    expect(ops).not.toContain("max");
  });

  it("a block bound by name is a function like the block: d(3) leaves out the tensor, and shares", () => {
    const r = ok(`dim B
model m {
  input x: [B, 4]
  d = dense
  e = d(3)
  output o = (x |> d(3)) + e(x) + d(x, 3)
}`);
    expect(params(r)).toEqual(["d.w: [4, 3]", "d.b: [3]"]);
  });

  it("a dense(x) missing its units is a call missing an argument, not a function", () => {
    const d = only(`dim B
model m {
  input x: [B, 4]
  output o = dense(x)
}`);
    expect(d.code).toBe("E2004");
    expect(d.message).toBe("missing argument `units` in the call to `dense`");
    expect(d.at).toBe("dense(x)");
  });
});

describe("functions as block arguments", () => {
  it("an inline function gets fresh params at each application; a bound one shares them", () => {
    const r = ok(`${TOWER}
model m {
  input x: [B, 4]
  d = dense(4)
  fresh = twice(x, dense(4))
  shared = x |> twice(d)
  output o = sum(fresh + shared, axis: -1)
}`);
    expect(params(r)).toEqual([
      "twice_1.dense_1.w: [4, 4]",
      "twice_1.dense_1.b: [4]",
      "twice_1.dense_2.w: [4, 4]",
      "twice_1.dense_2.b: [4]",
      "d.w: [4, 4]",
      "d.b: [4]",
    ]);
  });

  it("a `fn` parameter's default is used when the argument is left out", () => {
    const r = ok(`${TOWER}
model m {
  input x: [B, 4]
  output o = x |> tower(2)
}`);
    const ops = [...r.models.values()][0]!.forward.eqns.map((e) => e.op);
    expect(ops).toContain("max"); // relu is maximum(x, 0.0)
  });

  it("a tensor passed for a `fn` parameter is E2007", () => {
    const src = `${TOWER}
model m {
  input x: [B, 4]
  output o = twice(x, x)
}`;
    const d = only(src);
    expect(d.code).toBe("E2007");
    expect(d.message).toBe("`f` of `twice` must be a function, but it is a tensor f32[B, 4]");
    expect(d.help).toMatch(/pass the function itself/);
    expect(d.span).toEqual({
      start: src.indexOf("twice(x, x)") + 9,
      end: src.indexOf("twice(x, x)") + 10,
    });
  });

  it("a function passed for a tensor parameter is E2007", () => {
    const d = only(`dim B
model m {
  input x: [B, 4]
  output o = dense(relu, 3)
}`);
    expect(d.code).toBe("E2007");
    expect(d.message).toBe("`x` of `dense` must be a tensor, but it is the block `relu`");
    expect(d.help).toBe("apply the function to a tensor first: `x |> f`, or `f(x)`");
    expect(d.at).toBe("relu");
  });

  it("a function value's bound arguments are checked where they are written", () => {
    const d = only(`${TOWER}
model m {
  input x: [B, 4]
  f = tower(relu)
  output o = x |> f
}`);
    expect(d.code).toBe("E2007");
    expect(d.message).toBe("`width` of `tower` must be an int, but it is the block `relu`");
    expect(d.at).toBe("relu");
  });
});

describe("weight sharing", () => {
  it("shares across applications to different batch dims and ranks", () => {
    const r = ok(`dim B, C
model m {
  input a: [B, 8]
  input c: [C, 3, 8]
  e = dense(4)
  output o1 = a |> e
  output o2 = c |> e
}`);
    expect(params(r)).toEqual(["e.w: [8, 4]", "e.b: [4]"]);
    const m = [...r.models.values()][0]!;
    expect(m.outputs.map((o) => shapeToString(o.var.type.shape))).toEqual(["[B, 4]", "[C, 3, 4]"]);
  });

  it("an application that would change a shared param's shape is E2012, at both applications", () => {
    const src = `dim B
model m {
  input a: [B, 8]
  input c: [B, 5]
  e = dense(4)
  p = a |> e
  q = c |> e
  output o = p + q
}`;
    const d = only(src);
    expect(d.code).toBe("E2012");
    expect(d.message).toBe(
      "this application of the shared `e` would make its parameter `e.w` [5, 4], but its first application made it [8, 4]",
    );
    expect(d.span.start).toBe(src.indexOf("c |> e") + 5);
    expect(d.labels).toEqual([
      {
        span: { start: src.indexOf("a |> e") + 5, end: src.indexOf("a |> e") + 6 },
        message: "first applied here: `e.w` is [8, 4]",
      },
    ]);
  });

  it("a binding named like a call's path is E2013, not two params under one name", () => {
    const src = `dim B
model m {
  input a: [B, 8]
  dense_1 = dense(4)
  p = a |> dense_1
  q = a |> dense(4)
  output o = p + q
}`;
    const d = only(src);
    expect(d.code).toBe("E2013");
    expect(d.message).toBe("two different parameters would both be named `dense_1.w`");
    // Raised inside std's dense, reported at the user's inline call.
    expect(src.slice(d.span.start, d.span.end)).toBe("dense(4)");
    expect(d.span.start).toBe(src.lastIndexOf("dense(4)"));
  });
});

// ---------------------------------------------------------------- gradients

/** The siamese network, small: the encoder shared, or (SPLIT) two inline towers. */
const small = (
  shared: boolean,
) => `block tower(x: [b, n], width: int, act: fn = relu) -> [b, width] {
  return x |> dense(width) |> act |> dense(width)
}
dim B
model siamese {
  input left: [B, 5]
  input right: [B, 5]
  input same: [B]
  ${
    shared
      ? `encode = tower(3, act: leaky_relu(alpha: 0.1))
  a = left |> encode
  b = right |> encode`
      : `a = left |> tower(3, act: leaky_relu(alpha: 0.1))
  b = right |> tower(3, act: leaky_relu(alpha: 0.1))`
  }
  output score = sigmoid(sum(a * b, axis: -1))
  loss binary_cross_entropy(score, same)
}`;

const inputs: Record<string, Values> = {
  left: randomValues([4, 5], 1),
  right: randomValues([4, 5], 2),
  same: { shape: [4], data: [1, 0, 0, 1] },
};

describe("gradients of shared weights", () => {
  const prepared = prepareDlg(small(true));
  const weights = randomParams(small(true), 5);

  it("are the sum of each application's gradient", () => {
    const split = prepareDlg(small(false));
    // Both towers get the shared weights, so the two models compute the same loss.
    const twice: Record<string, Values> = {};
    for (const [k, v] of Object.entries(weights)) {
      twice[k.replace("encode.", "tower_1.")] = v;
      twice[k.replace("encode.", "tower_2.")] = v;
    }
    const s = prepared.run(inputs, weights);
    const t = split.run(inputs, twice);
    expect(t.loss).toBeCloseTo(s.loss, 12);
    for (const k of Object.keys(weights)) {
      const g1 = t.paramGrads[k.replace("encode.", "tower_1.")]!.data;
      const g2 = t.paramGrads[k.replace("encode.", "tower_2.")]!.data;
      expect(
        relativeError(
          s.paramGrads[k]!,
          g1.map((g, i) => g + g2[i]!),
        ),
      ).toBeLessThan(1e-12);
      // And each application contributes: neither half alone is the total.
      expect(relativeError(s.paramGrads[k]!, g1)).toBeGreaterThan(1e-3);
    }
  });

  it("match central finite differences in float64", () => {
    const { paramGrads } = prepared.run(inputs, weights);
    const h = 1e-6;
    for (const [k, v] of Object.entries(weights)) {
      const numeric = v.data.map((_, j) => {
        const at = (d: number) => {
          const data = [...v.data];
          data[j]! += d;
          return prepared.loss(inputs, { ...weights, [k]: { shape: v.shape, data } });
        };
        return (at(h) - at(-h)) / (2 * h);
      });
      expect(relativeError(paramGrads[k]!, numeric, 1e-3), k).toBeLessThan(1e-6);
    }
  });

  it("match TensorFlow.js on the same weights", () => {
    const dlg = prepared.run(inputs, weights);
    const tfRun = tfGrads(weights, (v) => {
      const encode = (x: tf.Tensor) => {
        const h = tf.leakyRelu(
          tf.add(tf.matMul(x, v["encode.dense_1.w"]!), v["encode.dense_1.b"]!),
          0.1,
        );
        return tf.add(tf.matMul(h, v["encode.dense_2.w"]!), v["encode.dense_2.b"]!);
      };
      const left = tf.tensor(inputs.left!.data, inputs.left!.shape);
      const right = tf.tensor(inputs.right!.data, inputs.right!.shape);
      const same = tf.tensor(inputs.same!.data, inputs.same!.shape);
      const score = tf.sigmoid(tf.sum(tf.mul(encode(left), encode(right)), -1));
      const p = tf.clipByValue(score, 1e-7, 1 - 1e-7);
      const ll = tf.add(tf.mul(same, tf.log(p)), tf.mul(tf.sub(1, same), tf.log(tf.sub(1, p))));
      return tf.neg(tf.mean(ll)) as tf.Scalar;
    });
    expect(Math.abs(tfRun.loss - dlg.loss) / Math.abs(dlg.loss)).toBeLessThan(1e-5);
    for (const k of Object.keys(weights))
      expect(relativeError(dlg.paramGrads[k]!, tfRun.grads[k]!), k).toBeLessThan(1e-4);
  });
});
