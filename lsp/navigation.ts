// Go to definition, find references, rename, and the document's outline.
// Definitions and uses come from the analyses' symbol indexes; a definition
// id is its file and offset, so the same definition seen from several
// analyses (a block in lib.dlg, analysed with each file that imports it) is
// one definition, and its uses from all of them are gathered.

import {
  DocumentHighlightKind,
  ResponseError,
  ErrorCodes,
  SymbolKind,
  type DocumentHighlight,
  type DocumentSymbol,
  type SymbolInformation,
  type Location,
  type Range,
  type TextEdit,
  type WorkspaceEdit,
} from "vscode-languageserver";
import { parse, type Decl, type Ident, type Span, type Stmt } from "../grammar/index.ts";
import type { Analysis, SymbolDef } from "../compiler/symbols.ts";
import { resolveImport } from "../compiler/elaborate.ts";
import { forEachExpr, stmtValue } from "./ast-walk.ts";
import { intrinsics, isStd } from "./callables.ts";
import { symbolAt } from "./lookup.ts";
import { holds, rangeOf } from "./text.ts";
import { uriOf } from "./uris.ts";

function location(a: Analysis, file: string, span: Span): Location | undefined {
  const text = a.sources.get(file);
  return text === undefined ? undefined : { uri: uriOf(file), range: rangeOf(text, span) };
}

/**
 * The definition of the name at `offset`; on an import's path, its alias, or
 * a namespace before a dot (`enc` of `enc.tower`), the file it imports.
 */
export function definition(a: Analysis, file: string, offset: number): Location | null {
  const s = symbolAt(a, file, offset);
  if (s) return location(a, s.def.file, s.def.span) ?? null;
  const ns = namespaceAt(a.sources.get(file) ?? "", offset);
  const imp = a.programs
    .get(file)
    ?.decls.find(
      (d) =>
        d.kind === "Import" &&
        (holds(d.path.span, offset) ||
          (d.alias !== null && (holds(d.alias.span, offset) || d.alias.name === ns))),
    );
  if (imp?.kind !== "Import") return null;
  const start = { line: 0, character: 0 };
  return { uri: uriOf(resolveImport(file, imp.path.value)), range: { start, end: start } };
}

/** The namespace of the qualified name whose first part holds `offset` (`enc` of `enc.tower`), if any. */
function namespaceAt(text: string, offset: number): string | null {
  const word = /[A-Za-z0-9_]/;
  let start = offset;
  while (start > 0 && word.test(text[start - 1]!)) start--;
  let end = offset;
  while (end < text.length && word.test(text[end]!)) end++;
  const qualified = text[end] === "." && /[A-Za-z_]/.test(text[end + 1] ?? "");
  return qualified && /^[A-Za-z_]/.test(text.slice(start)) && text[start - 1] !== "."
    ? text.slice(start, end)
    : null;
}

/** Every place that names `def` (its definition first when asked), once each, across analyses. */
function occurrences(
  analyses: readonly Analysis[],
  def: SymbolDef,
  withDecl: boolean,
): { file: string; span: Span; location: Location }[] {
  const out = new Map<string, { file: string; span: Span; location: Location }>();
  const add = (a: Analysis, file: string, span: Span) => {
    const key = `${file}:${span.start}:${span.end}`;
    const loc = out.has(key) ? undefined : location(a, file, span);
    if (loc) out.set(key, { file, span, location: loc });
  };
  for (const a of analyses) {
    if (withDecl && a.symbols.defs.has(def.id)) add(a, def.file, def.span);
    for (const r of a.symbols.refs) if (r.def === def.id) add(a, r.file, r.span);
  }
  // In document order, file by file.
  const pos = (o: { location: Location }) => o.location.range.start;
  return [...out.values()].sort(
    (x, y) =>
      (x.location.uri < y.location.uri ? -1 : x.location.uri > y.location.uri ? 1 : 0) ||
      pos(x).line - pos(y).line ||
      pos(x).character - pos(y).character,
  );
}

export function references(
  analyses: readonly Analysis[],
  def: SymbolDef,
  includeDeclaration: boolean,
): Location[] {
  return occurrences(analyses, def, includeDeclaration).map((o) => o.location);
}

/**
 * The occurrences of the name at `offset` in its own file (documentHighlight):
 * the definition as a write, each use as a read. The open file's analysis is
 * enough; no workspace search.
 */
