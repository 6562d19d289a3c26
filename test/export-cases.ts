// The models every exporter's tests run: each model of the samples and of
// LANGUAGE.md's examples (v1 and v2) that checks (a file that does not is
// the examples tests' failure, not an exporter's).

import { readdirSync } from "node:fs";
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
