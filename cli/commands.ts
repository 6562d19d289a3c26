// The compiler-facing commands: check, compile, dump. Each parses its flags,
// calls compiler/compile.ts, prints diagnostics to stderr and results to
// stdout, and returns an exit status. Errors for the user are UserErrors.

import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { check, compile, dump, type CheckResult } from "./node-host.ts";
import { diagnosticToJson, renderDiagnostics } from "../compiler/diagnostics.ts";
import { oneFile, str, type Parsed } from "./args.ts";
import { exitCode, UsageError, UserError } from "./errors.ts";
import { backendFlag, sizeLimits, type StageName } from "./usage.ts";
import { exportTargetFlag, runExport } from "./export-command.ts";

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** A missing or unreadable input file is the user's to fix: say which, plainly. */
export function requireFile(path: string): void {
  if (!existsSync(path)) throw new UserError(`cannot read ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new UserError(`cannot read ${path}: it is a directory`);
}

/** Print a result's diagnostics (errors and warnings) in rustc layout on stderr. */
export function printDiagnostics(r: CheckResult, io: Io): void {
  if (r.diagnostics.length > 0) io.err(renderDiagnostics(r.diagnostics, r.sources) + "\n");
}

export function errorCount(r: CheckResult): number {
  return r.diagnostics.filter((d) => d.severity === "error").length;
}

/** Create the folder of an output file, and turn write failures into user errors. */
export function writeOutput(path: string, data: string | Uint8Array): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data);
  } catch (e) {
    throw new UserError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

export async function runCheck(p: Parsed, io: Io): Promise<number> {
  if (p.positionals.length === 0)
    throw new UsageError("dlg check: expected at least one .dlg file");
  const all: object[] = [];
  let errors = 0;
  // A file that cannot be read is a diagnostic like any other (E2006), so
  // `--json` still describes every file.
  for (const file of p.positionals) {
    const r = check(file, sizeLimits(p));
    printDiagnostics(r, io);
    errors += errorCount(r);
    all.push(...r.diagnostics.map((d) => diagnosticToJson(d, r.sources)));
  }
  if (p.values.json) io.out(JSON.stringify({ ok: errors === 0, diagnostics: all }, null, 2));
  const files = p.positionals.length === 1 ? p.positionals[0]! : `${p.positionals.length} files`;
  io.err(errors === 0 ? `${files}: ok` : `${files}: ${errors} error${errors === 1 ? "" : "s"}`);
  return errors === 0 ? exitCode.ok : exitCode.error;
}

/** `out.js` -> `out.d.ts`, `out.mjs` -> `out.d.mts` (what TypeScript looks for beside each). */
export function dtsPath(js: string): string {
  const ext = extname(js);
  const stem = ext === ".js" || ext === ".mjs" ? js.slice(0, -ext.length) : js;
  return stem + (ext === ".mjs" ? ".d.mts" : ".d.ts");
}

export async function runCompile(p: Parsed, io: Io): Promise<number> {
  const file = oneFile("compile", p);
  // onnx and pytorch are exports (docs/export.md), not module backends.
  const exportTarget = exportTargetFlag(p);
  if (exportTarget) return runExport(p, io, exportTarget);
  const target = backendFlag(p, "compile");
  requireFile(file);
  const r = compile(file, {
    model: str(p, "model"),
    config: str(p, "config"),
    target,
    ...sizeLimits(p),
  });
  printDiagnostics(r, io);
  if (!r.ok || r.js === undefined) return exitCode.error;
  const out = str(p, "out") ?? join(".", `${r.program?.model ?? basename(file, extname(file))}.js`);
  const dts = dtsPath(out);
  writeOutput(out, r.js);
  if (r.dts !== undefined) writeOutput(dts, r.dts);
  const kb = (Buffer.byteLength(r.js) / 1024).toFixed(1);
  io.err(
    `compiled model ${r.program?.model ?? "?"} for ${target} -> ${out} (${kb} KiB)${r.dts !== undefined ? ` and ${dts}` : ""}`,
  );
  return exitCode.ok;
}

export async function runDump(p: Parsed, io: Io): Promise<number> {
  const file = oneFile("dump", p);
  // main.ts has checked the stage against usage.ts's list.
  const stage = str(p, "stage") as StageName;
  const target = backendFlag(p, "dump");
  requireFile(file);
  const r = dump(file, stage, {
    target,
    ...sizeLimits(p),
    model: str(p, "model"),
    config: str(p, "config"),
    explain: p.values.explain === true,
  });
  printDiagnostics(r, io);
  if (r.text !== undefined) io.out(r.text);
  return r.ok ? exitCode.ok : exitCode.error;
}
