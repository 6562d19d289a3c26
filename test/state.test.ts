// v2 state and modes (LANGUAGE.md "State and modes"): `state` tensors are
// params the optimizer skips (no gradient, no optimizer buffers), `update`
// writes their next value in step() only, checkpoints carry them, and
// `if training then a else b` picks a branch per entry, the other branch
// costing no kernel. Also every diagnostic of E2020–E2024.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { compile } from "../cli/node-host.ts";
import { elaborate, stdPath } from "../compiler/elaborate.ts";
import type { Diagnostic } from "../compiler/diagnostics.ts";
import { lowerEntry } from "../compiler/emit.ts";
import type { Kernel } from "../compiler/kernel.ts";
import { backends } from "../cli/node-host.ts";
import type { Model } from "../runtime/model.ts";

/** The LANGUAGE.md v2 example, as written, and a model around it. */
const myBatchNorm = `// Batch norm written in .dlg, as std could define it (dense inputs).
block my_batch_norm(x: [b, c], momentum: float = 0.9, eps: float = 1e-5) -> [b, c] {
  param scale: [c] init ones
  param shift: [c] init zeros
  state mean_avg: [c] init zeros
  state var_avg: [c] init ones
  m = mean(x, axis: 0)
  v = mean((x - m) ^ 2, axis: 0)
  update mean_avg = momentum * mean_avg + (1 - momentum) * m
  update var_avg = momentum * var_avg + (1 - momentum) * v
  mu = if training then m else mean_avg
  s2 = if training then v else var_avg
  return (x - mu) / sqrt(s2 + eps) * scale + shift
}
`;

const bnModel = `${myBatchNorm}
dim B
model net {
  input x: [B, 3]
  input y: [B, 3]
  output h = x |> my_batch_norm
  loss mse(h, y)
}
train t for net { optimizer adam(lr: 0.05)  batch 4 }`;

const host = (src: string) => ({
  readFile: (p: string) => (p === "m.dlg" ? src : undefined),
  readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
});

function compiled(src: string) {
  const r = compile("m.dlg", { host: host(src) });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n"));
  return r;
}

/** The elaborated model of a source that checks. */
function ir(src: string, name: string) {
  const r = elaborate("m.dlg", host(src));
  expect(r.diagnostics).toEqual([]);
  return r.models.get(name)!;
}

async function model(src: string, seed = 1): Promise<Model> {
  return (await loadModule(compiled(src).js!)).createModel({ seed });
}

/** Codes and messages of a source that must not check. */
function errors(src: string): (Diagnostic & { at: string })[] {
  const r = compile("m.dlg", { host: host(src) });
  expect(r.ok).toBe(false);
  return r.diagnostics.map((d) => ({ ...d, at: src.slice(d.span.start, d.span.end) }));
}

const countKernels = (ks: readonly Kernel[]): number =>
  ks.reduce((n, k) => n + (k.kind === "scan" ? countKernels(k.body) : 1), 0);

/** Kernels of each entry of a compiled source on the JS backend. */
function kernels(src: string): Record<string, number> {
  const r = compiled(src);
  return Object.fromEntries(
    r.program!.entries.map((e) => [
      e.name,
      countKernels(lowerEntry(e.graph, backends.js.lower).kernels.kernels),
    ]),
  );
}

const rows = (k: number) => ({
  x: Float32Array.from({ length: 12 }, (_, i) => Math.sin(i * 1.3 + k) * 2 + (i % 3)),
  y: Float32Array.from({ length: 12 }, (_, i) => Math.cos(i * 0.4 - k)),
});

/** Per-column mean and biased variance of a [4, 3] batch. */
function moments(x: Float32Array): { m: number[]; v: number[] } {
  const m = [0, 1, 2].map((j) => [0, 1, 2, 3].reduce((s, i) => s + x[i * 3 + j]!, 0) / 4);
  const v = [0, 1, 2].map(
    (j) => [0, 1, 2, 3].reduce((s, i) => s + (x[i * 3 + j]! - m[j]!) ** 2, 0) / 4,
  );
  return { m, v };
}

