// Hover: the type of the innermost expression under the cursor (its shape,
// symbolic dims as written and concrete values where known), and for a name
// what it is: the definition's one-line detail and its doc comment. On a
// named argument's name (`kernel:` in `conv2d(6, kernel: 5)`) it is that
// argument, `kernel: int = 5`, never the type of the call around it; on a
// `|>`, the value that flows through it.

import { MarkupKind, type Hover } from "vscode-languageserver";
import type { Expr, Ident, Span } from "../grammar/index.ts";
import type { Analysis } from "../compiler/symbols.ts";
import { forEachExpr, forEachStmt, stmtValue } from "./ast-walk.ts";
import { modelSignature, trainHover } from "./hover-decls.ts";
import { spanKey, symbolAt, typeAt, typesBySpan } from "./lookup.ts";
import { holds, rangeOf } from "./text.ts";

/** Code lines (a type, a signature): fenced for a Markdown client, as they are for plain text. */
const fenced = (lines: string[]) => "```dlg\n" + lines.join("\n") + "\n```";
const plain = (lines: string[]) => lines.join("\n");

/**
 * No hover where the character under the mouse (or the cursor, in nvim) is a
 * blank, or a bracket or separator not right after a name: the mouse resting
 * in a chain's margin shows nothing. `dense(` still hovers `dense`.
 */
function blankAt(text: string, offset: number): boolean {
  const c = text[offset];
  if (c === undefined || /\s/.test(c)) return true;
  return /[()[\]{},:;]/.test(c) && !/\w/.test(text[offset - 1] ?? "");
}

interface NamedArg {
  name: Ident;
  value: Expr;
}

/** The pipe whose `|>` is at `offset` (between its stages), if any. */
function pipeAt(a: Analysis, file: string, offset: number): Expr | undefined {
  const program = a.programs.get(file);
  let found: Expr | undefined;
  if (program)
    forEachStmt(program, (s) => {
      const v = stmtValue(s);
      if (v !== null && !found && holds(s.span, offset))
        forEachExpr(v, (e) => {
          if (e.kind === "Pipe" && e.left.span.end <= offset && offset < e.right.span.start)
            found = e.left;
        });
    });
  return found;
}

/** The named argument whose name is at `offset`, if any. */
function namedArgAt(a: Analysis, file: string, offset: number): NamedArg | undefined {
  const program = a.programs.get(file);
  if (!program) return undefined;
  let found: NamedArg | undefined;
  forEachStmt(program, (s) => {
    const v = stmtValue(s);
    if (v === null || found || !holds(s.span, offset)) return;
    forEachExpr(v, (e) => {
      if (e.kind !== "Call") return;
      for (const { name, value } of e.args)
        if (name && holds(name.span, offset)) found = { name, value };
    });
  });
  return found;
}

/** The hover at `offset`; `markdown`: the client shows Markdown (else plain text, no fences). */
export function hover(a: Analysis, file: string, offset: number, markdown = true): Hover | null {
  const text = a.sources.get(file);
  if (text === undefined) return null;
  if (blankAt(text, offset)) return null;
  const code = markdown ? fenced : plain;
  const contents = (parts: string[]) => ({
    kind: markdown ? MarkupKind.Markdown : MarkupKind.PlainText,
    value: parts.join(markdown ? "\n\n---\n\n" : "\n\n"),
  });
  /** A recorded text: its first paragraph is code (a type, a signature), the rest a doc comment. */
  const section = (t: string) => {
    const cut = t.indexOf("\n\n");
    return cut < 0 ? code([t]) : `${code([t.slice(0, cut)])}\n\n${t.slice(cut + 2)}`;
  };
  const s = symbolAt(a, file, offset);
  const train = s ? null : trainHover(a, file, offset);
  if (train)
    return {
      contents: contents([code(train.code), ...train.prose]),
      range: rangeOf(text, train.span),
    };
  const arg = namedArgAt(a, file, offset);
  let texts: string[];
  let span: Span | undefined = s?.span;
  const piped = arg ? undefined : pipeAt(a, file, offset);
  if (piped) {
    // On `|>`: the value that flows through it (the stage after it has its own hint).
    texts = (typesBySpan(a).get(spanKey(file, piped.span)) ?? []).map((t) => `|> ${t}`);
    const bar = text.indexOf("|>", piped.span.end);
    span = bar < 0 ? piped.span : { start: bar, end: bar + 2 };
  } else if (arg) {
    // The argument's value, named: `kernel: int = 5`.
    const values = typesBySpan(a).get(spanKey(file, arg.value.span)) ?? [];
    texts = values.map((v) => `${arg.name.name}: ${v}`);
    span = arg.name.span;
  } else {
    const t = typeAt(a, file, offset);
    // On a name, only its own record: a wider one is the expression around it.
    const own = t && (!s || (t.span.start === s.span.start && t.span.end === s.span.end));
    texts = own ? [...new Set(t.texts)] : [];
    span ??= t?.span;
  }
  const parts = texts.map(section);
  if (s) {
    const { name, detail, doc } = s.def;
    // A call's record is already the block's signature and doc: not twice.
    const signed = texts.some((x) => x.startsWith(`${name}(`) || x === detail);
    if (!signed) parts.push(code(s.def.kind === "model" ? modelSignature(a, s.def) : [detail]));
    if (doc && !texts.some((x) => x.includes(doc))) parts.push(doc);
  }
  if (parts.length === 0 || span === undefined) return null;
  return { contents: contents(parts), range: rangeOf(text, span) };
}
