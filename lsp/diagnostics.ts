// Compiler diagnostics as LSP diagnostics. The range comes from the span in
// the text the compiler read (UTF-16 offsets, LSP's default encoding); each
// label becomes related information, so an editor can show where each side
// of a mismatch got its dimension; notes and help follow the message.

import {
  DiagnosticSeverity,
  type Diagnostic as LspDiagnostic,
  type DiagnosticRelatedInformation,
} from "vscode-languageserver";
import { catalog, type DiagCode, type Diagnostic } from "../compiler/diagnostics.ts";
import type { SymbolDef, SymbolIndex } from "../compiler/symbols.ts";
import type { Span } from "../grammar/index.ts";
import { spanKey } from "./lookup.ts";
import { offsetOf, rangeOf } from "./text.ts";
import { uriOf } from "./uris.ts";

/** docs/language.md, whose `### E3001 — ...` heading explains each code. */
const languageDoc = new URL("../docs/language.md", import.meta.url).href;

/** The link to a code's explanation: its heading's anchor, as Markdown renderers make them. */
function codeHref(code: DiagCode): string {
  const slug = `${code} — ${catalog[code]}`
    .toLowerCase()
    .replace(/[^\w\- ]/g, "")
    .replace(/ /g, "-");
  return `${languageDoc}#${slug}`;
}

const severities: { [K in Diagnostic["severity"]]: DiagnosticSeverity } = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
};

/**
 * The span an editor underlines: a syntax error's span that holds only
 * a line break or spaces (the parser points between tokens) moves to the
 * token after it, the one the message says was found, so the squiggle is
 * under something.
 */
function shown(text: string, span: Span): Span {
  if (text.slice(span.start, span.end).trim() !== "") return span;
  const rest = /\S/.exec(text.slice(span.start));
  if (rest === null) return span;
  const start = span.start + rest.index;
  const word = /^\w+/.exec(text.slice(start));
  return { start, end: start + (word ? word[0].length : 1) };
}

/** The definition each name use refers to, by the use's `file:start:end`. */
export type Origins = ReadonlyMap<string, SymbolDef>;

export function originsOf(symbols: SymbolIndex): Origins {
  const out = new Map<string, SymbolDef>();
  for (const r of symbols.refs) {
    const def = symbols.defs.get(r.def);
    if (def) out.set(spanKey(r.file, r.span), def);
  }
  return out;
}

/** Kinds of names whose shape was made where they are defined (a block's shape is its signature's). */
const valueKinds = new Set(["local", "input", "param", "output", "metric", "block-param"]);

/**
 * A compiler diagnostic for the editor. Each label becomes related
 * information; a label on a name (`a` in `a + b`: "this is [B, 8]") also
 * gets the statement that gave it that shape (`a = x |> proj(8)`), so the
 * editor shows where each side's dimension came from.
 */
export function toLspDiagnostic(
  d: Diagnostic,
  sources: ReadonlyMap<string, string>,
  origins: Origins = new Map(),
): LspDiagnostic {
  const text = (file: string) => sources.get(file) ?? "";
  const at = (file: string, span: Span) => ({ uri: uriOf(file), range: rangeOf(text(file), span) });
  const related: DiagnosticRelatedInformation[] = d.labels.flatMap((l) => {
    const file = l.file ?? d.file;
    const own = { location: at(file, l.span), message: l.message };
    const def = origins.get(spanKey(file, l.span));
    if (!def || !valueKinds.has(def.kind) || !sources.has(def.file)) return [own];
    const shape = l.message.startsWith("this is ") ? l.message.slice("this is ".length) : null;
    const message = `\`${def.name}\`${shape ? ` is ${shape}` : ""} from here`;
    return [own, { location: at(def.file, def.declSpan), message }];
  });
  // Each call that led into the block, and the place inside std, is one click away too.
  for (const p of placesOf(d, sources))
    related.push({ location: at(p.file, p.span), message: p.message });

  const message = [
    d.message,
    ...d.notes.map((n) => `note: ${n}`),
    ...(d.help !== undefined ? [`help: ${d.help}`] : []),
  ].join("\n");
  return {
    range: rangeOf(text(d.file), shown(text(d.file), d.span)),
    severity: severities[d.severity],
    code: d.code,
    codeDescription: { href: codeHref(d.code) },
    source: "dlg",
    message,
    ...(related.length > 0 && { relatedInformation: related }),
  };
}

