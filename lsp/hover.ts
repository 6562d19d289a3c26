// Hover: the type of the innermost expression under the cursor (its shape,
// symbolic dims as written and concrete values where known), and for a name
// what it is: the definition's one-line detail and its doc comment.

import { MarkupKind, type Hover } from "vscode-languageserver";
import type { Analysis } from "../compiler/symbols.ts";
import { symbolAt, typeAt } from "./lookup.ts";
import { rangeOf } from "./text.ts";

const code = (lines: string[]) => "```dlg\n" + lines.join("\n") + "\n```";

/** A recorded text: its first paragraph is code (a type, a signature), the rest a doc comment. */
function section(text: string): string {
  const cut = text.indexOf("\n\n");
  return cut < 0 ? code([text]) : `${code([text.slice(0, cut)])}\n\n${text.slice(cut + 2)}`;
}

export function hover(a: Analysis, file: string, offset: number): Hover | null {
  const text = a.sources.get(file);
  if (text === undefined) return null;
  const t = typeAt(a, file, offset);
  const s = symbolAt(a, file, offset);
  const texts = t ? [...new Set(t.texts)] : [];
  const parts = texts.map(section);
  if (s) {
    const { name, detail, doc } = s.def;
    // A call's record is already the block's signature and doc: not twice.
    const signed = texts.some((x) => x.startsWith(`${name}(`) || x === detail);
    if (!signed) parts.push(code([detail]));
    if (doc && !texts.some((x) => x.includes(doc))) parts.push(doc);
  }
  if (parts.length === 0) return null;
  // The name's span when on one (the word the editor highlights), else the expression's.
  const span = s?.span ?? t!.span;
  return {
    contents: { kind: MarkupKind.Markdown, value: parts.join("\n\n---\n\n") },
    range: rangeOf(text, span),
  };
}
