// The WGSL code generator on Dawn (SwiftShader without a GPU): kernels lowered
// from small graphs run on WebGPU and match the reference interpreter (its
// float32 mode where the JS backend's exact semantics matter: floor division
// and modulo, pow, sign, casts, NaN and the infinities), the RNG bit for bit,
// argmax's tie and NaN rules, grids past 65535 workgroups, long reductions
// and matmuls whose shapes the tiles do not divide.

import { describe, expect, it } from "vitest";
import { interpret, tensor, type Tensor } from "../compiler/interpret.ts";
import { lowerGraph } from "../compiler/fuse.ts";
import { binaryOps, compareOps, unaryOps, type Graph, type Var } from "../compiler/ir.ts";
import { dimConst, dimEval, shapeOf } from "../compiler/dims.ts";
import { mangle } from "../compiler/mangle.ts";
import { scanExample, scanInputs } from "./scan-fixture.ts";
import {
  iadd,
  iconst,
  idiv,
  iloop,
  imod,
  lit,
  type IExpr,
  type KernelProgram,
} from "../compiler/kernel.ts";
import { randomUniform } from "../runtime/rng.ts";
import { acquireDevice } from "../runtime/webgpu/device.ts";
import type { Buffer } from "../runtime/program.ts";
import { build, uniform, type Built, type Emit } from "./graph-helpers.ts";
import { testGpu } from "./webgpu-env.ts";
import { runOnGpu } from "./wgsl-run.ts";
import { evalSize } from "../runtime/sizes.ts";

const gpu = await testGpu();
const device = gpu ? (await acquireDevice({ gpu })).device : null;

async function gpuRun(g: Graph, inputs: Tensor[], dims: Record<string, number> = {}) {
  return runOnGpu(device!, lowerGraph(g, { fuse: true, scatter: "gather" }), inputs, dims);
}

/** Relative `tol` (absolute below 1e-30: WGSL may flush denormals); NaNs and infinities must agree exactly. */
function expectClose(actual: Buffer, want: Tensor, what: string, tol = 1e-5): void {
  expect(actual.length, `${what}: element count`).toBe(want.data.length);
  for (let i = 0; i < want.data.length; i++) {
    const [a, b] = [actual[i]!, want.data[i]!];
    if (Number.isNaN(a) || Number.isNaN(b) || !Number.isFinite(b)) {
      if (!Object.is(a, b)) expect.fail(`${what}[${i}]: got ${a}, want ${b}`);
      continue;
    }
    if (Math.abs(a - b) > tol * Math.abs(b) + 1e-30)
      expect.fail(`${what}[${i}]: got ${a}, want ${b} (relative tolerance ${tol})`);
  }
}

/** Run `b` on the GPU and the interpreter (float32 mode when `f32`) and compare every output. */
async function check(
  b: Built,
  inputs: Tensor[],
  opts: { dims?: Record<string, number>; tol?: number; f32?: boolean } = {},
) {
  const got = await gpuRun(b.graph, inputs, opts.dims);
  const want = interpret(b.graph, inputs, opts.dims ?? {}, opts.f32 ?? true);
  want.forEach((w, k) => expectClose(got.outputs[k]!, w, `output ${k}`, opts.tol));
  return got;
}

/** Values where JS and WGSL builtins part ways: signed zeros, NaN, infinities, huge, tiny, negative integers. */
const specials = [
  0,
  -0,
  1,
  -1,
  0.5,
  -2.5,
  3,
  -3,
  2,
  -8,
  1e-4,
  -1e-4,
  0.1,
  20,
  -20,
  100,
  -100,
  1e30,
  -1e30,
  NaN,
  Infinity,
  -Infinity,
];
const f32t = (data: number[]) => tensor("f32", [data.length], data);
const i32t = (data: number[]) => tensor("i32", [data.length], data);
const vec = (dtype: "f32" | "i32" | "bool", n: number) => ({ dtype, shape: shapeOf(n) });

