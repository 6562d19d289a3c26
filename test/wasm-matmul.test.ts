// The WASM target's matmul kernel (compiler/codegen-wasm/matmul.ts), run on
// its own over a memory laid out as the target contract says (D, T, the
// buffer table, 64-byte-aligned buffers, a scratch area per call): shapes at
// and around the tile edges (MR x NR = 4 x 8, row blocks of 32, column
// panels of 256, or 64 for few rows, k blocks of 256), every transpose, batches with broadcast
// operands, `at` offsets from a scan step, run-time dims, epilogues (bias,
// activations, `lin`, a bool result), against a float64 reference within
// relative 1e-5; results of any split of the work items, in any order, with
// scratch anywhere, are bit-identical. Both binaries run: plain SIMD, and
// relaxed SIMD (this file turns on V8's flag for it; Node 20 hides it).

import { setFlagsFromString } from "node:v8";
import { describe, expect, it } from "vitest";
import { dimConst, dimVar, type Dim } from "../compiler/dims.ts";
import type { KernelContext } from "../compiler/backend.ts";
import type { BufferDecl, IExpr, MatmulKernel, SExpr } from "../compiler/kernel.ts";
import { iadd, iconst, iloop, imul } from "../compiler/kernel.ts";
import { matmulToWasm } from "../compiler/codegen-wasm/matmul.ts";
import { encodeModule } from "../compiler/codegen-wasm/encode.ts";
import { withoutRelaxed } from "../compiler/codegen-wasm/module.ts";
import type { Instr } from "../compiler/codegen-wasm/instr.ts";
import { evalSize } from "../runtime/sizes.ts";
import { WASM_BUFFERS_AT, WASM_DATA_AT, WASM_STEPS_AT } from "../runtime/program.ts";

setFlagsFromString("--experimental-wasm-relaxed-simd");

/** A deterministic stream of values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

interface Case {
  m: number;
  n: number;
  k: number;
  ta?: boolean;
  tb?: boolean;
  /** Batch axes; A's and B's matrix per batch point (default: A all, B all). */
  batch?: number[];
  aBatch?: (idx: number[]) => number;
  bBatch?: (idx: number[]) => number;
  aBatchE?: IExpr;
  bBatchE?: IExpr;
  /** A's matrices in the buffer (default: the batch's size). */
  aMats?: number;
  bMats?: number;
  /** Element offsets of matrix 0 (scan step t = 2 of T[0] times the given stride), and of the output. */
  atStep?: { a?: number; b?: number; out?: number };
  /** m and k read from D at run time. */
  symbolic?: boolean;
  /** The epilogue over the row and column loop indices, and its float64 value. */
  epilogue?: {
    e: (i: IExpr, j: IExpr) => SExpr;
    ref: (acc: number, i: number, j: number, lin: number) => number;
  };
}

const STEP = 2;
const product = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
const accE: SExpr = { k: "acc", dtype: "f32" };
/** Buffer 3: n bias values. */
const BIAS_SEED = 3;

