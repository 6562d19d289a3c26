// What the server knows: the open buffers, a Host that reads them before the
// disk, one AnalysisCache shared by every analysis (so an unchanged import or
// std is not parsed or declared again), and the latest Analysis of each open
// file. An edit re-analyses its file after a short pause, then every open
// file that imports it; diagnostics are published per file (an error in an
// imported file to that file's URI), and a file whose errors are gone gets
// an empty list, so nothing stale stays on screen.

import { readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import type { Diagnostic as LspDiagnostic } from "vscode-languageserver";
import { nodeHost } from "../cli/node-host.ts";
import { analyze, type Host } from "../compiler/compile.ts";
import { STD_PRELUDE } from "../compiler/elaborate.ts";
import { AnalysisCache } from "../compiler/symbols/cache.ts";
import type { Analysis, SymbolDef } from "../compiler/symbols.ts";
import { atCallSites, diagnosticsByFile, originsOf } from "./diagnostics.ts";
import { isStd } from "./callables.ts";
import { ignoredUnder } from "./ignore.ts";
import { preludeFile, uriOf } from "./uris.ts";

/** The pause after a keystroke before re-checking: typing a word costs one analysis, not five. */
export const DEBOUNCE_MS = 60;

/** How much of a workspace folder rename and references look through for files that import the name. */
const SCAN_LIMITS = { files: 500, depth: 8 };

export interface WorkspaceEvents {
  publish(uri: string, diagnostics: LspDiagnostic[]): void;
  log(message: string): void;
  /** Open files other than the edited one were re-checked: their hints and tokens may have changed. */
  othersChanged?(): void;
  /** An edited file was re-checked after the pause: tokens answered from its previous analysis are stale. */
  rechecked?(): void;
}

interface OpenFile {
  uri: string;
  text: string;
}

/** One converted diagnostic, the file it is in, and its identity for merging analyses. */
interface Converted {
  file: string;
  d: LspDiagnostic;
  key: string;
}

export class Workspace {
  /** Open buffers by path. */
  private readonly open = new Map<string, OpenFile>();
  /** The latest analysis of each open file (absent while its first is pending, or after it failed). */
  private readonly analyses = new Map<string, Analysis>();
  /** What each file's URI shows now, by path (the list and its JSON, to publish only changes). */
  private readonly published = new Map<string, { list: LspDiagnostic[]; json: string }>();
  /**
   * Each analysis's diagnostics converted once, by file, with their dedup keys: a
   * re-check of one file then converts that file's alone, not every open file's.
   */
  private readonly converted = new WeakMap<Analysis, Converted[]>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Public for the bench and tests: `cache.parses` counts the parses that ran. */
  readonly cache = new AnalysisCache();
  /** Workspace folders (paths) that rename and references search. */
  roots: string[] = [];

  readonly host: Host = {
    readFile: (asked) => {
      // Std's prelude is one file whether it is asked for by its path or by its name.
      const path = asked === preludeFile ? STD_PRELUDE : asked;
      this.asking?.add(path);
      const buffer = this.open.get(path);
      if (buffer !== undefined) return buffer.text;
      // Only .dlg sources come from disk (the compiler refuses other imports with E2010 anyway).
      const disk = path === STD_PRELUDE ? preludeFile : path;
      return disk.endsWith(".dlg") ? nodeHost.readFile(disk) : undefined;
    },
  };

  constructor(private readonly events: WorkspaceEvents) {}

  /** A buffer opened or edited: check it after the pause (at once with `now`). */
  update(path: string, uri: string, text: string, now = false): void {
    // The library reports an opened document as changed too: the same text is not checked twice.
    const same = this.open.get(path)?.text === text && this.analyses.has(path);
    this.open.set(path, { uri, text });
    if (same && !now) return;
    this.clearTimer(path);
    if (now) return this.recheck(path);
    this.timers.set(
      path,
      setTimeout(() => this.safely(() => this.recheck(path)), DEBOUNCE_MS),
    );
  }

  /** A timer's work has no caller to catch for it: a failure is logged, never thrown. */
  private safely(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.events.log(`dlg: re-checking failed: ${e instanceof Error ? e.stack : String(e)}`);
    }
  }

  close(path: string): void {
    this.clearTimer(path);
    this.open.delete(path);
    this.analyses.delete(path);
    this.asked.delete(path);
    this.cache.drop(path);
    // Its importers now read it from disk, which may differ from the buffer.
    this.recheckImporters(path);
    this.publishAll();
  }

  /** A file changed on disk (watched files): re-check the open files that import it. */
  changedOnDisk(path: string): void {
    if (this.open.has(path)) return;
    this.recheckImporters(path);
    this.publishAll();
  }

  /**
   * The last analysis of an open file, without waiting for a pending
   * re-check: completion and signature help answer while typing, from an
   * analysis that may lag the text by the keystrokes of the pause.
   */
  lastAnalysisOf(path: string): Analysis | undefined {
    return this.analyses.get(path);
  }

  /** The current analysis of an open file, finishing a pending re-check first. */
  analysisOf(path: string): Analysis | undefined {
    if (this.timers.has(path)) this.recheck(path);
    return this.analyses.get(path);
  }

  /** The current analyses of the open files. */
  openAnalyses(): Analysis[] {
    return [...this.open.keys()].flatMap((p) => this.analysisOf(p) ?? []);
  }

  /**
   * Analyses that may mention `def`: every open file's, then those of the
   * workspace's other .dlg files that name it (bounded), so references and
   * rename reach the files that import a block as well as its own. For a
   * user's name, only files that import something: one that imports
   * nothing uses only its own and std's names, and its own come with the
   * analysis of any open file importing it. Std's names are everyone's.
   */
  analysesMentioning(def: SymbolDef): Analysis[] {
    const out = this.openAnalyses();
    const word = new RegExp(`\\b${def.name.replace(/[^\w]/g, "")}\\b`);
    const everyone = isStd(def.file);
    for (const path of this.workspaceFiles()) {
      if (this.open.has(path)) continue;
      const text = this.host.readFile(path);
      if (typeof text !== "string" || !word.test(text)) continue;
      if (!everyone && !/\bimport\b/.test(text)) continue;
      const a = this.analyze(path);
      if (a) out.push(a);
    }
    return out;
  }

  private clearTimer(path: string): void {
    const t = this.timers.get(path);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(path);
  }

  private recheck(path: string): void {
    this.clearTimer(path);
    if (!this.open.has(path)) return;
    this.checkOpen(path);
    this.recheckImporters(path);
    this.publishAll();
    this.events.rechecked?.();
  }

  /** Analyse an open file and keep its analysis and the paths it asked the host for. */
  private checkOpen(path: string): void {
    const asked = new Set<string>();
    this.asking = asked;
    const a = this.analyze(path); // never throws
    this.asking = undefined;
    this.asked.set(path, asked);
    if (a) this.analyses.set(path, a);
    else this.analyses.delete(path);
  }

  /**
   * Re-analyse the open files whose last analysis asked for `path` (not
   * `path` itself): read it, or failed to because it was missing, so an
   * import that is created later clears its importer's "cannot read".
   */
  private recheckImporters(path: string): void {
    let any = false;
    for (const [entry, asked] of this.asked)
      if (entry !== path && asked.has(path)) {
        this.checkOpen(entry);
        any = true;
      }
    if (any) this.events.othersChanged?.();
  }

  /** The paths each open file's last analysis asked the host for (read, or found missing). */
  private readonly asked = new Map<string, Set<string>>();
  /** While an open file's analysis runs: the paths it asks for. */
  private asking: Set<string> | undefined;

  /** One analysis. analyze() turns a compiler bug into E9001 itself; anything past that is logged. */
  private analyze(path: string): Analysis | undefined {
    try {
      return analyze(path, { host: this.host, cache: this.cache });
    } catch (e) {
      this.events.log(`dlg: analysing ${path} failed: ${e instanceof Error ? e.stack : String(e)}`);
      return undefined;
    }
  }

  /** An analysis's diagnostics for the editor, by file (converted on first use). */
  private convertedOf(a: Analysis): Converted[] {
    let out = this.converted.get(a);
    if (out === undefined) {
      // Nothing in std: the user cannot fix it, and the repository's tests check it.
      const own = a.diagnostics.filter((d) => !isStd(d.file));
      const ds = [...own, ...atCallSites(own, a.sources)];
      const byFile =
        own.length > 0
          ? diagnosticsByFile(ds, a.sources, new Map(), originsOf(a.symbols))
          : new Map();
      out = [...byFile].flatMap(([file, list]: [string, LspDiagnostic[]]) =>
        list.map((d) => ({ file, d, key: JSON.stringify([file, d.range, d.code, d.message]) })),
      );
      this.converted.set(a, out);
    }
    return out;
  }

  /** Merge every open file's diagnostics by file and send what changed (empty lists included). */
  private publishAll(): void {
    const merged = new Map<string, LspDiagnostic[]>();
    // Two open files that import a third both report its errors: one copy of each.
    const seen = new Set<string>();
    for (const a of this.analyses.values())
      for (const { file, d, key } of this.convertedOf(a)) {
        if (seen.has(key)) continue;
        seen.add(key);
        const list = merged.get(file) ?? [];
        list.push(d);
        merged.set(file, list);
      }
    // An open file always gets a list (an empty one says "checked, clean"); a closed one until it is empty.
    const paths = [...this.published.keys(), ...merged.keys(), ...this.analyses.keys()];
    for (const path of new Set(paths)) {
      const list = merged.get(path) ?? [];
      const last = this.published.get(path);
      // The same converted objects (an analysis that did not change): nothing to compare.
      if (last && last.list.length === list.length && last.list.every((d, i) => d === list[i]))
        continue;
      const json = JSON.stringify(list);
      if (last?.json === json) {
        last.list = list;
        continue;
      }
      if (list.length === 0 && !this.open.has(path)) this.published.delete(path);
      else this.published.set(path, { list, json });
      this.events.publish(this.open.get(path)?.uri ?? uriOf(path), list);
    }
  }

  /** The .dlg files under the workspace folders, breadth-first, skipping what ignore.ts leaves out. */
  private workspaceFiles(): string[] {
    const out: string[] = [];
    const ignored = new Map(this.roots.map((r) => [r, ignoredUnder(r)]));
    let level = this.roots.map((root) => ({ root, dir: root }));
    for (let depth = 0; depth <= SCAN_LIMITS.depth && level.length > 0; depth++) {
      const next: typeof level = [];
      for (const { root, dir } of level) {
        let names: string[];
        try {
          names = readdirSync(dir).sort();
        } catch {
          continue;
        }
        for (const name of names) {
          const p = join(dir, name);
          let st;
          try {
            st = statSync(p);
          } catch {
            continue;
          }
          if (ignored.get(root)!(relative(root, p).split(sep).join("/"), st.isDirectory()))
            continue;
          if (st.isDirectory()) next.push({ root, dir: p });
          else if (st.isFile() && name.endsWith(".dlg")) {
            out.push(p);
            if (out.length >= SCAN_LIMITS.files) return out;
          }
        }
      }
      level = next;
    }
    return out;
  }
}