/**
 * The places the elaborator's notes name (1-based `FILE:L:C`): each call
 * that led into a block (`in the call at main.dlg:5:19`), and where inside
 * std an error was raised (`raised inside std's \`f\` ... (std/prelude.dlg:193:35)`).
 */
const placeNotes: { re: RegExp; message: string; call: boolean }[] = [
  { re: /^in the call at (.+):(\d+):(\d+)$/, message: "called here", call: true },
  {
    re: /^raised inside std's .*?(?: at `([^`]*)`)? \((.+):(\d+):(\d+)\)$/,
    message: "inside std here",
    call: false,
  },
];

/**
 * The places a diagnostic's notes name, each with its note: the expression
 * the note quotes (`at \`d / heads\``) where it is there, else the word there.
 */
function placesOf(d: Diagnostic, sources: ReadonlyMap<string, string>) {
  return d.notes.flatMap((note) =>
    placeNotes.flatMap(({ re, message, call }) => {
      const m = re.exec(note);
      // The std note has one group more, the quoted expression, before the place.
      const [quoted, file, line, col] = m ? (call ? [undefined, ...m.slice(1)] : m.slice(1)) : [];
      const text = file ? sources.get(file) : undefined;
      if (!m || text === undefined) return [];
      const start = offsetOf(text, { line: Number(line) - 1, character: Number(col) - 1 });
      const word = /^\w+/.exec(text.slice(start));
      const length = quoted && text.startsWith(quoted, start) ? quoted.length : word?.[0].length;
      const span = { start, end: start + (length ?? 1) };
      return [{ note, file: file!, span, message, call }];
    }),
  );
}

/**
 * An error inside a block of another file, once more at each call in the
 * analysed files that led to it (`in the call at main.dlg:5:19`): the file
 * being edited shows the call that breaks, with the error's own place as
 * related information, instead of looking clean.
 */
export function atCallSites(
  ds: readonly Diagnostic[],
  sources: ReadonlyMap<string, string>,
): Diagnostic[] {
  return ds.flatMap((d) =>
    placesOf(d, sources)
      .filter((c) => c.call && c.file !== d.file)
      .map((c) => ({
        ...d,
        file: c.file,
        span: c.span,
        message: `${d.message} (in the block this calls)`,
        labels: [
          { file: d.file, span: d.span, message: "the error is here" },
          ...d.labels.map((l) => ({ ...l, file: l.file ?? d.file })),
        ],
        notes: d.notes.filter((n) => n !== c.note),
      })),
  );
}

/**
 * An analysis's diagnostics by the file they are in (an error in an imported
 * file goes to that file), converted, one copy of each: two open files that
 * import a third both report its errors.
 */
export function diagnosticsByFile(
  ds: readonly Diagnostic[],
  sources: ReadonlyMap<string, string>,
  into = new Map<string, LspDiagnostic[]>(),
  origins?: Origins,
): Map<string, LspDiagnostic[]> {
  const keyOf = (file: string, d: LspDiagnostic) =>
    JSON.stringify([file, d.range, d.code, d.message]);
  const seen = new Set<string>();
  for (const [file, list] of into) for (const d of list) seen.add(keyOf(file, d));
  for (const d of ds) {
    const lsp = toLspDiagnostic(d, sources, origins);
    const key = keyOf(d.file, lsp);
    if (seen.has(key)) continue;
    seen.add(key);
    const list = into.get(d.file) ?? [];
    list.push(lsp);
    into.set(d.file, list);
  }
  return into;
}
