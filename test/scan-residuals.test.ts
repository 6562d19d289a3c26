// The reverse scan reads the forward step's values it would otherwise
// rebuild at a cost (an LSTM's gates, downstream of the recurrent matmul)
// from stacks the forward scan stores, within a memory budget, instead of
// recomputing them; over the budget it recomputes. The minimum cut that
// picks them is tested on its own at the end. Both paths give the same gradients (interpreted in
// float64 and compiled to JS), the stored one without the forward matmul in
// the reverse step, and the kernels dump says which one a scan took. The
// gradients themselves are checked against central differences and
// TensorFlow.js for std's rnn, lstm and gru in tfjs-rnn.test.ts (stored path).

import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { dump } from "../cli/node-host.ts";
import { dimEval } from "../compiler/dims.ts";
import { grad } from "../compiler/autodiff.ts";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import { elaborate, stdPath } from "../compiler/elaborate.ts";
import { lowerEntry } from "../compiler/emit.ts";
import { interpret, scalar, tensor } from "../compiler/interpret.ts";
import { verify } from "../compiler/ir-verify.ts";
import { VarGen, type Eqn, type Graph, type ModelIR } from "../compiler/ir.ts";
import { minVertexCut } from "../compiler/autodiff/scan-cut.ts";
import { planResiduals, type ResidualOptions } from "../compiler/autodiff/scan-residuals.ts";
import { programToString } from "../compiler/scalar-print/dump.ts";
import { simplify } from "../compiler/simplify.ts";
import { EntryRunner } from "../runtime/execute.ts";
import { uniform } from "./graph-helpers.ts";
import { graphPlan } from "./js-graph.ts";

// Counted, to see how often a scan's body is differentiated (once per plan).
vi.mock("../compiler/autodiff/scan-residuals.ts", async (original) => {
  const m = await original<typeof import("../compiler/autodiff/scan-residuals.ts")>();
  return { ...m, planResiduals: vi.fn(m.planResiduals) };
});

