// The `orthogonal` initialiser: the Q of a Gaussian matrix by Gram–Schmidt
// with re-orthogonalisation, a scan in the init graph. Checked for
// orthogonality (XᵀX = I for tall matrices, XXᵀ = I for wide ones, within
// 1e-5, in float64 and in the compiled float32 module), for the shape
// conventions (leading axes fold into rows, `gain` scales), for degenerate
// shapes ([1, 1], one row, one column), and for the statistics of a
// Haar-random orthogonal matrix.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { compile } from "../cli/node-host.ts";
import { stdPath } from "../compiler/elaborate.ts";
import { interpret, scalar, tensor, type Tensor } from "../compiler/interpret.ts";
import { dlgModel } from "./tfjs-helpers.ts";

/**
 * The initial value of every param of a one-layer model, from the init graph
 * with `seed`. The output reads them all (a param nothing reads is dropped).
 */
function initParams(decl: string, seed = 1): Tensor[] {
  const m = dlgModel(
    `dim B\nmodel m {\n  input x: [B, 1]\n  ${decl}\n  output o = x\n  output r = l2(params)\n}`,
  );
  return interpret(m.init, [scalar(seed, "i32")]);
}

/** Largest |(MᵀM − I)ᵢⱼ| of the [rows, cols] matrix m, or of MMᵀ when `wide`. */
function gramError(m: Tensor, rows: number, cols: number): number {
  const tall = rows >= cols;
  const n = tall ? cols : rows;
  const at = (r: number, c: number) => m.data[r * cols + c]!;
  let worst = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < (tall ? rows : cols); k++)
        dot += tall ? at(k, i) * at(k, j) : at(i, k) * at(j, k);
      worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
    }
  return worst;
}

