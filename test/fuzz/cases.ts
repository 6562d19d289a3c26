// The fuzz cases for a seed: generated programs and mutants of the corpus,
// interleaved, reproducible from (seed, count).

import fc from "fast-check";
import { loadCorpus } from "./corpus.ts";
import { generatedArb } from "./generate.ts";
import { mutantArb } from "./mutate.ts";
import type { FuzzCase } from "./oracle.ts";

export function fuzzCases(seed: number, runs: number): FuzzCase[] {
  const arb = fc.oneof(generatedArb(), mutantArb(loadCorpus()));
  return fc.sample(arb, { seed, numRuns: runs });
}