/** [rows, cols] f32 with values in [0, 1): sums without cancellation, so the tolerance can stay tight. */
const mat = (shape: number[], salt: number) =>
  tensor(
    "f32",
    shape,
    uniform(
      shape.reduce((a, b) => a * b, 1),
      salt,
      0,
      1,
    ),
  );
const f32s = (...shape: (number | string)[]) => ({
  dtype: "f32" as const,
  shape: shapeOf(...shape),
});
const T = (e: Emit, x: Var) =>
  e(
    "transpose",
    {
      perm: [...x.type.shape.keys()].map((i, _, a) =>
        i < a.length - 2 ? i : 2 * a.length - 3 - i,
      ),
    },
    x,
  );

describe.skipIf(device === null)("codegen-wgsl on Dawn", () => {
  it.each(unaryOps)("%s on special values equals the interpreter's float32 result", async (op) => {
    const b = build([vec("f32", specials.length)], (e, x) => e(op, {}, x));
    await check(b, [f32t(specials)], { tol: 2e-6 });
  });

  it.each(unaryOps)("%s on a sweep of [-12, 12] within 2e-6 of the float32 result", async (op) => {
    const xs = Array.from({ length: 2401 }, (_, i) => (i - 1200) / 100);
    const b = build([vec("f32", xs.length)], (e, x) => e(op, {}, x));
    await check(b, [f32t(xs)], { tol: 2e-6 });
  });

  it.each(binaryOps)("%s on every pair of special values", async (op) => {
    const xs = specials.flatMap((a) => specials.map(() => a));
    const ys = specials.flatMap(() => specials);
    const b = build([vec("f32", xs.length), vec("f32", xs.length)], (e, x, y) => e(op, {}, x, y));
    await check(b, [f32t(xs), f32t(ys)], { tol: 2e-6 });
  });

  it.each(compareOps)(
    "%s on every pair of special values (NaN compares false, ne true)",
    async (op) => {
      const xs = specials.flatMap((a) => specials.map(() => a));
      const ys = specials.flatMap(() => specials);
      const b = build([vec("f32", xs.length), vec("f32", xs.length)], (e, x, y) => e(op, {}, x, y));
      await check(b, [f32t(xs), f32t(ys)]);
    },
  );

  const ints = [0, 1, -1, 7, -7, 3, -3, 2147483647, -2147483648, 100000, -65536];
  it.each(["add", "sub", "div", "max", "min"] as const)(
    "i32 %s on every pair (wrapping like | 0; division truncates, 0 for a zero divisor)",
    async (op) => {
      const xs = ints.flatMap((a) => ints.map(() => a));
      const ys = ints.flatMap(() => ints);
      const b = build([vec("i32", xs.length), vec("i32", xs.length)], (e, x, y) => e(op, {}, x, y));
      await check(b, [i32t(xs), i32t(ys)]);
    },
  );

  it.each(["neg", "abs", "sign"] as const)("i32 %s", async (op) => {
    const b = build([vec("i32", ints.length)], (e, x) => e(op, {}, x));
    await check(b, [i32t(ints)]);
  });

  it("casts: f32 to i32 truncates and wraps (NaN and infinities 0), f32 to bool is nonzero and not NaN", async () => {
    const xs = [...specials, 2.7, -2.7, 0.9, -0.9, 1e10, -1e10, 3e9, -3e9, 2147483520, -2147483648];
    const b = build(
      [vec("f32", xs.length), vec("i32", ints.length), vec("bool", 4)],
      (e, x, i, c) => [
        e("cast", { dtype: "i32" }, x),
        e("cast", { dtype: "bool" }, x),
        e("cast", { dtype: "f32" }, i),
        e("cast", { dtype: "bool" }, i),
        e("cast", { dtype: "f32" }, c),
        e("cast", { dtype: "i32" }, c),
      ],
    );
    await check(b, [f32t(xs), i32t(ints), tensor("bool", [4], [1, 0, 0, 1])]);
  });

  it("literals: NaN, the infinities and -0 (no WGSL literal for them) keep their bits", async () => {
    const values = [NaN, Infinity, -Infinity, -0, 1e-7, 3.4028234663852886e38, -1.5, 1e39];
    const b = build([], (e) =>
      values.map((value) => e("const", { value, dtype: "f32", shape: [] })),
    );
    const got = await gpuRun(b.graph, []);
    values.forEach((v, k) => expect(got.outputs[k]![0], `${v}`).toBe(Math.fround(v)));
  });

  it("random: the stream of runtime/rng.ts bit for bit", async () => {
    for (const seed of [0, 1234, -5, 2147483647]) {
      const b = build([{ dtype: "i32", shape: [] }], (e, s) => [
        e("random", { shape: shapeOf(3, 700), stream: 0 }, s),
        e("random", { shape: shapeOf(2100), stream: 7 }, s),
      ]);
      const got = await gpuRun(b.graph, [tensor("i32", [], [seed])]);
      const want = (stream: number) =>
        Float32Array.from({ length: 2100 }, (_, i) => randomUniform(seed, stream, i));
      expect(got.outputs[0]).toEqual(want(0));
      expect(got.outputs[1]).toEqual(want(7));
    }
  });

  it("index division floors and the remainder takes the divisor's sign, for negative operands", async () => {
    const n = 40;
    const v = (x: number): IExpr => ({ k: "val", e: lit(x, "i32") });
    const shifted = iadd(iloop(0), iconst(-20));
    const cases: [IExpr, (i: number) => number][] = [
      [idiv(shifted, iconst(3)), (i) => Math.floor((i - 20) / 3)],
      [imod(shifted, iconst(3)), (i) => i - 20 - 3 * Math.floor((i - 20) / 3)],
      [idiv(shifted, v(-3)), (i) => Math.floor((i - 20) / -3)],
      [imod(shifted, v(-3)), (i) => i - 20 + 3 * Math.floor((i - 20) / -3)],
      [idiv(iloop(0), iconst(7)), (i) => Math.floor(i / 7)],
      [imod(iloop(0), iconst(7)), (i) => i % 7],
    ];
    const p: KernelProgram = {
      buffers: cases.map((_, id) => ({
        id,
        dtype: "i32",
        shape: [dimConst(n)],
        role: { kind: "out", slot: id },
      })),
      kernels: cases.map(([e], out) => ({
        kind: "map",
        out,
        shape: [dimConst(n)],
        body: { k: "index", e, dtype: "i32" },
      })),
      sources: [],
    };
    const got = await runOnGpu(device!, p, []);
    cases.forEach(([, f], k) =>
      expect([...got.outputs[k]!]).toEqual(Array.from({ length: n }, (_, i) => f(i) + 0)),
    );
  });

  it("pad with interior zeros (negative offsets into the input)", async () => {
    const b = build([vec("f32", 5)], (e, x) =>
      e("pad", { lo: [dimConst(3)], hi: [dimConst(2)], interior: [2] }, x),
    );
    await check(b, [f32t([1, 2, 3, 4, 5])]);
  });

  it("argmax: the first strict maximum; 0 for a row with a NaN or of only -Infinity (short and long rows)", async () => {
    const rows = (r: number): number[][] => {
      const base = Array.from({ length: r }, (_, i) => Math.sin(i * 1.7));
      const at = (i: number, v: number) => base.map((x, j) => (j === i ? v : x));
      const two = (i: number, j: number, v: number) => at(i, v).map((x, k) => (k === j ? v : x));
      return [
        base,
        two(1, r - 1, 5), // tie: the first wins
        two(r - 1, r - 2, 5),
        at(r - 1, NaN),
        at(0, NaN),
        two(0, 2, NaN),
        base.map(() => -Infinity),
        at(r - 1, Infinity),
        at(2, -Infinity),
      ];
    };
    for (const r of [4, 1000]) {
      const data = rows(r);
      const b = build([{ dtype: "f32", shape: shapeOf(data.length, r) }], (e, x) =>
        e("argmax", { axis: 1 }, x),
      );
      const got = await check(b, [tensor("f32", [data.length, r], data.flat())]);
      expect([...got.outputs[0]!].slice(1, 7)).toEqual([1, r - 2, 0, 0, 0, 0]);
    }
  });

  it("a long reduction: sum and max over 100000 elements (max propagates NaN)", async () => {
    const n = 100_000;
    const xs = uniform(n, 3, 0, 1);
    const b = build([vec("f32", n)], (e, x) => [
      e("reduce_sum", { axes: [0] }, x),
      e("reduce_max", { axes: [0] }, x),
    ]);
    await check(b, [f32t(xs)], { tol: 1e-5 });
    const withNan = xs.map((x, i) => (i === 77_777 ? NaN : x));
    await check(b, [f32t(withNan)]);
  });

  it("reductions of every extent class: one invocation, a few, a workgroup, a run-time extent", async () => {
    for (const [rows, r] of [
      [50, 3],
      [7, 37],
      [3, 300],
      [2, 5000],
    ]) {
      const xs = uniform(rows! * r!, r!, -1, 1);
      const b = build([{ dtype: "f32", shape: shapeOf(rows!, r!) }], (e, x) => [
        e("reduce_sum", { axes: [1] }, e("mul", {}, x, x)),
        e("reduce_max", { axes: [1] }, x),
        e("reduce_sum", { axes: [0] }, x),
      ]);
      await check(b, [tensor("f32", [rows!, r!], xs)], { tol: 1e-4 });
    }
  });

  it("a grid past 65535 workgroups (split into x and y): a batched matmul over a run-time batch", async () => {
    const n = 64 * 70_001 - 3; // 64 [1, 2] @ [2, 1] products per workgroup: 70001 workgroups
    const b = build([f32s("N", 1, 2), f32s("N", 2, 1)], (e, x, w) => e("matmul", {}, x, w));
    const xs = [mat([n, 1, 2], 7), mat([n, 2, 1], 8)];
    const got = await check(b, xs, { dims: { N: n }, tol: 1e-6 });
    expect(got.kernels[0]!.grid.map((g) => evalSize(g, [n]))).toEqual([35001, 2, 1]);
  });

  it("an elementwise grid past 65535 workgroups", async () => {
    const n = 256 * 65_536 + 5;
    const b = build([], (e) =>
      e(
        "add",
        {},
        e("iota", { shape: shapeOf(n), axis: 0, dtype: "i32" }),
        e("const", { value: 5, dtype: "i32", shape: [] }),
      ),
    );
    const got = await gpuRun(b.graph, []);
    const out = got.outputs[0]!;
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) if (out[i] !== i + 5) bad = i;
    expect(bad, `first wrong element`).toBe(-1);
  });

  it.each([
    // [m, k, n]: 4x4 blocks and 32x32 tiles that the shapes do not divide; vector loads where they fit
    [37, 53, 29],
    [1, 7, 3],
    [8, 20, 12],
    [33, 64, 65],
    // k split across the workgroup's invocations (the [6, 25] product over a long k), with and without a tail
    [6, 1001, 25],
    [3, 2048, 5],
  ])(
    "matmul [%i, %i] @ [., %i] in every transposition, with a bias and relu epilogue",
    async (m, k, n) => {
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ]) {
        const b = build(
          [f32s(...(ta ? [k, m] : [m, k])), f32s(...(tb ? [n, k] : [k, n])), f32s(n)],
          (e, x, w, bias) => {
            const y = e("matmul", {}, ta ? T(e, x) : x, tb ? T(e, w) : w);
            return e(
              "max",
              {},
              e("add", {}, y, bias),
              e("const", { value: 0.5, dtype: "f32", shape: [] }),
            );
          },
        );
        const got = await check(
          b,
          [mat(ta ? [k, m] : [m, k], 1), mat(tb ? [n, k] : [k, n], 2), mat([n], 3)],
          { tol: 1e-5 },
        );
        expect(got.kernels.map((g) => g.name).join(" ")).toMatch(/matmul|max/);
        expect(
          got.kernels.length,
          "the transposes fold into the operands, the epilogue into the matmul",
        ).toBe(1);
      }
    },
  );

  it.each([
    // [batch, m, k, n]: 32 [3, 7] products per workgroup, the last workgroup partly idle; 4 [9, 13]
    [37, 3, 6, 7],
    [9, 9, 5, 13],
  ])(
    "batched small matmuls packed into workgroups: [%i, %i, %i] @ [., %i]",
    async (nb, m, k, n) => {
      const b = build([f32s(nb, m, k), f32s(nb, k, n)], (e, x, w) => e("matmul", {}, x, w));
      await check(b, [mat([nb, m, k], 4), mat([nb, k, n], 5)], { tol: 1e-5 });
    },
  );

  it("batched matmul with a broadcast batch, and a matmul of a buffer with itself", async () => {
    const b = build([f32s(2, 1, 5, 8), f32s(3, 8, 6), f32s(12, 8)], (e, x, w, z) => [
      e("matmul", {}, x, w),
      e("matmul", {}, z, T(e, z)),
    ]);
    await check(b, [mat([2, 1, 5, 8], 4), mat([3, 8, 6], 5), mat([12, 8], 6)], { tol: 1e-5 });
  });

  it("a batch over a shared right operand runs as one tall product; the epilogue still sees each batch index", async () => {
    // [B, 2, 7, 8] @ [8, 6] + a term per batch element: rows of consecutive matrices share tiles.
    const b = build([f32s("B", 2, 7, 8), f32s(8, 6), f32s("B", 2, 1, 6)], (e, x, w, z) =>
      e("add", {}, e("matmul", {}, x, w), z),
    );
    const xs = [mat([5, 2, 7, 8], 7), mat([8, 6], 8), mat([5, 2, 1, 6], 9)];
    const got = await check(b, xs, { dims: { B: 5 }, tol: 1e-5 });
    expect(got.kernels).toHaveLength(1);
    // 70 rows of 6: three 32-row tiles, not 10 matrices of one tile each.
    expect(got.kernels[0]!.grid.map((g) => evalSize(g, [5]))).toEqual([3, 1, 1]);
  });

  it.each([true, false])(
    "scan bodies read their step from the uniform record (reverse %s)",
    async (reverse) => {
      const b = build(scanInputs, (e, w, u, h0, x) => scanExample(e, w!, u!, h0!, x!, reverse));
      const xs = scanInputs.map((t, k) => {
        const shape = t.shape.map((d) => dimEval(d, { B: 3 }));
        return tensor(
          "f32",
          shape,
          uniform(
            shape.reduce((a, c) => a * c, 1),
            10 + k,
            -1,
            1,
          ),
        );
      });
      const got = await check(b, xs, { dims: { B: 3 }, tol: 1e-5 });
      expect(got.kernels.some((g) => g.wgsl.includes("u[8]."))).toBe(true); // slot 32: scan 0's step
    },
  );

  it("names from the source label the kernel, mangled, and stay out of the WGSL", async () => {
    const evil = "x */ } fn main() { // \n @compute";
    const b = build([vec("f32", 4)], (e, x) => e("exp", {}, x));
    b.outputs[0]!.hint = evil;
    const got = await check(b, [f32t([0, 1, 2, 3])]);
    const [k] = got.kernels;
    expect(k!.name).toContain(mangle(evil));
    expect(k!.wgsl).not.toContain(mangle(evil));
    expect(k!.wgsl).not.toContain("x */");
    expect(k!.wgsl.match(/fn main/g)).toHaveLength(1);
  });
});
