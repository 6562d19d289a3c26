// Diagnostics as data: one object per problem, rendered three ways (terminal
// in rustc's layout, JSON for tools, LSP for editors). Every code a user can
// see is in `catalog`, and docs/language.md shows an example of each.

import type { Span } from "../grammar/index.ts";

export type Severity = "error" | "warning";

export interface Label {
  span: Span;
  /** File of `span`; defaults to the diagnostic's file. */
  file?: string;
  message: string;
}

export interface Diagnostic {
  code: DiagCode;
  severity: Severity;
  message: string;
  file: string;
  span: Span;
  /** Secondary spans, each with its own message (e.g. "this is [B, 784]"). */
  labels: Label[];
  /** Extra lines printed as `= note: ...`. */
  notes: string[];
  /** A suggested fix, printed as `help: ...`. */
  help?: string;
}

/**
 * The code catalog. E1xxx: syntax. E2xxx: names, imports, arguments.
 * E3xxx: shapes and types. E4xxx: models and training settings.
 * E9xxx: internal errors (a bug in dlg, never the user's fault).
 */
export const catalog = {
  E1001: "syntax error",
  E1002: "unterminated string or comment",
  E1003: "unexpected character",
  E1004: "file is not UTF-8 text",
  E1005: "file is too large",
  E1006: "expressions nest too deeply",
  E2001: "unknown name",
  E2002: "unknown dimension",
  E2003: "unknown function or block",
  E2004: "wrong number or kind of arguments",
  E2005: "duplicate definition",
  E2006: "cannot read imported file",
  E2007: "value has the wrong kind",
  E2008: "recursive block or import",
  E2009: "misplaced statement",
  E2010: "import of a file that is not .dlg",
  E2011: "blocks call each other too deeply",
  E2012: "a shared binding's applications give its params different shapes",
  E2013: "two parameters with the same path",
  E2020: "`state` or `update` outside a block",
  E2021: "update of something that is not a state",
  E2022: "update does not match the state's type",
  E2023: "state updated twice",
  E2024: "the branches of `if training` differ",
  E3001: "shapes cannot be broadcast together",
  E3002: "inner dimensions of matmul don't match",
  E3003: "tensor has the wrong rank",
  E3004: "dimension does not divide exactly",
  E3005: "axis out of range",
  E3006: "element counts differ in reshape",
  E3007: "parameter shape is not concrete",
  E3008: "wrong element type",
  E3009: "result does not match the declared type",
  E3010: "dimension mismatch",
  E3011: "index or slice out of range",
  E3012: "loss must be a scalar",
  E3013: "dimension is not positive",
  E3014: "dimension arithmetic overflows",
  E3015: "tensor too large",
  E3016: "parameters too large in total",
  E3030: "convolution or pooling output would be empty",
  E3031: "bad convolution or pooling setting",
  E3020: "scan carry changes shape in the body",
  E3040: "`repeat`'s function changes the type of its input",
  E3041: "`repeat` count below 1",
  E4001: "model not found",
  E4002: "bad training setting",
  E4003: "data does not fit the model's inputs",
  E4004: "train block for a model without a loss",
  E4005: "unknown learning-rate schedule",
  E4006: "bad learning-rate schedule argument",
  E4007: "`keep best` of an unknown metric",
  E4008: "`patience` without `keep best`",
  E4010: "a value became NaN or infinite",
  E4011: "an option the chosen target does not support",
  E4012: "the model is too big for the chosen target's runtime",
  E4020: "no export rule for this operation",
  E4021: "the model has nothing to export for this target",
  E4022: "the weights do not fit the model",
  E4023: "a parameter's shape is fixed by data the export does not have",
  E9001: "internal compiler error",
} as const;

export type DiagCode = keyof typeof catalog;

