// The emitted module's calls refuse what would silently go wrong: an empty
// batch, missing or unknown inputs, wrong array kinds, lengths that fit no
// dims, labels or ids out of range, non-finite floats. Each error names the
// input and its expected shape, and leaves the model exactly as it was
// (compared as save() bytes), on the async API and on the JS backend's
// synchronous one alike. Results keep every name (`__proto__` too), and a
// synchronous model's `params` stay live across steps and loads.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { compile } from "../cli/node-host.ts";
import { stdPath } from "../compiler/elaborate.ts";
import type { Dims, Inputs, ModelOptions, Outputs, Scores } from "../runtime/model.ts";
import type { SyncModel } from "../runtime/model-sync.ts";

type Api = "createModel" | "createModelSync";

/** The async model's calls; a sync model is run through the same calls, its results wrapped. */
interface Model {
  predict(i: Record<string, unknown>, dims?: unknown): Promise<Outputs>;
  step(b: Record<string, unknown>, dims?: unknown): Promise<Scores>;
  evaluate(b: Record<string, unknown>): Promise<Scores>;
  readonly steps: number;
  save(): Promise<Uint8Array>;
  load(bytes: Uint8Array): Promise<Record<string, string>>;
}

/** createModelSync's model as the async API: a sync throw becomes a rejection, as it would there. */
function asAsync(m: SyncModel): Model {
  return {
    predict: async (i, d) => m.predict(i as Inputs, d as Dims),
    step: async (b, d) => m.step(b as Inputs, d as Dims),
    evaluate: async (b) => m.evaluate(b as Inputs),
    get steps() {
      return m.steps;
    },
    save: async () => m.save(),
    load: async (bytes) => m.load(bytes),
  };
}

