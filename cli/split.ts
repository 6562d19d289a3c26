// `--split train:val:test`, apart from cli/data.ts so that usage.ts can
// judge the flag before any command (or data reader) loads.

import { UsageError } from "./errors.ts";

/**
 * `--split train:val:test` for a CSV: three fractions summing to 1
 * (`0.8:0.1:0.1`) or three row counts (`300:50:150`, rows past their sum
 * unused). Either way the rows are first shuffled with a fixed seed
 * (`csvSplitSeed`), so a file sorted by class still splits evenly, and the
 * same split comes back in every run (evaluate and predict re-read it from
 * the checkpoint).
 */
export interface CsvSplit {
  /** As written on the command line (recorded in checkpoints). */
  text: string;
  parts: [number, number, number];
  counts: boolean;
}

export const csvSplitSeed = 0x5eed;

/** Parse `--split`; a UsageError saying what it expects otherwise. */
export function parseSplit(text: string): CsvSplit {
  const bad = (why: string) =>
    new UsageError(
      `--split expects train:val:test as three fractions summing to 1 (0.8:0.1:0.1) or three row counts (300:50:150); ${why}`,
    );
  const fields = text.split(":");
  if (fields.length !== 3) throw bad(`got \`${text}\``);
  const counts = fields.every((f) => /^\d+$/.test(f.trim()));
  const parts = fields.map((f) => (/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(f) ? Number(f) : NaN));
  if (parts.some((v) => !Number.isFinite(v))) throw bad(`got \`${text}\``);
  if (!counts) {
    if (parts.some((v) => v > 1)) throw bad(`\`${text}\` mixes fractions and counts`);
    const sum = parts.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-9)
      throw bad(`the fractions of \`${text}\` sum to ${Number(sum.toPrecision(12))}`);
  }
  if (parts[0]! === 0) throw bad(`\`${text}\` leaves no training rows`);
  return { text, parts: parts as [number, number, number], counts };
}
