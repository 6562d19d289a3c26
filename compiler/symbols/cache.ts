// What an editor session keeps between analyses: each file's parse, by its
// exact text, so a keystroke in one file re-parses that file alone (its
// imports and std come back as the same Program objects); and, per entry
// file, what elaborating its imports' models and uncalled blocks did
// (compiler/elaborate/reuse.ts), replayed while the imported texts, the
// entry's global declarations, std and the options stay the same, so a
// keystroke inside the entry's model re-elaborates that model alone.

import {
  parse,
  type BlockDecl,
  type ModelDecl,
  type ParseResult,
  type Span,
} from "../../grammar/index.ts";
import type { Diagnostic } from "../diagnostics.ts";
import type { ModelIR } from "../ir.ts";

/**
 * What one elaboration run (a model, an uncalled block) did to its Session, call by call:
 * replaying it through the Session's `type`, `report` and `markCalled` leaves the Session as
 * running it again would.
 */
export interface RunLog {
  types: { file: string; span: Span; text: string }[];
  reports: Diagnostic[];
  called: BlockDecl[];
}

/** The runs kept for one entry file, valid while its environment's fingerprint holds. */
export interface ReusedRuns {
  fingerprint: string;
  /** Per model or block of an imported file: its run's log, and the model's IR. */
  outcomes: Map<ModelDecl | BlockDecl, { log: RunLog; result: ModelIR | null | void }>;
}

/** What elaborate's `reuse` option keeps between elaborations (compiler/elaborate/reuse.ts). */
export interface RunStore {
  runs: Map<string, ReusedRuns>;
  /** Runs of imported models and blocks that were elaborated (not found in the store). */
  elaborations: number;
  /** Runs replayed from the store instead. */
  reused: number;
}

export class AnalysisCache implements RunStore {
  private readonly parsed = new Map<string, { text: string; result: ParseResult }>();
  /** How many parses ran (cache misses): for tests and the bench. */
  parses = 0;
  /** Per entry file: the runs of its imports' models and uncalled blocks (elaborate's `reuse` option). */
  readonly runs = new Map<string, ReusedRuns>();
  /** Runs of imported models and blocks elaborated, and replayed instead: for tests and the bench. */
  elaborations = 0;
  reused = 0;

  /** The parse of `text`, reused while `file`'s text stays the same (elaborate's `parse` option). */
  readonly parse = (file: string, text: string): ParseResult => {
    const hit = this.parsed.get(file);
    if (hit && hit.text === text) return hit.result;
    this.parses++;
    const result = parse(text);
    this.parsed.set(file, { text, result });
    return result;
  };

  /** Forget a file (closed in the editor, deleted). */
  drop(file: string): void {
    this.parsed.delete(file);
    this.runs.delete(file);
  }
}
