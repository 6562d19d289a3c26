// One engine on one workload, in a process of its own (bench/cpu.ts starts
// one per pair): the forward pass, then the train step, each warmed up and
// then timed call by call. Every call ends with its result read back to the
// host (the loss, or the output). Prints one line `RESULT {json}` (an
// EngineResult); the first forward output goes to --out for the cross-engine
// check.
//   npx tsx bench/cpu-engine.ts --workload mlp --engine dlg-js --init FILE --out FILE

import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { engineInfo, engineKeys, openEngine, type EngineKey } from "./cpu-engines.ts";
import { workload } from "./cpu-workloads.ts";

export interface Timed {
  /** Wall ms of each timed call. */
  ms: number[];
  /** The first call's loss (train) or the output's mean absolute value (forward). */
  first: number;
  /** Process CPU time (all threads) over wall time of the timed calls: the cores it kept busy. */
  cores: number;
}

export interface EngineResult {
  forward?: Timed;
  train?: Timed;
  /** Why a mode did not run, by mode. */
  errors: Record<string, string>;
}

const { values: opts } = parseArgs({
  options: {
    workload: { type: "string" },
    engine: { type: "string" },
    init: { type: "string", default: "" },
    out: { type: "string" },
    warmup: { type: "string", default: "10" },
    iters: { type: "string", default: "10" },
    modes: { type: "string", default: "forward,train" },
  },
});
const engine = opts.engine as EngineKey;
if (!engineKeys.includes(engine)) throw new Error(`--engine: one of ${engineKeys.join(", ")}`);
const w = workload(opts.workload ?? "");
const warmup = Math.max(1, Number(opts.warmup));
const iters = Number(opts.iters);

/** `op(0)` (the first call, its result kept), warm-up calls, then `iters` timed calls. */
async function time<T>(
  op: (i: number) => Promise<T>,
): Promise<{ first: T; ms: number[]; cores: number }> {
  const first = await op(0);
  // Slow engines (tfjs-cpu's matmul: seconds a call) stop warming up after 5 s and 2 calls.
  const w0 = performance.now();
  let w = 1;
  for (; w < warmup && (w < 2 || performance.now() - w0 < 5000); w++) await op(w);
  const ms: number[] = [];
  const c0 = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await op(w + i);
    ms.push(performance.now() - t0);
  }
  const c = process.cpuUsage(c0);
  return { first, ms, cores: (c.user + c.system) / 1000 / (performance.now() - start) };
}

const result: EngineResult = { errors: {} };
const message = (e: unknown) =>
  (e instanceof Error ? e.message : String(e)).split("\n").slice(0, 3).join(" / ");
const modes = opts.modes.split(",");
try {
  const opened = await openEngine(
    engine,
    w,
    opts.init ? new Uint8Array(readFileSync(opts.init)) : null,
  );
  const batches = [w.batchAt(0), w.batchAt(1)];
  if (modes.includes("forward")) {
    try {
      const { first, ms, cores } = await time((i) => opened.forward.run(batches[i % 2]!));
      if (opts.out) writeFileSync(opts.out, first);
      let abs = 0;
      for (const v of first) abs += Math.abs(v);
      result.forward = { ms, cores, first: abs / first.length };
    } catch (e) {
      result.errors.forward = message(e);
    }
  }
  if (modes.includes("train") && w.train && engineInfo[engine].trains) {
    try {
      if (!opened.train) throw new Error("no train step");
      const step = opened.train;
      const { first, ms, cores } = await time(async (i) => {
        const loss = await step.step(batches[i % 2]!, i);
        if (!Number.isFinite(loss)) throw new Error(`non-finite loss ${loss} at step ${i}`);
        return loss;
      });
      result.train = { ms, cores, first };
    } catch (e) {
      result.errors.train = message(e);
    }
  }
} catch (e) {
  result.errors.open = message(e);
}
console.log(`RESULT ${JSON.stringify(result)}`);
// Worker pools (jax-js, onnxruntime-web) would keep the process alive.
process.exit(0);