/** A compiled module's initial `w: [rows, cols] init orthogonal` (float32, the JS backend). */
async function compiledInit(
  rows: number,
  cols: number,
  seed: number,
): Promise<{ w: Float32Array; createMs: number }> {
  const src = `dim B\nmodel m {\n  input x: [B, ${rows}]\n  param w: [${rows}, ${cols}] init orthogonal\n  output o = x @ w\n}`;
  const host = {
    readFile: (p: string) => (p === "m.dlg" ? src : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
  const r = compile("m.dlg", { host });
  expect(r.ok).toBe(true);
  const mod = await loadModule(r.js!);
  const t0 = performance.now();
  const m = await mod.createModel({ seed });
  const createMs = performance.now() - t0;
  return { w: (await m.params()).w!, createMs };
}

describe("orthogonal initialiser", () => {
  for (const [rows, cols] of [
    [6, 6],
    [12, 5],
    [5, 12],
    [32, 32],
  ] as const)
    it(`[${rows}, ${cols}] has orthonormal ${rows >= cols ? "columns" : "rows"}`, () => {
      for (const seed of [1, 2, 3]) {
        const [w] = initParams(`param w: [${rows}, ${cols}] init orthogonal`, seed);
        expect(w!.shape).toEqual([rows, cols]);
        expect(gramError(w!, rows, cols)).toBeLessThan(1e-5);
      }
    });

  it("folds leading axes into rows, like Keras, and scales by `gain`", () => {
    const [w] = initParams("param w: [3, 4, 6] init orthogonal(gain: 2.0)");
    expect(w!.shape).toEqual([3, 4, 6]);
    const half = { ...w!, data: w!.data.map((x) => x / 2) };
    expect(gramError(half, 12, 6)).toBeLessThan(1e-5);
  });

  it("draws a different matrix for each seed and each param", () => {
    const [a, b] = initParams("param a: [8, 8] init orthogonal\n  param b: [8, 8] init orthogonal");
    const [c] = initParams("param a: [8, 8] init orthogonal", 2);
    expect([...a!.data]).not.toEqual([...b!.data]);
    expect([...a!.data]).not.toEqual([...c!.data]);
  });

  it("has the statistics of a Haar-random orthogonal matrix", () => {
    // √n·X of a Haar matrix has entries close to N(0, 1) for large n: pool 4
    // draws of 32×32 (4096 entries) and check the mean, the fraction of
    // negatives and the fourth moment (3 for a Gaussian; a signed permutation
    // would give 1, a dense ±1/√n pattern 1 as well). The trace of a Haar
    // matrix has mean 0 and variance 1: it is not biased towards the identity.
    const xs: number[] = [];
    const traces: number[] = [];
    for (const seed of [11, 12, 13, 14]) {
      const [w] = initParams("param w: [32, 32] init orthogonal", seed);
      w!.data.forEach((x) => xs.push(x * Math.sqrt(32)));
      let tr = 0;
      for (let i = 0; i < 32; i++) tr += w!.data[i * 33]!;
      traces.push(tr);
    }
    const n = xs.length;
    const mean = xs.reduce((s, x) => s + x, 0) / n;
    const m2 = xs.reduce((s, x) => s + x * x, 0) / n;
    const m4 = xs.reduce((s, x) => s + x ** 4, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.06); // sd 1/64
    expect(m2).toBeCloseTo(1, 6); // exact: the rows are unit vectors
    expect(m4).toBeGreaterThan(2.6);
    expect(m4).toBeLessThan(3.4);
    const negatives = xs.filter((x) => x < 0).length / n;
    expect(Math.abs(negatives - 0.5)).toBeLessThan(0.03);
    for (const tr of traces) expect(Math.abs(tr)).toBeLessThan(4.5);
  });

  it("stays orthogonal in float32: the compiled module's init, square, tall and wide", async () => {
    for (const [rows, cols] of [
      [24, 24],
      [40, 7],
      [7, 40],
      [64, 64],
    ] as const) {
      const { w } = await compiledInit(rows, cols, 5);
      expect(gramError(tensor("f32", [rows, cols], w), rows, cols)).toBeLessThan(1e-5);
    }
  });

  it("is finite and unit-norm on degenerate shapes: [1, 1], one row, one column", () => {
    // [1, 1] is ±1; a single row or column is a unit vector. Newton–Schulz gave NaN on
    // [1, 1] and the RNG's first draw was always 0, so entry 0 of [1, n] was always 0.
    for (const shape of [
      [1, 1],
      [1, 9],
      [9, 1],
    ] as const) {
      for (const seed of [1, 2, 3, 4]) {
        const [w] = initParams(`param w: [${shape.join(", ")}] init orthogonal`, seed);
        expect(w!.data.every(Number.isFinite)).toBe(true);
        expect(gramError(w!, shape[0], shape[1])).toBeLessThan(1e-5);
      }
    }
  });

  it("draws the first entry like any other: symmetric, with variance 1/n", () => {
    // The first coordinate of a uniform unit vector in R^n has mean 0 and variance 1/n.
    for (const shape of [
      [1, 4],
      [4, 1],
      [1, 1],
    ] as const) {
      const n = shape[0] * shape[1];
      const m = dlgModel(
        `dim B\nmodel m {\n  input x: [B, 1]\n  param w: [${shape.join(", ")}] init orthogonal\n  output o = x\n  output r = l2(params)\n}`,
      );
      const firsts: number[] = [];
      for (let seed = 1; seed <= 200; seed++)
        firsts.push(interpret(m.init, [scalar(seed, "i32")])[0]!.data[0]!);
      const mean = firsts.reduce((s, x) => s + x, 0) / firsts.length;
      const m2 = firsts.reduce((s, x) => s + x * x, 0) / firsts.length;
      const negatives = firsts.filter((x) => x < 0).length / firsts.length;
      expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(n * firsts.length));
      expect(Math.abs(m2 - 1 / n)).toBeLessThan(0.25 / n);
      expect(Math.abs(negatives - 0.5)).toBeLessThan(0.12);
    }
  });

  it("creates a 512×512 orthogonal param in O(n³) time (printed, not asserted)", async () => {
    const { w, createMs } = await compiledInit(512, 512, 3);
    const err = gramError(tensor("f32", [512, 512], w), 512, 512);
    console.log(
      `orthogonal 512×512: createModel ${createMs.toFixed(0)} ms, max |QᵀQ − I| = ${err.toExponential(2)}`,
    );
    expect(err).toBeLessThan(1e-4);
  }, 60_000);

  it("reports a shape it cannot orthogonalise", () => {
    expect(() => initParams("param w: [7] init orthogonal")).toThrow(/needs a matrix/);
  });
});
