// Generates samples/bigru.csv, the data for samples/bigru.dlg. Run once:
//   npx tsx samples/make-bigru-csv.ts
// Deterministic (fixed seed), so rerunning reproduces the committed file.
//
// Each row is a sequence of 16 tokens (`tokens1..tokens16`) from a vocabulary
// of 8: the markers 0, 1 and 2 appear exactly once each, at random positions,
// and the other 13 steps are noise tokens 3..7. The label `y` is the marker
// that comes first. Every sequence holds the same bag of markers, so a model
// that ignores order scores a third; one that reads the sequence has to
// remember which marker it met first (forwards), or keep overwriting it with
// the latest marker (backwards).

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { prng } from "../cli/train.ts";

const rows = 10000;
const length = 16;
const markers = 3;
const vocab = 8;

const rand = prng(20261201);
const pick = (n: number) => Math.floor(rand() * n);
const lines = [[...Array.from({ length }, (_, i) => `tokens${i + 1}`), "y"].join(",")];
for (let r = 0; r < rows; r++) {
  const tokens = Array.from({ length }, () => markers + pick(vocab - markers));
  // Distinct positions for the markers: a partial Fisher-Yates shuffle.
  const positions = Array.from({ length }, (_, i) => i);
  for (let m = 0; m < markers; m++) {
    const j = m + pick(length - m);
    [positions[m], positions[j]] = [positions[j]!, positions[m]!];
    tokens[positions[m]!] = m;
  }
  const first = tokens.find((t) => t < markers)!;
  lines.push([...tokens, first].join(","));
}
const out = fileURLToPath(new URL("./bigru.csv", import.meta.url));
writeFileSync(out, lines.join("\n") + "\n");
console.log(`wrote ${out}: ${rows} rows`);
