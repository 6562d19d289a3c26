// Document formatting: the canonical printing of the parse (print.ts, which
// keeps comments where they were written), as one edit of the whole text.
// A file with syntax errors is refused: printing a recovered tree would
// drop what the parser could not read. print.ts writes "\n"; a file whose
// lines end in "\r\n" (Windows, git autocrlf) keeps them, so format-on-save
// does not turn every line into a change.

import type { TextEdit } from "vscode-languageserver";
import { parse, printProgram } from "../grammar/index.ts";
import { rangeOf } from "./text.ts";

/** The edits that format `text`; [] when it is formatted already; null when it cannot be (syntax errors). */
export function formatting(text: string): TextEdit[] | null {
  const p = parse(text);
  if (p.errors.length > 0) return null;
  const printed = printProgram(p.program);
  // The file's line ending is that of its first line break.
  const formatted = text.includes("\r\n") ? printed.replace(/\n/g, "\r\n") : printed;
  if (formatted === text) return [];
  return [{ range: rangeOf(text, { start: 0, end: text.length }), newText: formatted }];
}
