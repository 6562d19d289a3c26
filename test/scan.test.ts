// `scan` from source to gradients: elaboration (captured consts, carries,
// yields, tuple results), the printed IR, backpropagation through time as a
// reverse scan (never unrolled), and simplification of the loops.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { grad } from "../compiler/autodiff.ts";
import { compile, dump } from "../cli/node-host.ts";
import { loadModule } from "../cli/module.ts";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import { elaborate, stdPath } from "../compiler/elaborate.ts";
import { interpret, scalar, tensor } from "../compiler/interpret.ts";
import { printGraph } from "../compiler/ir-print.ts";
import { verify } from "../compiler/ir-verify.ts";
import { VarGen, type Eqn, type Graph, type ModelIR, type OpParams } from "../compiler/ir.ts";
import { simplify } from "../compiler/simplify.ts";
import { graphPlan } from "./js-graph.ts";
import { EntryRunner } from "../runtime/execute.ts";
import { scratchF64 } from "../runtime/kernels.ts";
import type { EntryPlan } from "../runtime/program.ts";
import { randomUniform } from "../runtime/rng.ts";
import { uniform } from "./graph-helpers.ts";

function host(text: string) {
  return {
    readFile: (p: string) => (p === "main.dlg" ? text : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
}

function model(body: string): ModelIR {
  const r = elaborate("main.dlg", host(`dim B\nmodel m {\n${body}\n}\n`));
  expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
  const m = [...r.models.values()][0]!;
  verify(m.forward);
  return m;
}

const scans = (g: Graph) => g.eqns.filter((e): e is Eqn<"scan"> => e.op === "scan");

describe("scan elaboration", () => {
  it("captures the tensors the body reads from outside, params of blocks called in it included", () => {
    const m = model(`  input x: [B, 6, 3]
  param w: [3, 5] init glorot_uniform
  hs = scan xt in x along 1 carry (h = zeros([B, 5])) {
    h = tanh(xt @ w + (h |> dense(5)))
    yield h
  }
  output y = hs`);
    const [s] = scans(m.forward);
    const p = s!.params;
    // w, and dense_1.w / dense_1.b: the body reads them as consts.
    expect(p.nConsts).toBe(3);
    expect(s!.inputs.slice(0, 3).map((v) => v.hint)).toEqual(["w", "dense_1.w", "dense_1.b"]);
    expect(m.params.map((q) => q.path)).toEqual(["w", "dense_1.w", "dense_1.b"]);
    expect([p.nCarry, p.nXs, p.axis, p.reverse]).toEqual([1, 1, 1, false]);
    expect(m.outputs[0]!.var.type.shape.map(String)).toHaveLength(3);
  });

  it("gives the final carries, as a list, when the body yields nothing", () => {
    const m = model(`  input x: [B, 4, 2]
  h, c = scan xt in x along 1 carry (h = zeros([B, 2]), c = zeros([B, 2])) {
    c = c + xt
    h = h + c
  }
  output last = h
  output total = c`);
    const x = tensor("f32", [1, 4, 2], [1, 10, 2, 20, 3, 30, 4, 40]);
    const vals = m.forward.inputs.map((v, i) =>
      i === 0 ? x : v.type.dtype === "i32" ? scalar(0, "i32") : scalar(0, "bool"),
    );
    const [last, total] = interpret(m.forward, vals);
    // c: running sums; h: sum of the running sums.
    expect([...total!.data]).toEqual([10, 100]);
    expect([...last!.data]).toEqual([1 + 3 + 6 + 10, 10 + 30 + 60 + 100]);
  });

  it("prints the body indented under the scan", () => {
    const m = model(`  input x: [B, 3, 2]
  output y = scan xt in x along 1 carry (h = zeros([B, 2])) {
    h = h + xt
    yield h * 2.0
  }`);
    const text = printGraph(m.forward);
    expect(text).toMatch(/= scan\{length=3, axis=1, reverse=false, nConsts=0, nCarry=1, nXs=1\}/);
    expect(text).toContain("\n    in %0:f32[B, 2] (h), %1:f32[B, 2] (xt)\n      %2:f32[B, 2]");
    expect(text).toMatch(/\n {4}out %\d+, %\d+\n/);
  });
});

describe("backpropagation through time", () => {
  const lstmSrc = `dim B
model m {
  input x: [B, 7, 3]
  input y: [B, 7, 4]
  loss mse(x |> lstm(4), y)
}
`;

  it("`dlg dump --stage grad` of an LSTM shows one reverse scan, not an unrolled loop", () => {
    const r = dump("main.dlg", "grad", { host: host(lstmSrc) });
    expect(r.ok).toBe(true);
    const top = r.text!.split("\n").filter((l) => /^ {2}%/.test(l));
    const topScans = top.filter((l) => l.includes("= scan{"));
    expect(topScans).toHaveLength(2);
    expect(topScans[0]).toContain("reverse=false");
    expect(topScans[1]).toContain("reverse=true");
    // Unrolled, 7 steps would need 7 recurrent matmuls forward and 14 backward at top level.
    expect(top.filter((l) => l.includes("= matmul")).length).toBeLessThan(5);
  });

  it("the reverse scan carries the cotangents of h and c and the running gradient of u", () => {
    const r = elaborate("main.dlg", host(lstmSrc));
    const m = [...r.models.values()][0]!;
    const g = simplify(
      grad(
        m.forward,
        m.loss!,
        m.params.map((p) => p.var),
        new VarGen(100_000),
      ).graph,
    );
    verify(g);
    const found = scans(g);
    expect(found.length).toBe(2);
    const [fwd, rev] = [found[0]!, found[1]!];
    // Forward: h and c carried, h yielded, both carries stacked as residuals,
    // and the gates i, f, g, o stored for the reverse step.
    expect([fwd.params.nCarry, fwd.outs.length]).toEqual([2, 9]);
    // std's lstm projects the input before the loop, so u is the body's only const.
    const p: OpParams["scan"] = rev.params;
    expect([p.reverse, p.nConsts, p.nCarry]).toEqual([true, 1, 3]);
    expect(rev.outs.map((v) => v.hint)).toContain("grad(lstm_1.u)");
  });
});

describe("simplifying scans", () => {
  it("drops a carry and a yield nothing reads, and the consts only they used", () => {
    const m = model(`  input x: [B, 4, 2]
  param w: [2, 2] init glorot_uniform
  sums, unused = scan xt in x along 1 carry (h = zeros([B, 2]), steps = zeros([B, 1])) {
    steps = steps + 1.0
    h = h + xt
    yield h
    yield h @ w
  }
  output y = sums`);
    const before = scans(m.forward)[0]!;
    expect([before.params.nConsts, before.params.nCarry, before.outs.length]).toEqual([1, 2, 4]);
    const g = simplify(m.forward);
    verify(g);
    const after = scans(g)[0]!;
    // Left: h (the yield reads it) and its yield; `steps`, the second yield and w are dead.
    expect([after.params.nConsts, after.params.nCarry, after.outs.length]).toEqual([0, 1, 2]);
    expect(after.params.body.eqns.map((e) => e.op)).toEqual(["add"]);
  });
});

describe("nested scans", () => {
  const src = `dim B
model m {
  input x: [B, 3, 4, 2]
  input y: [B, 3, 5]
  param w: [2, 5] init glorot_uniform
  outer = scan row in x along 1 carry (acc = zeros([B, 5])) {
    inner = scan xt in row along 1 carry (h = acc) {
      h = tanh(xt @ w + h)
    }
    acc = inner
    yield inner * 2.0
  }
  output o = outer
  loss mse(outer, y)
}`;

  it("differentiate through both loops, and the compiled gradient matches the interpreter", () => {
    const r = elaborate("main.dlg", host(src));
    const m = [...r.models.values()][0]!;
    const w = m.params[0]!.var;
    const g = simplify(grad(m.forward, m.loss!, [w], new VarGen(100_000)).graph);
    verify(g);
    // The gradient graph runs a reverse outer scan whose body holds a reverse inner scan.
    const rev = scans(g).find((e) => e.params.reverse)!;
    expect(scans(rev.params.body).some((e) => e.params.reverse)).toBe(true);

    const dims = { B: 2 };
    const t = (shape: number[], salt: number) =>
      tensor(
        "f32",
        shape,
        uniform(
          shape.reduce((p, d) => p * d, 1),
          salt,
          -1,
          1,
        ),
      );
    const vals = [
      t([2, 3, 4, 2], 1),
      t([2, 3, 5], 2),
      t([2, 5], 3),
      scalar(0, "i32"),
      scalar(0, "bool"),
    ];
    const want = interpret(g, vals, dims);

    // Central differences on w agree with the reverse scans.
    const lossAt = (wv: (typeof vals)[2]) =>
      interpret(m.forward, [vals[0]!, vals[1]!, wv!, vals[3]!, vals[4]!], dims)[1]!.data[0]!;
    const analytic = want[want.length - 1]!;
    analytic.data.forEach((a, j) => {
      const at = (d: number) => {
        const data = vals[2]!.data.slice();
        data[j]! += d;
        return lossAt({ ...vals[2]!, data });
      };
      expect(Math.abs(a - (at(1e-6) - at(-1e-6)) / 2e-6)).toBeLessThan(1e-7);
    });

    const plan = graphPlan(g, ["B"]);
    const bufs = vals.map((v) =>
      v.dtype === "f32" ? Float32Array.from(v.data) : Int32Array.from(v.data),
    );
    const got = new EntryRunner(plan, () => false).run([2], bufs, new Map());
    want.forEach((w, k) => w.data.forEach((v, i) => expect(got[k]![i]!).toBeCloseTo(v, 5)));
  });

  it("train the same on js and wasm when the outer scan stores its inner scan's stacks", async () => {
    const text = src.replace(/\}$/, "}\ntrain t for m { optimizer sgd(0.1) }\n");
    const compiled = (target: "js" | "wasm") => {
      const c = compile("main.dlg", { host: host(text), target });
      expect(c.diagnostics).toEqual([]);
      return c.js!;
    };
    const notes = dump("main.dlg", "kernels", { host: host(text), target: "js" });
    expect(notes.text!).toMatch(
      /\/\/ stores residuals: residual, residual \(each \[4, B, 5\]\) × 3/,
    );
    const batch = {
      x: Float32Array.from({ length: 3 * 3 * 4 * 2 }, (_, i) => Math.sin(i)),
      y: Float32Array.from({ length: 3 * 3 * 5 }, (_, i) => Math.cos(i)),
    };
    const trained = async (target: "js" | "wasm") => {
      const m = await (await loadModule(compiled(target))).createModel({ seed: 5 });
      const { loss } = await m.step(batch);
      return { loss, w: [...(await m.params()).w!] };
    };
    const [js, wasm] = [await trained("js"), await trained("wasm")];
    expect(Math.abs(wasm.loss - js.loss)).toBeLessThan(1e-5 * Math.abs(js.loss));
    wasm.w.forEach((v, i) => expect(Math.abs(v - js.w[i]!)).toBeLessThan(1e-5));
  });
});

describe("random draws in a scan body", () => {
  const drawSrc = `  input x: [B, 5, 3]
  output y = scan xt in x along 1 carry (h = zeros([B, 3])) {
    h = h + xt
    yield uniform(shape(h))
  }`;
  const inputs = (seed: number) => [
    tensor("f32", [2, 5, 3], uniform(30, 7, -1, 1)),
    scalar(seed, "i32"),
    scalar(1, "bool"),
  ];
  /** The [5] steps of a [2, 5, 3] output, each as its 6 values. */
  const steps = (data: ArrayLike<number>) =>
    [...Array(5).keys()].map((t) =>
      [0, 1].flatMap((b) => [0, 1, 2].map((j) => data[b * 15 + t * 3 + j]!)),
    );

  it("draws fresh values at every step, and the same ones for the same seed", () => {
    const m = model(drawSrc);
    // The body reads a per-step seed, scanned like x, instead of capturing the call's seed.
    const [s] = scans(m.forward);
    expect([s!.params.nConsts, s!.params.nXs]).toEqual([0, 2]);
    const run = (seed: number) => [...interpret(m.forward, inputs(seed), { B: 2 })[0]!.data];
    const a = run(-123456789);
    const per = steps(a).map((v) => v.join());
    expect(new Set(per).size).toBe(5);
    expect(run(-123456789)).toEqual(a);
    expect(run(42)).not.toEqual(a);
    a.forEach((v) => expect(v >= 0 && v < 1).toBe(true));
  });

  it("gives every (outer, inner) step of nested scans draws of its own", () => {
    const m = model(`  input x: [B, 3, 4, 2]
  output y = scan row in x along 1 carry (acc = zeros([B, 4, 2])) {
    acc = scan xt in row along 1 carry (h = zeros([B, 2])) {
      yield uniform(shape(h))
    }
    yield acc
  }`);
    const x = tensor("f32", [1, 3, 4, 2], uniform(24, 5, -1, 1));
    const [y] = interpret(m.forward, [x, scalar(7, "i32"), scalar(1, "bool")], { B: 1 });
    // [1, 3 outer, 4 inner, 2]: 12 pairs of draws, all different.
    const pairs = [...Array(12).keys()].map((k) => `${y!.data[2 * k]},${y!.data[2 * k + 1]}`);
    expect(new Set(pairs).size).toBe(12);
  });

  it("draws the same values compiled to JS as in the interpreter", () => {
    const m = model(drawSrc);
    const g = simplify(m.forward);
    for (const seed of [0, -123456789, 2147483647]) {
      const vals = inputs(seed);
      const want = interpret(g, vals, { B: 2 })[0]!;
      const plan = graphPlan(g, ["B"]);
      const bufs = vals.map((v) =>
        v.dtype === "f32" ? Float32Array.from(v.data) : Int32Array.from(v.data),
      );
      const got = new EntryRunner(plan, () => false).run([2], bufs, new Map());
      // 24-bit uniforms are exact in float32: the backends agree bit for bit.
      expect([...got[0]!]).toEqual([...want.data]);
    }
  });

  it("backpropagates through dropout in the body with the forward step's masks", () => {
    const m = model(`  input x: [B, 4, 3]
  input y: [B, 4, 3]
  param w: [3, 3] init glorot_uniform
  hs = scan xt in x along 1 carry (h = zeros([B, 3])) {
    h = tanh(dropout(xt @ w + h, 0.5))
    yield h
  }
  loss mse(hs, y)`);
    const w = m.params[0]!.var;
    const g = simplify(grad(m.forward, m.loss!, [w], new VarGen(100_000)).graph);
    verify(g);
    const dims = { B: 2 };
    const vals = [
      tensor("f32", [2, 4, 3], uniform(24, 1, -1, 1)),
      tensor("f32", [2, 4, 3], uniform(24, 2, -1, 1)),
      tensor("f32", [3, 3], uniform(9, 3, -1, 1)),
      scalar(987654321, "i32"),
      scalar(1, "bool"),
    ];
    const out = interpret(g, vals, dims);
    const analytic = out[out.length - 1]!;
    const lossAt = (data: (typeof vals)[2]["data"]) =>
      interpret(m.forward, [vals[0]!, vals[1]!, { ...vals[2]!, data }, vals[3]!, vals[4]!], dims)[
        m.forward.outputs.length - 1
      ]!.data[0]!;
    let zeros = 0;
    analytic.data.forEach((a, j) => {
      const at = (d: number) => {
        const data = vals[2]!.data.slice();
        data[j]! += d;
        return lossAt(data);
      };
      const fd = (at(1e-5) - at(-1e-5)) / 2e-5;
      if (a === 0) zeros++;
      expect(Math.abs(a - fd) / Math.max(Math.abs(a), Math.abs(fd), 1e-3)).toBeLessThan(1e-6);
    });
    // Dropout really is on: some weight gradients differ from the mask-free ones.
    const off = interpret(g, [...vals.slice(0, 4), scalar(0, "bool")], dims);
    expect([...off[off.length - 1]!.data]).not.toEqual([...analytic.data]);
    expect(zeros).toBeLessThan(9);
  });
});

describe("scans along any axis", () => {
  /** A compiled graph run on float32 buffers (kernels, schedule and memory plan as emitted). */
  const runJs = (g: Graph, vals: ReturnType<typeof tensor>[]) => {
    const plan = graphPlan(g, []);
    const bufs = vals.map((v) =>
      v.dtype === "f32" ? Float32Array.from(v.data) : Int32Array.from(v.data),
    );
    return new EntryRunner(plan, () => false).run([], bufs, new Map());
  };

  it("`dlg dump --stage grad` differentiates a scalar carry of a scan along axis 1", () => {
    // Was an internal error: the carry's residuals were stacked along axis 1 of a rank-1 stack.
    const src = `model m { param w: [2, 3]  s = scan xt in w along 1 carry (s = 0.0) { s = s + sum(xt) }  loss s }`;
    const r = dump("main.dlg", "grad", { host: host(src) });
    expect(r.ok).toBe(true);
    expect(r.text).toContain("reverse=true");
  });

  for (const shape of [
    [2, 3],
    [2, 3, 4],
  ])
    for (const axis of [0, 1, -1]) {
      const a = axis < 0 ? axis + shape.length : axis;
      const slice = shape.filter((_, i) => i !== a);
      it(`gradients of a scan along axis ${axis} of a [${shape}] param match finite differences, interpreted and compiled`, () => {
        // A scalar carry (the ICE's case), a carry shaped like a step, and a yield stacked back along the axis.
        const m = model(`  param w: [${shape}]
  ys = scan xt in w along ${axis} carry (s = 0.0, h = zeros([${slice}])) {
    h = tanh(h + xt)
    s = s + sum(xt * h)
    yield h * s
  }
  loss sum(ys * ys) + sum(ys)`);
        const w = m.params[0]!.var;
        const g = simplify(grad(m.forward, m.loss!, [w], new VarGen(100_000)).graph);
        verify(g);
        const n = shape.reduce((p, d) => p * d, 1);
        const vals = [
          tensor("f32", shape, uniform(n, 11, -1, 1)),
          scalar(0, "i32"),
          scalar(0, "bool"),
        ];
        const out = interpret(g, vals);
        const analytic = out[out.length - 1]!;
        const loss = m.forward.outputs.indexOf(m.loss!);
        const lossAt = (data: (typeof vals)[0]["data"]) =>
          interpret(m.forward, [{ ...vals[0]!, data }, vals[1]!, vals[2]!])[loss]!.data[0]!;
        analytic.data.forEach((av, j) => {
          const at = (d: number) => {
            const data = vals[0]!.data.slice();
            data[j]! += d;
            return lossAt(data);
          };
          const fd = (at(1e-6) - at(-1e-6)) / 2e-6;
          expect(Math.abs(av - fd) / Math.max(Math.abs(av), Math.abs(fd), 1e-3)).toBeLessThan(1e-6);
        });
        const got = runJs(g, vals);
        out.forEach((want, k) =>
          want.data.forEach((v, i) =>
            expect(Math.abs(got[k]![i]! - v)).toBeLessThan(1e-4 * Math.max(1, Math.abs(v))),
          ),
        );
      });
    }
});
