// The CPU bench: dlg on each CPU target against the JavaScript and
// WebAssembly peers, on five workloads, each engine in its own process:
//   npm run bench:cpu                  (npx tsx bench/cpu.ts [options])
//
// Workloads (bench/cpu-models/*.dlg; their peers in bench/cpu-KEY.ts):
//   matmul     1024 x 1024 x 1024, forward only
//   mlp        784-512-256-10, batch 128
//   lenet      LeNet-5, batch 32
//   lstm       LSTM 64 -> 128, 32 steps, batch 32
//   attention  single-head self-attention, batch 8, 128 positions, width 64
// Engines (bench/cpu-engines.ts): dlg's module for the js target and for the
// wasm target on 1 and 2 threads (and on 2 with Node's relaxed-SIMD flag, as
// Chromium runs it); jax-js on its wasm device, alone and with
// 2 workers; TF.js with tfjs-backend-wasm and tfjs-backend-cpu; and, for
// forward passes, onnxruntime-web (WebAssembly SIMD) and onnxruntime-node
// (native) on 1 and 2 threads, running an ONNX graph of the forward pass
// built here (bench/cpu-onnx.ts) with dlg's initial parameters as its
// initializers. Each engine times the forward pass and (all but
// onnxruntime) the train step: forward, backward and the Adam update.
//
// First the dlg js module of each workload is made with seed 1 and its
// checkpoint written to a temporary directory: every engine starts from it.
// Then one process per workload and engine (bench/cpu-engine.ts), one after
// another; then the machine's FP32 peak (bench/cpu-peak.ts) and the MNIST
// samples' training throughput (`dlg train`, one epoch). The report goes to
// stdout and, with the part between the baseline markers kept, to
// bench/RESULTS.md.
//
// Options: --only mlp,lstm (workloads), --engines dlg-js,ort-node-2, --iters
// N (timed calls, default 10), --warmup N (default 10: dlg's wasm runtime
// probes split against unsplit kernels over its first 8 calls), --no-peak,
// --no-mnist, --mnist-limit N (train on N images instead of the 55000),
// --mnist-backends js,wasm (the `dlg train --backend` values to time),
// --out FILE (default bench/RESULTS.md; `-` writes nothing), --timeout S (per
// process, default 900). Nothing here is a test: times are printed, never asserted.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { format, resolveConfig } from "prettier";
import { loadModule } from "../cli/module.ts";
import { compile } from "../cli/node-host.ts";
import { engineInfo, engineKeys, seed, type EngineKey } from "./cpu-engines.ts";
import type { EngineResult } from "./cpu-engine.ts";
import { nativePeak, wasmPeak } from "./cpu-peak.ts";
import { report, type Meta, type Run } from "./cpu-report.ts";
import { workloads } from "./cpu-workloads.ts";

const { values: opts } = parseArgs({
  options: {
    only: { type: "string" },
    engines: { type: "string" },
    iters: { type: "string", default: "10" },
    warmup: { type: "string", default: "10" },
    "no-peak": { type: "boolean", default: false },
    "no-mnist": { type: "boolean", default: false },
    "mnist-limit": { type: "string" },
    "mnist-backends": { type: "string", default: "js,wasm" },
    out: { type: "string", default: join(import.meta.dirname, "RESULTS.md") },
    timeout: { type: "string", default: "900" },
  },
});
const pick = <T extends string>(list: string | undefined, all: readonly T[], what: string): T[] => {
  if (!list) return [...all];
  const asked = list.split(",");
  const bad = asked.filter((k) => !all.includes(k as T));
  if (bad.length > 0) throw new Error(`--${what}: no ${bad.join(", ")} (${all.join(", ")})`);
  return asked as T[];
};
const chosen = pick(
  opts.only,
  workloads.map((w) => w.key),
  "only",
).map((k) => workloads.find((w) => w.key === k)!);
const engines = pick(opts.engines, engineKeys, "engines");
const threadCounts = [1, 2];
const root = join(import.meta.dirname, "..");