describe("state and update", () => {
  it("the LANGUAGE.md my_batch_norm example: two params, two states, two updates", () => {
    const r = compiled(bnModel);
    const m = ir(bnModel, "net");
    expect(m.params.map((p) => [p.path, p.state ?? false])).toEqual([
      ["my_batch_norm_1.scale", false],
      ["my_batch_norm_1.shift", false],
      ["my_batch_norm_1.mean_avg", true],
      ["my_batch_norm_1.var_avg", true],
    ]);
    expect(m.updates.map((u) => m.params[u.index]!.path)).toEqual([
      "my_batch_norm_1.mean_avg",
      "my_batch_norm_1.var_avg",
    ]);
    // Adam keeps moments for the two trainable params only.
    expect(r.program!.state.map((s) => s.name)).toEqual([
      "my_batch_norm_1.scale.m",
      "my_batch_norm_1.scale.v",
      "my_batch_norm_1.shift.m",
      "my_batch_norm_1.shift.v",
    ]);
  });

  it("step() moves the running averages by the update; evaluate and predict leave them", async () => {
    const net = await model(bnModel);
    let mean = [0, 0, 0];
    let vari = [1, 1, 1];
    for (let k = 0; k < 5; k++) {
      const b = rows(k);
      await net.evaluate(b);
      await net.predict({ x: b.x });
      await net.step(b);
      const { m, v } = moments(b.x);
      mean = mean.map((a, j) => 0.9 * a + 0.1 * m[j]!);
      vari = vari.map((a, j) => 0.9 * a + 0.1 * v[j]!);
      const p = await net.params();
      for (let j = 0; j < 3; j++) {
        expect(p["my_batch_norm_1.mean_avg"]![j]).toBeCloseTo(mean[j]!, 5);
        expect(p["my_batch_norm_1.var_avg"]![j]).toBeCloseTo(vari[j]!, 5);
      }
    }
  });

  it("predict normalises by the running averages, step by the batch's statistics", async () => {
    const net = await model(bnModel);
    for (let k = 0; k < 3; k++) await net.step(rows(k));
    const p = await net.params();
    const x = rows(9).x;
    const h = (await net.predict({ x })).h as Float32Array;
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 3; j++) {
        const norm =
          (x[i * 3 + j]! - p["my_batch_norm_1.mean_avg"]![j]!) /
          Math.sqrt(p["my_batch_norm_1.var_avg"]![j]! + 1e-5);
        const want = norm * p["my_batch_norm_1.scale"]![j]! + p["my_batch_norm_1.shift"]![j]!;
        expect(h[i * 3 + j]).toBeCloseTo(want, 4);
      }
    // Training mode: the batch's own statistics, so each column of h has mean `shift`.
    const src = bnModel.replace(
      "output h = x |> my_batch_norm",
      "h = x |> my_batch_norm\n  metric mh = mean(h)",
    );
    const net2 = await model(src);
    const before = await net2.params();
    const s = await net2.step(rows(9));
    const shiftMean = before["my_batch_norm_1.shift"]!.reduce((a, b) => a + b, 0) / 3;
    expect(s.metrics.mh).toBeCloseTo(shiftMean, 5);
  });

  it("checkpoints carry the states: a loaded model predicts and steps like the saved one", async () => {
    const a = await model(bnModel, 3);
    for (let k = 0; k < 4; k++) await a.step(rows(k));
    const ckpt = await a.save();
    const b = await model(bnModel, 99);
    await b.load(ckpt);
    const pa = await a.params();
    const pb = await b.params();
    expect(pb["my_batch_norm_1.var_avg"]).toEqual(pa["my_batch_norm_1.var_avg"]);
    expect(pa["my_batch_norm_1.var_avg"]!.some((v) => v !== 1)).toBe(true);
    const x = rows(7).x;
    expect((await b.predict({ x })).h).toEqual((await a.predict({ x })).h);
    expect((await b.step(rows(8))).loss).toBe((await a.step(rows(8))).loss);
    expect(await b.params()).toEqual(await a.params());
  });

  it("a state initialises like a param (zeros by default, any initialiser) and an un-updated one stays", async () => {
    const src = `block counted(x: [b, n]) -> [b, n] {
  state seen: [] init zeros
  state fixed: [n] init 0.5
  state grid: [2, 2]
  update seen = seen + 1.0
  return x * fixed + seen + sum(grid)
}
dim B
model m {
  input x: [B, 2]
  output y = x |> counted
  loss mean(y)
}`;
    const net = await model(src);
    const p0 = await net.params();
    expect([...p0["counted_1.grid"]!]).toEqual([0, 0, 0, 0]);
    expect([...p0["counted_1.fixed"]!]).toEqual([0.5, 0.5]);
    for (let k = 0; k < 3; k++) await net.step({ x: Float32Array.of(1, 2, 3, 4) });
    const p = await net.params();
    expect([...p["counted_1.seen"]!]).toEqual([3]);
    expect([...p["counted_1.fixed"]!]).toEqual([0.5, 0.5]);
    // predict reads the current state: y = x * 0.5 + 3.
    expect([...((await net.predict({ x: Float32Array.of(2, 4) })).y as Float32Array)]).toEqual([
      4, 5,
    ]);
  });

  it("l2(params) lists trainable params only", () => {
    const src = `block b(x: [n, k]) -> [n, k] {
  param w: [k] init ones
  state s: [k] init 3.0
  update s = s * 0.5
  return x * w + s
}
dim N
model m {
  input x: [N, 2]
  output y = x |> b
  loss mean(y) + l2(params)
}`;
    const m = ir(src, "m");
    const l2 = m.forward.eqns.filter((e) => e.op === "reduce_sum").length;
    // mean(y) and l2 of w: one sum each (a state in l2 would add a third).
    expect(l2).toBe(2);
  });
});

