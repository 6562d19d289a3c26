// `dlg fmt [--check] FILE...`: rewrites each file in print.ts's canonical
// layout (comments kept where written), or with --check lists the files that
// would change. A file with syntax errors is reported as diagnostics, as
// `dlg check` reports them, and left as it is. `-` formats stdin to stdout,
// as editors' format-on-save tools call a formatter.

import { readFileSync } from "node:fs";
import { readSource, type ElaborateHost } from "../compiler/elaborate.ts";
import { diag, renderDiagnostics, type Diagnostic } from "../compiler/diagnostics.ts";
import { decodeSource } from "../compiler/source-file.ts";
import { parse, printProgram } from "../grammar/index.ts";
import type { Parsed } from "./args.ts";
import { writeOutput, type Io } from "./commands.ts";
import { exitCode, UsageError } from "./errors.ts";
import { nodeHost } from "./node-host.ts";

/** A file's canonical text, or why it has none. */
export type Formatted =
  { text: string; formatted: string } | { diagnostics: Diagnostic[]; sources: Map<string, string> };

/** Reads and formats one file (the disk through node-host's reader: no huge, binary or special files). */
export function formatFile(file: string, host: ElaborateHost = nodeHost): Formatted {
  const got = readSource(host, file, null);
  const sources = new Map<string, string>();
  if ("diagnostic" in got) {
    if (got.shown !== undefined) sources.set(file, got.shown);
    return { diagnostics: [got.diagnostic], sources };
  }
  sources.set(file, got.text);
  const { program, errors } = parse(got.text);
  if (errors.length > 0)
    return { diagnostics: errors.map((e) => diag(e.code, e.message, file, e.span)), sources };
  return { text: got.text, formatted: printProgram(program) };
}

/** Reads stdin, once, as a file is read (UTF-8 text, no NUL bytes). */
const stdinHost: ElaborateHost = { readFile: () => decodeSource(readFileSync(0)) };

export function runFmt(p: Parsed, io: Io): Promise<number> {
  if (p.positionals.length === 0) throw new UsageError("dlg fmt: expected at least one .dlg file");
  const check = p.values.check === true;
  let broken = 0;
  const changed: string[] = [];
  for (const file of p.positionals) {
    const stdin = file === "-";
    const r = stdin ? formatFile("<stdin>", stdinHost) : formatFile(file);
    if ("diagnostics" in r) {
      io.err(renderDiagnostics(r.diagnostics, r.sources) + "\n");
      broken++;
      continue;
    }
    // The text goes to stdout, changed or not (an editor replaces its buffer with it).
    if (stdin && !check && r.formatted !== "") io.out(r.formatted);
    if (r.formatted === r.text) continue;
    changed.push(file);
    if (stdin) {
      if (check) io.out(file);
      continue;
    }
    if (!check) writeOutput(file, r.formatted);
    io.out(file);
  }
  const code = broken > 0 || (check && changed.length > 0) ? exitCode.error : exitCode.ok;
  // Formatting stdin alone, stdout holds just the text and stderr only errors.
  if (p.positionals.length === 1 && p.positionals[0] === "-") return Promise.resolve(code);
  const n = (k: number) => `${k} file${k === 1 ? "" : "s"}`;
  const summary = [
    check
      ? changed.length === 0
        ? `${n(p.positionals.length - broken)} formatted`
        : `${n(changed.length)} would be reformatted (run \`dlg fmt\` on ${changed.length === 1 ? "it" : "them"})`
      : `${n(changed.length)} reformatted`,
  ];
  if (broken > 0)
    summary.push(`${n(broken)} left as ${broken === 1 ? "it is" : "they are"} (errors above)`);
  io.err(summary.join("; "));
  return Promise.resolve(code);
}
