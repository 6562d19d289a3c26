// What every exporter's tests share: the models they run (each model of the
// samples and of LANGUAGE.md's examples, v1 and v2, that checks; a file that
// does not is the examples tests' failure, not an exporter's), and how their
// float32 results are compared with the JS module's.

import { readdirSync } from "node:fs";
import { expect } from "vitest";
import { nodeHost } from "../cli/node-host.ts";
import { hasErrors } from "../compiler/diagnostics.ts";
import { elaborate } from "../compiler/elaborate.ts";

export interface ExportCase {
  file: string;
  model: string;
  /** How many outputs the model declares. */
  outputs: number;
}

const dirs = ["samples", "test/fixtures/language", "test/fixtures/v2"];

export function exportCases(): ExportCase[] {
  return dirs.flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith(".dlg"))
      .sort()
      .flatMap((f) => {
        const file = `${dir}/${f}`;
        const r = elaborate(file, nodeHost);
        if (hasErrors(r.diagnostics)) return [];
        return [...r.models.values()].map((m) => ({
          file,
          model: m.name,
          outputs: m.outputs.length,
        }));
      }),
  );
}

/**
 * float32 results of two engines that sum in different orders: within
 * relative `rel` of the larger magnitude, with an absolute floor of 1e-6 for
 * values that cancel to ~0.
 */
export function expectClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  what: string,
  rel = 1e-4,
): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const a = got[i]!;
    const b = want[i]!;
    const err = Math.abs(a - b) / (rel * Math.max(Math.abs(a), Math.abs(b)) + 1e-6);
    worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
  }
  expect(worst, `${what}: worst error / tolerance`).toBeLessThanOrEqual(1);
}
