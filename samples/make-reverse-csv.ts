// Generates samples/reverse_attention.csv, the data for
// samples/reverse_attention.dlg. Run once:
//   npx tsx samples/make-reverse-csv.ts
// Deterministic (fixed seed), so rerunning reproduces the committed file.
//
// Each row is a sequence of 8 random digits (`tokens1..tokens8`) and the same
// digits reversed (`y1..y8`): the model must emit, at position i, the token
// at position 7 - i. Doing that needs attention that depends on position,
// not content, so it tests the positional embedding and the attention
// together. With 10^8 possible sequences, the test split (the last 20% of the
// rows) is held out: at most a handful of its rows can repeat a training row.

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { prng } from "../cli/train.ts";

const rows = 12000;
const length = 8;
const vocab = 10;

const rand = prng(20260511);
const header = [
  ...Array.from({ length }, (_, i) => `tokens${i + 1}`),
  ...Array.from({ length }, (_, i) => `y${i + 1}`),
];
const lines = [header.join(",")];
for (let r = 0; r < rows; r++) {
  const tokens = Array.from({ length }, () => Math.floor(rand() * vocab));
  lines.push([...tokens, ...[...tokens].reverse()].join(","));
}
const out = fileURLToPath(new URL("./reverse_attention.csv", import.meta.url));
writeFileSync(out, lines.join("\n") + "\n");
console.log(`wrote ${out}: ${rows} rows`);