export function diag(
  code: DiagCode,
  message: string,
  file: string,
  span: Span,
  extra: { labels?: Label[]; notes?: string[]; help?: string; severity?: Severity } = {},
): Diagnostic {
  const d: Diagnostic = {
    code,
    severity: extra.severity ?? "error",
    message,
    file,
    span,
    labels: extra.labels ?? [],
    notes: extra.notes ?? [],
  };
  if (extra.help !== undefined) d.help = extra.help;
  return d;
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === "error");
}

// ---------------------------------------------------------------- positions

export interface Position {
  /** 1-based line. */
  line: number;
  /** 1-based column in UTF-16 code units. */
  col: number;
}

/**
 * Offsets where each line starts. A line ends at `\n`, `\r\n` or a lone `\r`,
 * as editors and LSP count them, so spans stay right in CRLF files. The last
 * text's table is kept: rendering many diagnostics of one file would
 * otherwise rescan it from the start for each (quadratic on big files).
 */
function lineStarts(text: string): number[] {
  if (text === cached.text) return cached.starts;
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
  }
  cached = { text, starts };
  return starts;
}
let cached: { text: string; starts: number[] } = { text: "", starts: [0] };

export function positionAt(text: string, offset: number): Position {
  const starts = lineStarts(text);
  const end = Math.max(0, Math.min(offset, text.length));
  // The last line start at or before `end`.
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= end) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: end - starts[lo]! + 1 };
}

/** Line `line` (1-based) without its line break. */
function lineText(text: string, line: number): string {
  const starts = lineStarts(text);
  const start = starts[line - 1];
  if (start === undefined) return "";
  return text.slice(start, starts[line] ?? text.length).replace(/\r?\n$|\r$/, "");
}

/**
 * A source line as the terminal may show it: a tab becomes a space and any
 * other control character U+FFFD, one for one so carets stay aligned, and an
 * escape sequence in a file can never drive the user's terminal.
 */
function printable(line: string): string {
  return line.replace(/\t/g, " ").replace(/[\u0000-\u001f\u007f-\u009f]/g, "\ufffd");
}

/** The widest excerpt line quoted whole; longer lines show a window of this width around the first mark. */
const EXCERPT_WIDTH = 160;

/**
 * Which columns of a long line to quote: [lo, hi) starting a little before
 * `col` (1-based), so a 30,000-character generated line prints as one
 * terminal line around the error, marked with `…` where it was cut.
 */
function excerptWindow(len: number, col: number): { lo: number; hi: number } {
  if (len <= EXCERPT_WIDTH) return { lo: 0, hi: len };
  const lo = Math.max(0, Math.min(col - 1 - 60, len - EXCERPT_WIDTH));
  return { lo, hi: Math.min(len, lo + EXCERPT_WIDTH) };
}

// ---------------------------------------------------------------- renderings

/** The files a rendering may quote, by path. */
export type SourceMap = ReadonlyMap<string, string>;

interface Mark {
  file: string;
  span: Span;
  char: string;
  message: string;
}

/**
 * Source lines with carets: each line is quoted once, followed by one
 * marker row per span on it (`^` for the primary span, `-` for labels), as
 * rustc does, so `x @ w` with three marks prints the line once.
 */
