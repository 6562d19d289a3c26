// Programs the fuzzer found failing, reduced by hand, each through the whole
// oracle (test/fuzz/oracle.ts): check, compile, run against the float64
// interpreter, checkpoint round trip. Each must now run cleanly.

import { describe, expect, it } from "vitest";
import { runCase } from "./fuzz/oracle.ts";

const cases: { name: string; text: string }[] = [
  {
    // The reduce_max VJP finds the maximum by `x == max(x)`; fusion recomputed
    // `seq + w1` in float64 against the float32-rounded stored maximum, found
    // no tie, and divided by a zero count: NaN updates.
    name: "gradient of max over an axis of a fused sum",
    text: `dim B
model m {
  input seq: [B, 3, 2]
  param w1: [2] init he_normal
  loss sum(max(seq + w1, axis: 1, keepdims: true))
}
`,
  },
];

describe("fuzz findings stay fixed", () => {
  for (const c of cases)
    it(c.name, async () => {
      for (const dim of [1, 3])
        expect(await runCase({ origin: c.name, file: "m.dlg", text: c.text, dim })).toEqual({
          stage: "ran",
        });
    });
});
