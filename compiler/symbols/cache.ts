// What an editor session keeps between analyses: each file's parse, by its
// exact text, so a keystroke in one file re-parses that file alone (its
// imports and std come back as the same Program objects).

import { parse, type ParseResult } from "../../grammar/index.ts";

export class AnalysisCache {
  private readonly parsed = new Map<string, { text: string; result: ParseResult }>();
  /** How many parses ran (cache misses): for tests and the bench. */
  parses = 0;

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
  }
}
