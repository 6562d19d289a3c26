// The emitted module's calls refuse what would silently go wrong: an empty
// batch, missing or unknown inputs, wrong array kinds, lengths that fit no
// dims, labels or ids out of range, non-finite floats. Each error names the
// input and its expected shape, and leaves the model exactly as it was
// (compared as save() bytes). Results keep every name (`__proto__` too), and
// `model.params` stays live across steps and loads.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { compile } from "../compiler/compile.ts";
import { stdPath } from "../compiler/elaborate.ts";

interface Model {
  predict(i: Record<string, unknown>, dims?: unknown): Record<string, Float32Array | Int32Array>;
  step(
    b: Record<string, unknown>,
    dims?: unknown,
  ): { loss: number; metrics: Record<string, number> };
  evaluate(b: Record<string, unknown>): { loss: number; metrics: Record<string, number> };
  params: Record<string, Float32Array>;
  steps: number;
  save(metadata?: Record<string, string>): Uint8Array;
  load(bytes: Uint8Array): Record<string, string>;
}

async function build(
  src: string,
): Promise<(seed?: number, dims?: Record<string, number>) => Model> {
  const host = {
    readFile: (p: string) => (p === "m.dlg" ? src : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
  const r = compile("m.dlg", { host });
  if (!r.ok) throw new Error(`test model does not compile: ${JSON.stringify(r.diagnostics)}`);
  const mod = await loadModule(r.js!);
  return (seed = 1, dims = {}) => mod.createModel({ seed, dims }) as unknown as Model;
}

const classifier = `dim B
model clf {
  input x: [B, 4]
  input y: int[B]
  logits = x |> dense(8) |> relu |> dropout(0.5) |> dense(3)
  output probs = softmax(logits)
  metric accuracy = mean(argmax(logits, axis: -1) == y)
  loss cross_entropy(logits, y)
}
train t for clf { optimizer adam(lr: 0.01)  batch 4  epochs 1 }`;

const batch = (n: number) => ({
  x: Float32Array.from({ length: n * 4 }, (_, i) => Math.sin(i)),
  y: Int32Array.from({ length: n }, (_, i) => i % 3),
});

const bytesEqual = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** `f` throws `message` and the model's checkpoint (params, state, step count) is unchanged. */
function refusesUnchanged(m: Model, f: () => unknown, message: RegExp): void {
  const before = m.save();
  const steps = m.steps;
  expect(f).toThrow(message);
  expect(m.steps).toBe(steps);
  expect(bytesEqual(m.save(), before)).toBe(true);
}

describe("runtime validation", async () => {
  const make = await build(classifier);

  it("refuses an empty batch, naming the input and its shape, and does not count a step", () => {
    const m = make();
    m.step(batch(4));
    refusesUnchanged(
      m,
      () => m.step({ x: new Float32Array(0), y: new Int32Array(0) }),
      /input "x" is empty: f32\[B, 4\] with B = 0/,
    );
    expect(() => m.evaluate({ x: new Float32Array(0), y: new Int32Array(0) })).toThrow(/empty/);
    expect(() => m.predict({ x: new Float32Array(0) })).toThrow(/input "x" is empty/);
  });

  it("says a batch is empty before any condition on its dims that emptiness also breaks", async () => {
    const m = (
      await build(`dim B
model m {
  input n: [B]
  input x: [B, B mod 3, 4]
  output y = x * 2.0
  output z = n * 2.0
}`)
    )();
    expect(m.predict({ n: new Float32Array(4), x: new Float32Array(16) }).y).toHaveLength(16);
    expect(() => m.predict({ n: new Float32Array(0), x: new Float32Array(0) })).toThrow(
      /^input "n" is empty: f32\[B\] with B = 0/,
    );
  });

  it("refuses missing, unknown and mistyped inputs", () => {
    const m = make();
    const { x, y } = batch(4);
    refusesUnchanged(
      m,
      () => m.step({ x }),
      /input "y" must be an Int32Array \(i32\[B\]\); it is missing/,
    );
    refusesUnchanged(m, () => m.step({ x, y, z: y }), /unknown input "z"/);
    // A misspelt name is reported as unknown, not as the right one missing.
    refusesUnchanged(m, () => m.step({ X: x, y }), /unknown input "X"; model clf takes "x", "y"/);
    refusesUnchanged(
      m,
      () => m.step({ x: [...x], y }),
      /input "x" must be a Float32Array .* got Array/,
    );
    refusesUnchanged(
      m,
      () => m.step({ x: Float64Array.from(x), y }),
      /input "x" must be a Float32Array \(f32\[B, 4\]\); got Float64Array/,
    );
    refusesUnchanged(m, () => m.step({ x, y: Float32Array.from(y) }), /"y" must be an Int32Array/);
    refusesUnchanged(m, () => m.step({ x: x.subarray(0, 7), y }), /"x" has 7 elements/);
    refusesUnchanged(
      m,
      () => m.step({ x, y: y.subarray(0, 3) }),
      /input "y" has 3 elements but i32\[B\] is \[4\]/,
    );
    refusesUnchanged(m, () => m.step(null as never), /takes an object/);
  });

  it("accepts typed-array views with an offset", () => {
    const a = make();
    const b = make();
    const { x, y } = batch(4);
    const xs = new Float32Array(x.length + 5);
    xs.set(x, 5);
    const ys = new Int32Array(y.length + 2);
    ys.set(y, 2);
    expect(b.step({ x: xs.subarray(5), y: ys.subarray(2) }).loss).toBe(a.step({ x, y }).loss);
  });

  it("refuses labels outside [0, classes) for cross_entropy", () => {
    const m = make();
    const { x } = batch(4);
    refusesUnchanged(
      m,
      () => m.step({ x, y: Int32Array.of(0, 1, 3, 2) }),
      /input "y" \(i32\[B\]\) holds 3 at element 2: these are class indices .*in \[0, 3\)/,
    );
    refusesUnchanged(
      m,
      () => m.step({ x, y: Int32Array.of(0, -1, 1, 2) }),
      /holds -1 at element 1/,
    );
    refusesUnchanged(m, () => m.evaluate({ x, y: Int32Array.of(0, 1, 2, 9) }), /holds 9/);
  });

  it("refuses NaN and infinite floats", () => {
    const m = make();
    const { x, y } = batch(4);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const xb = x.slice();
      xb[6] = bad;
      refusesUnchanged(
        m,
        () => m.step({ x: xb, y }),
        new RegExp(
          `input "x" \\(f32\\[B, 4\\]\\) holds ${bad} at element 6: inputs must be finite`,
        ),
      );
      expect(() => m.predict({ x: xb })).toThrow(/must be finite/);
    }
  });

  it("refuses ids outside an embedding's vocabulary, found through the gather", async () => {
    const m = (
      await build(`dim B, T
model lm {
  input ids: int[B, T]
  input y: [B]
  h = embedding(ids, 5, 2)
  loss mean((sum(h, axis: [1, 2]) - y) ^ 2)
}
train t for lm { optimizer sgd(lr: 0.1)  batch 2  epochs 1 }`)
    )();
    const y = Float32Array.of(1, 2);
    m.step({ ids: Int32Array.of(0, 4, 3, 1), y }, { T: 2 });
    refusesUnchanged(
      m,
      () => m.step({ ids: Int32Array.of(0, 5, 3, 1), y }, { T: 2 }),
      /input "ids" \(i32\[B, T\]\) holds 5 at element 1: these are indices of a gather .*\[0, 5\)/,
    );
  });

  it("finds ids gathered inside a scan body, slice by slice", async () => {
    const m = (
      await build(`dim B, T
model rnnish {
  input ids: int[B, T]
  input y: [B]
  param table: [5, 2] init normal
  h = scan t in ids along 1 carry (h = zeros([B, 2])) { h = tanh(h + gather(table, t)) }
  loss mean((sum(h, axis: -1) - y) ^ 2)
}
train t for rnnish { optimizer sgd(lr: 0.1)  batch 2  epochs 1 }`)
    )();
    const y = Float32Array.of(1, 2);
    expect(
      Number.isFinite(m.step({ ids: Int32Array.of(0, 1, 2, 3, 4, 0), y }, { T: 3 }).loss),
    ).toBe(true);
    refusesUnchanged(
      m,
      () => m.step({ ids: Int32Array.of(0, 1, 2, 3, 7, 0), y }, { T: 3 }),
      /input "ids" \(i32\[B, T\]\) holds 7 at element 4: these are indices of a gather .*\[0, 5\)/,
    );
  });

  it("refuses bool inputs other than 0 and 1", async () => {
    const m = (
      await build(`dim B
model b {
  input x: [B]
  input keep: bool[B]
  output y = where(keep, x, 0.0)
}`)
    )();
    expect([...m.predict({ x: Float32Array.of(1, 2), keep: Int32Array.of(1, 0) }).y!]).toEqual([
      1, 0,
    ]);
    expect(() => m.predict({ x: Float32Array.of(1, 2), keep: Int32Array.of(1, 2) })).toThrow(
      /input "keep" \(bool\[B\]\) holds 2 at element 1: a bool input holds 0 or 1/,
    );
  });
});

describe("result names", () => {
  it("keeps outputs and metrics named __proto__, constructor and toString as own properties", async () => {
    const m = (
      await build(`dim B
model hostile {
  input x: [B, 2]
  input y: [B]
  param w: [2] init ones
  output __proto__ = x @ w
  output constructor = x @ w * 2.0
  metric toString = mean(x @ w)
  metric hasOwnProperty = 1.0
  loss mean((x @ w - y) ^ 2)
}
train t for hostile { optimizer sgd(lr: 0.1)  batch 2  epochs 1 }`)
    )();
    const batch = { x: Float32Array.of(1, 2, 3, 4), y: Float32Array.of(0, 0) };
    const out = m.predict({ x: batch.x });
    expect(Object.keys(out)).toEqual(["__proto__", "constructor"]);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect([...out["__proto__"]!]).toEqual([3, 7]);
    expect([...out["constructor"]!]).toEqual([6, 14]);
    for (const r of [m.evaluate(batch), m.step(batch)]) {
      expect(Object.keys(r.metrics)).toEqual(["toString", "hasOwnProperty"]);
      expect(r.metrics["toString"]).toBe(5);
      expect(r.metrics["hasOwnProperty"]).toBe(1);
    }
  });
});

describe("dim names", () => {
  it("takes dims named constructor or toString, fixed at creation or given per call", async () => {
    const m = (
      await build(`dim constructor, toString
model m {
  input x: [constructor, toString]
  param w: [toString] init ones
  output y = x @ w
}`)
    )(1, { toString: 2 });
    const x = Float32Array.of(1, 2, 3, 4);
    expect([...m.predict({ x }, { constructor: 2 }).y!]).toEqual([3, 7]);
    expect([...m.predict({ x }, { constructor: 2, toString: 2 }).y!]).toEqual([3, 7]);
    expect(() => m.predict({ x }, { toString: 4 })).toThrow(/dimension toString is 2/);
  });
});

describe("model.params", async () => {
  const make = await build(classifier);

  it("are live: an array taken before step() and load() sees their updates", () => {
    const m = make();
    const names = Object.keys(m.params);
    const views = names.map((n) => m.params[n]!);
    const start = m.save();
    for (let k = 1; k <= 3; k++) {
      const before = views.map((v) => v.slice());
      m.step(batch(4));
      names.forEach((n, i) => {
        expect(m.params[n]).toBe(views[i]);
      });
      expect(views.some((v, i) => v.some((x, j) => x !== before[i]![j]))).toBe(true);
    }
    const trained = views.map((v) => v.slice());
    m.load(start);
    names.forEach((n, i) => expect(m.params[n]).toBe(views[i]));
    expect(views.some((v, i) => v.some((x, j) => x !== trained[i]![j]))).toBe(true);
  });
});
