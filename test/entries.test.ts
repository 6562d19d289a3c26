// Entry building on a tiny linear model built with the Builder: slots,
// training-flag specialisation, and every optimizer's step against a
// hand-written float64 update.

import { describe, expect, it } from "vitest";
import { Builder } from "../compiler/builder.ts";
import { dimAsConst, dimConst, dimVar, shapeOf } from "../compiler/dims.ts";
import { buildEntries as rawEntries } from "../compiler/entries.ts";
import { simplifyEntry } from "../compiler/simplify.ts";
import { printGraph } from "../compiler/ir-print.ts";
import { interpret, scalar, tensor, type Tensor } from "../compiler/interpret.ts";
import {
  VarGen,
  type Entry,
  type ModelIR,
  type OptimizerConfig,
  type TrainConfig,
} from "../compiler/ir.ts";
import { bool, f32, i32, type Emit } from "./graph-helpers.ts";

/**
 * pred = x @ w + b (optionally after inverted dropout on x);
 * loss = mean((pred - y)^2); metric mae = mean(|pred - y|).
 */
function linearModel(opts: { dropout?: number } = {}): { model: ModelIR; gen: VarGen } {
  const gen = new VarGen();
  const B = dimVar("B");
  const x = gen.fresh(f32("B", 2), "x");
  const y = gen.fresh(f32("B"), "y");
  const w = gen.fresh(f32(2, 1), "w");
  const b = gen.fresh(f32(1), "b");
  const seed = gen.fresh(i32(), "seed");
  const training = gen.fresh(bool(), "training");
  const fb = new Builder(gen);
  const e: Emit = (op, params, ...xs) => fb.emit(op, params, xs);
  const k = (value: number) => e("const", { value, dtype: "f32", shape: [] });
  let xin = x;
  if (opts.dropout !== undefined) {
    const keep = 1 - opts.dropout;
    const u = e("random", { shape: shapeOf("B", 2), stream: 3 }, seed);
    const dropped = e("select", {}, e("lt", {}, u, k(keep)), e("div", {}, x, k(keep)), k(0));
    xin = e("select", {}, training, dropped, x);
  }
  const pred = e("reshape", { shape: [B] }, e("add", {}, e("matmul", {}, xin, w), b));
  const d = e("sub", {}, pred, y);
  const n = e("dimval", { dim: B, dtype: "f32" });
  const loss = e("div", {}, e("reduce_sum", { axes: [0] }, e("mul", {}, d, d)), n);
  const mae = e("div", {}, e("reduce_sum", { axes: [0] }, e("abs", {}, d)), n);

  const initSeed = gen.fresh(i32(), "seed");
  const ib = new Builder(gen);
  const w0 = ib.emit("random", { shape: shapeOf(2, 1), stream: 0 }, [initSeed]);
  const b0 = ib.emit("const", { value: 0, dtype: "f32", shape: [dimConst(1)] }, []);

  const model: ModelIR = {
    name: "linear",
    dims: ["B"],
    inputs: [
      { name: "x", var: x },
      { name: "y", var: y },
    ],
    updates: [],
    params: [
      { path: "w", var: w },
      { path: "b", var: b },
    ],
    seed,
    training,
    forward: {
      inputs: [x, y, w, b, seed, training],
      eqns: fb.eqns,
      outputs: [pred, mae, loss],
    },
    outputs: [{ name: "pred", var: pred }],
    metrics: [{ name: "mae", var: mae }],
    loss,
    init: { inputs: [initSeed], eqns: ib.eqns, outputs: [w0, b0] },
  };
  return { model, gen };
}

const optimizer = (o: Partial<OptimizerConfig>): OptimizerConfig => ({
  kind: "sgd",
  lr: 0.1,
  momentum: 0,
  nesterov: false,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  ...o,
  schedule: { kind: "constant", lr: o.lr ?? 0.1 },
});

const train = (o: Partial<OptimizerConfig>): TrainConfig => ({
  name: "t",
  model: "linear",
  optimizer: optimizer(o),
  batch: 3,
  epochs: 1,
  seed: 0,
  clipNorm: null,
  keepBest: null,
  patience: null,
});

// A batch of three examples.
const X = [0.5, -1, 1.5, 2, -0.5, 0.25];
const Y = [1, -2, 0.5];
const batch = { x: tensor("f32", [3, 2], X), y: tensor("f32", [3], Y) };

interface Feeds {
  inputs: Record<string, Tensor>;
  params: Tensor[];
  state?: Tensor[];
  seed?: number;
  step?: number;
  lr?: number;
}