describe("if training", () => {
  const pick = (expr: string) => `dim B
model m {
  input x: [B, 8]
  input y: [B, 8]
  h = x |> dense(8)
  z = ${expr}
  output out = z
  loss mse(z, y)
}`;

  it("the untaken branch costs no kernel in any entry", () => {
    const both = kernels(pick("if training then exp(tanh(h)) * 2.0 else sqrt(abs(h)) + 1.0"));
    const train = kernels(pick("exp(tanh(h)) * 2.0"));
    const infer = kernels(pick("sqrt(abs(h)) + 1.0"));
    expect(both.step).toBe(train.step);
    expect(both.predict).toBe(infer.predict);
    expect(both.evaluate).toBe(infer.evaluate);
  });

  it("picks per entry: step() sees the training branch, predict() the other", async () => {
    const src = pick("if training then h * 0.0 + 5.0 else h * 0.0 - 1.0")
      .replace("output out = z", "output out = z\n  metric zm = mean(z)")
      .replace("loss mse(z, y)", "loss mse(h, y) + mean(z)");
    const net = await model(src);
    const x = Float32Array.from({ length: 8 }, (_, i) => i);
    // Both branches ignore x, so B is given.
    expect([...((await net.predict({ x }, { B: 1 })).out as Float32Array)]).toEqual(
      Array(8).fill(-1),
    );
    expect((await net.evaluate({ x, y: x }, { B: 1 })).metrics.zm).toBe(-1);
    expect((await net.step({ x, y: x }, { B: 1 })).metrics.zm).toBe(5);
  });

  it("a number branch takes the tensor's type; dropout still masks only in step()", async () => {
    const src = `dim B
model m {
  input x: [B, 64]
  z = if training then x else 0.0
  d = x |> dropout(0.5)
  metric zs = sum(z)
  metric kept = mean(d != 0.0)
  loss mean(d) + mean(z)
}`;
    const net = await model(src);
    const x = Float32Array.from({ length: 64 }, () => 1);
    const e = await net.evaluate({ x });
    expect(e.metrics.zs).toBe(0);
    expect(e.metrics.kept).toBe(1);
    const s = await net.step({ x });
    expect(s.metrics.zs).toBe(64);
    expect(s.metrics.kept).toBeGreaterThan(0.25);
    expect(s.metrics.kept).toBeLessThan(0.75);
    // Dropout in predict costs nothing: the same kernels as without it.
    const plain = src.replace("x |> dropout(0.5)", "x");
    expect(kernels(src).evaluate).toBe(kernels(plain).evaluate);
  });
});

