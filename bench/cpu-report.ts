// bench/RESULTS.md from a run of bench/cpu.ts: the machine and its measured
// peak, one table per workload and mode (ms median and min, GFLOP/s, the
// first-step loss or the output check, ratios of each dlg target to each
// engine), then the issue's targets, each met or missed and by how much.

import { engineInfo, type EngineKey } from "./cpu-engines.ts";
import type { EngineResult, Timed } from "./cpu-engine.ts";
import { trainFlops, type CpuWorkload } from "./cpu-workload.ts";

export type Mode = "forward" | "train";

export interface Run {
  workload: CpuWorkload;
  engine: EngineKey;
  result: EngineResult;
  /** Forward: max |output - dlg js's| / max |dlg js's output| (undefined: nothing to compare). */
  outputDiff?: number;
}

export interface Meta {
  date: string;
  commit: string;
  node: string;
  cpu: string;
  cores: number;
  load: { start: number[]; end: number[] };
  iters: number;
  warmup: number;
  seconds: number;
  command: string;
  peak: {
    wasm: number[];
    native: { gflops: number[]; compiler: string } | null;
  };
  threadCounts: number[];
  mnist: {
    sample: string;
    backend: string;
    line: string;
    samplesPerSecond: number | null;
    command: string;
  }[];
}

/** Relative tolerance of the first-step loss and of the forward output against dlg js. */
export const tolerance = 1e-3;

/** samples/s of one epoch of each sample at ad0dad5 (dlg js), from the baseline section below. */
export const mnistBaseline: Record<string, number> = {
  "../test/fixtures/mlp-256.dlg": 6412,
  "lenet.dlg": 663,
};

const dlgEngines: EngineKey[] = ["dlg-js", "dlg-wasm-1", "dlg-wasm-2"];

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const f = (x: number | undefined, d = 2) =>
  x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(d);
/** ms with 3 significant digits (0.291, 14.3, 848). */
const ms = (x: number | undefined) =>
  x === undefined
    ? "–"
    : x >= 100
      ? x.toFixed(0)
      : x >= 10
        ? x.toFixed(1)
        : x.toFixed(x >= 1 ? 2 : 3);

