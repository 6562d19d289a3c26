// The seed files the mutator starts from: every sample, std file, error case
// (with the files they import) and LANGUAGE.md example (test/fixtures/language,
// the files test/examples.test.ts runs), read once, keyed by repository path.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dirs = ["samples", "std", "test/errors", "test/errors/lib", "test/fixtures/language"];

/** Path → text of every seed file. Importing files find their imports here too. */
export function loadCorpus(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const dir of dirs)
    for (const f of readdirSync(join(root, dir)).sort())
      if (f.endsWith(".dlg")) files[`${dir}/${f}`] = readFileSync(join(root, dir, f), "utf8");
  return files;
}
