// `npm run fuzz -- --runs 20000 [--seed N] [--timeout MS] [--target js|wasm|all]
// [--threads-every N]`: run that many generated and mutated programs through
// the whole pipeline, each in a child process with a time box, on each target
// (all: js, then wasm; every Nth case also checks wasm on 2 threads against 1),
// and print the counts by outcome and failure kind, then the first unexpected
// failures of each kind (origin, target, message, program). Exit status 1 if
// anything failed that is not a known defect.

import { parseArgs } from "node:util";
import { fuzzCases } from "./cases.ts";
import { fuzzTargets, type FuzzTarget } from "./oracle.ts";
import { CasePool } from "./pool.ts";
import { Tally } from "./tally.ts";

const usage =
  "usage: npm run fuzz -- [--runs N] [--seed N] [--timeout MS] [--target js|wasm|all] [--threads-every N]";

const targetChoices: Record<string, readonly FuzzTarget[]> = {
  ...Object.fromEntries(fuzzTargets.map((t) => [t, [t]])),
  all: fuzzTargets,
};

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`error: --${name} must be a positive integer, got "${text}"\n${usage}`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        runs: { type: "string", default: "1000" },
        seed: { type: "string", default: "1" },
        timeout: { type: "string", default: "20000" },
        target: { type: "string", default: "all" },
        "threads-every": { type: "string", default: "4" },
      },
    }));
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n${usage}`);
    process.exit(2);
  }
  const runs = positiveInt("runs", values.runs);
  const seed = positiveInt("seed", values.seed);
  const timeoutMs = positiveInt("timeout", values.timeout);
  const targets = Object.hasOwn(targetChoices, values.target)
    ? targetChoices[values.target]!
    : (console.error(`error: --target must be js, wasm or all, got "${values.target}"\n${usage}`),
      process.exit(2));
  const threadsEvery = positiveInt("threads-every", values["threads-every"]);
  const pool = new CasePool({ timeoutMs });
  const tally = new Tally();
  const started = Date.now();
  const cases = fuzzCases(seed, runs);
  for (const [i, c] of cases.entries()) {
    const threads = targets.includes("wasm") && i % threadsEvery === 0;
    tally.add(c, await pool.run(c, timeoutMs, { targets, threads }));
    if ((i + 1) % 500 === 0)
      console.error(
        `${i + 1}/${runs} cases, ${tally.failed} failed, ${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
  }
  pool.close();
  console.log(
    `seed ${seed}, targets ${targets.join(", ")}` +
      (targets.includes("wasm") ? `, 2 threads every ${threadsEvery} cases` : "") +
      `, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(tally.summary());
  if (tally.failed > 0) console.log(`\n${tally.details()}`);
  process.exitCode = tally.failed > 0 ? 1 : 0;
}

await main();
