// `dlg bench`: how fast a model's calls run. Compile for the target, create
// the model (seeded), make one batch of synthetic data (cli/bench-data.ts),
// then for each of step(), predict() and evaluate() the model has: warm-up
// calls, then timed ones, reported as median and min (and samples/s at the
// median). The times are wall-clock per awaited call, results included (a
// GPU call's readback counts).

import { performance } from "node:perf_hooks";
import { compile } from "./node-host.ts";
import { intFlag, oneFile, str, strs, type Parsed } from "./args.ts";
import { benchDims, syntheticBatch } from "./bench-data.ts";
import { printDiagnostics, requireFile, type Io } from "./commands.ts";
import { exitCode } from "./errors.ts";
import { loadModule, type Batch } from "./module.ts";
import { gpuFor } from "./train-command.ts";
import { backendFlag, sizeLimits, threadsFlag } from "./usage.ts";
import type { Model } from "../runtime/model.ts";

export const DEFAULT_ITERS = 10;
export const DEFAULT_WARMUP = 3;

/** The calls timed, in the order they run (each only when the model has it). */
const calls = ["step", "predict", "evaluate"] as const;
type CallName = (typeof calls)[number];

export interface CallTimes {
  /** Milliseconds per call, in the order measured. */
  times_ms: number[];
  median_ms: number;
  min_ms: number;
  /** Examples of the batch per second at the median; null when the inputs have no batch dim. */
  samples_per_s: number | null;
}

/** What `--json` prints. */
export interface BenchReport {
  model: string;
  target: string;
  threads: number | null;
  dims: Record<string, number>;
  batch: number | null;
  warmup: number;
  iters: number;
  calls: Partial<Record<CallName, CallTimes>>;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** `warmup` untimed calls, then `iters` timed ones. */
async function timeCall(run: () => Promise<unknown>, warmup: number, iters: number) {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return times;
}

const runners: { [C in CallName]: (m: Model, b: Batch) => Promise<unknown> } = {
  step: (m, b) => m.step(b),
  predict: (m, b) => m.predict(b),
  evaluate: (m, b) => m.evaluate(b),
};

const ms = (t: number) => (t >= 100 ? t.toFixed(0) : t >= 10 ? t.toFixed(1) : t.toFixed(2));

function table(r: BenchReport): string[] {
  const rows = calls.flatMap((c) => {
    const t = r.calls[c];
    if (!t) return [];
    const rate = t.samples_per_s === null ? "-" : Math.round(t.samples_per_s).toString();
    return [[c, `${ms(t.median_ms)} ms`, `${ms(t.min_ms)} ms`, rate]];
  });
  const all = [["call", "median", "min", "samples/s"], ...rows];
  const widths = all[0]!.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all.map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  "),
  );
}

export async function runBench(p: Parsed, io: Io): Promise<number> {
  const file = oneFile("bench", p);
  const target = backendFlag(p, "bench");
  const threads = threadsFlag(p, "bench");
  const iters = intFlag(p, "iters", 1) ?? DEFAULT_ITERS;
  const warmup = intFlag(p, "warmup", 0) ?? DEFAULT_WARMUP;
  const batchFlag = intFlag(p, "batch", 1);
  requireFile(file);
  const r = compile(file, {
    target,
    model: str(p, "model"),
    config: str(p, "config"),
    ...sizeLimits(p),
  });
  printDiagnostics(r, io);
  if (!r.ok || r.js === undefined || r.program === undefined || r.train === undefined)
    return exitCode.error;
  const program = r.program;
  const { dims, batch } = benchDims(program, r.train, {
    ...(batchFlag !== undefined && { batch: batchFlag }),
    dims: strs(p, "dim"),
  });
  const data = syntheticBatch(program, dims, r.train.seed);
  const mod = await loadModule(r.js);
  const model = await mod.createModel({
    seed: r.train.seed,
    dims,
    backend: target,
    ...(target === "webgpu" && { gpu: await gpuFor("--target webgpu") }),
    // The wasm runtime's worker count (runtime/program.ts's opts.threads).
    ...(threads !== undefined && { threads }),
  });
  const report: BenchReport = {
    model: program.model,
    target,
    threads: threads ?? null,
    dims,
    batch: batch?.size ?? null,
    warmup,
    iters,
    calls: {},
  };
  const has = new Set(program.entries.map((e) => e.name));
  try {
    for (const c of calls) {
      if (!has.has(c)) continue;
      const times = await timeCall(() => runners[c](model, data), warmup, iters);
      const med = median(times);
      report.calls[c] = {
        times_ms: times,
        median_ms: med,
        min_ms: Math.min(...times),
        samples_per_s: batch === null ? null : (batch.size * 1000) / med,
      };
    }
  } finally {
    model.dispose();
  }
  if (p.values.json) {
    io.out(JSON.stringify(report, null, 2));
    return exitCode.ok;
  }
  const shown = Object.entries(dims).map(([k, v]) => `${k} = ${v}`);
  io.out(
    `model ${program.model} on ${target}${threads !== undefined ? ` (${threads} thread${threads === 1 ? "" : "s"})` : ""}` +
      (shown.length ? `, ${shown.join(", ")}` : "") +
      (batch ? ` (batch from ${batch.from})` : "") +
      `; synthetic data, ${warmup} warm-up + ${iters} timed calls each`,
  );
  for (const line of table(report)) io.out(line);
  return exitCode.ok;
}