describe("diagnostics", () => {
  const inBlock = (body: string, model = "output y = x |> f") => `block f(x: [b, n]) -> [b, n] {
${body}
}
dim B
model m {
  input x: [B, 3]
  ${model}
}`;

  it("E2020: state or update in a model body", () => {
    expect(
      errors(`dim B
model m {
  input x: [B, 3]
  state s: [3] init zeros
  output y = x
}`),
    ).toEqual([expect.objectContaining({ code: "E2020", at: "state s: [3] init zeros" })]);
    expect(
      errors(`dim B
model m {
  input x: [B, 3]
  update x = x
  output y = x
}`),
    ).toEqual([expect.objectContaining({ code: "E2020", at: "update x = x" })]);
  });

  it("E2021: update of a param, a local, an argument or an unknown name", () => {
    for (const [body, name] of [
      ["  param w: [n] init ones\n  update w = w * 2.0\n  return x * w", "w"],
      ["  k = mean(x, axis: 0)\n  update k = k\n  return x", "k"],
      ["  update x = x\n  return x", "x"],
      ["  update nope = mean(x, axis: 0)\n  return x", "nope"],
    ])
      expect(errors(inBlock(body!))).toEqual([
        expect.objectContaining({
          code: "E2021",
          message: `\`${name}\` is not a state of this block`,
          at: name,
        }),
      ]);
  });

  it("E2022: an update of another shape or element type", () => {
    expect(errors(inBlock("  state s: [n] init zeros\n  update s = x\n  return x + s"))).toEqual([
      expect.objectContaining({
        code: "E2022",
        message: "the update of `f_1.s` is [B, 3], but the state is [3]",
        at: "x",
      }),
    ]);
    expect(
      errors(inBlock("  state s: [n] init zeros\n  update s = argmax(x, axis: 0)\n  return x + s")),
    ).toEqual([expect.objectContaining({ code: "E2022", at: "argmax(x, axis: 0)" })]);
  });

  it("E2023: a state updated twice, also by two applications of a shared layer", () => {
    expect(
      errors(
        inBlock(
          "  state s: [n] init zeros\n  update s = s + 1.0\n  update s = s + 2.0\n  return x + s",
        ),
      ),
    ).toEqual([
      expect.objectContaining({
        code: "E2023",
        at: "s",
        notes: expect.arrayContaining(["write one `update` whose expression combines both"]),
      }),
    ]);
    const shared = inBlock(
      "  state s: [n] init zeros\n  update s = mean(x, axis: 0)\n  return x + s",
      "g = f\n  output y = (x |> g) + (x |> g)",
    );
    expect(errors(shared)).toEqual([
      expect.objectContaining({
        code: "E2023",
        labels: [],
        notes: expect.arrayContaining([
          "a layer bound to a name and applied twice shares its states, so both applications would update them",
        ]),
      }),
    ]);
  });

  it("E2009: an update inside a scan's body (one step's value), as batch_norm's in a scan", () => {
    const src = `block counted(x: [b, n]) -> [b, n] {
  state s: [n] init zeros
  update s = 0.9 * s + 0.1 * mean(x, axis: 0)
  return x - s
}
dim B, T
model m {
  input x: [B, T, 4]
  h = scan xt in x along 1 carry (c = zeros([B, 4])) {
    n = (xt + c) |> counted
    yield n |> batch_norm
    c = n
  }
  output y = h
}`;
    expect(errors(src).map((d) => `${d.code} ${d.message} ${d.notes[0]}`)).toEqual([
      "E2009 `update` cannot run inside the body of a `scan` state `counted_1.s` would take a value of one step of the scan",
    ]);
  });

  it("E2024: branches of `if training` of different types", () => {
    expect(errors(inBlock("  return if training then x else mean(x, axis: 0)"))).toEqual([
      expect.objectContaining({
        code: "E2024",
        message: "the branches of `if training` differ in type",
      }),
    ]);
    expect(errors(inBlock("  return if training then x else [x, x]"))).toEqual([
      expect.objectContaining({ code: "E2024", at: "[x, x]" }),
    ]);
  });

  it("a state's shape follows the param rules (E3007), named as a state", () => {
    expect(errors(inBlock("  state s: [b] init zeros\n  return x"))).toEqual([
      expect.objectContaining({
        code: "E3007",
        message: "state `f_1.s` would be [B], which depends on the batch dimension `B`",
      }),
    ]);
  });
});
