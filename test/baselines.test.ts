// Error baselines: each test/errors/<case>.dlg is elaborated and its rendered
// diagnostics compared with test/errors/<case>.txt. Run with
// UPDATE_BASELINES=1 to regenerate after an intended change, then read the
// diff: every baseline must be something a user understands at a glance.

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import { elaborate } from "../compiler/elaborate.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const host = {
  readFile(path: string): string | undefined {
    try {
      // Case files are named relative to the repo root; std comes by absolute path.
      return readFileSync(isAbsolute(path) ? path : join(root, path), "utf8");
    } catch {
      return undefined;
    }
  },
};

const cases = readdirSync(join(root, "test/errors"))
  .filter((f) => f.endsWith(".dlg"))
  .sort();

describe("error baselines", () => {
  it("has the cases the error catalog promises", () => {
    expect(cases.length).toBeGreaterThanOrEqual(13);
  });

  for (const c of cases) {
    it(c, () => {
      const file = `test/errors/${c}`;
      const r = elaborate(file, host);
      expect(r.diagnostics.length, "a baseline case must produce an error").toBeGreaterThan(0);
      const text = renderDiagnostics(r.diagnostics, r.sources) + "\n";
      const baseline = join(root, file.replace(/\.dlg$/, ".txt"));
      if (process.env.UPDATE_BASELINES) writeFileSync(baseline, text);
      else expect(text).toBe(readFileSync(baseline, "utf8"));
    });
  }
});