function model(body: string): ModelIR {
  const text = `dim B\nmodel m {\n${body}\n}\n`;
  const host = {
    readFile: (p: string) => (p === "main.dlg" ? text : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
  const r = elaborate("main.dlg", host);
  expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
  return [...r.models.values()][0]!;
}

const gradGraph = (m: ModelIR, opts: ResidualOptions): Graph => {
  const params = m.params.map((p) => p.var);
  const g = simplify(grad(m.forward, m.loss!, params, new VarGen(100_000), opts).graph);
  verify(g);
  return g;
};

const scans = (g: Graph) => g.eqns.filter((e): e is Eqn<"scan"> => e.op === "scan");
const matmuls = (g: Graph) => g.eqns.filter((e) => e.op === "matmul").length;

/** Every input of `m.forward` (x, y, params, seed, training) at a fixed random value. */
function values(m: ModelIR, b: number) {
  return m.forward.inputs.map((v, k) => {
    if (v.type.dtype !== "f32") return scalar(0, v.type.dtype);
    const shape = v.type.shape.map((d) => dimEval(d, { B: b }));
    return tensor(
      "f32",
      shape,
      uniform(
        shape.reduce((p, d) => p * d, 1),
        7 + k,
        -1,
        1,
      ),
    );
  });
}

const [b, steps, hidden] = [2, 5, 3];
/**
 * Recurrent layers: std's lstm and gru, and a plain tanh RNN cell written as
 * a scan, with the stacks each stores beyond the recompute path's: the LSTM's
 * gates i, f, g, o; the GRU's z, r and h @ u_n; none for the RNN, whose
 * reverse step reads back the h it yields.
 */
const layers: Record<string, { params: string; layer: string; extra: number }> = {
  lstm: { params: "", layer: `x |> lstm(${hidden})`, extra: 4 },
  gru: { params: "", layer: `x |> gru(${hidden})`, extra: 3 },
  rnn: {
    params: `  param w: [2, ${hidden}] init glorot_uniform
  param u: [${hidden}, ${hidden}] init orthogonal\n`,
    layer: `scan xt in x along 1 carry (h = zeros([B, ${hidden}])) {
    h = tanh(xt @ w + h @ u)
    yield h
  }`,
    extra: 0,
  },
};

/** `stored` computes what `recomputed` does: interpreted in float64, and compiled to JS. */
function expectSameResults(m: ModelIR, stored: Graph, recomputed: Graph) {
  const vals = values(m, b);
  const want = interpret(recomputed, vals, { B: b });
  const got = interpret(stored, vals, { B: b });
  want.forEach((w, k) =>
    w.data.forEach((v, i) =>
      expect(Math.abs(got[k]!.data[i]! - v)).toBeLessThan(1e-12 * Math.max(1, Math.abs(v))),
    ),
  );
  // Compiled: the forward kernels write the stacks the reverse kernels read.
  const bufs = vals.map((v) =>
    v.dtype === "f32" ? Float32Array.from(v.data) : Int32Array.from(v.data),
  );
  const js = new EntryRunner(graphPlan(stored, ["B"]), () => false).run([b], bufs, new Map());
  want.forEach((w, k) =>
    w.data.forEach((v, i) =>
      expect(Math.abs(js[k]![i]! - v)).toBeLessThan(1e-4 * Math.max(1, Math.abs(v))),
    ),
  );
}

/** Every scan's note, nested ones indented under theirs. */
function notes(g: Graph, depth = 0): string[] {
  return scans(g).flatMap((e) => [
    `${" ".repeat(depth)}${e.params.note ?? "(none)"}`,
    ...notes(e.params.body, depth + 2),
  ]);
}

describe("stored residuals of a scan", () => {
  for (const [name, { params, layer, extra }] of Object.entries(layers))
    it(`${name}: the reverse step reads what the forward step stored, with the recompute path's gradients`, () => {
      const m = model(`  input x: [B, ${steps}, 2]
  input y: [B, ${steps}, ${hidden}]
${params}  loss mse(${layer}, y)`);
      const stored = gradGraph(m, {});
      const recomputed = gradGraph(m, { budgetBytes: 0 });
      const [fwdS, revS] = scans(stored);
      const [fwdR, revR] = scans(recomputed);
      // More stacks forward, and the forward step's matmuls gone from the reverse step.
      expect(fwdS!.outs.length).toBe(fwdR!.outs.length + extra);
      const forward = matmuls(fwdS!.params.body);
      expect(forward).toBeGreaterThan(0);
      expect(matmuls(revS!.params.body)).toBe(matmuls(revR!.params.body) - forward);
      expect(revS!.params.note).toMatch(/^reads stored residuals at step t: /);
      expect(revR!.params.note).toMatch(/^recomputes the forward step: /);
      expectSameResults(m, stored, recomputed);
    });

  describe("nested scans", () => {
    const nested = model(`  input x: [B, 5, 4, 2]
  input y: [B, 3]
  param w: [2, 3] init glorot_uniform
  param u: [3, 3] init orthogonal
  h = scan xt in x along 1 carry (h = zeros([B, 3])) {
    g = scan xs in xt along 1 carry (g = h) { g = tanh(xs @ w + g @ u) }
    h = g
  }
  loss mse(h, y)`);

    it("the inner scans follow the caller's options", () => {
      expect(notes(gradGraph(nested, { dimSizes: { B: 8 }, budgetBytes: 0 }))).toEqual([
        "recomputes in the reverse scan: storing residual [4, B, 3] × 5 would take 0.00 MiB at B=8, over the 0.00 MiB budget",
        // Not differentiated where it runs: its reverse runs its own copy in the outer reverse step.
        "  (none)",
        "recomputes the forward step: storing residual [4, B, 3] × 5 would take 0.00 MiB at B=8, over the 0.00 MiB budget",
        "  recomputes in the reverse scan: storing g [B, 3] × 4 would take 0.00 MiB at B=8, over the 0.00 MiB budget",
        "  recomputes the forward step: storing g [B, 3] × 4 would take 0.00 MiB at B=8, over the 0.00 MiB budget",
      ]);
    });

    it("the outer scan stores its inner scan's stacks, with the recompute path's gradients", () => {
      const stored = gradGraph(nested, { dimSizes: { B: 8 } });
      // The inner forward scan runs in the outer forward body, stacking what the outer one stores.
      expect(notes(stored)).toEqual([
        "stores residuals: residual, residual (each [4, B, 3]) × 5 (0.00 MiB at B=8)",
        "  stores residuals: g [B, 3] × 4 (0.00 MiB at B=8)",
        "reads stored residuals at step t: residual, residual (each [4, B, 3])",
        "  reads stored residuals at step t: g [B, 3]",
      ]);
      // The outer reverse step runs no inner forward scan, and the inner reverse step no forward matmul.
      const recomputed = gradGraph(nested, { budgetBytes: 0 });
      const innerReverse = (g: Graph) => scans(scans(g)[1]!.params.body);
      expect(innerReverse(stored).map((e) => e.params.reverse)).toEqual([true]);
      expect(innerReverse(recomputed).map((e) => e.params.reverse)).toEqual([false, true]);
      const forward = matmuls(scans(scans(stored)[0]!.params.body)[0]!.params.body);
      expect(forward).toBe(2);
      expect(matmuls(innerReverse(stored)[0]!.params.body)).toBe(
        matmuls(innerReverse(recomputed)[1]!.params.body) - forward,
      );
      expectSameResults(nested, stored, recomputed);
    });
  });

  it("differentiates each scan's body once, however deep it is nested", () => {
    const m = model(`  input x: [B, 2, 2, 2, 2]
  input y: [B, 2]
  param w: [2, 2] init glorot_uniform
  h = scan a in x along 1 carry (h = zeros([B, 2])) {
    h = scan b in a along 1 carry (g = h) {
      g = scan c in b along 1 carry (k = g) { k = tanh(c @ w + k) }
    }
  }
  loss mse(h, y)`);
    vi.mocked(planResiduals).mockClear();
    gradGraph(m, {});
    expect(vi.mocked(planResiduals).mock.calls.length).toBe(3);
  });

  it("seeds zeros in the body for an output on the path that no cotangent reaches", () => {
    // zs reaches the loss only through stop_gradient: planned for, yet it gets no cotangent.
    const src = (extra: string) =>
      model(`  input x: [B, 4, 2]
  input y: [B, 4, 3]
  param w: [2, 3] init glorot_uniform
  hs, zs = scan xt in x along 1 carry (h = zeros([B, 3])) {
    h = tanh(xt @ w + h)
    yield h
    yield h * 3.0
  }
  loss mse(hs, y)${extra}`);
    const [m, plain] = [src(" + mean(stop_gradient(zs))"), src("")];
    const g = gradGraph(m, {});
    // The reverse scan reads no stack of zeros for it.
    expect(scans(g).map((e) => e.params.nXs)).toEqual(
      scans(gradGraph(plain, {})).map((e) => e.params.nXs),
    );
    const vals = values(m, b);
    const grads = (r: { data: ArrayLike<number> }[], n: number) =>
      r.slice(-n).map((t) => Array.from(t.data));
    const n = m.params.length;
    expect(grads(interpret(g, vals, { B: b }), n)).toEqual(
      grads(interpret(gradGraph(plain, {}), values(plain, b), { B: b }), n),
    );
    expectSameResults(m, g, gradGraph(m, { budgetBytes: 0 }));
  });

  it("plans for the outputs the loss reads, not for those only a metric reads", () => {
    const m = model(`  input x: [B, 6, 2]
  input y: [B, 6, 3]
  param w: [2, 3] init glorot_uniform
  param v: [3, 3] init glorot_uniform
  hs, zs = scan xt in x along 1 carry (h = zeros([B, 3])) {
    h = tanh(xt @ w + h)
    yield h
    yield tanh(h @ v) * 2.0
  }
  metric z = mean(zs)
  loss mse(hs, y)`);
    const stored = gradGraph(m, {});
    // tanh(h @ v) would be the residual of zs's reverse step, which nothing seeds.
    expect(scans(stored)[0]!.params.note).toBe(
      "stores nothing extra: the reverse scan reads back its output h [B, 3] (0.07 MiB at B=1024, no size known for B)",
    );
    expectSameResults(m, stored, gradGraph(m, { budgetBytes: 0 }));
  });

  it("weighs the stacks at the given dim sizes against the budget", () => {
    const m = model(`  input x: [B, 40, 2]
  input y: [B, 40, 8]
  loss mse(x |> lstm(8), y)`);
    // Gates i, f, g, o, [B, 8] each a step: 40 * 32 * 4 bytes = 5 KiB per example.
    const note = (opts: ResidualOptions) => scans(gradGraph(m, opts))[0]!.params.note;
    expect(note({ dimSizes: { B: 64 } })).toBe(
      "stores residuals: sigmoid(add(lstm_1.fg, 1)), sigmoid(lstm_1.ig), tanh(lstm_1.gg), sigmoid(lstm_1.og) (each [B, 8]) × 40 (0.31 MiB at B=64)",
    );
    expect(note({ dimSizes: { B: 64 }, budgetBytes: 320 * 1024 })).toBe(
      "stores residuals: sigmoid(add(lstm_1.fg, 1)), sigmoid(lstm_1.ig), tanh(lstm_1.gg), sigmoid(lstm_1.og) (each [B, 8]) × 40 (0.31 MiB at B=64)",
    );
    expect(note({ dimSizes: { B: 64 }, budgetBytes: 320 * 1024 - 1 })).toBe(
      "recomputes in the reverse scan: storing sigmoid(add(lstm_1.fg, 1)), sigmoid(lstm_1.ig), tanh(lstm_1.gg), sigmoid(lstm_1.og) (each [B, 8]) × 40 would take 0.31 MiB at B=64, over the 0.31 MiB budget",
    );
    // No size for B: weighed at 1024, and the note says so.
    expect(note({})).toBe(
      "stores residuals: sigmoid(add(lstm_1.fg, 1)), sigmoid(lstm_1.ig), tanh(lstm_1.gg), sigmoid(lstm_1.og) (each [B, 8]) × 40 (5.0 MiB at B=1024, no size known for B)",
    );
  });

  it("leaves a step that needs only cheap functions of its carries to recompute", () => {
    const m = model(`  input x: [B, 6, 3]
  input y: [B, 3]
  param a: [3] init ones
  h = scan xt in x along 1 carry (h = zeros([B, 3])) { h = tanh(h * a + xt) }
  loss mse(h, y)`);
    const [fwd, rev] = scans(gradGraph(m, {}));
    expect(fwd!.params.note).toBe(
      "recomputes in the reverse scan: it reads only cheap functions of carries and inputs",
    );
    expect(rev!.params.note).toMatch(/^recomputes the forward step: /);
  });

  it("does not count a yielded output off every costly path as a residual", () => {
    // The stacked h is free to read back, but no matmul feeds it: nothing to store.
    const m = model(`  input x: [B, 6, 3]
  input y: [B, 6, 3]
  param a: [3] init ones
  hs = scan xt in x along 1 carry (h = zeros([B, 3])) {
    h = tanh(h * a + xt)
    yield h
  }
  loss mse(hs, y)`);
    const [fwd] = scans(gradGraph(m, {}));
    expect(fwd!.params.note).toBe(
      "recomputes in the reverse scan: it reads only cheap functions of carries and inputs",
    );
  });

  it("`dlg dump --stage kernels` says what each scan of the LSTM sample stores and reads", () => {
    const r = dump("samples/lstm_adding.dlg", "kernels");
    expect(r.ok).toBe(true);
    const notes = r.text!.split("\n").filter((l) => l.startsWith("  // "));
    // The step entry's forward scan (T = 50, the train block's batch 50) and its reverse.
    expect(notes).toEqual([
      "  // stores residuals: sigmoid(add(lstm_1.fg, 1)), sigmoid(lstm_1.ig), tanh(lstm_1.gg), sigmoid(lstm_1.og) (each [B, 32]) × 50 (1.2 MiB at B=50)",
      "  // reads stored residuals at step t: sigmoid(add(lstm_1.fg, 1)), sigmoid(lstm_1.ig), tanh(lstm_1.gg), sigmoid(lstm_1.og) (each [B, 32])",
    ]);
  });

  it("a recomputing scan's kernels carry its note", () => {
    const m = model(`  input x: [B, 4, 2]
  input y: [B, 4, 3]
  loss mse(x |> gru(3), y)`);
    const text = programToString(lowerEntry(gradGraph(m, { budgetBytes: 0 })).kernels);
    expect(text).toMatch(
      /\n {2}\/\/ recomputes in the reverse scan: storing .* over the 0\.00 MiB budget\n/,
    );
    expect(text).toMatch(/\n {2}\/\/ recomputes the forward step: /);
  });
});

describe("minVertexCut", () => {
  // z (0) feeds four slices (1-4), each one gate (5-8) the consumer reads.
  const fan = (zCost: number, sliceCost: number, gateCost: number) => ({
    capacity: [zCost, ...[1, 2, 3, 4].map(() => sliceCost), ...[5, 6, 7, 8].map(() => gateCost)],
    sources: [0],
    sinks: [5, 6, 7, 8],
    edges: [1, 2, 3, 4].flatMap((s): [number, number][] => [
      [0, s],
      [s, s + 4],
    ]),
  });

  it("stores the cheapest set, and of equally cheap ones the nearest the reads", () => {
    expect(minVertexCut(fan(4, 1, 1))).toEqual([5, 6, 7, 8]);
    expect(minVertexCut(fan(3, 1, 1))).toEqual([0]);
    expect(minVertexCut(fan(9, 1, 2))).toEqual([1, 2, 3, 4]);
  });

  it("reads a free node back, and gives up when only unstorable nodes separate", () => {
    expect(minVertexCut(fan(4, 1, 0))).toEqual([5, 6, 7, 8]);
    expect(minVertexCut(fan(Infinity, Infinity, Infinity))).toBeNull();
  });

  it("leaves out free nodes that no source reaches", () => {
    expect(minVertexCut({ capacity: [5, 0], sources: [0], sinks: [0, 1], edges: [] })).toEqual([0]);
    expect(minVertexCut({ capacity: [0, 0], sources: [], sinks: [0, 1], edges: [] })).toEqual([]);
  });
});
