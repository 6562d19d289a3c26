// The machine's measured FP32 peak, beside which bench/cpu.ts puts every
// GFLOP/s figure: a WebAssembly SIMD loop (f32x4 multiply then add, 12
// independent accumulators so neither latency nor a dependency limits it)
// on 1 and on N threads, and, where g++ is installed, a native loop compiled
// at bench time with -O3 -march=native (the widest vectors, fused
// multiply-adds), also on 1 and N threads. Nothing binary is kept: the C++
// source is written, built and run in a temporary directory, then deleted.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { encodeModule } from "../compiler/codegen-wasm/encode.ts";
import type { Instr, WasmFunction } from "../compiler/codegen-wasm/instr.ts";
import { withoutRelaxed } from "../compiler/codegen-wasm/module.ts";

// 12 accumulators, m and c: 14 live v128 values, within x64's 16 vector
// registers (16 accumulators spilled: 30.5 against 37.0 GFLOP/s on 1 thread).
const accumulators = 12;

/**
 * `run(n: i32) -> f32`: n iterations of acc[k] = acc[k] * m + c for 12
 * f32x4 accumulators (8 flops each), their sum's lane 0 returned so nothing
 * is dead. One `f32x4.relaxed_madd` each (withoutRelaxed: multiply then add).
 * Local 0 is n, 1..12 the accumulators, 13 m, 14 c.
 */
export function peakFunction(): WasmFunction {
  const [m, c] = [accumulators + 1, accumulators + 2];
  const body: Instr[] = [];
  for (let k = 1; k <= accumulators; k++)
    body.push(["v128.const", 1 + k / 64, 1, 1, 1], ["local.set", k]);
  body.push(["v128.const", 0.9999, 0.9999, 0.9999, 0.9999], ["local.set", m]);
  body.push(["v128.const", 1e-4, 1e-4, 1e-4, 1e-4], ["local.set", c]);
  body.push(["block"], ["loop"], ["local.get", 0], ["i32.eqz"], ["br_if", 1]);
  for (let k = 1; k <= accumulators; k++)
    body.push(
      ["local.get", k],
      ["local.get", m],
      ["local.get", c],
      ["f32x4.relaxed_madd"],
      ["local.set", k],
    );
  body.push(["local.get", 0], ["i32.const", 1], ["i32.sub"], ["local.set", 0], ["br", 0]);
  body.push(["end"], ["end"], ["local.get", 1]);
  for (let k = 2; k <= accumulators; k++) body.push(["local.get", k], ["f32x4.add"]);
  body.push(["f32x4.extract_lane", 0]);
  return {
    name: "run",
    params: ["i32"],
    results: ["f32"],
    locals: Array.from({ length: accumulators + 2 }, () => "v128" as const),
    body,
  };
}

/** The peak module's bytes (its one-page memory imported as env.memory, shared): fused or plain SIMD. */
export function peakModule(fused: boolean): Uint8Array<ArrayBuffer> {
  const fn = peakFunction();
  const memory = { min: 1, max: 1 };
  return encodeModule({ functions: [fused ? fn : withoutRelaxed(fn)], exports: ["run"], memory })
    .bytes;
}

/** FLOPs of one loop iteration: 12 accumulators x 4 lanes x (multiply + add). */
export const flopsPerIteration = accumulators * 4 * 2;

/**
 * Each worker compiles the module, sizes its run to about 0.4 s, reports
 * ready, waits for "go" (all threads start together), then runs and reports
 * its seconds.
 */
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
const run = new WebAssembly.Instance(new WebAssembly.Module(workerData.bytes), { env: { memory } })
  .exports.run;
let n = 1 << 16;
for (;;) {
  const t0 = performance.now();
  run(n);
  const s = (performance.now() - t0) / 1000;
  if (s > 0.05) { n = Math.ceil(n * 0.4 / s); break; }
  n *= 4;
}
parentPort.postMessage({ ready: true });
parentPort.on("message", () => {
  const t0 = performance.now();
  run(n);
  parentPort.postMessage({ n, s: (performance.now() - t0) / 1000 });
});
`;

/** GFLOP/s of the WebAssembly SIMD loop on `threads` threads running at once (best of `reps`). */
export async function wasmPeak(threads: number, reps = 3): Promise<number> {
  const bytes = peakModule(false);
  const workers = Array.from(
    { length: threads },
    () => new Worker(workerSource, { eval: true, workerData: { bytes } }),
  );
  const next = (w: Worker) =>
    new Promise<{ n: number; s: number }>((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
    });
  try {
    await Promise.all(workers.map(next));
    let best = 0;
    for (let r = 0; r < reps; r++) {
      const done = workers.map(next);
      for (const w of workers) w.postMessage("go");
      const runs = await Promise.all(done);
      // Work of all threads over the longest one's time: they ran side by side.
      const flops = runs.reduce((a, x) => a + x.n * flopsPerIteration, 0);
      best = Math.max(best, flops / Math.max(...runs.map((x) => x.s)) / 1e9);
    }
    return best;
  } finally {
    for (const w of workers) void w.terminate();
  }
}

const nativeSource = `
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>
typedef float v16 __attribute__((vector_size(64)));
// 16 independent accumulators of 16 floats: acc = acc * m + c (an FMA at
// -march=native), 512 flops an iteration.
static float loop(long n) {
  v16 acc[16], m, c;
  for (int k = 0; k < 16; k++) for (int l = 0; l < 16; l++) acc[k][l] = 1 + k / 64.0f;
  for (int l = 0; l < 16; l++) { m[l] = 0.9999f; c[l] = 0.0001f; }
  for (long i = 0; i < n; i++)
    for (int k = 0; k < 16; k++) acc[k] = acc[k] * m + c;
  float s = 0;
  for (int k = 0; k < 16; k++) s += acc[k][0];
  return s;
}
int main(int argc, char** argv) {
  int threads = std::atoi(argv[1]);
  long n = std::atol(argv[2]);
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 3; rep++) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    std::vector<float> out(threads);
    for (int t = 0; t < threads; t++) ts.emplace_back([&, t] { out[t] = loop(n); });
    for (auto& t : ts) t.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (float v : out) sink = sink + v;
    double g = 512.0 * n * threads / s / 1e9;
    if (g > best) best = g;
  }
  std::printf("%.3f\\n", best);
  return 0;
}
`;

/** GFLOP/s of the native loop at each thread count; null where g++ is missing or fails. */
export function nativePeak(threadCounts: number[]): { gflops: number[]; compiler: string } | null {
  const gxx = spawnSync("g++", ["--version"], { encoding: "utf8" });
  if (gxx.status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), "dlg-peak-"));
  try {
    writeFileSync(join(dir, "peak.cpp"), nativeSource);
    const exe = join(dir, "peak");
    execFileSync("g++", ["-O3", "-march=native", "-pthread", "-o", exe, join(dir, "peak.cpp")]);
    // 2e7 iterations x 512 flops: about 10 GFLOP a thread, a few tenths of a second.
    const gflops = threadCounts.map((t) =>
      Number(execFileSync(exe, [String(t), "20000000"], { encoding: "utf8" }).trim()),
    );
    return { gflops, compiler: gxx.stdout.split("\n")[0]!.trim() };
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
