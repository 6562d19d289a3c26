// The fuzz cases for a seed: generated programs, mutants of the corpus and
// mutants of generated programs, interleaved, reproducible from (seed, count).

import fc from "fast-check";
import { loadCorpus } from "./corpus.ts";
import { generatedArb, generateProgram } from "./generate.ts";
import { mutantArb, mutatedGeneratedArb } from "./mutate.ts";
import type { FuzzCase } from "./oracle.ts";

export function fuzzCases(seed: number, runs: number): FuzzCase[] {
  const arb = fc.oneof(
    generatedArb(),
    mutantArb(loadCorpus()),
    mutatedGeneratedArb(generateProgram),
  );
  return fc.sample(arb, { seed, numRuns: runs });
}
