// Document formatting: the canonical printing of the parse (print.ts, which
// keeps comments where they were written), as one edit of the whole text.
// A file with syntax errors is refused: printing a recovered tree would
// drop what the parser could not read.

import type { TextEdit } from "vscode-languageserver";
import { parse, printProgram } from "../grammar/index.ts";
import { rangeOf } from "./text.ts";

/** The edits that format `text`; [] when it is formatted already; null when it cannot be (syntax errors). */
export function formatting(text: string): TextEdit[] | null {
  const p = parse(text);
  if (p.errors.length > 0) return null;
  const formatted = printProgram(p.program);
  if (formatted === text) return [];
  return [{ range: rangeOf(text, { start: 0, end: text.length }), newText: formatted }];
}
