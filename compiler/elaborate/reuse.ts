// Reusing the runs of imported files between an editor's analyses. Every file
// shares one global scope, so what a model or an uncalled block of an import
// elaborates to depends on the whole global environment: the imported texts,
// the entry's global declarations, std, the options. While that environment
// (its fingerprint) stays the same, a run of an imported model or block does
// the same thing again, so its log (a RunLog the Session fills) is replayed:
// a keystroke inside the entry's model re-elaborates that model alone.

import type { BlockDecl, ModelDecl, Program } from "../../grammar/index.ts";
import type { ModelIR } from "../ir.ts";
import type { SizeLimits } from "../limits.ts";
import type { ReusedRuns, RunLog, RunStore } from "../symbols/cache.ts";
import type { Session } from "./context.ts";

/**
 * The global environment that runs of imported files see: every imported text,
 * the entry's Import/Dim/Const/Block declarations as written (not its models or
 * train blocks, where the typing happens), std and the options.
 */
export function fingerprint(
  entry: string,
  files: { file: string; program: Program }[],
  sources: ReadonlyMap<string, string>,
  opts: {
    stdText: string | undefined;
    recoveredTypes: boolean;
    limits?: SizeLimits;
    dims?: Record<string, number>;
  },
): string {
  const options = [opts.recoveredTypes, opts.limits ?? null, opts.dims ?? null];
  const parts = [JSON.stringify(options), opts.stdText ?? ""];
  for (const { file, program } of files) {
    const text = sources.get(file) ?? "";
    if (file !== entry) parts.push(`file ${file}`, text);
    else
      for (const d of program.decls)
        if (d.kind !== "Model" && d.kind !== "Train")
          parts.push(`entry ${d.kind}`, text.slice(d.span.start, d.span.end));
  }
  return parts.join("\0");
}

/** The store's runs for `entry`, emptied when the fingerprint changed. */
export function runsFor(store: RunStore, entry: string, print: string): ReusedRuns {
  const had = store.runs.get(entry);
  if (had && had.fingerprint === print) return had;
  const fresh = { fingerprint: print, outcomes: new Map() };
  store.runs.set(entry, fresh);
  return fresh;
}

/**
 * Run `run` for `decl` (a model or block of an imported file), or replay what it did last
 * time. A run that reached into the entry file (a type, a diagnostic there, a call of one
 * of its blocks) is not kept: the entry's positions and objects change with every edit.
 */
export function reusing<T extends ModelIR | null | void>(
  s: Session,
  store: RunStore | undefined,
  runs: ReusedRuns | undefined,
  entry: { file: string; blocks: ReadonlySet<unknown> },
  decl: ModelDecl | BlockDecl,
  run: () => T,
): T {
  if (!store || !runs) return run();
  const hit = runs.outcomes.get(decl);
  if (hit) {
    store.reused++;
    for (const t of hit.log.types) s.type(t.file, t.span, t.text);
    for (const d of hit.log.reports) s.report(d);
    for (const b of hit.log.called) s.markCalled(b);
    return hit.result as T;
  }
  store.elaborations++;
  const log: RunLog = { types: [], reports: [], called: [] };
  s.log = log;
  let result: T;
  try {
    result = run();
  } finally {
    s.log = null;
  }
  const touchesEntry =
    log.types.some((t) => t.file === entry.file) ||
    log.reports.some((d) => d.file === entry.file) ||
    log.called.some((b) => entry.blocks.has(b));
  if (!touchesEntry) runs.outcomes.set(decl, { log, result });
  return result;
}
