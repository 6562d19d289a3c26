// Kernel timings of codegen-wgsl on the local adapter (SwiftShader without a
// GPU), behind the choices recorded in codegen-wgsl/reduce.ts and matmul.ts:
//
//   npx tsx test/wgsl-bench.ts reduce   invocations per output of a reduction
//   npx tsx test/wgsl-bench.ts matmul   the register-blocked matmul against two
//                                       workgroup-memory tilings (hand-written here)
//
// Each kernel's pipeline is built once; a timing is `reps` dispatches in one
// submit, per dispatch, the median of 3 rounds taken in turns.

import { dimConst, shapeOf } from "../compiler/dims.ts";
import { kernelToWgsl } from "../compiler/codegen-wgsl.ts";
import { reduceKernel } from "../compiler/codegen-wgsl/reduce.ts";
import type { KernelContext } from "../compiler/backend.ts";
import { iconst, iloop, linearize, type BufferDecl, type Kernel } from "../compiler/kernel.ts";
import type { GpuKernel } from "../runtime/program.ts";
import { evalSize } from "../runtime/sizes.ts";
import { probeNodeGpu } from "../cli/webgpu-node.ts";

const probe = await probeNodeGpu();
if (!probe.gpu) throw new Error(probe.reason);
const adapter = (await probe.gpu.requestAdapter())!;
const device = await adapter.requestDevice();

/** ms per dispatch of `g` over buffers of `sizes` elements (by plan buffer id). */
async function timeKernel(g: GpuKernel, sizes: readonly number[], reps = 5): Promise<number> {
  const storage = (write: boolean): GPUBufferBindingLayout => ({
    type: write ? "storage" : "read-only-storage",
  });
  const layout = device.createBindGroupLayout({
    entries: [
      { binding: 0, visibility: 4, buffer: { type: "uniform", hasDynamicOffset: true } },
      ...g.bindings.map((b, i) => ({ binding: 1 + i, visibility: 4, buffer: storage(b.write) })),
    ],
  });
  const module = device.createShaderModule({ code: g.wgsl });
  const pipeline = device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: "main" },
  });
  const made = [device.createBuffer({ size: 256, usage: GPUBufferUsage.UNIFORM })];
  const entries = g.bindings.map((b, i) => {
    const bytes = Math.max(16, Math.ceil((4 * sizes[b.buf]!) / 16) * 16);
    const buffer = device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(
      buffer,
      0,
      new Float32Array(bytes / 4).map((_, j) => (j % 1000) / 1000),
    );
    made.push(buffer);
    return { binding: 1 + i, resource: { buffer } };
  });
  const group = device.createBindGroup({
    layout,
    entries: [{ binding: 0, resource: { buffer: made[0]!, size: 256 } }, ...entries],
  });
  const [x, y, z] = g.grid.map((s) => evalSize(s, [])) as [number, number, number];
  const run = async (n: number) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group, [0]);
    for (let i = 0; i < n; i++) pass.dispatchWorkgroups(x, y, z);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run(1);
  const t0 = performance.now();
  await run(reps);
  const ms = (performance.now() - t0) / reps;
  for (const b of made) b.destroy();
  return ms;
}

/** Median over 3 rounds, the variants timed in turns (a loaded machine drifts). */
async function compare(variants: Record<string, () => Promise<number>>): Promise<string> {
  const times: Record<string, number[]> = {};
  for (let round = 0; round < 3; round++)
    for (const [name, time] of Object.entries(variants)) (times[name] ??= []).push(await time());
  return Object.entries(times)
    .map(([name, t]) => `${name} ${t.sort((a, b) => a - b)[1]!.toFixed(1)}`)
    .join("  ");
}

const decl = (id: number, shape: number[], out: boolean): BufferDecl => ({
  id,
  dtype: "f32",
  shape: shapeOf(...shape),
  role: out ? { kind: "out", slot: 0 } : { kind: "in", slot: id },
});
const context = (buffers: BufferDecl[]): KernelContext => ({
  dims: [],
  path: "bench",
  used: new Set(),
  buffers,
  sources: [],
  numericsTable: null,
});

async function reductions(): Promise<void> {
  const shapes: [number, number, 0 | 1][] = [
    [4096, 64, 1],
    [64, 4096, 1],
    [1, 262144, 1],
    [64, 256, 0],
    [256, 784, 1],
    [10, 60000, 1],
    [1, 1000, 1],
  ];
  for (const [rows, r, axis] of shapes) {
    const shape = axis === 1 ? [rows, r] : [r, rows];
    const buffers = [decl(0, shape, false), decl(1, [rows], true)];
    // sum over `axis` of b0: out index i0, reduced index r0
    const at =
      axis === 1
        ? [iloop(0), { k: "red", i: 0 } as const]
        : [{ k: "red", i: 0 } as const, iloop(0)];
    const k: Extract<Kernel, { kind: "reduce" }> = {
      kind: "reduce",
      op: "sum",
      out: 1,
      shape: [dimConst(rows)],
      red: [dimConst(r)],
      body: { k: "load", buf: 0, index: linearize(shapeOf(...shape), at), dtype: "f32" },
    };
    const sizes = [rows * r, rows];
    const variants: Record<string, () => Promise<number>> = {};
    for (const t of [1, 4, 16, 64, 256])
      variants[`T=${t}`] = () => timeKernel(reduceKernel(k, context(buffers), "k", t), sizes);
    variants.chosen = () => timeKernel(kernelToWgsl(k, context(buffers)), sizes);
    console.log(`[${shape}] sum over axis ${axis}: ${await compare(variants)} ms`);
  }
}

