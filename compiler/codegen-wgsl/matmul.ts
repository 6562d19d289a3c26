// Matmul: register-blocked. Each invocation computes a 4x4 block of the
// output in four vec4 accumulators, reading its operands straight from
// storage (as array<vec4<f32>> where the shapes let every vector load stay
// aligned and in bounds, else four scalar loads per vector); a workgroup of
// 8x8 invocations covers a 32x32 tile (2x32 an 8x128 one when the product
// has at most 8 rows, and so on: see threadRows), and the grid is batch x
// tile rows x tile columns, linearised. A batch of small matrices runs
// several per workgroup (threadCols); one small product over a long k splits
// k across the workgroup, the slices summed in workgroup memory. Rows and
// columns past the edge of the matrix read a clamped (valid) row or column
// and are not stored. The epilogue (bias, activation: the fused elementwise
// consumers) is a function of the loop indices and the accumulator.
//
// Why no workgroup-memory tiling: on SwiftShader (Dawn's CPU adapter, where
// the benchmarks' ratios are taken) it is 4-20x slower. Measured with
// `npx tsx test/wgsl-bench.ts matmul` (2 CPU cores at a load average of ~7,
// so +-50%), ms per dispatch:
//
//   shape                   this kernel   16x16 tiles   32x32 tiles + 4x4 registers
//   [64,784] @ [784,256]    70            969           302
//   [256,256] @ [256,256]   80            1624          342
//   [64,256] @ [256,64]     3.6           61            12.8
//
// 4x4 or 16x16 invocations per workgroup instead of 8x8 were no faster.

import { dimAsConst, dimMul, numElements } from "../dims.ts";
import { someIExpr } from "../kernel-walk.ts";
import { iloop, linearize } from "../kernel.ts";
import type { BufId, MatmulKernel, MatmulOperand } from "../kernel.ts";
import type { GpuKernel } from "../../runtime/program.ts";
import type { KernelContext } from "../backend.ts";
import { size } from "../size-expr.ts";
import { delinearize, toStorage, valueType, WgslModule } from "./module.ts";

/** Output rows and columns per invocation, invocations per workgroup. */
const BLOCK = 4;
const INVOCATIONS = 64;
/** The k from which one small product splits k across its workgroup's invocations. */
const SPLIT_K = 256;

/**
 * Invocation rows of the workgroup (the columns are INVOCATIONS / rows): 8
 * (a 32x32 tile), or fewer for a product of few rows (a conv's [6, 25] filter
 * matrix), whose tile rows past the edge would compute clamped, unstored rows.
 */
function threadRows(rows: number | null): number {
  if (rows === null) return 8;
  return rows <= BLOCK ? 1 : rows <= 2 * BLOCK ? 2 : rows <= 4 * BLOCK ? 4 : 8;
}

/** The invocation columns that cover `cols` (a power of 2, at most `most`). */
function threadCols(cols: number | null, most: number): number {
  let t = 1;
  while (t < most && cols !== null && BLOCK * t < cols) t *= 2;
  return cols === null ? most : t;
}

const rs = [0, 1, 2, 3];

/** Whether operand `o`'s vectors (along its contiguous axis) stay aligned: that axis's extent is a multiple of 4. */
function vectorizable(o: MatmulOperand, contiguous: number | null): boolean {
  return o.at === undefined && contiguous !== null && contiguous % 4 === 0;
}