/** Run an entry through the interpreter, feeding and collecting by slot. */
function runEntry(entry: Entry, f: Feeds) {
  const args = entry.inSlots.map((s): Tensor => {
    switch (s.kind) {
      case "input":
        return f.inputs[s.name]!;
      case "param":
        return f.params[s.index]!;
      case "state":
        return f.state![s.index]!;
      case "seed":
        return scalar(f.seed ?? 0, "i32");
      case "step":
        return scalar(f.step!, "f32");
      case "lr":
        return scalar(f.lr!, "f32");
    }
  });
  const outs = interpret(entry.graph, args);
  const r = {
    outputs: {} as Record<string, number[]>,
    metrics: {} as Record<string, number>,
    loss: NaN,
    params: [...f.params],
    state: [...(f.state ?? [])],
  };
  entry.outSlots.forEach((s, i) => {
    const t = outs[i]!;
    if (s.kind === "output") r.outputs[s.name] = [...t.data];
    else if (s.kind === "metric") r.metrics[s.name] = t.data[0]!;
    else if (s.kind === "loss") r.loss = t.data[0]!;
    else if (s.kind === "param") r.params[s.index] = t;
    else r.state[s.index] = t;
  });
  return r;
}

const get = (entries: Entry[], name: Entry["name"]) => entries.find((e) => e.name === name)!;

// ---------------------------------------------------------------- the reference

/** Loss gradient of the linear model by hand: dL/dw_j = 2/B sum d_i x_ij, dL/db = 2/B sum d_i. */
function handGrad(w: number[], b: number): { gw: number[]; gb: number; loss: number } {
  const n = Y.length;
  const gw = [0, 0];
  let gb = 0;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const d = X[2 * i]! * w[0]! + X[2 * i + 1]! * w[1]! + b - Y[i]!;
    loss += (d * d) / n;
    gw[0]! += (2 / n) * d * X[2 * i]!;
    gw[1]! += (2 / n) * d * X[2 * i + 1]!;
    gb += (2 / n) * d;
  }
  return { gw, gb, loss };
}

/** The optimizer on a flat parameter vector [w0, w1, b], with state per moment. */
function handStep(o: OptimizerConfig, p: number[], g: number[], s: number[][], t: number) {
  const next = p.map((pi, j) => {
    const gj = g[j]!;
    let d: number;
    if (o.kind === "adam") {
      s[0]![j] = o.beta1 * s[0]![j]! + (1 - o.beta1) * gj;
      s[1]![j] = o.beta2 * s[1]![j]! + (1 - o.beta2) * gj * gj;
      const mHat = s[0]![j]! / (1 - o.beta1 ** t);
      const vHat = s[1]![j]! / (1 - o.beta2 ** t);
      d = mHat / (Math.sqrt(vHat) + o.eps);
    } else if (o.momentum !== 0) {
      s[0]![j] = o.momentum * s[0]![j]! + gj;
      d = o.nesterov ? gj + o.momentum * s[0]![j]! : s[0]![j]!;
    } else d = gj;
    return pi - o.lr * (d + o.weightDecay * pi);
  });
  return next;
}

/** The entries as compile.ts builds them: built, then simplified (unread inputs dropped). */
function buildEntries(...args: Parameters<typeof rawEntries>): ReturnType<typeof rawEntries> {
  const r = rawEntries(...args);
  return { ...r, entries: r.entries.map(simplifyEntry) };
}

