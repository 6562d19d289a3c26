// Text -> AST, never throwing: lexing and syntax errors come back as data,
// each with a span and a plain-English message, next to the (partial,
// recovered) program, so the CLI can report every error at once and the
// LSP can still offer hover and completion on a broken file.

import type { IRecognitionException, IToken } from "chevrotain";
import type { Program, Span } from "./ast.ts";
import { attachComments } from "./comments.ts";
import { dropTooDeep, MAX_AST_DEPTH, MAX_PARSE_NESTING, NestingTooDeep } from "./nesting.ts";
import { DlgErrorMessages } from "./messages.ts";
import { DlgParser } from "./parser.ts";
import { toProgram } from "./to-ast.ts";
import * as T from "./tokens.ts";

export interface ParseError {
  /**
   * E1001 syntax error, E1002 unterminated string or comment, E1003
   * unexpected character, E1006 nesting too deep.
   */
  code: "E1001" | "E1002" | "E1003" | "E1006";
  message: string;
  span: Span;
  /** For syntax errors: what would have been accepted, in words (`'='`, `an expression`). */
  expected?: string[];
}

export interface ParseResult {
  program: Program;
  errors: ParseError[];
}

// Building the parser analyses the grammar (milliseconds, not microseconds),
// so one instance is shared; `parse` is synchronous, so reuse is safe.
const messages = new DlgErrorMessages();
const parser = new DlgParser(messages);

function emptyProgram(text: string): Program {
  return { kind: "Program", decls: [], comments: [], span: { start: 0, end: text.length } };
}

export function parse(text: string): ParseResult {
  try {
    return parseUnsafe(text);
  } catch (e) {
    if (e instanceof NestingTooDeep) {
      // At end of input Chevrotain's EOF token has no offset.
      const span = Number.isFinite(e.span.start)
        ? e.span
        : { start: text.length, end: text.length };
      const message = `expressions nest more than ${MAX_PARSE_NESTING} levels deep here; give the inner parts names (\`h = ...\`)`;
      return { program: emptyProgram(text), errors: [{ code: "E1006", message, span }] };
    }
    // The nesting guard keeps the grammar machinery off the stack limit, so
    // anything here is a bug in it, which must not take the CLI or the LSP down either.
    const message = `internal parser error (please report it): ${e instanceof Error ? e.message : String(e)}`;
    return {
      program: emptyProgram(text),
      errors: [{ code: "E1001", message, span: { start: 0, end: 0 } }],
    };
  }
}

function parseUnsafe(text: string): ParseResult {
  const lexed = T.dlgLexer.tokenize(text);
  const errors: ParseError[] = [];

  for (const e of lexed.errors) {
    const ch = visible(text.slice(e.offset, e.offset + e.length));
    const what = e.length === 1 ? `character '${ch}'` : `characters '${ch}'`;
    errors.push({
      code: "E1003",
      message: `unexpected ${what}`,
      span: { start: e.offset, end: e.offset + e.length },
    });
  }
  for (const t of lexed.tokens) {
    if (t.tokenType === T.UnterminatedString) {
      errors.push({
        code: "E1002",
        message: "unterminated string: add a closing '\"' on this line",
        span: spanOf(t),
      });
    }
  }
  const comments = lexed.groups["comments"] ?? [];
  for (const t of comments) {
    if (t.tokenType === T.UnterminatedComment) {
      // Point at the opening `/*`: the end of file is not where the fix goes.
      errors.push({
        code: "E1002",
        message: "unterminated block comment: '/*' has no matching '*/'",
        span: { start: t.startOffset, end: t.startOffset + 2 },
      });
    }
  }

  messages.expected.clear();
  messages.tokens = lexed.tokens;
  parser.input = lexed.tokens;
  const cst = parser.program();
  for (const e of parser.errors) errors.push(syntaxError(e, text));

  // A chain the parser read in a loop can still be too deep for the phases after it.
  const { program, at } = dropTooDeep(toProgram(cst, text, comments), text);
  for (const span of at)
    errors.push({
      code: "E1006",
      message: `this expression nests more than ${MAX_AST_DEPTH} levels deep; split it into named steps (\`h = ...\`)`,
      span,
    });
  // Doc comments became declarations' `doc`; the rest are placed on the nodes they annotate.
  const plain = new Set(program.comments?.map((c) => c.span.start));
  const docs = comments
    .filter((t) => !plain.has(t.startOffset))
    .map((t) => ({ start: t.startOffset, end: t.startOffset + t.image.length, text: t.image }));
  attachComments(program, text, lexed.tokens, docs);
  errors.sort((a, b) => a.span.start - b.span.start);
  return { program, errors: dropCascades(errors, text) };
}