function table(header: string[], rows: string[][]): string {
  const align = header.map((_, c) => (c === 0 ? "---" : "---:"));
  return [header, align, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

const timedOf = (r: Run | undefined, mode: Mode): Timed | undefined => r?.result[mode];
const medianOf = (r: Run | undefined, mode: Mode) => {
  const t = timedOf(r, mode);
  return t ? median(t.ms) : undefined;
};

function modeTable(w: CpuWorkload, runs: Run[], mode: Mode): string | null {
  if (mode === "train" && !w.train) return null;
  const mine = runs.filter(
    (r) => r.workload === w && (mode === "forward" || engineInfo[r.engine].trains),
  );
  if (mine.length === 0) return null;
  const flops = mode === "train" ? trainFlops(w) : w.flops;
  const by = (e: EngineKey) => mine.find((r) => r.engine === e);
  const dlgs = dlgEngines.filter((e) => timedOf(by(e), mode));
  const ref =
    mine.find((r) => r.engine === "dlg-js" && timedOf(r, mode)) ??
    mine.find((r) => timedOf(r, mode));
  const check = (r: Run): string => {
    const t = timedOf(r, mode)!;
    if (mode === "train") {
      const base = timedOf(ref, "train")!.first;
      const ok = Math.abs(t.first - base) <= tolerance * Math.max(1, Math.abs(base));
      return `${t.first.toFixed(5)}${ok ? "" : " **MISMATCH**"}`;
    }
    if (r.outputDiff === undefined) return "–";
    const ok = r.outputDiff <= tolerance;
    return `${r.outputDiff.toExponential(1)}${ok ? "" : " **MISMATCH**"}`;
  };
  // Why an engine did not run goes under the table, numbered, so the columns stay narrow.
  const notes: string[] = [];
  const rows = mine.map((r) => {
    const t = timedOf(r, mode);
    const label = engineInfo[r.engine].label;
    if (!t) {
      const why = r.result.errors[mode] ?? r.result.errors.open ?? "no result";
      notes.push(`${notes.length + 1}. ${label}: ${why}`);
      return [label, `did not run (${notes.length})`, "", "", "", "", ...dlgs.map(() => "")];
    }
    const m = median(t.ms);
    const retried = r.result.errors.retried;
    if (retried) notes.push(`${notes.length + 1}. ${label}: ran in a second process (${retried})`);
    return [
      retried ? `${label} (${notes.length})` : label,
      ms(m),
      ms(Math.min(...t.ms)),
      f(flops / m / 1e6, 1),
      f(t.cores, 1),
      check(r),
      ...dlgs.map((d) => f(medianOf(by(d), mode)! / m)),
    ];
  });
  const header = [
    mode === "train" ? "train step" : "forward",
    "median ms",
    "min ms",
    "GFLOP/s",
    "cores busy",
    mode === "train" ? "first-step loss" : "max diff vs dlg js",
    ...dlgs.map((d) => `${engineInfo[d].label} / this`),
  ];
  return [table(header, rows), ...(notes.length ? ["", ...notes] : [])].join("\n");
}

/** The issue's targets, read from this run. */
function targets(runs: Run[], workloads: CpuWorkload[], threadCounts: number[]): string[] {
  const out: string[] = [];
  const get = (w: CpuWorkload, e: EngineKey, mode: Mode) =>
    medianOf(
      runs.find((r) => r.workload === w && r.engine === e),
      mode,
    );
  const best = (w: CpuWorkload, es: EngineKey[], mode: Mode) => {
    let pick: [EngineKey, number] | null = null;
    for (const e of es) {
      const m = get(w, e, mode);
      if (m !== undefined && (!pick || m < pick[1])) pick = [e, m];
    }
    return pick;
  };
  const verdict = (ok: boolean, by: string) => (ok ? "**met**" : `**missed** (${by})`);
  for (const w of workloads.filter((w) => w.train)) {
    const dlg = best(w, dlgEngines, "train");
    const peer = best(w, ["jax-wasm", "jax-wasm-2w", "tfjs-wasm"], "train");
    if (!dlg || !peer) continue;
    const x = peer[1] / dlg[1];
    out.push(
      `- ${w.title}, train step: fastest dlg (${engineInfo[dlg[0]].label}) ${ms(dlg[1])} ms vs ` +
        `fastest JS/WASM peer (${engineInfo[peer[0]].label}) ${ms(peer[1])} ms: ${f(x)}x ` +
        `(target 1.5x): ${verdict(x >= 1.5, `needs ${f(1.5 / x)}x more`)}`,
    );
  }
  const mm = workloads.find((w) => w.key === "matmul");
  for (const n of mm ? threadCounts : []) {
    const d = get(mm!, `dlg-wasm-${n}` as EngineKey, "forward");
    const o = get(mm!, `ort-node-${n}` as EngineKey, "forward");
    if (d === undefined || o === undefined) continue;
    const share = o / d;
    out.push(
      `- matmul 1024³, ${n} thread${n > 1 ? "s" : ""}: dlg wasm ${f(mm!.flops / d / 1e6, 1)} GFLOP/s = ` +
        `${f(100 * share, 0)}% of onnxruntime-node's ${f(mm!.flops / o / 1e6, 1)} (target 50%): ` +
        verdict(share >= 0.5, `needs ${f(0.5 / share)}x`),
    );
  }
  for (const w of workloads.filter((w) => w.key !== "matmul")) {
    for (const n of threadCounts) {
      const d = get(w, `dlg-wasm-${n}` as EngineKey, "forward");
      const o = get(w, `ort-web-${n}` as EngineKey, "forward");
      if (d === undefined || o === undefined) continue;
      out.push(
        `- ${w.title}, forward, ${n} thread${n > 1 ? "s" : ""}: dlg wasm ${ms(d)} ms vs ` +
          `onnxruntime-web ${ms(o)} ms (target: at most as slow): ` +
          verdict(d <= o, `${f(d / o)}x slower`),
      );
    }
  }
  return out;
}

/** Two tables of medians, workloads by engines: train steps, then forward passes. */
function summary(runs: Run[], workloads: CpuWorkload[]): string[] {
  const out: string[] = [];
  for (const mode of ["train", "forward"] as Mode[]) {
    const ws = workloads.filter((w) => mode === "forward" || w.train);
    const es = [...new Set(runs.map((r) => r.engine))].filter(
      (e) =>
        (mode === "forward" || engineInfo[e].trains) && ws.some((w) => cell(w, e) !== undefined),
    );
    function cell(w: CpuWorkload, e: EngineKey) {
      return medianOf(
        runs.find((r) => r.workload === w && r.engine === e),
        mode,
      );
    }
    if (es.length === 0) continue;
    out.push(
      `Median ms of a ${mode === "train" ? "train step" : "forward pass"} (– : did not run; details below):`,
      "",
      table(
        [mode === "train" ? "train step" : "forward", ...es.map((e) => engineInfo[e].label)],
        ws.map((w) => [w.title, ...es.map((e) => ms(cell(w, e)))]),
      ),
      "",
    );
  }
  return out;
}

export function report(runs: Run[], workloads: CpuWorkload[], meta: Meta): string {
  const p = meta.peak;
  const lines: string[] = [
    `## CPU bench: ${meta.date}`,
    "",
    `\`${meta.command}\` at ${meta.commit}, ${meta.seconds.toFixed(0)} s; Node ${meta.node}, ` +
      `${meta.cores} cores (${meta.cpu}); load average (1, 5, 15 min) ` +
      `${meta.load.start.map((x) => f(x)).join(", ")} at the start, ` +
      `${meta.load.end.map((x) => f(x)).join(", ")} at the end.`,
    "",
    `Each engine runs in its own process on the same seeded data, from dlg's initial parameters ` +
      `(seed 1): ${meta.warmup} warm-up call${meta.warmup === 1 ? "" : "s"} (fewer, at least 2, ` +
      `for an engine still warming up after 5 s), then ${meta.iters} ` +
      `timed call${meta.iters === 1 ? "" : "s"}, each ending with its ` +
      `result (the loss, or the output) read back to the host; median and min of those. GFLOP/s ` +
      `count 2 FLOPs per multiply-add of the matmuls and convolutions, a train step as 3x its ` +
      `forward pass. "Cores busy" is the process's CPU time (all its threads) over the wall time of the timed calls. Ratios are dlg's median over the engine's (below 1: dlg is faster). The ` +
      `first-step loss (before any update) and each forward output are checked against dlg js ` +
      `within a relative ${tolerance}; a mismatch is flagged.`,
  ];
  if (p.wasm.length > 0)
    lines.push(
      "",
      "Measured FP32 peak of this machine:",
      "",
      `- WebAssembly SIMD (f32x4 mul + add, no FMA in Node 20 without --experimental-wasm-relaxed-simd): ` +
        meta.threadCounts
          .map((n, i) => `${f(p.wasm[i], 1)} GFLOP/s on ${n} thread${n > 1 ? "s" : ""}`)
          .join(", "),
      p.native
        ? `- native (${p.native.compiler}, -O3 -march=native, FMA): ` +
            meta.threadCounts
              .map(
                (n, i) => `${f(p.native!.gflops[i], 1)} GFLOP/s on ${n} thread${n > 1 ? "s" : ""}`,
              )
              .join(", ")
        : "- native: g++ not found, not measured",
    );
  lines.push("", ...summary(runs, workloads));
  for (const w of workloads) {
    const sections = (["train", "forward"] as Mode[])
      .map((mode) => modeTable(w, runs, mode))
      .filter((t): t is string => t !== null);
    if (sections.length === 0) continue;
    const fl = w.train
      ? `forward ${f(w.flops / 1e9, 3)} GFLOP, train step ${f(trainFlops(w) / 1e9, 3)} GFLOP`
      : `${f(w.flops / 1e9, 3)} GFLOP`;
    lines.push("", `### ${w.title}`, "", `bench/cpu-models/${w.key}.dlg; ${fl}.`);
    for (const s of sections) lines.push("", s);
  }
  const t = targets(runs, workloads, meta.threadCounts);
  if (t.length > 0) lines.push("", "### Targets (issue 8)", "", ...t);
  if (meta.mnist.length > 0) {
    lines.push("", "### MNIST samples end to end", "");
    lines.push(
      `Training throughput of one epoch (55000 images; the epoch line's samples/s, validation ` +
        `excluded), against the baseline at ad0dad5 (dlg js, below; the issue's target is 5x):`,
      "",
    );
    const rows = meta.mnist.map((m) => {
      const before = mnistBaseline[m.sample];
      const x = m.samplesPerSecond !== null && before ? m.samplesPerSecond / before : undefined;
      return [
        `\`${m.command}\``,
        m.samplesPerSecond === null
          ? `did not run: ${m.line.replaceAll("|", "/")}`
          : `${m.samplesPerSecond}`,
        before ? `${before}` : "–",
        // The target is the default (fastest) CPU target's; js is there for reference.
        x === undefined
          ? "–"
          : `${f(x, 1)}x${m.backend === "js" || x >= 5 ? "" : " (target 5x: missed)"}`,
      ];
    });
    lines.push(table(["command", "samples/s", "baseline", "speed-up"], rows));
  }
  return lines.join("\n") + "\n";
}