export function highlights(a: Analysis, file: string, offset: number): DocumentHighlight[] {
  const s = symbolAt(a, file, offset);
  if (!s) return [];
  return occurrences([a], s.def, true)
    .filter((o) => o.file === file)
    .map((o) => ({
      range: o.location.range,
      kind:
        o.span.start === s.def.span.start && o.file === s.def.file
          ? DocumentHighlightKind.Write
          : DocumentHighlightKind.Read,
    }));
}

const topKinds: Partial<Record<SymbolDef["kind"], SymbolKind>> = {
  block: SymbolKind.Function,
  model: SymbolKind.Class,
  train: SymbolKind.Event,
  dim: SymbolKind.TypeParameter,
  const: SymbolKind.Constant,
};

/**
 * workspace/symbol: the top-level names (blocks, models, train blocks, dims,
 * consts) of the open files and what they import, std's last, whose name
 * holds `query` (case-insensitive; every one for an empty query).
 */
export function workspaceSymbols(
  analyses: readonly Analysis[],
  query: string,
): SymbolInformation[] {
  const q = query.toLowerCase();
  const out = new Map<string, SymbolInformation & { std: boolean }>();
  for (const a of analyses)
    for (const d of a.symbols.defs.values()) {
      const kind = topKinds[d.kind];
      if (kind === undefined || out.has(d.id) || !d.name.toLowerCase().includes(q)) continue;
      const loc = location(a, d.file, d.span);
      if (loc) out.set(d.id, { name: d.name, kind, location: loc, std: isStd(d.file) });
    }
  return [...out.values()]
    .sort((x, y) => Number(x.std) - Number(y.std) || x.name.localeCompare(y.name))
    .map(({ std: _, ...s }) => s);
}

/** Where a rename may start: a user's name, not std's (nor an intrinsic, which has no definition). */
export function prepareRename(
  a: Analysis,
  file: string,
  offset: number,
): { range: Range; placeholder: string } | null {
  const s = symbolAt(a, file, offset);
  const text = a.sources.get(file);
  if (!s || text === undefined) return null;
  if (isStd(s.def.file))
    throw new ResponseError(
      ErrorCodes.InvalidRequest,
      `\`${s.def.name}\` is defined in std; std's names cannot be renamed`,
    );
  return { range: rangeOf(text, s.span), placeholder: s.def.name };
}

/** Is `name` usable as a name: an identifier that is no hard keyword? */
function isName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && parse(`dim ${name}`).errors.length === 0;
}

/** The names every model has beside std's (elaborate.ts's loadStd defines them). */
const modelValues = ["training", "params"];

const inside = (file: string, span: Span, d: SymbolDef | undefined) =>
  d !== undefined &&
  d.file === file &&
  d.declSpan.start <= span.start &&
  span.end <= d.declSpan.end;

/**
 * What `newName` would collide with if `def` took it, if anything: a
 * built-in; for a global, another global (std's included) or a local that
 * would capture its uses in that block; for a local, a name of its own
 * block or model, or a global it uses there that the new name would shadow.
 */
function collision(analyses: readonly Analysis[], def: SymbolDef, newName: string): string | null {
  if (modelValues.includes(newName) || intrinsics().some((f) => f.name === newName))
    return "a built-in name";
  for (const a of analyses) {
    const { defs, refs } = a.symbols;
    if (!defs.has(def.id)) continue;
    const uses = (id: string, where: SymbolDef | undefined) =>
      refs.some((r) => r.def === id && inside(r.file, r.span, where));
    for (const d of defs.values()) {
      if (d.name !== newName || d.id === def.id) continue;
      const global = d.container === undefined;
      const clash =
        def.container === undefined
          ? global || uses(def.id, defs.get(d.container!))
          : d.container === def.container || (global && uses(d.id, defs.get(def.container)));
      if (clash) return `${d.kind} \`${d.name}\`${isStd(d.file) ? " in std" : ""}`;
    }
  }
  return null;
}

