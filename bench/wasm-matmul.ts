// Micro-bench of the WASM target's matmul kernel (compiler/codegen-wasm/matmul.ts)
// on one thread: GFLOP/s of 1024^3 and of the products the MLP, LSTM and
// attention workloads run (forward and gradient shapes, their transposes;
// batch-1 and one-column products, streamed unpacked),
// beside the machine's single-thread f32x4 peak measured with an FMA loop
// (relaxed_madd on 12 independent accumulators; V8's flag for relaxed SIMD,
// off by default in Node 20, is turned on for it). The matmul runs as the
// plain-SIMD binary, or with --relaxed the relaxed one. Times are CPU time
// of this process (min over batches of calls), so other processes sharing
// the cores count less. Prints, never asserts:
//
//   npx tsx bench/wasm-matmul.ts [--relaxed] [--only NAME] [--shape m,n,k[,tt]] [--min-ms 300]

import { setFlagsFromString } from "node:v8";
import { dimConst } from "../compiler/dims.ts";
import type { KernelContext } from "../compiler/backend.ts";
import { iconst, iloop, type MatmulKernel } from "../compiler/kernel.ts";
import { matmulToWasm } from "../compiler/codegen-wasm/matmul.ts";
import { encodeModule } from "../compiler/codegen-wasm/encode.ts";
import { withoutRelaxed } from "../compiler/codegen-wasm/module.ts";
import { evalSize } from "../runtime/sizes.ts";
import { WASM_BUFFERS_AT, WASM_DATA_AT } from "../runtime/program.ts";
import { flopsPerIteration, peakModule } from "./cpu-peak.ts";

const args = process.argv.slice(2);
const relaxed = args.includes("--relaxed");
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const shape = args.includes("--shape") ? args[args.indexOf("--shape") + 1]!.split(",") : undefined;
const minMs = args.includes("--min-ms") ? Number(args[args.indexOf("--min-ms") + 1]) : 300;
setFlagsFromString("--experimental-wasm-relaxed-simd");

const memory = { min: 1, max: 65536 };

/**
 * Milliseconds of this process's CPU time `f` takes: on a shared machine
 * (other processes on both cores) wall time counts the slices they run in.
 */
function cpuMs(f: () => void): number {
  const t0 = process.cpuUsage();
  f();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1000;
}

/** GFLOP/s of the peak loop (bench/cpu-peak.ts), fused where the engine has relaxed SIMD, by CPU time. */
function peak(): number {
  const fused = peakModule(true);
  const bytes = WebAssembly.validate(fused) ? fused : peakModule(false);
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const run = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: mem } })
    .exports.run as (n: number) => number;
  let n = 1 << 16;
  let best = Infinity;
  for (let timed = 0; timed < 5;) {
    const ms = cpuMs(() => run(n));
    if (ms < 50) n *= 2;
    else ((best = Math.min(best, ms / n)), timed++);
  }
  return flopsPerIteration / best / 1e6;
}

interface Shape {
  name: string;
  m: number;
  n: number;
  k: number;
  ta?: boolean;
  tb?: boolean;
  batch?: number;
}

const shapes: Shape[] = [
  { name: "1024", m: 1024, n: 1024, k: 1024 },
  { name: "mlp fwd 1", m: 128, n: 512, k: 784 },
  { name: "mlp dW1 (x^T dy)", m: 784, n: 512, k: 128, ta: true },
  { name: "mlp dx2 (dy W^T)", m: 128, n: 512, k: 256, tb: true },
  { name: "mlp fwd 3", m: 128, n: 10, k: 256 },
  { name: "mlp fwd 1, batch 1", m: 1, n: 256, k: 784 },
  { name: "mlp dx 1, batch 1", m: 1, n: 784, k: 256, tb: true },
  { name: "linreg fwd (n = 1)", m: 128, n: 1, k: 256 },
  { name: "linreg dW (n = 1)", m: 256, n: 1, k: 128, ta: true },
  { name: "lstm x W", m: 32, n: 512, k: 64 },
  { name: "lstm h U", m: 32, n: 512, k: 128 },
  { name: "lstm dU (h^T dg)", m: 128, n: 512, k: 32, ta: true },
  { name: "attn q k^T", m: 128, n: 128, k: 64, tb: true, batch: 8 },
  { name: "attn p v", m: 128, n: 64, k: 128, batch: 8 },
  { name: "attn proj", m: 1024, n: 64, k: 64 },
  { name: "lenet conv1", m: 6, n: 784, k: 25, tb: true, batch: 64 },
  { name: "lenet conv2", m: 16, n: 100, k: 150, tb: true, batch: 64 },
  { name: "lenet dW conv1", m: 6, n: 25, k: 784 * 64, tb: true },
  { name: "lenet dW conv2", m: 16, n: 150, k: 100 * 64, tb: true },
];

