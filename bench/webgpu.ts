// dlg's WebGPU backend against TF.js (@tensorflow/tfjs-backend-webgpu) and
// jax-js (@jax-js/jax, webgpu device), on one WebGPU adapter, in one run:
//   npx tsx bench/webgpu.ts [options]
//
// Four train steps, each a sample of samples/ compiled with
// compile(file, { target: "webgpu" }) and driven through createModel({ gpu })
// and step(), beside hand-written TF.js and jax-js programs computing the
// same function: same layers, same initial parameters (copied from dlg's
// init), same loss and optimizer, same batches in the same order.
//   mlp        test/fixtures/mlp-256.dlg (the sample before issue 10), `sgd` block (bench/webgpu-mlp.ts)
//   lenet      samples/lenet.dlg (bench/webgpu-lenet.ts)
//   lstm       samples/lstm_adding.dlg (bench/webgpu-lstm.ts)
//   attention  samples/reverse_attention.dlg (bench/webgpu-attention.ts)
// Every timed step ends with the loss read back to the host, so it includes
// the GPU finishing the step. Each engine warms up first; the timed steps
// are split into rounds that rotate which engine goes first, and count the
// compute dispatches and queue submits each engine issues. Reported: ms per
// step, the ratios dlg/tfjs and dlg/jax (below 1: dlg is faster) with
// their spread over the rounds, and the losses of each engine's first and
// last step, a sanity check that the three train the same model (only the
// MLP draws dropout masks, which differ between engines).
//
// On SwiftShader (the CPU behind Dawn where there is no GPU) only the ratios
// mean anything. Beside them: the FP32 matmul rate each peer reaches on the
// adapter, and the CPU's theoretical peak.
//
// Options: --steps N (timed steps per engine, default: each workload's own),
// --warmup N (default 1), --rounds N (default 3), --only mlp,lstm,
// --dlg-target webgpu|js (default webgpu; js times dlg's JavaScript module on
// the CPU instead), --peak-size N (matmul side, default 256; 0 skips it),
// --profile (after timing, one more step of each engine replayed kernel by
// kernel, bench/webgpu-profile.ts; the --top N longest kernels printed, 6).
// Nothing here is a test: timings are printed, never asserted.

import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { countGpuWork, type GpuCounts } from "./webgpu-count.ts";
import { dlgSide, type DlgTarget } from "./webgpu-dlg.ts";
import { cpuPeak, matmulGflops } from "./webgpu-peak.ts";
import { profileStep, watchPipelineLabels, type KernelTime } from "./webgpu-profile.ts";
import { loadTfjs } from "./tfjs.ts";
import { adapterDescription, gpu, loadJaxWebgpu } from "./webgpu-setup.ts";
import { engines, timeEngines, type Engine, type EngineTimes } from "./webgpu-timing.ts";
import type { Workload } from "./webgpu-workload.ts";
import { attention } from "./webgpu-attention.ts";
import { lenet } from "./webgpu-lenet.ts";
import { lstm } from "./webgpu-lstm.ts";
import { mlp } from "./webgpu-mlp.ts";

const { values: opts } = parseArgs({
  options: {
    steps: { type: "string" },
    warmup: { type: "string", default: "1" },
    rounds: { type: "string", default: "3" },
    only: { type: "string" },
    "dlg-target": { type: "string", default: "webgpu" },
    "peak-size": { type: "string", default: "256" },
    seed: { type: "string", default: "42" },
    profile: { type: "boolean", default: false },
    top: { type: "string", default: "6" },
  },
});
const target = opts["dlg-target"];
if (target !== "webgpu" && target !== "js")
  throw new Error(`--dlg-target: webgpu or js, not ${target}`);
const warmup = Math.max(1, Number(opts.warmup));
const rounds = Number(opts.rounds);
const seed = Number(opts.seed);

/** Each workload with its default number of timed steps: few, as TF.js takes 2-30 s a step on SwiftShader. */
const workloads: [Workload, number][] = [
  [mlp, 6],
  [lenet, 6],
  [lstm, 3],
  [attention, 3],
];
const only = opts.only?.split(",");
const unknown = only?.filter((k) => !workloads.some(([w]) => w.key === k)) ?? [];
if (unknown.length > 0) {
  throw new Error(
    `--only: no workload ${unknown.join(", ")} (${workloads.map(([w]) => w.key).join(", ")})`,
  );
}
const chosen = workloads.filter(([w]) => !only || only.includes(w.key));

interface Result {
  workload: Workload;
  steps: number;
  dlgBackend: string;
  times: { [E in Engine]: EngineTimes };
  counts: { [E in Engine]: GpuCounts };
  first: { [E in Engine]: number };
  /** With --profile: one more step of each engine, kernel by kernel. */
  profiles?: { [E in Engine]: KernelTime[] };
}

