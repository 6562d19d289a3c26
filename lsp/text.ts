// Spans (UTF-16 offsets, the compiler's) to LSP positions and back. LSP's
// default position encoding is UTF-16 too, so a span converts exactly; only
// line starts are needed, and TextDocument computes them (breaking lines at
// `\n`, `\r\n` and a lone `\r`, as the compiler's positionAt does).

import { TextDocument } from "vscode-languageserver-textdocument";
import type { Position, Range } from "vscode-languageserver";
import type { Span } from "../grammar/index.ts";

/** The line tables of the texts converted lately: one request converts many spans of a few files. */
const recent = new Map<string, TextDocument>();
const RECENT_TEXTS = 32;

function lines(text: string): TextDocument {
  let doc = recent.get(text);
  if (doc === undefined) {
    doc = TextDocument.create("dlg:text", "dlg", 0, text);
    if (recent.size >= RECENT_TEXTS) recent.delete(recent.keys().next().value!);
    recent.set(text, doc);
  }
  return doc;
}

export function rangeOf(text: string, span: Span): Range {
  const doc = lines(text);
  return { start: doc.positionAt(span.start), end: doc.positionAt(span.end) };
}

export function positionOf(text: string, offset: number): Position {
  return lines(text).positionAt(offset);
}

export function offsetOf(text: string, pos: Position): number {
  return lines(text).offsetAt(pos);
}

/** Does `span` hold the cursor at `offset`? Its end counts: a cursor just after a name is on it. */
export function holds(span: Span, offset: number): boolean {
  return span.start <= offset && offset <= span.end;
}