export function matmulKernel(k: MatmulKernel, ctx: KernelContext, name: string): GpuKernel {
  for (const b of [k.a.buf, k.b.buf])
    if (ctx.buffers[b]?.dtype !== "f32")
      throw new Error(`codegen-wgsl: matmul operand b${b} is not f32`);
  const [mc, nc, kc] = [dimAsConst(k.m), dimAsConst(k.n), dimAsConst(k.k)];
  // A is [m, k] (vectors along k), or [k, m] transposed (along m); B is [k, n] (along n) or [n, k] (along k).
  let vecA = vectorizable(k.a, k.a.transposed ? mc : kc);
  let vecB = vectorizable(k.b, k.b.transposed ? kc : nc);
  if (k.a.buf === k.b.buf) vecA = vecB = vecA && vecB; // one binding, one element type
  // A batch over a shared B (a dense layer on [B, T, D]) is one tall product: A's matrices are
  // consecutive rows, and so are the output's, so the tiles run across matrix boundaries and
  // short matrices ([8, 32]: 3/4 of a 32-row tile idle) fill them.
  const nb = k.batch.length;
  const fold =
    nb > 0 &&
    !k.a.transposed &&
    !someIExpr(k.b.batch, { i: (e) => e.k === "loop" }) &&
    JSON.stringify(k.a.batch) ===
      JSON.stringify(
        linearize(
          k.batch,
          k.batch.map((_, i) => iloop(i)),
        ),
      );
  const vec4 = new Set<BufId>([...(vecA ? [k.a.buf] : []), ...(vecB ? [k.b.buf] : [])]);
  const m = new WgslModule(ctx, k.out, vec4);
  const [M, N, K] = [m.dim(k.m), m.dim(k.n), m.dim(k.k)];
  const at = (o: MatmulOperand) => (o.at === undefined ? "" : `${m.printer.ix(o.at)} + `);
  const A = (row: string, p: string) =>
    m.load(
      k.a.buf,
      k.a.transposed ? `aOff + (${p}) * ${M} + ${row}` : `aOff + ${row} * ${K} + ${p}`,
      "f32",
    );
  const B = (p: string, col: string) =>
    m.load(
      k.b.buf,
      k.b.transposed ? `bOff + ${col} * ${K} + ${p}` : `bOff + (${p}) * ${N} + ${col}`,
      "f32",
    );
  const vec = (xs: string[]) => `vec4<f32>(${xs.join(", ")})`;

  // Per chunk of 4 along k: a0..a3 are rows of A's 4x4 block (normal) or its columns (transposed);
  // likewise w0..w3 of B's (not b0..: those are buffers).
  const aLoads = rs.map((x) =>
    k.a.transposed
      ? vecA
        ? m.load4(k.a.buf, `aOff + (p + ${x}) * ${M} + iv`)
        : vec(rs.map((r) => A(`ra${r}`, `p + ${x}`)))
      : vecA
        ? m.load4(k.a.buf, `aOff + ra${x} * ${K} + p`)
        : vec(rs.map((q) => A(`ra${x}`, `p + ${q}`))),
  );
  const bLoads = rs.map((x) =>
    k.b.transposed
      ? vecB
        ? m.load4(k.b.buf, `bOff + cb${x} * ${K} + p`)
        : vec(rs.map((q) => B(`p + ${q}`, `cb${x}`)))
      : vecB
        ? m.load4(k.b.buf, `bOff + (p + ${x}) * ${N} + jv`)
        : vec(rs.map((c) => B(`p + ${x}`, `cb${c}`))),
  );
  const a = (r: number, q: number) => (k.a.transposed ? `a${q}[${r}]` : `a${r}[${q}]`);
  const aRow = (r: number) => (k.a.transposed ? vec(rs.map((q) => a(r, q))) : `a${r}`);
  const fma = rs.map((r) =>
    k.b.transposed
      ? `c${r} = c${r} + ${vec(rs.map((c) => `dot(${aRow(r)}, w${c})`))};`
      : `c${r} = c${r} + ${rs.map((q) => `${a(r, q)} * w${q}`).join(" + ")};`,
  );
  // The whole chunks of 4 along k; a vector along k needs K % 4 == 0, so then there is no tail.
  const kFull = `(${K} / 4) * 4`;

  const epi = m.val(k.epilogue);
  const outType = valueType(k.epilogue.dtype);
  // The epilogue sees the batch loop indices (from the batch number `bl`), the row and column.
  const decls = [
    `fn epilogue(${["bl", `i${nb}`, `i${nb + 1}`, "lin"].map((v) => `${v}: i32`).join(", ")}, acc: f32) -> ${outType} {`,
    ...delinearize(
      "bl",
      k.batch.map((d) => m.dim(d)),
      "i",
    ).map((l) => "  " + l),
    `  return ${epi};`,
    "}",
  ];
  const batch = m.dim(numElements(k.batch));
  const threadsM = threadRows(fold ? null : mc);
  // A batch of small matrices (attention's per-head [8, 8] products) packs `per` matrices into a
  // workgroup, each on threadsM x threadsN invocations, instead of one mostly idle tile each.
  // A single small product over a long k (a conv's weight gradient: [6, 25] over batch x 784)
  // instead splits k into `per` slices, summed in workgroup memory: one workgroup either way.
  const packs = !fold && nb > 0;
  const splits = nb === 0 && mc !== null && (kc === null || kc >= SPLIT_K);
  const threadsN = threadCols(packs || splits ? nc : null, INVOCATIONS / threadsM);
  const per = INVOCATIONS / (threadsM * threadsN);
  const slices = splits ? per : 1;
  const team = threadsM * threadsN;
  const [tileM, tileN] = [BLOCK * threadsM, BLOCK * threadsN];
  // Rows of the output: with the batch folded in, one [batch * m, k] @ [k, n] product.
  const R = fold ? `(${batch} * ${M})` : M;
  const tilesN = `((${N} + ${tileN - 1}) / ${tileN})`;
  const tilesM = `((${R} + ${tileM - 1}) / ${tileM})`;
  const main = [
    `let tn = wg % ${tilesN};`,
    ...(fold
      ? [`let tm = wg / ${tilesN};`, `if (tm >= ${tilesM}) { return; }`]
      : [
          `let tm = (wg / ${tilesN}) % ${tilesM};`,
          slices > 1
            ? `let bl = wg / (${tilesN} * ${tilesM});`
            : `let bl = (wg / (${tilesN} * ${tilesM})) * ${per} + i32(lid / ${team}u);`,
          `if (bl >= ${batch}) { return; }`,
          ...delinearize(
            "bl",
            k.batch.map((d) => m.dim(d)),
            "i",
          ),
        ]),
    `let aOff = ${at(k.a)}${fold ? "0" : `${m.printer.ix(k.a.batch)} * (${M} * ${K})`};`,
    `let bOff = ${at(k.b)}${m.printer.ix(k.b.batch)} * (${K} * ${N});`,
    `let oOff = ${fold ? "0" : `bl * (${M} * ${N})`};`,
    `let local = lid % ${team}u;`,
    `let row0 = tm * ${tileM} + i32(local / ${threadsN}u) * ${BLOCK};`,
    `let col0 = tn * ${tileN} + i32(local % ${threadsN}u) * ${BLOCK};`,
    ...rs.map((r) => `let ra${r} = min(row0 + ${r}, ${R} - 1);`),
    ...rs.map((c) => `let cb${c} = min(col0 + ${c}, ${N} - 1);`),
    ...(k.a.transposed && vecA ? [`let iv = min(row0, ${M} - 4);`] : []),
    ...(!k.b.transposed && vecB ? [`let jv = min(col0, ${N} - 4);`] : []),
    ...rs.map((r) => `var c${r} = vec4<f32>();`),
    // Slice s of k: [p0, p1), p0 a multiple of 4 so vector loads along k stay aligned.
    ...(slices > 1
      ? [
          `let s = i32(lid / ${team}u);`,
          `let chunk = ((${K} + ${4 * slices - 1}) / ${4 * slices}) * 4;`,
          `let p0 = min(s * chunk, ${K});`,
          `let p1 = min(p0 + chunk, ${K});`,
          `let pv = p0 + ((p1 - p0) / 4) * 4;`,
        ]
      : [`let p0 = 0;`, `let p1 = ${K};`, `let pv = ${kFull};`]),
    `for (var p = p0; p < pv; p = p + 4) {`,
    ...aLoads.map((l, x) => `  let a${x} = ${l};`),
    ...bLoads.map((l, x) => `  let w${x} = ${l};`),
    ...fma.map((l) => "  " + l),
    "}",
    `for (var p = pv; p < p1; p = p + 1) {`,
    `  let bp = ${vec(rs.map((c) => B("p", `cb${c}`)))};`,
    ...rs.map((r) => `  c${r} = c${r} + ${A(`ra${r}`, "p")} * bp;`),
    "}",
    ...(slices > 1
      ? [
          ...rs.map((r) => `part[lid * 4u + ${r}u] = c${r};`),
          "workgroupBarrier();",
          "if (s > 0) { return; }",
          `for (var t = 1u; t < ${slices}u; t = t + 1u) {`,
          ...rs.map((r) => `  c${r} = c${r} + part[(lid + t * ${team}u) * 4u + ${r}u];`),
          "}",
        ]
      : []),
    ...rs.flatMap((r) =>
      rs.map((c) => {
        const [i, j] = [`row0 + ${r}`, `col0 + ${c}`];
        const lin = `oOff + (${i}) * ${N} + ${j}`;
        const where = fold ? [`(${i}) / ${M}`, `(${i}) % ${M}`] : ["bl", i];
        const args = [...where, j, lin, `c${r}[${c}]`];
        const store = k.outAt === undefined ? lin : `${m.printer.ix(k.outAt)} + ${lin}`;
        const value = toStorage(`epilogue(${args.join(", ")})`, k.epilogue.dtype);
        return `if (${i} < ${R} && ${j} < ${N}) { ${m.ref(k.out)}[${store}] = ${value}; }`;
      }),
    ),
  ];
  const tiles = (d: typeof k.m, tile: number) => size.ceilDiv(m.size(d), tile);
  const groups = fold
    ? size.mul(tiles(dimMul(numElements(k.batch), k.m), tileM), tiles(k.n, tileN))
    : size.mul(tiles(numElements(k.batch), per), size.mul(tiles(k.m, tileM), tiles(k.n, tileN)));
  if (slices > 1) decls.push(`var<workgroup> part: array<vec4<f32>, ${4 * INVOCATIONS}>;`);
  return m.finish(name, "matmul", INVOCATIONS, groups, decls, main);
}
