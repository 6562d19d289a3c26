// The fuzzer on the WASM target: programs it found failing there, reduced by
// hand, and a fixed-seed sample of generated programs, each through the
// whole oracle (test/fuzz/oracle.ts) on js and wasm: compiled for both, run
// against the float64 interpreter (wasm also no further from it than 1e-4 or
// 100x js's error), on 2 threads with every kernel split for threads: 1's
// bits, at the case's dims and a larger one. `npm run fuzz -- --target wasm`
// runs many more.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { generatedArb } from "./fuzz/generate.ts";
import type { FuzzCase, RunOptions } from "./fuzz/oracle.ts";
import { CasePool } from "./fuzz/pool.ts";
import { Tally } from "./fuzz/tally.ts";

const BOTH: RunOptions = { targets: ["js", "wasm"], threads: true };

const cases: { name: string; text: string; dim: number }[] = [
  {
    // Found on js at the larger dims the wasm runs added (fuzz --seed 51 and 53,
    // --threads-every 1): in a reverse scan's body the js matmul's 4-row block
    // names its accumulators s0..s3, shadowing the step `s1 = T[1]`, so the
    // stacked gradient lands at row `acc * B * 4`: table's update was 0. Fewer
    // than 4 rows take the unblocked path, which the fuzzer's dims 1-3 did.
    // Fixed: the step locals are `step<n>` now.
    name: "a matmul of 4+ rows written into a reverse scan's stacked output",
    text: `dim B
model gen {
  input ids: int[B, 1]
  param table: [5, 4]
  param w8: [4, 4]
  h9 = scan xt in table[ids] along 1 carry (h = zeros([B, 4])) {
    h = xt @ w8
  }
  loss sum(h9)
}
train fuzz for gen { optimizer sgd(1.0) }
`,
    dim: 4,
  },
  {
    // Found by the fuzzer (step of `x |> repeat(dense(2), 1)`): a reduction whose
    // output's last axis is under 4 runs one item per output element, and its
    // store's address `t*n + lin` (a reverse scan step's slot of the stacked bias
    // gradient) was hoisted after the hoisted code had been emitted: the store read
    // an unset local, so every step's every element landed on element 0. Widths 2
    // and 3, one step and two; 5 takes the other (column-block) shape.
    name: "a bias gradient (a reduce over the batch) into a reverse scan's stacked output",
    text: `dim B
model gen {
  input x: [B, 2]
  h = x |> repeat(dense(2), 1) |> dense(3) |> repeat(dense(3), 2) |> dense(5) |> repeat(dense(5), 2)
  loss mean(h ^ 2)
}
train fuzz for gen { optimizer sgd(0.1) }
`,
    dim: 2,
  },
];

/** Each case in the pool: a hang or a crash fails the test instead of stopping the run. */
async function runAll(cs: readonly FuzzCase[]): Promise<Tally> {
  const pool = new CasePool({ timeoutMs: 60_000, run: BOTH });
  const tally = new Tally();
  try {
    for (const c of cs) tally.add(c, await pool.run(c));
  } finally {
    pool.close();
  }
  return tally;
}

describe("fuzzing the WASM target", () => {
  it.each(cases)("$name", { timeout: 60_000 }, async ({ name, text, dim }) => {
    const tally = await runAll([{ origin: name, file: "m.dlg", text, dim }]);
    expect(tally.details(), tally.summary()).toBe("");
    expect(tally.ran, tally.summary()).toBe(1);
  });

  const SEED = 20261201;
  const RUNS = 16;
  it(
    `${RUNS} generated programs on js and wasm (1 and 2 threads): no failure`,
    { timeout: 240_000 },
    async () => {
      const tally = await runAll(fc.sample(generatedArb(), { seed: SEED, numRuns: RUNS }));
      expect(tally.details(), tally.summary()).toBe("");
      // Generated programs are well-typed by construction: nearly all of them run.
      expect(tally.ran, tally.summary()).toBeGreaterThan(0.9 * RUNS);
    },
  );
});
