// `dlg train --resume`: a run stopped after some steps (`--steps`) and
// continued in a new process ends bit-identical to the uninterrupted run:
// the same per-step loss curve (`--log`, full precision), the same epoch
// lines, the same final checkpoint bytes. One model has dropout (so the
// random stream must continue: the resumed process is created with another
// seed than the checkpoint's) and mini-batches (so the shuffle order must
// continue mid-epoch); samples/linreg.dlg is the other. Plus the refusals:
// a checkpoint that does not fit the run, or is not a dlg train checkpoint.

import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeAtomic } from "../cli/checkpoint.ts";
import { run } from "../cli/main.ts";
import { dlgProcess, dropoutModel, type Run } from "./dlg-process.ts";

/** `dlg ARGS` in this process (for the refusals: no training to compare). */
async function dlgHere(...args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await run(args, { out: (s) => (stdout += s + "\n"), err: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const tmp = mkdtempSync(join(tmpdir(), "dlg-resume-"));

/** The epoch lines without their timings. */
const epochLines = (out: string) =>
  out
    .split("\n")
    .filter((l) => l.startsWith("epoch "))
    .map((l) => l.replace(/\|\s+[\d.]+s\s+\d+ samples\/s$/, ""));

const same = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));

async function compareResume(name: string, args: string[], stopAfter: number) {
  const f = (s: string) => join(tmp, `${name}-${s}`);
  const [full, part] = await Promise.all([
    dlgProcess(...args, "--seed", "5", "--save", f("full.st"), "--log", f("full.log")),
    dlgProcess(
      ...args,
      "--seed",
      "5",
      "--steps",
      String(stopAfter),
      "--save",
      f("part.st"),
      "--log",
      f("a.log"),
    ),
  ]);
  expect(full.code, full.stderr).toBe(0);
  expect(part.code, part.stderr).toBe(0);
  expect(part.stdout).toContain(`stopped by --steps`);
  // No --seed: the seed comes from the checkpoint, whatever the train block says.
  const rest = await dlgProcess(
    ...args,
    "--resume",
    f("part.st"),
    "--save",
    f("resumed.st"),
    "--log",
    f("b.log"),
  );
  expect(rest.code, rest.stderr).toBe(0);
  expect(rest.stdout).toMatch(new RegExp(`resumed from .* after ${stopAfter} steps`));
  const log = (s: string) => readFileSync(f(s), "utf8");
  expect(log("a.log") + log("b.log")).toBe(log("full.log"));
  expect(log("full.log").split("\n").length).toBeGreaterThan(stopAfter + 2);
  expect(same(f("resumed.st"), f("full.st"))).toBe(true);
  // The epoch the stop cut in two is reported once, by the resumed run, with the whole epoch's loss.
  const lines = [...epochLines(part.stdout), ...epochLines(rest.stdout)];
  expect(lines).toEqual(epochLines(full.stdout));
}

describe("dlg train --resume", () => {
  it("continues a dropout model mid-epoch in a new process, bit for bit", async () => {
    await compareResume("drop", ["train", dropoutModel(tmp), "--limit", "40"], 7);
  }, 60_000);

  it("continues samples/linreg.dlg (mini-batches) at an epoch boundary, bit for bit", async () => {
    await compareResume(
      "linreg",
      ["train", "samples/linreg.dlg", "--config", "minibatch", "--limit", "64", "--epochs", "3"],
      4,
    );
  }, 60_000);

  it("refuses a checkpoint that does not fit the run, or that dlg train did not write", async () => {
    const dlg = dropoutModel(tmp);
    const ckpt = join(tmp, "refuse.st");
    const first = await dlgHere("train", dlg, "--limit", "40", "--steps", "3", "--save", ckpt);
    expect(first.code, first.stderr).toBe(0);
    const refusals: [string[], RegExp][] = [
      [
        ["--limit", "32"],
        /trained on 40 examples in batches of 8, but this run has 32 in batches of 8/,
      ],
      [["--limit", "40", "--seed", "9"], /continues a run with seed 0; drop --seed 9/],
    ];
    for (const [flags, message] of refusals) {
      const r = await dlgHere("train", dlg, "--resume", ckpt, ...flags);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
    }
    const bytes = readFileSync(ckpt);
    const cut = join(tmp, "cut.st");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 3));
    const truncated = await dlgHere("train", dlg, "--limit", "40", "--resume", cut);
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toMatch(
      /cannot resume from .*cut.st: not a valid safetensors checkpoint/,
    );
    // A checkpoint from the module API, without a training position.
    const bare = join(tmp, "bare.st");
    const n = bytes.readUInt32LE(0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8"));
    header.__metadata__ = { format: "dlg", model: "drop", step: "3", seed: "0" };
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeUInt32LE(json.length, 0);
    writeFileSync(bare, Buffer.concat([len, json, bytes.subarray(8 + n)]));
    const noPosition = await dlgHere("train", dlg, "--limit", "40", "--resume", bare);
    expect(noPosition.code).toBe(1);
    expect(noPosition.stderr).toMatch(/records no training position/);
    const missing = await dlgHere("train", dlg, "--resume", join(tmp, "nope.st"));
    expect(missing.stderr).toMatch(/cannot read .*nope.st: no such file/);
  }, 60_000);
});