export function rename(
  analyses: readonly Analysis[],
  def: SymbolDef,
  newName: string,
): WorkspaceEdit {
  if (isStd(def.file))
    throw new ResponseError(ErrorCodes.InvalidRequest, "std's names cannot be renamed");
  if (!isName(newName))
    throw new ResponseError(ErrorCodes.InvalidParams, `\`${newName}\` is not a valid name`);
  const taken = newName === def.name ? null : collision(analyses, def, newName);
  if (taken !== null)
    throw new ResponseError(
      ErrorCodes.InvalidParams,
      `\`${newName}\` is already a name here (${taken}); renaming would change what the program means`,
    );
  const changes: Record<string, TextEdit[]> = {};
  for (const o of occurrences(analyses, def, true))
    (changes[o.location.uri] ??= []).push({ range: o.location.range, newText: newName });
  return { changes };
}

// ---------------------------------------------------------------- outline

const stmtKinds: { [K in Stmt["kind"]]: SymbolKind | null } = {
  Assign: SymbolKind.Variable,
  Param: SymbolKind.Field,
  State: SymbolKind.Field,
  Update: null,
  Input: SymbolKind.Property,
  Output: SymbolKind.Property,
  Metric: SymbolKind.Property,
  Loss: SymbolKind.Property,
  Return: null,
  Yield: null,
};

/** The names a statement introduces (`loss` is named after its keyword). */
function stmtNames(s: Stmt): { name: string; span: Span }[] {
  if (s.kind === "Assign") return s.targets.map((t) => ({ name: t.name, span: t.span }));
  if (s.kind === "Loss") return [{ name: "loss", span: s.span }];
  if (s.kind === "Return" || s.kind === "Yield") return [];
  return [{ name: s.name.name, span: s.name.span }];
}

export function documentSymbols(text: string, decls: readonly Decl[]): DocumentSymbol[] {
  const r = (s: Span) => rangeOf(text, s);
  const sym = (
    name: Ident | { name: string; span: Span },
    kind: SymbolKind,
    whole: Span,
    children: DocumentSymbol[] = [],
    detail?: string,
  ): DocumentSymbol => ({
    name: name.name || "?",
    kind,
    range: r(whole),
    // Clients reject an outline whose name lies outside its node (a recovered, half-written one).
    selectionRange: r(
      name.span.start >= whole.start && name.span.end <= whole.end ? name.span : whole,
    ),
    children,
    ...(detail !== undefined && { detail }),
  });
  /**
   * A body's statements; a scan's item, carries (where declared) and body
   * nest under the statement that holds it, whose body re-binding a carry
   * is not a new name.
   */
  const body = (stmts: readonly Stmt[], carries: ReadonlySet<string>): DocumentSymbol[] =>
    stmts.flatMap((st) => {
      const value = stmtValue(st);
      const inner: DocumentSymbol[] = [];
      if (value !== null)
        forEachExpr(value, (e) => {
          if (e.kind !== "Scan") return;
          const own = new Set(e.carries.map((c) => c.name.name));
          inner.push(
            sym(e.item, SymbolKind.Variable, e.item.span),
            ...e.carries.map((c) => sym(c.name, SymbolKind.Variable, c.span)),
            ...body(e.body, own),
          );
        });
      const kind = stmtKinds[st.kind];
      const names = kind === null ? [] : stmtNames(st).filter((n) => !carries.has(n.name));
      if (names.length === 0) return inner;
      return names.map((n, i) => sym(n, kind!, st.span, i === 0 ? inner : []));
    });
  const out: DocumentSymbol[] = [];
  for (const d of decls) {
    if (d.kind === "Block") {
      const params = d.params.map((p) => sym(p.name, SymbolKind.Variable, p.span));
      out.push(
        sym(d.name, SymbolKind.Function, d.span, [...params, ...body(d.body, new Set())], "block"),
      );
    } else if (d.kind === "Model")
      out.push(sym(d.name, SymbolKind.Class, d.span, body(d.body, new Set()), "model"));
    else if (d.kind === "Train") {
      const settings = d.settings.map((s) => sym(s.key, SymbolKind.Property, s.span));
      out.push(sym(d.name, SymbolKind.Event, d.span, settings, `train for ${d.model.name}`));
    } else if (d.kind === "Dim")
      for (const n of d.names) out.push(sym(n, SymbolKind.TypeParameter, d.span, [], "dim"));
    else if (d.kind === "Const") out.push(sym(d.name, SymbolKind.Constant, d.span, [], "const"));
  }
  return out;
}
