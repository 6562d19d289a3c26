// Error baselines: each test/errors/<case>.dlg is elaborated and its rendered
// diagnostics compared with test/errors/<case>.txt. A case whose first line is
// `// dlg: <command> [args…]` instead runs `dlg <command> <case> [args…]`
// in-process and its stderr is the baseline (for errors only a command finds:
// model selection, file loading). Run with UPDATE_BASELINES=1 to regenerate
// after an intended change, then read the diff: every baseline must be
// something a user understands at a glance.

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { run } from "../cli/main.ts";
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

/** The command line of a `// dlg: compile --config ta` header, or null for an elaborate case. */
function commandOf(text: string): string[] | null {
  const m = /^\/\/ dlg: (.+)/.exec(text.split("\n", 1)[0] ?? "");
  return m ? m[1]!.trim().split(/\s+/) : null;
}

/** Run the CLI in-process on a case; its stderr is what the user reads. */
async function runCase(file: string, command: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const io = { out: () => {}, err: (t: string) => void err.push(t.endsWith("\n") ? t : t + "\n") };
  const [cmd, ...args] = command;
  const code = await run([cmd!, file, ...args], io);
  return { code, err: err.join("") };
}

function compareBaseline(file: string, text: string): void {
  const baseline = join(root, file.replace(/\.dlg$/, ".txt"));
  if (process.env.UPDATE_BASELINES) writeFileSync(baseline, text);
  else expect(text).toBe(readFileSync(baseline, "utf8"));
}

const cases = readdirSync(join(root, "test/errors"))
  .filter((f) => f.endsWith(".dlg"))
  .sort();

describe("error baselines", () => {
  it("has the cases the error catalog promises", () => {
    expect(cases.length).toBeGreaterThanOrEqual(13);
  });

  for (const c of cases) {
    it(c, async () => {
      const file = `test/errors/${c}`;
      const command = commandOf(host.readFile(file) ?? "");
      if (command) {
        const { code, err } = await runCase(file, command);
        expect(code, "a command case must fail as the user's error").toBe(1);
        expect(err).toMatch(/^error\[E\d{4}\]/m);
        expect(err).toMatch(/--> [^\s:]+:\d+:\d+$/m);
        expect(err, "no stack trace").not.toMatch(/^\s+at /m);
        compareBaseline(file, err);
        return;
      }
      const r = elaborate(file, host);
      expect(r.diagnostics.length, "a baseline case must produce an error").toBeGreaterThan(0);
      compareBaseline(file, renderDiagnostics(r.diagnostics, r.sources) + "\n");
    });
  }
});