/** Builds the kernel, runs it over `splits` of its items, returns the output buffer and the reference. */
function run(c: Case, splits: number[][], relaxed: boolean, reference = true) {
  const batch = c.batch ?? [];
  const nb = batch.length;
  const B = product(batch);
  const aMats = c.aMats ?? B;
  const bMats = c.bMats ?? B;
  const dims = c.symbolic ? ["M", "K"] : [];
  const M: Dim = c.symbolic ? dimVar("M") : dimConst(c.m);
  const K: Dim = c.symbolic ? dimVar("K") : dimConst(c.k);
  const stepE: IExpr = { k: "iter", scan: 0 };
  const at = (stride: number | undefined) =>
    stride === undefined ? undefined : imul(stepE, iconst(stride));
  const lin = (idx: IExpr[]) => idx.reduce((acc, x, a) => iadd(imul(acc, iconst(batch[a]!)), x));
  const batchLoops = batch.map((_, a) => iloop(a));
  const epi = c.epilogue ? c.epilogue.e(iloop(nb), iloop(nb + 1)) : accE;
  const kernel: MatmulKernel = {
    kind: "matmul",
    out: 2,
    batch: batch.map(dimConst),
    m: M,
    n: dimConst(c.n),
    k: K,
    a: {
      buf: 0,
      transposed: c.ta ?? false,
      batch: c.aBatchE ?? (nb ? lin(batchLoops) : iconst(0)),
      ...(c.atStep?.a !== undefined && { at: at(c.atStep.a) }),
    },
    b: {
      buf: 1,
      transposed: c.tb ?? false,
      batch: c.bBatchE ?? (nb ? lin(batchLoops) : iconst(0)),
      ...(c.atStep?.b !== undefined && { at: at(c.atStep.b) }),
    },
    ...(c.atStep?.out !== undefined && { outAt: at(c.atStep.out) }),
    epilogue: epi,
  };
  const outDtype = epi.dtype;
  const buffers: BufferDecl[] = [0, 1, 2, 3].map((id) => ({
    id,
    dtype: id === 2 && outDtype !== "f32" ? "i32" : "f32",
    shape: [],
    role: { kind: "temp" },
  }));
  const ctx: KernelContext = {
    dims,
    path: "e0",
    used: new Set(),
    buffers,
    sources: [],
    numericsTable: null,
  };
  const code = matmulToWasm(kernel, ctx, "mm");
  const fn = relaxed ? code.fn : withoutRelaxed(code.fn);
  const { bytes } = encodeModule({
    functions: [fn],
    exports: [fn.name],
    memory: { min: 1, max: 65536 },
  });

  // Memory: header, A, B, out, bias, two scratch areas (at odd places, to show they don't matter).
  const aLen = (c.atStep?.a ?? 0) * STEP + aMats * c.m * c.k;
  const bLen = (c.atStep?.b ?? 0) * STEP + bMats * c.k * c.n;
  const oLen = (c.atStep?.out ?? 0) * STEP + B * c.m * c.n;
  const align = (x: number) => Math.ceil(x / 64) * 64;
  const addr: number[] = [];
  let top = WASM_DATA_AT;
  for (const len of [aLen, bLen, oLen, c.n]) {
    addr.push(top);
    top = align(top + 4 * Math.max(len, 1));
  }
  const scratch = [top, align(top + code.scratch + 4096)];
  top = scratch[1]! + code.scratch;
  const memory = new WebAssembly.Memory({
    initial: Math.ceil(top / 65536) + 1,
    maximum: 65536,
    shared: true,
  });
  const i32 = new Int32Array(memory.buffer);
  const f32 = new Float32Array(memory.buffer);
  const dimValues = c.symbolic ? [c.m, c.k] : [];
  dimValues.forEach((v, i) => (i32[i] = v));
  i32[WASM_STEPS_AT / 4] = STEP;
  addr.forEach((a, i) => (i32[WASM_BUFFERS_AT / 4 + i] = a));
  const A = values(aLen, 1 + c.m);
  const Bv = values(bLen, 2 + c.n);
  const bias = values(c.n, BIAS_SEED);
  f32.set(A, addr[0]! / 4);
  f32.set(Bv, addr[1]! / 4);
  f32.set(bias, addr[3]! / 4);
  f32.fill(NaN, addr[2]! / 4, addr[2]! / 4 + oLen); // nothing may be left unwritten

  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const kfn = instance.exports[fn.name] as (lo: number, hi: number, s: number) => void;
  const items = evalSize(code.items, dimValues);
  splits.forEach((s, n) => {
    const bounds = s.map((x) => (x < 0 ? items : Math.min(x, items)));
    for (let r = bounds.length - 2; r >= 0; r--)
      kfn(bounds[r]!, bounds[r + 1]!, scratch[(r + n) % 2]!);
  });
  const out = new Uint8Array(memory.buffer, addr[2]!, 4 * oLen).slice();

  // The float64 reference.
  const ref = new Float64Array(oLen);
  const scale = new Float64Array(oLen);
  const idx = (b: number) =>
    batch.map((_, a) => Math.floor(b / product(batch.slice(a + 1))) % batch[a]!);
  for (let b = 0; reference && b < B; b++) {
    const am = c.aBatch ? c.aBatch(idx(b)) : b;
    const bm = c.bBatch ? c.bBatch(idx(b)) : b;
    const aBase = (c.atStep?.a ?? 0) * STEP + am * c.m * c.k;
    const bBase = (c.atStep?.b ?? 0) * STEP + bm * c.k * c.n;
    const oBase = (c.atStep?.out ?? 0) * STEP;
    for (let i = 0; i < c.m; i++)
      for (let j = 0; j < c.n; j++) {
        let s = 0;
        let abs = 0;
        for (let p = 0; p < c.k; p++) {
          const x = A[aBase + (c.ta ? p * c.m + i : i * c.k + p)]!;
          const y = Bv[bBase + (c.tb ? j * c.k + p : p * c.n + j)]!;
          s += x * y;
          abs += Math.abs(x * y);
        }
        const l = (b * c.m + i) * c.n + j;
        ref[oBase + l] = c.epilogue ? c.epilogue.ref(s, i, j, l) : s;
        scale[oBase + l] = abs + Math.abs(ref[oBase + l]!) + 1e-30;
      }
  }
  return { out, ref, scale, oLen, outDtype, items };
}