describe("dlg train --save-every", () => {
  it("leaves the last periodic checkpoint when the run dies, and resuming retraces the run", async () => {
    // lr 0.6 on unscaled features: the loss grows every step and overflows within a few dozen.
    const dlg = join(tmp, "diverge.dlg");
    writeFileSync(
      dlg,
      readFileSync("samples/linreg.dlg", "utf8").replace(
        /sgd\(lr: 0\.01\)(\s+batch 1\b)/,
        "sgd(lr: 0.6)$1",
      ),
    );
    const ckpt = join(tmp, "diverge.st");
    const args = [
      "train",
      dlg,
      "--config",
      "sgd",
      "--data",
      "samples/linreg.csv",
      "--limit",
      "200",
    ];
    const died = await dlgHere(...args, "--save", ckpt, "--save-every", "4");
    expect(died.code).toBe(1);
    expect(died.stderr).toMatch(/training diverged: the loss became \S+ at epoch 1, step (\d+)/);
    const diedAt = Number(/step (\d+)/.exec(died.stderr)![1]);
    const meta = readSafetensorsMetadata(readFileSync(ckpt));
    expect(Number(meta.step) % 4).toBe(0);
    expect(Number(meta.step)).toBe(4 * Math.floor((diedAt - 1) / 4));
    expect(meta["train.batch"]).toBe(meta.step);
    // Resumed, the run retraces the same steps and dies at the very same one.
    const again = await dlgHere(...args, "--resume", ckpt);
    expect(again.stdout).toMatch(new RegExp(`resumed from .* after ${meta.step} steps`));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`at epoch 1, step ${diedAt};`);
    const bad = await dlgHere(...args, "--save-every", "4");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--save-every N needs --save FILE/);
  }, 60_000);
});

/** A safetensors file's `__metadata__`. */
function readSafetensorsMetadata(bytes: Buffer): Record<string, string> {
  const n = bytes.readUInt32LE(0);
  return JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")).__metadata__;
}

describe("writeAtomic", () => {
  it("replaces the file whole and leaves no temp file behind", () => {
    const dir = mkdtempSync(join(tmpdir(), "dlg-atomic-"));
    const path = join(dir, "sub", "ck.st");
    writeAtomic(path, Uint8Array.of(1, 2, 3));
    writeAtomic(path, Uint8Array.of(4, 5));
    expect([...readFileSync(path)]).toEqual([4, 5]);
    expect(readdirSync(join(dir, "sub"))).toEqual(["ck.st"]);
  });

  it("keeps the old file when the new one cannot be put in place", () => {
    const dir = mkdtempSync(join(tmpdir(), "dlg-atomic-"));
    const path = join(dir, "ck.st");
    writeAtomic(path, Uint8Array.of(7));
    // The target is now a non-empty directory: the rename fails after the temp file was written.
    const blocked = join(dir, "blocked");
    writeAtomic(join(blocked, "inner"), Uint8Array.of(1));
    expect(() => writeAtomic(blocked, Uint8Array.of(9))).toThrow(/cannot write .*blocked/);
    expect([...readFileSync(path)]).toEqual([7]);
    expect(readdirSync(dir).sort()).toEqual(["blocked", "ck.st"]);
    expect(existsSync(join(blocked, "inner"))).toBe(true);
  });
});
