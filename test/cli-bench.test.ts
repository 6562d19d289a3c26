// `dlg bench`: the command in process (as main.ts runs it), on tiny models.
// Timings are measured, never asserted against a threshold: the tests check
// the report's structure, that every time is a positive number, and that
// the synthetic data passes the module's own input checks (int inputs
// inside the ranges they index).

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { BenchReport } from "../cli/bench-command.ts";
import { run } from "../cli/main.ts";
import { defaultTarget } from "../cli/usage.ts";

const tmp = mkdtempSync(join(tmpdir(), "dlg-bench-"));

// Token ids index a 5-row embedding and labels 3 classes: data outside
// either range would make every call throw.
const tiny = join(tmp, "tiny.dlg");
writeFileSync(
  tiny,
  `dim B
model tiny {
  input ids: int[B, 2]
  input y: int[B]
  logits = ids |> embedding(5, 4) |> reshape([B, 8]) |> dense(3)
  output probs = softmax(logits)
  metric accuracy = mean(argmax(logits, axis: -1) == y)
  loss cross_entropy(logits, y)
}
train default for tiny { optimizer sgd(lr: 0.1)  batch 6  epochs 1 }
`,
);

// No loss (so no step), and a second dim that --dim must size.
const seq = join(tmp, "seq.dlg");
writeFileSync(
  seq,
  `dim B, T
model seq {
  input x: [B, T]
  output s = x * 2
}
`,
);

async function bench(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(["bench", ...args], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("dlg bench", { timeout: 60_000 }, () => {
  it("--json: one object with every call's times, on the default target", async () => {
    const r = await bench(tiny, "--iters", "2", "--warmup", "1", "--json");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out) as BenchReport;
    expect(rep).toMatchObject({
      model: "tiny",
      target: defaultTarget,
      threads: null,
      dims: { B: 6 },
      batch: 6,
      warmup: 1,
      iters: 2,
    });
    expect(Object.keys(rep.calls)).toEqual(["step", "predict", "evaluate"]);
    for (const t of Object.values(rep.calls)) {
      expect(t.times_ms).toHaveLength(2);
      for (const x of t.times_ms) expect(x).toBeGreaterThan(0);
      expect(t.min_ms).toBe(Math.min(...t.times_ms));
      expect(t.median_ms).toBeCloseTo((t.times_ms[0]! + t.times_ms[1]!) / 2, 9);
      expect(t.samples_per_s).toBeCloseTo((6 * 1000) / t.median_ms, 6);
    }
  });

  it("prints a table; --batch and --dim size the data", async () => {
    const r = await bench(tiny, "--iters", "1", "--warmup", "0", "--batch", "3");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines[0]).toContain(`model tiny on ${defaultTarget}, B = 3`);
    expect(lines[1]).toMatch(/^call\s+median\s+min\s+samples\/s$/);
    expect(lines.slice(2).map((l) => l.split(/\s+/)[0])).toEqual(["step", "predict", "evaluate"]);

    const s = await bench(seq, "--iters", "2", "--dim", "T=5", "--json");
    expect(s.code).toBe(0);
    const rep = JSON.parse(s.out) as BenchReport;
    expect(rep.dims).toEqual({ T: 5, B: 32 });
    expect(Object.keys(rep.calls)).toEqual(["predict", "evaluate"]);
  });

  it("runs the wasm target on the threads asked for", async () => {
    const r = await bench(tiny, "--target", "wasm", "--threads", "2", "--iters", "2", "--json");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out) as BenchReport;
    expect(rep).toMatchObject({ target: "wasm", threads: 2, batch: 6 });
    expect(Object.keys(rep.calls)).toEqual(["step", "predict", "evaluate"]);
    for (const t of Object.values(rep.calls))
      for (const x of t.times_ms) expect(x).toBeGreaterThan(0);
  });

  it("says which dims it lacks and rejects bad flags with exit 2", async () => {
    const missing = await bench(seq, "--iters", "1");
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("pass --dim T=N");
    for (const args of [
      [tiny, "--dim", "T5"],
      [tiny, "--dim", "Q=3"],
      [tiny, "--iters", "0"],
      [tiny, "--target", "cuda"],
      [tiny, "--target", "js", "--threads", "2"],
    ]) {
      const r = await bench(...args);
      expect(r.code, args.join(" ")).toBe(2);
    }
    // --threads is the wasm runtime's: train on js refuses it too, before compiling.
    const err: string[] = [];
    const code = await run(["train", tiny, "--backend", "js", "--threads", "2"], {
      out: () => {},
      err: (t) => err.push(t),
    });
    expect(code).toBe(2);
    expect(err.join("\n")).toContain("--threads N sets the wasm runtime's workers");
  });
});