async function build(
  src: string,
  api: Api = "createModel",
): Promise<(seed?: number, dims?: Record<string, number>) => Promise<Model>> {
  const host = {
    readFile: (p: string) => (p === "m.dlg" ? src : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
  const r = compile("m.dlg", { host });
  if (!r.ok) throw new Error(`test model does not compile: ${JSON.stringify(r.diagnostics)}`);
  const mod = (await loadModule(r.js!)) as unknown as {
    createModel(o: ModelOptions): Promise<Model>;
    createModelSync(o: ModelOptions): SyncModel;
  };
  return async (seed = 1, dims = {}) =>
    api === "createModel"
      ? mod.createModel({ seed, dims })
      : asAsync(mod.createModelSync({ seed, dims }));
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

/** `f` rejects with `message` and the model's checkpoint (params, state, step count) is unchanged. */
async function refusesUnchanged(
  m: Model,
  f: () => Promise<unknown>,
  message: RegExp,
): Promise<void> {
  const before = await m.save();
  const steps = m.steps;
  await expect(f()).rejects.toThrow(message);
  expect(m.steps).toBe(steps);
  expect(bytesEqual(await m.save(), before)).toBe(true);
}

describe.each<Api>(["createModel", "createModelSync"])("runtime validation (%s)", async (api) => {
  const make = await build(classifier, api);

  it("refuses an empty batch, naming the input and its shape, and does not count a step", async () => {
    const m = await make();
    await m.step(batch(4));
    await refusesUnchanged(
      m,
      () => m.step({ x: new Float32Array(0), y: new Int32Array(0) }),
      /input "x" is empty: f32\[B, 4\] with B = 0/,
    );
    await expect(m.evaluate({ x: new Float32Array(0), y: new Int32Array(0) })).rejects.toThrow(
      /empty/,
    );
    await expect(m.predict({ x: new Float32Array(0) })).rejects.toThrow(/input "x" is empty/);
  });

  it("says a batch is empty before any condition on its dims that emptiness also breaks", async () => {
    const m = await (
      await build(
        `dim B
model m {
  input n: [B]
  input x: [B, B mod 3, 4]
  output y = x * 2.0
  output z = n * 2.0
}`,
        api,
      )
    )();
    expect((await m.predict({ n: new Float32Array(4), x: new Float32Array(16) })).y).toHaveLength(
      16,
    );
    await expect(m.predict({ n: new Float32Array(0), x: new Float32Array(0) })).rejects.toThrow(
      /^input "n" is empty: f32\[B\] with B = 0/,
    );
  });

  it("refuses missing, unknown and mistyped inputs", async () => {
    const m = await make();
    const { x, y } = batch(4);
    await refusesUnchanged(
      m,
      () => m.step({ x }),
      /input "y" must be an Int32Array \(i32\[B\]\); it is missing/,
    );
    await refusesUnchanged(m, () => m.step({ x, y, z: y }), /unknown input "z"/);
    // A misspelt name is reported as unknown, not as the right one missing.
    await refusesUnchanged(
      m,
      () => m.step({ X: x, y }),
      /unknown input "X"; model clf takes "x", "y"/,
    );
    await refusesUnchanged(
      m,
      () => m.step({ x: [...x], y }),
      /input "x" must be a Float32Array .* got Array/,
    );
    await refusesUnchanged(
      m,
      () => m.step({ x: Float64Array.from(x), y }),
      /input "x" must be a Float32Array \(f32\[B, 4\]\); got Float64Array/,
    );
    await refusesUnchanged(
      m,
      () => m.step({ x, y: Float32Array.from(y) }),
      /"y" must be an Int32Array/,
    );
    await refusesUnchanged(m, () => m.step({ x: x.subarray(0, 7), y }), /"x" has 7 elements/);
    await refusesUnchanged(
      m,
      () => m.step({ x, y: y.subarray(0, 3) }),
      /input "y" has 3 elements but i32\[B\] is \[4\]/,
    );
    await refusesUnchanged(m, () => m.step(null as never), /takes an object/);
  });

  it("accepts typed-array views with an offset", async () => {
    const a = await make();
    const b = await make();
    const { x, y } = batch(4);
    const xs = new Float32Array(x.length + 5);
    xs.set(x, 5);
    const ys = new Int32Array(y.length + 2);
    ys.set(y, 2);
    expect((await b.step({ x: xs.subarray(5), y: ys.subarray(2) })).loss).toBe(
      (await a.step({ x, y })).loss,
    );
  });

  it("refuses labels outside [0, classes) for cross_entropy", async () => {
    const m = await make();
    const { x } = batch(4);
    await refusesUnchanged(
      m,
      () => m.step({ x, y: Int32Array.of(0, 1, 3, 2) }),
      /input "y" \(i32\[B\]\) holds 3 at element 2: these are class indices .*in \[0, 3\)/,
    );
    await refusesUnchanged(
      m,
      () => m.step({ x, y: Int32Array.of(0, -1, 1, 2) }),
      /holds -1 at element 1/,
    );
    await refusesUnchanged(m, () => m.evaluate({ x, y: Int32Array.of(0, 1, 2, 9) }), /holds 9/);
  });

  it("refuses NaN and infinite floats", async () => {
    const m = await make();
    const { x, y } = batch(4);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const xb = x.slice();
      xb[6] = bad;
      await refusesUnchanged(
        m,
        () => m.step({ x: xb, y }),
        new RegExp(
          `input "x" \\(f32\\[B, 4\\]\\) holds ${bad} at element 6: inputs must be finite`,
        ),
      );
      await expect(m.predict({ x: xb })).rejects.toThrow(/must be finite/);
    }
  });

  it("refuses ids outside an embedding's vocabulary, found through the gather", async () => {
    const m = await (
      await build(
        `dim B, T
model lm {
  input ids: int[B, T]
  input y: [B]
  h = embedding(ids, 5, 2)
  loss mean((sum(h, axis: [1, 2]) - y) ^ 2)
}
train t for lm { optimizer sgd(lr: 0.1)  batch 2  epochs 1 }`,
        api,
      )
    )();
    const y = Float32Array.of(1, 2);
    await m.step({ ids: Int32Array.of(0, 4, 3, 1), y }, { T: 2 });
    await refusesUnchanged(
      m,
      () => m.step({ ids: Int32Array.of(0, 5, 3, 1), y }, { T: 2 }),
      /input "ids" \(i32\[B, T\]\) holds 5 at element 1: these are indices of a gather .*\[0, 5\)/,
    );
  });

  it("finds ids gathered inside a scan body, slice by slice", async () => {
    const m = await (
      await build(
        `dim B, T
model rnnish {
  input ids: int[B, T]
  input y: [B]
  param table: [5, 2] init normal
  h = scan t in ids along 1 carry (h = zeros([B, 2])) { h = tanh(h + gather(table, t)) }
  loss mean((sum(h, axis: -1) - y) ^ 2)
}
train t for rnnish { optimizer sgd(lr: 0.1)  batch 2  epochs 1 }`,
        api,
      )
    )();
    const y = Float32Array.of(1, 2);
    expect(
      Number.isFinite((await m.step({ ids: Int32Array.of(0, 1, 2, 3, 4, 0), y }, { T: 3 })).loss),
    ).toBe(true);
    await refusesUnchanged(
      m,
      () => m.step({ ids: Int32Array.of(0, 1, 2, 3, 7, 0), y }, { T: 3 }),
      /input "ids" \(i32\[B, T\]\) holds 7 at element 4: these are indices of a gather .*\[0, 5\)/,
    );
  });

  it("refuses bool inputs other than 0 and 1", async () => {
    const m = await (
      await build(
        `dim B
model b {
  input x: [B]
  input keep: bool[B]
  output y = where(keep, x, 0.0)
}`,
        api,
      )
    )();
    expect([
      ...(await m.predict({ x: Float32Array.of(1, 2), keep: Int32Array.of(1, 0) })).y!,
    ]).toEqual([1, 0]);
    await expect(
      m.predict({ x: Float32Array.of(1, 2), keep: Int32Array.of(1, 2) }),
    ).rejects.toThrow(/input "keep" \(bool\[B\]\) holds 2 at element 1: a bool input holds 0 or 1/);
  });
});

describe("result names", () => {
  it("keeps outputs and metrics named __proto__, constructor and toString as own properties", async () => {
    const m = await (
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
    const out = await m.predict({ x: batch.x });
    expect(Object.keys(out)).toEqual(["__proto__", "constructor"]);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect([...out["__proto__"]!]).toEqual([3, 7]);
    expect([...out["constructor"]!]).toEqual([6, 14]);
    for (const r of [await m.evaluate(batch), await m.step(batch)]) {
      expect(Object.keys(r.metrics)).toEqual(["toString", "hasOwnProperty"]);
      expect(r.metrics["toString"]).toBe(5);
      expect(r.metrics["hasOwnProperty"]).toBe(1);
    }
  });
});

describe("dim names", () => {
  it("takes dims named constructor or toString, fixed at creation or given per call", async () => {
    const m = await (
      await build(`dim constructor, toString
model m {
  input x: [constructor, toString]
  param w: [toString] init ones
  output y = x @ w
}`)
    )(1, { toString: 2 });
    const x = Float32Array.of(1, 2, 3, 4);
    expect([...(await m.predict({ x }, { constructor: 2 })).y!]).toEqual([3, 7]);
    expect([...(await m.predict({ x }, { constructor: 2, toString: 2 })).y!]).toEqual([3, 7]);
    await expect(m.predict({ x }, { toString: 4 })).rejects.toThrow(/dimension toString is 2/);
  });
});

describe("createModelSync's params", async () => {
  const host = { readFile: (p: string) => (p === "m.dlg" ? classifier : undefined) };
  const r = compile("m.dlg", {
    host: { ...host, readStd: (n) => readFileSync(stdPath(n), "utf8") },
  });
  const mod = (await loadModule(r.js!)) as unknown as {
    createModelSync(o: ModelOptions): SyncModel;
  };

  it("are live: an array taken before step() and load() sees their updates", () => {
    const m = mod.createModelSync({ seed: 1 });
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
