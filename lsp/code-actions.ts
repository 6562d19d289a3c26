// Quick fixes: a diagnostic whose help says "did you mean `adam`?" (an
// unknown name, optimizer, setting or key; compiler/elaborate/suggest.ts)
// offers to replace the name it underlines with the suggestion. Only when
// the range is one name: an underline over a longer expression is not the
// word the suggestion replaces.

import {
  CodeActionKind,
  type CodeAction,
  type Diagnostic,
  type TextDocumentIdentifier,
} from "vscode-languageserver";
import type { TextDocument } from "vscode-languageserver-textdocument";

const suggestion = /help: did you mean `(\w+)`\?/;

export function quickFixes(
  doc: TextDocument,
  id: TextDocumentIdentifier,
  diagnostics: Diagnostic[],
): CodeAction[] {
  return diagnostics.flatMap((d) => {
    const m = suggestion.exec(typeof d.message === "string" ? d.message : "");
    const word = doc.getText(d.range);
    if (!m || !/^\w+$/.test(word) || word === m[1]) return [];
    return [
      {
        title: `Change \`${word}\` to \`${m[1]}\``,
        kind: CodeActionKind.QuickFix,
        diagnostics: [d],
        isPreferred: true,
        edit: { changes: { [id.uri]: [{ range: d.range, newText: m[1]! }] } },
      },
    ];
  });
}
