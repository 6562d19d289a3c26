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

import { writeDigitSequences } from "./digit-sequences.ts";

writeDigitSequences("sort.csv", 20261202, (tokens) => [...tokens].sort((a, b) => a - b));
