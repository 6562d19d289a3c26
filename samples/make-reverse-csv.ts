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

import { writeDigitSequences } from "./digit-sequences.ts";

writeDigitSequences("reverse_attention.csv", 20260511, (tokens) => [...tokens].reverse());