/**
 * Characters for a message: a control or invisible one becomes `U+001B`,
 * so the message can neither drive the terminal nor read as blank.
 */
function visible(chars: string): string {
  return chars.replace(
    /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g,
    (c) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`,
  );
}

function spanOf(t: IToken): Span {
  return { start: t.startOffset, end: t.startOffset + t.image.length };
}

function syntaxError(e: IRecognitionException, text: string): ParseError {
  const info = messages.expected.get(e.message);
  const t = info?.at ?? e.token;
  // Errors at end of input carry Chevrotain's EOF token, which has no offset.
  const span =
    Number.isFinite(t.startOffset) && t.image
      ? spanOf(t)
      : { start: text.length, end: text.length };
  const error: ParseError = { code: "E1001", message: e.message, span: atGap(e, t, span, text) };
  if (info) error.expected = info.expected;
  return error;
}

/**
 * When the offending token starts a later line than the token before it, the
 * mistake is at the end of that earlier line (an unclosed `[`, a dangling
 * `|>`), so the caret goes just after the previous token, as rustc does,
 * rather than at the start of the next statement.
 */
function atGap(e: IRecognitionException, found: IToken, span: Span, text: string): Span {
  const prev = (e as { previousToken?: IToken }).previousToken;
  if (!prev || !Number.isFinite(prev.startOffset) || prev.image === undefined) return span;
  if (found !== e.token) return span; // the message already chose its token
  const end = prev.startOffset + prev.image.length;
  if (end > span.start || !text.slice(end, span.start).includes("\n")) return span;
  return { start: end, end: end + 1 };
}

/**
 * Keeps the first syntax error of each line, and drops a syntax error on a
 * line that already has a lexical one. Newlines are not significant in
 * .dlg, so after an error the parser resynchronises on the next token that
 * can start a statement, which may sit on the same line and trigger a
 * second, derived error; a dropped unknown character likewise leaves a
 * line that no longer parses. Lexical errors themselves are always real.
 * After a statement that cannot start (`for = x`), the parser resumes inside
 * the rest of that line (at `x`), so an error blaming the first token of the
 * next line is derived from it and dropped too.
 */
function dropCascades(errors: ParseError[], text: string): ParseError[] {
  const kept: ParseError[] = [];
  for (const e of errors) {
    const last = kept[kept.length - 1];
    const sameLine =
      last !== undefined && !text.slice(last.span.start, e.span.start).includes("\n");
    const duplicate = kept.some((k) => k.span.start === e.span.start && k.message === e.message);
    if (duplicate || (e.code === "E1001" && (sameLine || restOfBadStatement(last, e, text))))
      continue;
    kept.push(e);
  }
  return kept;
}

function restOfBadStatement(last: ParseError | undefined, e: ParseError, text: string): boolean {
  if (!last || last.code !== "E1001" || !last.message.startsWith("expected a statement"))
    return false;
  const between = text.slice(last.span.end, e.span.start);
  const lines = between.split("\n");
  return lines.length === 2 && lines[0]!.trim() !== "" && lines[1]!.trim() === "";
}