function excerpts(sources: SourceMap, marks: Mark[]): string[] {
  const groups = new Map<
    string,
    { file: string; line: number; marks: (Mark & { col: number; width: number })[] }
  >();
  const unplaced: string[] = [];
  for (const m of marks) {
    const text = sources.get(m.file);
    if (text === undefined) {
      if (m.message) unplaced.push(`  = ${m.message}`);
      continue;
    }
    const start = positionAt(text, m.span.start);
    const end = positionAt(text, Math.max(m.span.start, m.span.end - 1));
    const len = lineText(text, start.line).length;
    const width =
      end.line === start.line
        ? Math.max(1, end.col - start.col + 1)
        : Math.max(1, len - start.col + 1);
    const key = `${m.file}:${start.line}`;
    const g = groups.get(key) ?? { file: m.file, line: start.line, marks: [] };
    g.marks.push({ ...m, col: start.col, width });
    groups.set(key, g);
  }
  const out: string[] = [];
  const gutter = Math.max(1, ...[...groups.values()].map((g) => String(g.line).length));
  const pad = " ".repeat(gutter);
  let lastFile: string | null = null;
  for (const g of groups.values()) {
    if (lastFile !== null && g.file !== lastFile) out.push(`${pad}::: ${g.file}:${g.line}`);
    lastFile = g.file;
    out.push(`${pad} |`);
    const line = lineText(sources.get(g.file)!, g.line);
    const w = excerptWindow(line.length, Math.min(...g.marks.map((m) => m.col)));
    const shown = `${w.lo > 0 ? "…" : ""}${printable(line.slice(w.lo, w.hi))}${w.hi < line.length ? "…" : ""}`;
    out.push(`${String(g.line).padStart(gutter)} | ${shown}`);
    const shift = w.lo > 0 ? 1 - w.lo : 0;
    // One column past the shown text: a span at the end of a line (a missing `]`), or the cut's `…`.
    const last = w.hi + shift + 1;
    for (const m of g.marks) {
      const col = Math.max(1, Math.min(m.col + shift, last));
      const width = Math.max(1, Math.min(m.width, last - col + 1));
      out.push(
        `${pad} | ${" ".repeat(col - 1)}${m.char.repeat(width)}${m.message ? " " + m.message : ""}`,
      );
    }
  }
  return [...out, ...unplaced];
}

/** rustc-style text: header, location, excerpt with carets, labels, notes, help. */
export function renderDiagnostic(d: Diagnostic, sources: SourceMap): string {
  const out: string[] = [`${d.severity}[${d.code}]: ${d.message}`];
  const text = sources.get(d.file);
  // A file that could not be read (missing, binary, too large) has no line to name.
  const pos = text !== undefined ? positionAt(text, d.span.start) : undefined;
  out.push(`  --> ${d.file}${pos ? `:${pos.line}:${pos.col}` : ""}`);
  const marks: Mark[] = [
    { file: d.file, span: d.span, char: "^", message: "" },
    ...d.labels.map((l) => ({
      file: l.file ?? d.file,
      span: l.span,
      char: "-",
      message: l.message,
    })),
  ];
  out.push(...excerpts(sources, marks));
  for (const n of d.notes) out.push(`  = note: ${n}`);
  if (d.help !== undefined) out.push(`  = help: ${d.help}`);
  return out.join("\n");
}

export function renderDiagnostics(ds: readonly Diagnostic[], sources: SourceMap): string {
  return ds.map((d) => renderDiagnostic(d, sources)).join("\n\n");
}

/** Plain JSON (for `--json`): positions resolved to line/col for tools. */
export function diagnosticToJson(d: Diagnostic, sources: SourceMap): object {
  const text = sources.get(d.file) ?? "";
  const loc = (s: Span) => ({
    ...s,
    start: positionAt(text, s.start),
    end: positionAt(text, s.end),
  });
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    file: d.file,
    span: { offset: d.span, ...loc(d.span) },
    labels: d.labels.map((l) => ({ message: l.message, file: l.file ?? d.file, span: l.span })),
    notes: d.notes,
    help: d.help ?? null,
  };
}

/** LSP `Diagnostic` shape (0-based line/character), without importing the LSP library here. */
export function diagnosticToLsp(d: Diagnostic, text: string) {
  const p = (o: number) => {
    const q = positionAt(text, o);
    return { line: q.line - 1, character: q.col - 1 };
  };
  return {
    range: { start: p(d.span.start), end: p(d.span.end) },
    severity: d.severity === "error" ? 1 : 2,
    code: d.code,
    source: "dlg",
    message: [
      d.message,
      ...d.labels.map((l) => l.message),
      ...d.notes,
      ...(d.help ? [`help: ${d.help}`] : []),
    ].join("\n"),
  };
}
