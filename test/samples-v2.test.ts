// The v2 samples (README's table): their generated data is what the sample's
// comment says it is, they compile with the parameters their comments name,
// and the bidirectional GRU learns its order task through the real pipeline.
// The full runs and their figures are in README.md.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadSplits, rows } from "../cli/data.ts";
import { loadModule } from "../cli/module.ts";
import { compile } from "../cli/node-host.ts";
import { train } from "../cli/train.ts";

function csv(path: string): { header: string[]; rows: number[][] } {
  const [head, ...lines] = readFileSync(path, "utf8").trim().split("\n");
  return { header: head!.split(","), rows: lines.map((l) => l.split(",").map(Number)) };
}

describe("generated data", () => {
  it("bigru.csv: 16 tokens holding the markers 0, 1, 2 once each; y is the first of them", () => {
    const { header, rows: data } = csv("samples/bigru.csv");
    expect(header).toEqual([...Array.from({ length: 16 }, (_, i) => `tokens${i + 1}`), "y"]);
    expect(data.length).toBe(10000);
    const firsts = [0, 0, 0];
    for (const r of data) {
      const tokens = r.slice(0, 16);
      for (const m of [0, 1, 2]) expect(tokens.filter((t) => t === m).length).toBe(1);
      expect(tokens.every((t) => Number.isInteger(t) && t >= 0 && t < 8)).toBe(true);
      expect(r[16]).toBe(tokens.find((t) => t < 3));
      firsts[r[16]!]!++;
    }
    // The classes are balanced, so accuracy far above 1/3 means the order was read.
    for (const n of firsts) expect(Math.abs(n / data.length - 1 / 3)).toBeLessThan(0.02);
  });

  it("sort.csv: 8 digits and the same digits in ascending order", () => {
    const { header, rows: data } = csv("samples/sort.csv");
    expect(header.slice(8)).toEqual(Array.from({ length: 8 }, (_, i) => `y${i + 1}`));
    expect(data.length).toBe(12000);
    for (const r of data) expect(r.slice(8)).toEqual(r.slice(0, 8).sort((a, b) => a - b));
  });
});

describe("the samples' structure", { timeout: 120_000 }, () => {
  const program = (file: string) => {
    const r = compile(file);
    expect(r.diagnostics).toEqual([]);
    return r;
  };

  it("sort: repeat's two encoder layers have parameters of their own (repeat_1.0.*, repeat_1.1.*)", async () => {
    const r = program("samples/sort.dlg");
    const model = await (await loadModule(r.js!)).createModel({ seed: 1, stepsPerEpoch: 135 });
    const names = Object.keys(await model.params());
    for (const copy of ["0", "1"])
      expect(names).toContain(`repeat_1.${copy}.multi_head_attention_1.dense_1.w`);
    expect(names.filter((n) => n.startsWith("repeat_1.2."))).toEqual([]);
    model.dispose();
  });

  it("bigru: the two directions are two GRUs", () => {
    const paths = program("samples/bigru.dlg").program!.params.map((p) => p.path);
    expect(paths).toContain("bidirectional_1.gru_1.u");
    expect(paths).toContain("bidirectional_1.gru_2.u");
  });

  it("vgg_bn: each conv_bn keeps running averages, which step() writes but gives no optimizer state", () => {
    const prog = program("samples/vgg_bn.dlg").program!;
    const step = prog.entries.find((e) => e.name === "step")!;
    const written = step.outSlots.flatMap((sl) =>
      sl.kind === "param" ? [prog.params[sl.index]!.path] : [],
    );
    const averages = [1, 2, 3].flatMap((k) =>
      ["mean_avg", "var_avg"].map((s) => `conv_bn_${k}.batch_norm_1.${s}`),
    );
    for (const a of averages) expect(written).toContain(a);
    // SGD with momentum: one velocity buffer per trained tensor, none for the averages.
    const names = prog.state.map((b) => b.name).join(" ");
    expect(prog.state.length).toBe(prog.params.length - averages.length);
    for (const a of averages) expect(names).not.toContain(a);
    expect(names).toContain("conv_bn_3.batch_norm_1.scale");
  });

  it("autoencoder: the image is its only input", () => {
    const p = program("samples/autoencoder.dlg").program!;
    expect(p.inputs.map((i) => i.name)).toEqual(["x"]);
  });
});

describe("bigru learns which marker comes first", () => {
  it("from 3,200 rows in 2 epochs, far above the third that ignoring order gets", async () => {
    const r = compile("samples/bigru.dlg");
    const mod = await loadModule(r.js!);
    const splits = loadSplits({ kind: "csv", path: "samples/bigru.csv" }, mod.spec);
    splits.train = rows(splits.train, 0, 3200);
    const model = await mod.createModel({ seed: 1 });
    const report = await train(model, splits, { epochs: 2, batch: 64, seed: 1 });
    expect(report.test!.metrics.accuracy).toBeGreaterThan(0.9);
    model.dispose();
  }, 120_000);
});
