// Determinism on the JS backend: the same seed gives a bit-identical loss
// curve (every step's loss at full precision, `--log`) and checkpoint in two
// separate processes; another seed gives another curve. docs/cli.md says
// what this does and does not cover.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dlgProcess, dropoutModel } from "./dlg-process.ts";

const tmp = mkdtempSync(join(tmpdir(), "dlg-determinism-"));

describe("determinism", () => {
  it("the same seed gives the same loss curve and checkpoint in two processes", async () => {
    const dlg = dropoutModel(tmp);
    const f = (s: string) => join(tmp, s);
    const runs = await Promise.all(
      [
        ["a", "3"],
        ["b", "3"],
        ["c", "4"],
      ].map(([name, seed]) =>
        dlgProcess(
          "train",
          dlg,
          "--limit",
          "48",
          "--seed",
          seed!,
          "--log",
          f(`${name}.log`),
          "--save",
          f(`${name}.st`),
        ),
      ),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const log = (name: string) => readFileSync(f(`${name}.log`), "utf8");
    const losses = log("a")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).loss as number);
    expect(losses.length).toBe(18);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(log("b")).toBe(log("a"));
    expect(readFileSync(f("b.st")).equals(readFileSync(f("a.st")))).toBe(true);
    expect(log("c")).not.toBe(log("a"));
  }, 60_000);
});
