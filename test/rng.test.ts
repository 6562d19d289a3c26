// The counter-based RNG (runtime/rng.ts): every (seed, stream, index) is a
// fresh draw, index 0 included (it used to hash a constant, so element 0 of
// every random tensor was 0 for every seed: dropout's first mask bit, the
// first entry of every Gaussian init).

import { describe, expect, it } from "vitest";
import { randomUniform } from "../runtime/rng.ts";

describe("randomUniform", () => {
  it("draws index 0 uniformly across seeds and streams", () => {
    const firsts: number[] = [];
    for (let seed = 0; seed < 40; seed++)
      for (let stream = 0; stream < 25; stream++) firsts.push(randomUniform(seed, stream, 0));
    expect(new Set(firsts).size).toBe(firsts.length);
    const mean = firsts.reduce((s, x) => s + x, 0) / firsts.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.04); // sd 0.009
    expect(firsts.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it("gives different streams different sequences", () => {
    const seq = (stream: number) =>
      Array.from({ length: 8 }, (_, i) => randomUniform(7, stream, i));
    expect(seq(0)).not.toEqual(seq(1));
    expect(seq(0)).toEqual(seq(0));
  });
});
