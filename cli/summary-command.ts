// `dlg summary`: elaborate the file, pick the model (--model, else the one
// the first train block names, else the first), and print compiler/summary.ts's
// table, or its JSON.

import { elaborate } from "../compiler/elaborate.ts";
import { defaultLimits } from "../compiler/limits.ts";
import { renderSummary, summarize } from "../compiler/summary.ts";
import { oneFile, str, type Parsed } from "./args.ts";
import { printDiagnostics, requireFile, errorCount, type Io } from "./commands.ts";
import { exitCode, UserError } from "./errors.ts";
import { nodeHost } from "./node-host.ts";
import { sizeLimits } from "./usage.ts";

export async function runSummary(p: Parsed, io: Io): Promise<number> {
  const file = oneFile("summary", p);
  requireFile(file);
  const r = elaborate(file, nodeHost, { limits: { ...defaultLimits, ...sizeLimits(p) } });
  const ok = { diagnostics: r.diagnostics, sources: r.sources, ok: true };
  printDiagnostics(ok, io);
  if (errorCount(ok) > 0) return exitCode.error;
  const name = str(p, "model") ?? r.trains[0]?.model ?? [...r.models.keys()][0];
  const model = name === undefined ? undefined : r.models.get(name);
  if (model === undefined)
    throw new UserError(
      name === undefined
        ? `${file} defines no model`
        : `there is no model named \`${name}\` in ${file}; models here: ${[...r.models.keys()].join(", ")}`,
    );
  const s = summarize(model, r.programs, r.sources);
  io.out(p.values.json === true ? JSON.stringify(s, null, 2) : renderSummary(s));
  return exitCode.ok;
}