function bench(s: Shape): { ms: number; gflops: number } {
  const batch = s.batch ?? 1;
  const kernel: MatmulKernel = {
    kind: "matmul",
    out: 2,
    batch: s.batch ? [dimConst(batch)] : [],
    m: dimConst(s.m),
    n: dimConst(s.n),
    k: dimConst(s.k),
    a: { buf: 0, transposed: s.ta ?? false, batch: s.batch ? iloop(0) : iconst(0) },
    b: { buf: 1, transposed: s.tb ?? false, batch: s.batch ? iloop(0) : iconst(0) },
    epilogue: { k: "acc", dtype: "f32" },
  };
  const ctx: KernelContext = {
    dims: [],
    path: "mm",
    used: new Set(),
    buffers: [],
    sources: [],
    numericsTable: null,
  };
  const code = matmulToWasm(kernel, ctx, "mm");
  const fn = relaxed ? code.fn : withoutRelaxed(code.fn);
  const { bytes } = encodeModule({ functions: [fn], exports: [fn.name], memory });
  const sizes = [s.m * s.k, s.k * s.n, s.m * s.n].map((x) => 4 * x * batch);
  const pages = Math.ceil(
    (WASM_DATA_AT + sizes.reduce((a, b) => a + b + 64, 0) + code.scratch) / 65536,
  );
  const mem = new WebAssembly.Memory({ initial: pages + 1, maximum: memory.max, shared: true });
  const run = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: mem } })
    .exports[fn.name] as (lo: number, hi: number, scratch: number) => void;
  const table = new Int32Array(mem.buffer, WASM_BUFFERS_AT, 3);
  let at = WASM_DATA_AT;
  sizes.forEach((size, i) => {
    table[i] = at;
    const f = new Float32Array(mem.buffer, at, size / 4);
    for (let e = 0; e < f.length; e++) f[e] = ((e * 7919) % 1000) / 1000 - 0.5;
    at += Math.ceil(size / 64) * 64;
  });
  const items = evalSize(code.items, []);
  // Warm up past V8's tier-up (Liftoff first, TurboFan after enough calls), then time
  // batches of calls of at least 5 ms each (CPU time is accounted coarsely).
  let calls = 1;
  const t = performance.now();
  for (let reps = 0; performance.now() - t < minMs / 3 || reps < 3; reps++) {
    if (cpuMs(() => run(0, items, at)) * calls < 5) calls *= 2;
  }
  let best = Infinity;
  const t1 = performance.now();
  while (performance.now() - t1 < minMs)
    best = Math.min(
      best,
      cpuMs(() => {
        for (let c = 0; c < calls; c++) run(0, items, at);
      }) / calls,
    );
  return { ms: best, gflops: (2 * s.m * s.n * s.k * batch) / best / 1e6 };
}

if (shape) {
  const [m, n, k, t] = shape;
  shapes.splice(0, shapes.length, {
    name: "shape",
    m: +m!,
    n: +n!,
    k: +k!,
    ta: t?.[0] === "t",
    tb: t?.[1] === "t",
  });
}
const p = peak();
console.log(
  `f32x4 peak (fused multiply-add loop), 1 thread: ${p.toFixed(1)} GFLOP/s; matmul: ${relaxed ? "relaxed" : "plain"} SIMD`,
);
for (const s of shapes) {
  if (only !== undefined && s.name !== only) continue;
  const r = bench(s);
  const dims = `${s.batch ? `${s.batch} x ` : ""}[${s.m},${s.k}]${s.ta ? "^T" : ""} @ [${s.k},${s.n}]${s.tb ? "^T" : ""}`;
  console.log(
    `${s.name.padEnd(18)} ${dims.padEnd(30)} ${r.ms.toFixed(3).padStart(8)} ms ${r.gflops.toFixed(1).padStart(6)} GFLOP/s (${((100 * r.gflops) / p).toFixed(0)}% of peak)`,
  );
}