async function run(w: Workload, steps: number): Promise<Result> {
  const data = w.batches(warmup + steps + (opts.profile ? 1 : 0));
  const dlg = await dlgSide(w.sample, w.config, target as DlgTarget, seed, gpu);
  const peers = { tfjs: w.tfjs(tf, dlg.init), jax: w.jax(jax, dlg.init) };
  const fns = {
    dlg: (i: number) => dlg.step(data[i]!),
    tfjs: (i: number) => peers.tfjs.step(data[i]!, i),
    jax: (i: number) => peers.jax.step(data[i]!, i),
  };
  const first = {} as Result["first"];
  for (const e of engines) {
    first[e] = await fns[e](0);
    for (let i = 1; i < warmup; i++) await fns[e](i);
  }
  // Counted over the timed steps only: a first step also builds pipelines and optimizer state.
  const counts = {} as Result["counts"];
  for (const e of engines) counts[e] = { dispatches: 0, submits: 0 };
  const counter = countGpuWork();
  const counted = (e: Engine) => (i: number) => counter.within(counts[e], () => fns[e](i));
  const times = await timeEngines(
    { dlg: counted("dlg"), tfjs: counted("tfjs"), jax: counted("jax") },
    warmup,
    steps,
    rounds,
  ).finally(counter.restore);
  for (const e of engines) {
    counts[e].dispatches /= steps;
    counts[e].submits /= steps;
  }
  let profiles: Result["profiles"];
  if (labels) {
    profiles = {} as NonNullable<Result["profiles"]>;
    for (const e of engines) profiles[e] = await profileStep(() => fns[e](warmup + steps), labels);
  }
  peers.tfjs.dispose();
  peers.jax.dispose();
  (dlg.model as { dispose?: () => void }).dispose?.();
  process.stderr.write(`  done: ${w.key}\n`);
  return { workload: w, steps, dlgBackend: dlg.backend, times, counts, first, profiles };
}

const started = performance.now();
const load0 = loadavg();
const adapter = await adapterDescription();
// Installed before any engine builds a pipeline, so every kernel has its name.
const labels = opts.profile ? watchPipelineLabels() : null;
const tf = await loadTfjs("webgpu");
const jax = await loadJaxWebgpu();
const results: Result[] = [];
// A workload that fails (a backend still missing a kernel) is reported, and the others still run.
const failed: string[] = [];
for (const [w, n] of chosen) {
  try {
    results.push(await run(w, opts.steps ? Number(opts.steps) : n));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    failed.push(`${w.key} did not run: ${message.split("\n").slice(0, 4).join(" / ")}`);
    process.stderr.write(`  failed: ${w.key}\n`);
  }
}
const peakSize = Number(opts["peak-size"]);
const peak = peakSize > 0 ? await matmulGflops(jax, tf, peakSize, 3) : null;
const load1 = loadavg();

// ------------------------------------------------------------------ report

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "-");
const ratio = (r: Result, peer: Engine) => {
  const per = r.times.dlg.rounds.map((d, k) => d / r.times[peer].rounds[k]!);
  return `${f(r.times.dlg.msPerStep / r.times[peer].msPerStep)} (${f(Math.min(...per))}–${f(Math.max(...per))})`;
};
const header = [
  "Train step",
  "steps",
  "dlg ms",
  "tfjs ms",
  "jax ms",
  "dlg/tfjs (rounds)",
  "dlg/jax (rounds)",
  "dispatches dlg/tfjs/jax",
  "submits",
];
const rows = results.map((r) => [
  r.workload.title,
  `${r.steps}`,
  f(r.times.dlg.msPerStep, 1),
  f(r.times.tfjs.msPerStep, 1),
  f(r.times.jax.msPerStep, 1),
  ratio(r, "tfjs"),
  ratio(r, "jax"),
  engines.map((e) => f(r.counts[e].dispatches, 0)).join(" / "),
  engines.map((e) => f(r.counts[e].submits, 0)).join(" / "),
]);
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
const line = (cells: string[]) =>
  `| ${cells.map((s, c) => (c === 0 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join(" | ")} |`;

const cpu = cpus();
const backends = [...new Set(results.map((r) => r.dlgBackend))].join(", ");
console.log(
  `dlg (${backends}) vs TensorFlow.js ${tf.version_core} (webgpu) and jax-js (webgpu), ` +
    `${new Date().toISOString().slice(0, 10)}, node ${process.version}`,
);
console.log(`adapter: ${adapter}; host: ${cpu.length} cores (${cpu[0]?.model.trim() ?? "?"})`);
if (peak) {
  console.log(
    `FP32 matmul ${peakSize}x${peakSize} on the adapter: jax-js ${f(peak.jax, 1)} GFLOP/s, ` +
      `TF.js ${f(peak.tfjs, 1)} GFLOP/s`,
  );
}
const cp = cpuPeak();
if (cp) console.log(`CPU FP32 peak (theoretical): ${f(cp.gflops, 0)} GFLOP/s = ${cp.formula}`);
console.log(
  `load average (1 min) ${f(load0[0]!)} at start, ${f(load1[0]!)} at end; ${warmup} warm-up ` +
    `step${warmup === 1 ? "" : "s"}, ${rounds} rotating rounds; ratio below 1: dlg is faster`,
);
console.log("");
console.log(line(header));
console.log(line(widths.map((w, c) => (c === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":"))));
for (const r of rows) console.log(line(r));
console.log("");
for (const r of results) {
  const losses = (pick: (e: Engine) => number) =>
    engines.map((e) => `${e} ${f(pick(e), 4)}`).join(", ");
  console.log(
    `${r.workload.key} loss at step 1: ${losses((e) => r.first[e])}; ` +
      `at step ${warmup + r.steps}: ${losses((e) => r.times[e].last)}`,
  );
}
const top = Number(opts.top);
for (const r of results) {
  for (const e of r.profiles ? engines : []) {
    const ks = r.profiles![e];
    const sum = ks.reduce((a, k) => a + k.ms, 0);
    const n = ks.reduce((a, k) => a + k.count, 0);
    const share = (k: KernelTime) =>
      `${k.name} x${k.count} ${f(k.ms, 1)} ms (${f((100 * k.ms) / sum, 0)}%)`;
    console.log(
      `${r.workload.key} ${e}: ${n} dispatches replay in ${f(sum, 1)} ms ` +
        `(step ${f(r.times[e].msPerStep, 1)} ms); ${ks.slice(0, top).map(share).join("; ")}`,
    );
  }
}
for (const m of failed) console.log(m);
console.log(`total ${f((performance.now() - started) / 1000, 1)} s`);
