// What the digit-sequence generators share (make-reverse-csv.ts,
// make-sort-csv.ts): 12000 rows of 8 random digits (`tokens1..tokens8`) from
// a fixed seed, each followed by its target sequence (`y1..y8`), written
// beside this file. Deterministic, so rerunning reproduces the committed CSV.

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { prng } from "../cli/train.ts";

const rows = 12000;
const length = 8;
const vocab = 10;

/** Write samples/`name`: each row's tokens, then `target(tokens)`. */
export function writeDigitSequences(
  name: string,
  seed: number,
  target: (tokens: number[]) => number[],
): void {
  const rand = prng(seed);
  const header = [
    ...Array.from({ length }, (_, i) => `tokens${i + 1}`),
    ...Array.from({ length }, (_, i) => `y${i + 1}`),
  ];
  const lines = [header.join(",")];
  for (let r = 0; r < rows; r++) {
    const tokens = Array.from({ length }, () => Math.floor(rand() * vocab));
    lines.push([...tokens, ...target(tokens)].join(","));
  }
  const out = fileURLToPath(new URL(`./${name}`, import.meta.url));
  writeFileSync(out, lines.join("\n") + "\n");
  console.log(`wrote ${out}: ${rows} rows`);
}
