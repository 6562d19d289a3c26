// Generates samples/sort.csv, the data for samples/sort.dlg. Run once:
//   npx tsx samples/make-sort-csv.ts
// Deterministic (fixed seed), so rerunning reproduces the committed file.
//
// Each row is a sequence of 8 random digits (`tokens1..tokens8`) and the same
// digits in ascending order (`y1..y8`). Output position i holds the i-th
// smallest digit: unlike reversal, where each output copies a fixed input
// position, this depends on every token's content compared with all the
// others (how many are smaller), which is what stacked self-attention layers
// can compute. With 10^8 possible sequences the test split (the last 20% of
// the rows) is almost entirely unseen.

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { prng } from "../cli/train.ts";

const rows = 12000;
const length = 8;
const vocab = 10;

const rand = prng(20261202);
const header = [
  ...Array.from({ length }, (_, i) => `tokens${i + 1}`),
  ...Array.from({ length }, (_, i) => `y${i + 1}`),
];
const lines = [header.join(",")];
for (let r = 0; r < rows; r++) {
  const tokens = Array.from({ length }, () => Math.floor(rand() * vocab));
  lines.push([...tokens, ...[...tokens].sort((a, b) => a - b)].join(","));
}
const out = fileURLToPath(new URL("./sort.csv", import.meta.url));
writeFileSync(out, lines.join("\n") + "\n");
console.log(`wrote ${out}: ${rows} rows`);