describe("buildEntries", () => {
  it("builds init, predict, evaluate and step with the right slots", () => {
    const { model, gen } = linearModel();
    const { entries, state } = buildEntries(model, train({ momentum: 0.9 }), gen);
    expect(entries.map((e) => e.name)).toEqual(["init", "predict", "evaluate", "step"]);
    expect(state.map((s) => s.name)).toEqual(["w.momentum", "b.momentum"]);

    const init = get(entries, "init");
    expect(init.inSlots).toEqual([{ kind: "seed" }]);
    expect(init.outSlots).toEqual([
      { kind: "param", index: 0 },
      { kind: "param", index: 1 },
    ]);
    const params = runEntry(init, { inputs: {}, params: [], seed: 5 }).params;
    expect(params.map((t) => t.shape)).toEqual([[2, 1], [1]]);

    // predict needs no label: only x and the params.
    const predict = get(entries, "predict");
    expect(predict.inSlots).toEqual([
      { kind: "input", name: "x" },
      { kind: "param", index: 0 },
      { kind: "param", index: 1 },
    ]);
    expect(predict.outSlots).toEqual([{ kind: "output", name: "pred" }]);
    const p = runEntry(predict, { inputs: { x: batch.x }, params }).outputs.pred!;
    const w = [...params[0]!.data];
    expect(p).toEqual([0, 1, 2].map((i) => X[2 * i]! * w[0]! + X[2 * i + 1]! * w[1]!));

    const evaluate = get(entries, "evaluate");
    expect(evaluate.outSlots).toEqual([{ kind: "loss" }, { kind: "metric", name: "mae" }]);
    expect(evaluate.inSlots.map((s) => (s.kind === "input" ? s.name : s.kind))).toEqual([
      "x",
      "y",
      "param",
      "param",
    ]);
    const ev = runEntry(evaluate, { inputs: batch, params });
    expect(ev.loss).toBeCloseTo(handGrad(w, 0).loss, 12);

    const step = get(entries, "step");
    expect(step.outSlots).toEqual([
      { kind: "loss" },
      { kind: "metric", name: "mae" },
      { kind: "param", index: 0 },
      { kind: "param", index: 1 },
      { kind: "state", index: 0 },
      { kind: "state", index: 1 },
    ]);
    expect(step.inSlots).toContainEqual({ kind: "state", index: 1 });
    expect(step.inSlots).not.toContainEqual({ kind: "step" });
  });

  it("has no step without a loss or without training settings", () => {
    const { model, gen } = linearModel();
    expect(buildEntries(model, null, gen).entries.map((e) => e.name)).toEqual([
      "init",
      "predict",
      "evaluate",
    ]);
    const noLoss: ModelIR = { ...model, loss: null, forward: { ...model.forward } };
    const r = buildEntries(noLoss, train({}), gen);
    expect(r.entries.map((e) => e.name)).toEqual(["init", "predict", "evaluate"]);
    expect(get(r.entries, "evaluate").outSlots).toEqual([{ kind: "metric", name: "mae" }]);
  });

  it("specialises dropout away in predict and keeps it, fed by the seed, in step", () => {
    const { model, gen } = linearModel({ dropout: 0.5 });
    const { entries } = buildEntries(model, train({}), gen);
    const ops = (name: Entry["name"]) => get(entries, name).graph.eqns.map((e) => e.op);
    expect(ops("predict")).not.toContain("random");
    expect(get(entries, "predict").inSlots).not.toContainEqual({ kind: "seed" });
    expect(ops("step")).toContain("random");
    expect(get(entries, "step").inSlots).toContainEqual({ kind: "seed" });

    // Different seeds drop different inputs, so the gradient step differs.
    const params = [tensor("f32", [2, 1], [0.3, -0.2]), tensor("f32", [1], [0.1])];
    const step = get(entries, "step");
    const a = runEntry(step, { inputs: batch, params, seed: 1 }).params[0]!.data;
    const b = runEntry(step, { inputs: batch, params, seed: 2 }).params[0]!.data;
    expect([...a]).not.toEqual([...b]);
  });
});

describe("the step graph", () => {
  it("is one graph: forward, backward and the momentum update", () => {
    const { model, gen } = linearModel();
    const { entries } = buildEntries(model, train({ momentum: 0.9 }), gen);
    expect(printGraph(get(entries, "step").graph)).toMatchInlineSnapshot(`
      "in %0:f32[B, 2] (x), %1:f32[B] (y), %2:f32[2, 1] (w), %3:f32[1] (b), %4:f32[2, 1] (w.momentum), %5:f32[1] (b.momentum)
        %6:f32[B, 1] = matmul %0 %2
        %7:f32[B, 1] = add %6 %3
        %8:f32[B] = reshape{shape=[B]} %7
        %9:f32[B] = sub %8 %1
        %10:f32[] = dimval{dim=B, dtype=f32}
        %11:f32[B] = mul %9 %9
        %12:f32[] = reduce_sum{axes=[0]} %11
        %13:f32[] = div %12 %10
        %14:f32[B] = abs %9
        %15:f32[] = reduce_sum{axes=[0]} %14
        %16:f32[] = div %15 %10
        %17:f32[] = const{value=1, dtype=f32, shape=[]}
        %18:f32[] = div %17 %10
        %19:f32[1] = reshape{shape=[1]} %18
        %20:f32[B] = broadcast{shape=[B]} %19
        %21:f32[B] = mul %20 %9
        %22:f32[B] = add %21 %21
        %23:f32[B, 1] = reshape{shape=[B, 1]} %22
        %24:f32[1] (grad(b)) = reduce_sum{axes=[0]} %23
        %25:f32[2, B] = transpose{perm=[1, 0]} %0
        %26:f32[2, 1] (grad(w)) = matmul %25 %23
        %27:f32[] = const{value=0.9, dtype=f32, shape=[]}
        %28:f32[2, 1] = mul %27 %4
        %29:f32[2, 1] (new w.momentum) = add %28 %26
        %30:f32[] = const{value=0.1, dtype=f32, shape=[]}
        %31:f32[2, 1] = mul %30 %29
        %32:f32[2, 1] (new w) = sub %2 %31
        %33:f32[1] = mul %27 %5
        %34:f32[1] (new b.momentum) = add %33 %24
        %35:f32[1] = mul %30 %34
        %36:f32[1] (new b) = sub %3 %35
      out %13, %16, %32, %36, %29, %34"
    `);
  });
});

