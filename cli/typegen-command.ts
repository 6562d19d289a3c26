// `dlg typegen [--watch] FILE...`: the .d.ts of each file's model, written
// without compiling the module (compile.ts's typegen: entries built, nothing
// lowered), equal to the one `dlg compile` writes beside the module. By
// default it goes beside the .dlg as `<name>.d.ts` (samples/mlp.dlg ->
// samples/mlp.d.ts): the declarations of `<name>.js`, the module
// `dlg compile FILE -o <name>.js` writes there, so `import "./mlp.js"` finds it.
// `--watch` writes again whenever a file or one of its imports changes,
// and keeps the last good .d.ts while a file has errors.

import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { nodeHost, typegen } from "./node-host.ts";
import { errorCount, printDiagnostics, requireFile, writeOutput, type Io } from "./commands.ts";
import { str, type Parsed } from "./args.ts";
import { exitCode, UsageError } from "./errors.ts";
import { backendFlag, sizeLimits } from "./usage.ts";
import type { CompileOptions } from "../compiler/compile.ts";
import { STD_PRELUDE } from "../compiler/elaborate.ts";

/** How long a burst of file events (an editor's save is several) settles before one regeneration. */
const debounceMs = 50;

/** Where FILE's .d.ts goes: `-o`, else `--out-dir`/<name>.d.ts, else beside FILE. */
export function typegenPath(file: string, out?: string, outDir?: string): string {
  if (out !== undefined) return out;
  const name = basename(file, extname(file)) + ".d.ts";
  return join(outDir ?? dirname(file), name);
}

/** One file's generation: its .d.ts, or diagnostics (the old .d.ts stays); the files it read. */
async function generate(
  file: string,
  out: string,
  opts: CompileOptions,
  io: Io,
): Promise<{ ok: boolean; read: string[] }> {
  const r = typegen(file, opts);
  printDiagnostics(r, io);
  // std is dlg's own, not the user's to change: not watched.
  const read = [...r.sources.keys()].filter((f) => f !== STD_PRELUDE).map((f) => resolve(f));
  if (!r.ok || r.dts === undefined) {
    const n = errorCount(r);
    io.err(`${file}: ${n} error${n === 1 ? "" : "s"}; ${out} not written`);
    return { ok: false, read: read.length ? read : [resolve(file)] };
  }
  const old = await readFile(out, "utf8").catch(() => undefined);
  if (old === r.dts) io.err(`${out} is up to date (model ${r.program?.model ?? "?"})`);
  else {
    writeOutput(out, r.dts);
    io.err(`wrote ${out} (model ${r.program?.model ?? "?"})`);
  }
  return { ok: true, read };
}

export interface TypegenRun {
  files: string[];
  outs: string[];
  opts: CompileOptions;
  /** Keep watching the files and their imports until this aborts. */
  watch?: AbortSignal;
}

/** Generate every file's .d.ts once, then (with `watch`) again on each change; resolves to the exit status. */
export async function typegenFiles(run: TypegenRun, io: Io): Promise<number> {
  const reads: string[][] = [];
  let failed = 0;
  for (const [i, file] of run.files.entries()) {
    const g = await generate(file, run.outs[i]!, run.opts, io);
    reads.push(g.read);
    if (!g.ok) failed++;
  }
  if (!run.watch) return failed === 0 ? exitCode.ok : exitCode.error;
  await watchFiles(run, reads, io, run.watch);
  return exitCode.ok;
}

/**
 * Watch the folders of every file read (an editor that saves by renaming
 * replaces the file, which a watch on the file itself would lose), and
 * regenerate each entry whose files changed, once per burst of events.
 */
function watchFiles(
  run: TypegenRun,
  reads: string[][],
  io: Io,
  signal: AbortSignal,
): Promise<void> {
  const watchers = new Map<string, FSWatcher>();
  const timers = new Map<number, NodeJS.Timeout>();
  /** A regeneration per entry at a time, in order, so writes never interleave. */
  let queue = Promise.resolve();
  const sync = () => {
    const dirs = new Set(reads.flat().map((f) => dirname(f)));
    for (const [d, w] of watchers)
      if (!dirs.has(d)) {
        w.close();
        watchers.delete(d);
      }
    for (const d of dirs) {
      if (watchers.has(d)) continue;
      try {
        watchers.set(
          d,
          watch(d, (_event, name) => changed(name === null ? null : join(d, name.toString()), d)),
        );
      } catch {
        io.err(`cannot watch ${d}; changes there will not regenerate`);
      }
    }
  };
  const changed = (path: string | null, dir: string) => {
    reads.forEach((files, i) => {
      const hit = path === null ? files.some((f) => dirname(f) === dir) : files.includes(path);
      if (!hit) return;
      clearTimeout(timers.get(i));
      timers.set(
        i,
        setTimeout(() => {
          timers.delete(i);
          queue = queue.then(async () => {
            if (signal.aborted) return;
            reads[i] = (await generate(run.files[i]!, run.outs[i]!, run.opts, io)).read;
            sync();
          });
        }, debounceMs),
      );
    });
  };
  sync();
  io.err(`watching ${run.files.length} file${run.files.length === 1 ? "" : "s"} and their imports`);
  return new Promise((done) => {
    const stop = () => {
      for (const t of timers.values()) clearTimeout(t);
      for (const w of watchers.values()) w.close();
      void queue.then(done);
    };
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
  });
}

export async function runTypegen(p: Parsed, io: Io): Promise<number> {
  const files = p.positionals;
  if (files.length === 0) throw new UsageError("dlg typegen: expected at least one .dlg file");
  const out = str(p, "out");
  const outDir = str(p, "out-dir");
  if (out !== undefined && files.length > 1)
    throw new UsageError(
      `dlg typegen: -o names one file's .d.ts; use --out-dir for ${files.length} files`,
    );
  if (out !== undefined && outDir !== undefined)
    throw new UsageError("dlg typegen: give -o or --out-dir, not both");
  for (const f of files) requireFile(f);
  const opts: CompileOptions = {
    host: nodeHost,
    target: backendFlag(p, "typegen"),
    model: str(p, "model"),
    config: str(p, "config"),
    ...sizeLimits(p),
  };
  const outs = files.map((f) => typegenPath(f, out, outDir));
  // Two files of one name under --out-dir would overwrite each other's .d.ts.
  const seen = new Map<string, string>();
  for (const [i, o] of outs.entries()) {
    const prev = seen.get(resolve(o));
    if (prev !== undefined && resolve(prev) !== resolve(files[i]!))
      throw new UsageError(`dlg typegen: ${prev} and ${files[i]} would both write ${o}`);
    seen.set(resolve(o), files[i]!);
  }
  if (p.values.watch !== true) return typegenFiles({ files, outs, opts }, io);
  // Watch until Ctrl-C; the writes in flight finish first.
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  return typegenFiles({ files, outs, opts, watch: stop.signal }, io);
}