/** Hand-written workgroup-memory tilings of [M, K] @ [K, N] (every extent a multiple of 32). */
function tiled(M: number, K: number, N: number, variant: "16x16" | "32x32+4x4"): GpuKernel {
  const head = [
    "@group(0) @binding(0) var<uniform> u: array<vec4<i32>, 16>;",
    "@group(0) @binding(1) var<storage, read_write> C: array<f32>;",
    "@group(0) @binding(2) var<storage, read> A: array<f32>;",
    "@group(0) @binding(3) var<storage, read> B: array<f32>;",
  ].join("\n");
  const bindings = [
    { buf: 2, write: true },
    { buf: 0, write: false },
    { buf: 1, write: false },
  ];
  if (variant === "16x16")
    return {
      name: variant,
      bindings,
      grid: [N / 16, M / 16, 1],
      wgsl: `${head}
var<workgroup> As: array<f32, 256>;
var<workgroup> Bs: array<f32, 256>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = i32(wid.y * 16u + lid.y);
  let col = i32(wid.x * 16u + lid.x);
  var acc = 0.0;
  for (var t = 0; t < ${K}; t = t + 16) {
    As[lid.y * 16u + lid.x] = A[row * ${K} + t + i32(lid.x)];
    Bs[lid.y * 16u + lid.x] = B[(t + i32(lid.y)) * ${N} + col];
    workgroupBarrier();
    for (var p = 0u; p < 16u; p = p + 1u) { acc = acc + As[lid.y * 16u + p] * Bs[p * 16u + lid.x]; }
    workgroupBarrier();
  }
  C[row * ${N} + col] = acc;
}`,
    };
  return {
    name: variant,
    bindings,
    grid: [N / 32, M / 32, 1],
    wgsl: `${head}
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r0 = i32(wid.y * 32u + (lid / 8u) * 4u);
  let c0 = i32(wid.x * 32u + (lid % 8u) * 4u);
  var acc: array<vec4<f32>, 4>;
  for (var t = 0; t < ${K}; t = t + 32) {
    for (var e = 0u; e < 16u; e = e + 1u) {
      let idx = lid * 16u + e;
      let rr = i32(idx / 32u);
      let cc = i32(idx % 32u);
      As[idx] = A[(i32(wid.y * 32u) + rr) * ${K} + t + cc];
      Bs[idx] = B[(t + rr) * ${N} + i32(wid.x * 32u) + cc];
    }
    workgroupBarrier();
    let lr = (lid / 8u) * 4u;
    let lc = (lid % 8u) * 4u;
    for (var p = 0u; p < 32u; p = p + 1u) {
      let b = vec4<f32>(Bs[p * 32u + lc], Bs[p * 32u + lc + 1u], Bs[p * 32u + lc + 2u], Bs[p * 32u + lc + 3u]);
      for (var r = 0u; r < 4u; r = r + 1u) { acc[r] = acc[r] + As[(lr + r) * 32u + p] * b; }
    }
    workgroupBarrier();
  }
  for (var r = 0; r < 4; r = r + 1) {
    for (var c = 0; c < 4; c = c + 1) { C[(r0 + r) * ${N} + c0 + c] = acc[r][c]; }
  }
}`,
  };
}

async function matmuls(): Promise<void> {
  for (const [M, K, N] of [
    [64, 784, 256],
    [256, 256, 256],
    [64, 256, 64],
  ] as const) {
    const buffers = [decl(0, [M, K], false), decl(1, [K, N], false), decl(2, [M, N], true)];
    const operand = (buf: number) => ({ buf, transposed: false, batch: iconst(0) });
    const k: Kernel = {
      kind: "matmul",
      out: 2,
      batch: [],
      m: dimConst(M),
      n: dimConst(N),
      k: dimConst(K),
      a: operand(0),
      b: operand(1),
      epilogue: { k: "acc", dtype: "f32" },
    };
    const sizes = [M * K, K * N, M * N];
    const mine = kernelToWgsl(k, context(buffers));
    const line = await compare({
      "register-blocked": () => timeKernel(mine, sizes),
      "tiles 16x16": () => timeKernel(tiled(M, K, N, "16x16"), sizes),
      "tiles 32x32 + 4x4 registers": () => timeKernel(tiled(M, K, N, "32x32+4x4"), sizes),
    });
    console.log(`[${M},${K}] @ [${K},${N}]: ${line} ms`);
  }
}

const modes = { reduce: reductions, matmul: matmuls } as const;
const mode = process.argv[2] as keyof typeof modes;
if (!(mode in modes))
  throw new Error(`usage: npx tsx test/wgsl-bench.ts ${Object.keys(modes).join("|")}`);
await modes[mode]();
device.destroy();