const started = performance.now();
const loadStart = loadavg();
const dir = mkdtempSync(join(tmpdir(), "dlg-cpu-bench-"));
const runs: Run[] = [];
try {
  for (const w of chosen) {
    // The checkpoint every engine starts from: dlg js's initial parameters (none for matmul).
    const r = compile(join(import.meta.dirname, "cpu-models", `${w.key}.dlg`));
    if (!r.ok || !r.js) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
    const model = await (await loadModule(r.js)).createModel({ seed });
    const init = w.train ? join(dir, `${w.key}.init`) : "";
    if (init) writeFileSync(init, await model.save());
    model.dispose();

    let reference: Float32Array | null = null;
    for (const e of engines) {
      const out = join(dir, `${w.key}-${e}.f32`);
      const t0 = performance.now();
      let result = runEngine(w.key, e, init, out);
      // A process that died without a result (a crash, a hang the event loop gave up on: exit
      // 13) gets one more try; the note says so.
      if (result.errors.crashed) {
        const first = result.errors.crashed;
        result = runEngine(w.key, e, init, out);
        result.errors.retried = `the first process ${first}`;
        if (!result.forward && !result.train) result.errors.open = result.errors.crashed!;
      }
      const run: Run = { workload: w, engine: e, result };
      if (result.forward && existsSync(out)) {
        const bytes = readFileSync(out);
        const output = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
        if (e === "dlg-js") reference = output.slice();
        else if (reference) run.outputDiff = relativeDiff(output, reference);
      }
      runs.push(run);
      const med = (m: "forward" | "train") => {
        const t = result[m];
        return t ? `${m} ${[...t.ms].sort((a, b) => a - b)[t.ms.length >> 1]!.toFixed(2)} ms` : "";
      };
      process.stderr.write(
        `  ${w.key} ${engineInfo[e].label}: ${[med("forward"), med("train")].filter((s) => s).join(", ")}` +
          `${Object.keys(result.errors).length ? ` (errors: ${JSON.stringify(result.errors)})` : ""}` +
          ` [${((performance.now() - t0) / 1000).toFixed(1)} s]\n`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Engine `e` on `workload` in a process of its own (bench/cpu-engine.ts); `errors.crashed` if it gave no result. */
function runEngine(workload: string, e: EngineKey, init: string, out: string): EngineResult {
  const child = spawnSync(
    process.execPath,
    [
      ...(engineInfo[e].nodeFlags ?? []),
      "--import",
      "tsx",
      join(import.meta.dirname, "cpu-engine.ts"),
      ...["--workload", workload, "--engine", e, "--init", init, "--out", out],
      ...["--iters", opts.iters, "--warmup", opts.warmup],
    ],
    { cwd: root, encoding: "utf8", timeout: Number(opts.timeout) * 1000, maxBuffer: 1 << 26 },
  );
  const line = child.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (line) return JSON.parse(line.slice(7)) as EngineResult;
  const why = child.error?.message ?? `exited ${child.status}: ${firstError(child.stderr)}`;
  return { errors: { crashed: why } };
}

/** The first line of a crashed process's stderr that names an error. */
function firstError(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim());
  return lines.find((l) => /Error|error:/.test(l)) ?? lines.filter((l) => l).slice(-1)[0] ?? "";
}

/** max |a - b| / max |b|; Infinity for a different length. */
function relativeDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / (scale || 1);
}

const peak: Meta["peak"] = { wasm: [], native: null };
if (!opts["no-peak"]) {
  for (const n of threadCounts) peak.wasm.push(await wasmPeak(n));
  peak.native = nativePeak(threadCounts);
  process.stderr.write(`  peak: wasm ${peak.wasm.map((g) => g.toFixed(1)).join(" / ")} GFLOP/s\n`);
}

/** `dlg train SAMPLE --epochs 1 --backend B`: its epoch line and the samples/s it reports. */
function mnist(sample: string, backend: string): Meta["mnist"][number] {
  const args = ["bin/dlg.js", "train", `samples/${sample}`, "--epochs", "1", "--backend", backend];
  if (opts["mnist-limit"]) args.push("--limit", opts["mnist-limit"]);
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8" });
  const line = r.stdout.split("\n").find((l) => l.startsWith("epoch 1/1")) ?? firstError(r.stderr);
  const rate = /([\d.]+) samples\/s/.exec(line)?.[1];
  process.stderr.write(`  ${sample} --backend ${backend}: ${line}\n`);
  return {
    sample,
    backend,
    line: line.trim(),
    samplesPerSecond: rate ? Number(rate) : null,
    command: `npx dlg ${args.slice(1).join(" ")}`,
  };
}
const mnistRuns = opts["no-mnist"]
  ? []
  : ["../test/fixtures/mlp-256.dlg", "lenet.dlg"].flatMap((s) =>
      opts["mnist-backends"].split(",").map((b) => mnist(s, b)),
    );

const git = (args: string[]) => {
  try {
    return execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
};
const dirty = git(["status", "--porcelain", "--untracked-files=no"]) !== "";
const meta: Meta = {
  date: new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC",
  commit: git(["rev-parse", "--short", "HEAD"]) + (dirty ? " (with uncommitted changes)" : ""),
  node: process.version,
  cpu: cpus()[0]?.model.trim() ?? "?",
  cores: cpus().length,
  load: { start: loadStart, end: loadavg() },
  iters: Number(opts.iters),
  warmup: Number(opts.warmup),
  seconds: (performance.now() - started) / 1000,
  command: `npx tsx bench/cpu.ts${process.argv.slice(2).length ? " " + process.argv.slice(2).join(" ") : ""}`,
  peak,
  threadCounts,
  mnist: mnistRuns,
};
const text = report(runs, chosen, meta);
console.log(text);

if (opts.out !== "-") {
  // The baseline section (figures from before issue 8, measured once) is kept as it is.
  const start = "<!-- baseline: start -->";
  const end = "<!-- baseline: end -->";
  const old = existsSync(opts.out) ? readFileSync(opts.out, "utf8") : "";
  const kept = old.includes(start)
    ? old.slice(old.indexOf(start), old.indexOf(end) + end.length)
    : "";
  const head =
    "# Benchmark results\n\nWritten by `npm run bench:cpu` (bench/cpu.ts); the baseline section is kept across runs.\n";
  // Formatted as `npm test`'s prettier --check wants it.
  const whole = [head, text, kept].filter((s) => s).join("\n");
  const config = (await resolveConfig(opts.out)) ?? {};
  writeFileSync(opts.out, await format(whole, { ...config, filepath: opts.out }));
}