/** Whether the engine has relaxed SIMD (f32x4.relaxed_madd validates). */
const relaxedOk = WebAssembly.validate(
  encodeModule({
    functions: [
      {
        name: "f",
        params: [],
        results: [],
        locals: [],
        body: [
          ...Array.from({ length: 3 }, (): Instr => ["v128.const", 0, 0, 0, 0]),
          ["f32x4.relaxed_madd"],
          ["drop"],
        ],
      },
    ],
    exports: [],
    memory: { min: 1, max: 1 },
  }).bytes,
);
const modes = relaxedOk ? [false, true] : [false];

function check(c: Case, relaxed: boolean) {
  const r = run(c, [[0, -1]], relaxed);
  const got =
    r.outDtype === "f32"
      ? new Float32Array(r.out.buffer)
      : Int32Array.from(new Int32Array(r.out.buffer));
  let worst = 0;
  for (let e = 0; e < r.oLen; e++) {
    const err = Math.abs(got[e]! - r.ref[e]!) / r.scale[e]!;
    if (!(err <= worst)) worst = err; // NaN (unwritten) becomes the worst
  }
  expect(worst).toBeLessThan(1e-5);
  return r;
}

const lit = (v: number): SExpr => ({ k: "lit", v, dtype: "f32" });
const plusBias = (j: IExpr): SExpr => ({
  k: "binary",
  op: "add",
  a: accE,
  b: { k: "load", buf: 3, index: j, dtype: "f32" },
  dtype: "f32",
});
const epilogues: Record<string, NonNullable<Case["epilogue"]>> = {
  "bias add": { e: (_i, j) => plusBias(j), ref: (s, _i, j) => s + biasAt(j) },
  "bias + relu": {
    e: (_i, j) => ({ k: "binary", op: "max", a: plusBias(j), b: lit(0), dtype: "f32" }),
    ref: (s, _i, j) => Math.max(s + biasAt(j), 0),
  },
  tanh: { e: () => ({ k: "unary", op: "tanh", a: accE, dtype: "f32" }), ref: (s) => Math.tanh(s) },
  "sigmoid(acc * 2 - i)": {
    e: (i) => ({
      k: "unary",
      op: "sigmoid",
      a: {
        k: "binary",
        op: "sub",
        a: { k: "binary", op: "mul", a: accE, b: lit(2), dtype: "f32" },
        b: { k: "index", e: i, dtype: "f32" },
        dtype: "f32",
      },
      dtype: "f32",
    }),
    ref: (s, i) => 1 / (1 + Math.exp(-(2 * s - i))),
  },
  "acc + lin / 1000": {
    e: () => ({
      k: "binary",
      op: "add",
      a: accE,
      b: {
        k: "binary",
        op: "div",
        a: { k: "index", e: { k: "lin" }, dtype: "f32" },
        b: lit(1000),
        dtype: "f32",
      },
      dtype: "f32",
    }),
    ref: (s, _i, _j, l) => s + l / 1000,
  },
  "acc > 0 (bool)": {
    e: () => ({ k: "compare", op: "gt", a: accE, b: lit(0), dtype: "bool" }),
    ref: (s) => (s > 0 ? 1 : 0),
  },
};
/** Every (A transposed, B transposed) pair. */
const transposes = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;
const biasValues = values(4096, BIAS_SEED); // the same stream as each case's buffer 3
const biasAt = (j: number) => biasValues[j]!;