describe("optimizer steps match a hand-written float64 update", () => {
  const cases: [string, Partial<OptimizerConfig>, string[]][] = [
    ["sgd", { kind: "sgd", lr: 0.1 }, []],
    ["gd", { kind: "gd", lr: 0.05 }, []],
    ["momentum", { kind: "sgd", lr: 0.1, momentum: 0.9 }, ["momentum"]],
    ["nesterov", { kind: "sgd", lr: 0.1, momentum: 0.8, nesterov: true }, ["momentum"]],
    ["adam", { kind: "adam", lr: 0.01, beta1: 0.8, beta2: 0.9, eps: 1e-6 }, ["m", "v"]],
    ["sgd + weight decay", { kind: "sgd", lr: 0.1, weightDecay: 0.01 }, []],
    ["adamw", { kind: "adam", lr: 0.01, weightDecay: 0.1 }, ["m", "v"]],
  ];
  for (const [name, o, moments] of cases) {
    it(name, () => {
      const { model, gen } = linearModel();
      const cfg = optimizer(o);
      const { entries, state } = buildEntries(model, train(o), gen);
      expect(state.map((s) => s.name)).toEqual(
        ["w", "b"].flatMap((p) => moments.map((m) => `${p}.${m}`)),
      );
      const step = get(entries, "step");
      let params = [tensor("f32", [2, 1], [0.3, -0.2]), tensor("f32", [1], [0.1])];
      // Optimizer state starts at zero.
      let st = state.map((s) => {
        const shape = s.type.shape.map((d) => dimAsConst(d)!);
        return tensor("f32", shape, new Array(shape[0]!).fill(0));
      });

      // Reference state: one flat [w0, w1, b] vector per moment.
      let p = [0.3, -0.2, 0.1];
      const s = moments.map(() => [0, 0, 0]);
      for (let t = 1; t <= 2; t++) {
        const r = runEntry(step, { inputs: batch, params, state: st, step: t });
        const g = handGrad([p[0]!, p[1]!], p[2]!);
        expect(r.loss).toBeCloseTo(g.loss, 12);
        p = handStep(cfg, p, [...g.gw, g.gb], s, t);
        params = r.params;
        st = r.state;
        const got = [...params[0]!.data, ...params[1]!.data];
        got.forEach((v, j) => expect(v).toBeCloseTo(p[j]!, 12));
        // State is ordered by param, then moment: w.m, w.v, b.m, b.v.
        moments.forEach((_, m) => {
          const ws = st[m]!;
          const bs = st[moments.length + m]!;
          [...ws.data, ...bs.data].forEach((v, j) => expect(v).toBeCloseTo(s[m]![j]!, 12));
        });
      }
    });
  }

  it("repeated steps reduce the loss", () => {
    const { model, gen } = linearModel();
    const { entries } = buildEntries(model, train({ kind: "sgd", lr: 0.05, momentum: 0.5 }), gen);
    const step = get(entries, "step");
    let params = [tensor("f32", [2, 1], [0, 0]), tensor("f32", [1], [0])];
    let st = [tensor("f32", [2, 1], [0, 0]), tensor("f32", [1], [0])];
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const r = runEntry(step, { inputs: batch, params, state: st });
      losses.push(r.loss);
      params = r.params;
      st = r.state;
    }
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.05);
    // The linear least-squares problem has an exact fit here (3 points, 3 unknowns).
    expect(losses[losses.length - 1]!).toBeLessThan(losses[30]!);
  });
});