describe.each(modes)("wasm matmul (relaxed SIMD: %s)", (relaxed) => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [3, 5, 7],
    [4, 8, 4],
    [8, 16, 12],
    [13, 29, 300],
    [1, 300, 40],
    [32, 129, 7],
    [33, 129, 10],
    [65, 257, 9],
    [70, 20, 520],
    [6, 25, 1000],
    [20, 260, 1100],
  ];
  for (const [m, n, k] of shapes)
    for (const [ta, tb] of transposes)
      it(`[${m}, ${k}]${ta ? "^T" : ""} @ [${k}, ${n}]${tb ? "^T" : ""}`, () =>
        check({ m, n, k, ta, tb }, relaxed));

  it("k = 0 stores the epilogue of zero sums", () =>
    check({ m: 5, n: 9, k: 0, epilogue: epilogues["bias add"] }, relaxed));

  for (const [name, epilogue] of Object.entries(epilogues))
    it(`epilogue ${name}, whole and edge tiles`, () => {
      check({ m: 9, n: 20, k: 33, epilogue }, relaxed);
      check({ m: 8, n: 16, k: 5, tb: true, epilogue }, relaxed);
    });

  it("run-time m and k (read from D)", () => {
    check({ m: 37, n: 24, k: 300, symbolic: true }, relaxed);
    // More k than B's packed panel holds (4096 rows of 64 columns): packed block by block.
    check({ m: 5, n: 70, k: 4200, tb: true, symbolic: true }, relaxed);
    check({ m: 6, n: 9, k: 4100, symbolic: true, epilogue: epilogues["bias add"] }, relaxed);
    check({ m: 2, n: 24, k: 3, ta: true, symbolic: true, epilogue: epilogues.tanh }, relaxed);
  });

  // m < 4 or n < 4 streams the operands (matmul-few-rows.ts): strips of 32, 4 and 1 columns
  // along B's rows (A's columns), or dot products of 4 and 1 columns along a transposed B's
  // (A's rows), with k mod 4 left over.
  it("fewer rows than a tile: every strip and dot-product edge, run-time and constant m", () => {
    for (const [ta, tb] of transposes) {
      check({ m: 1, n: 70, k: 13, ta, tb, symbolic: true }, relaxed);
      check({ m: 3, n: 39, k: 6, ta, tb, symbolic: true, epilogue: epilogues.tanh }, relaxed);
      check({ m: 2, n: 3, k: 0, ta, tb, epilogue: epilogues["bias add"] }, relaxed);
    }
    for (const epilogue of Object.values(epilogues)) {
      check({ m: 2, n: 37, k: 9, epilogue }, relaxed);
      check({ m: 1, n: 6, k: 7, tb: true, epilogue }, relaxed);
    }
    check(
      {
        m: 3,
        n: 10,
        k: 6,
        tb: true,
        batch: [2, 3],
        bMats: 3,
        bBatchE: iloop(1),
        bBatch: (idx) => idx[1]!,
        epilogue: epilogues["acc + lin / 1000"],
      },
      relaxed,
    );
    check(
      { m: 2, n: 12, k: 9, ta: true, batch: [2], atStep: { a: 180, b: 216, out: 240 } },
      relaxed,
    );
  });

  it("fewer columns than a tile: every strip and dot-product edge, run-time and constant n", () => {
    for (const [ta, tb] of transposes) {
      check({ m: 70, n: 1, k: 13, ta, tb, symbolic: true }, relaxed);
      check({ m: 39, n: 3, k: 6, ta, tb, symbolic: true, epilogue: epilogues.tanh }, relaxed);
      check({ m: 5, n: 2, k: 0, ta, tb, epilogue: epilogues["bias add"] }, relaxed);
    }
    for (const epilogue of Object.values(epilogues)) {
      // A packed item's last 1-3 columns (past whole tiles), over several k blocks.
      check({ m: 13, n: 26, k: 300, ta: true, epilogue }, relaxed);
      check({ m: 9, n: 67, k: 20, tb: true, symbolic: true, epilogue }, relaxed);
      check({ m: 37, n: 2, k: 9, ta: true, epilogue }, relaxed);
      check({ m: 6, n: 1, k: 7, epilogue }, relaxed);
    }
    check(
      {
        m: 10,
        n: 3,
        k: 6,
        tb: true,
        batch: [2, 3],
        bMats: 3,
        bBatchE: iloop(1),
        bBatch: (idx) => idx[1]!,
        epilogue: epilogues["acc + lin / 1000"],
      },
      relaxed,
    );
    check(
      { m: 10, n: 2, k: 9, ta: true, batch: [2], atStep: { a: 180, b: 216, out: 240 } },
      relaxed,
    );
  });

  it("batches: both operands batched, B broadcast over the first axis, A shared", () => {
    check({ m: 5, n: 12, k: 7, batch: [2, 3] }, relaxed);
    check(
      {
        m: 9,
        n: 10,
        k: 6,
        tb: true,
        batch: [2, 3],
        bMats: 3,
        bBatchE: iloop(1),
        bBatch: (idx) => idx[1]!,
        epilogue: epilogues["acc + lin / 1000"],
      },
      relaxed,
    );
    check(
      {
        m: 6,
        n: 25,
        k: 30,
        batch: [4],
        aMats: 1,
        aBatchE: iconst(0),
        aBatch: () => 0,
        epilogue: epilogues["sigmoid(acc * 2 - i)"],
      },
      relaxed,
    );
  });

  it("at offsets from a scan step (operands and output)", () =>
    check(
      { m: 10, n: 12, k: 9, ta: true, batch: [2], atStep: { a: 180, b: 216, out: 240 } },
      relaxed,
    ));

  // Tall (row blocks share B's packed panel), and one row block (its items, along n, share A's).
  const splitCases: Case[] = [
    { m: 130, n: 270, k: 260, tb: true, batch: [2], epilogue: epilogues["bias + relu"] },
    { m: 20, n: 300, k: 50, ta: true, batch: [2], epilogue: epilogues.tanh },
    { m: 1, n: 600, k: 30, batch: [2], epilogue: epilogues["bias + relu"] },
    { m: 3, n: 400, k: 31, tb: true, batch: [2], epilogue: epilogues.tanh },
    { m: 300, n: 3, k: 33, batch: [2], epilogue: epilogues["bias + relu"] },
    { m: 70, n: 266, k: 40, tb: true, batch: [2], epilogue: epilogues["bias + relu"] },
    // One row block over a long k: two items of 16 and 9 columns (a filter gradient's shape).
    { m: 6, n: 25, k: 700, tb: true, batch: [5], epilogue: epilogues["bias add"] },
    { m: 400, n: 1, k: 30, ta: true, tb: true, batch: [2], epilogue: epilogues.tanh },
  ];
  it.each(splitCases)(
    "any split of the items, in any order, scratch anywhere: bit-identical ($m x $n x $k)",
    (c) => {
      const whole = check(c, relaxed);
      expect(whole.items).toBeGreaterThan(8);
      const n = whole.items;
      for (const split of [
        [0, 1, -1],
        [0, 3, 4, 9, -1],
        Array.from({ length: n + 1 }, (_, i) => i),
      ]) {
        const r = run(c, [split], relaxed, false);
        expect(Buffer.compare(Buffer.from(r.out), Buffer.from(whole.out))).toBe(0);
      }
    },
  );
});
