// Semantic tokens: every token of the text classified from the lexer, names
// refined by what the analysis resolved them to (a block is a function, a
// dim a type parameter, ...), in LSP's relative encoding. Tokens never span
// lines: a multi-line comment is sent as one token per line.

import type { SemanticTokensLegend } from "vscode-languageserver";
import { tokens as T, type Span } from "../grammar/index.ts";
import type { Analysis, SymbolDef, SymbolKind } from "../compiler/symbols.ts";
import { intrinsics, isStd } from "./callables.ts";
import { lex, type Tok } from "./context.ts";
import { offsetOf, positionOf } from "./text.ts";

const tokenTypes = [
  "keyword",
  "number",
  "string",
  "comment",
  "operator",
  "type",
  "function",
  "typeParameter",
  "property",
  "variable",
  "parameter",
  "class",
  "event",
  "namespace",
] as const;
const tokenModifiers = ["declaration", "readonly", "defaultLibrary", "documentation"] as const;

type TokenType = (typeof tokenTypes)[number];
type Modifier = (typeof tokenModifiers)[number];

export const semanticTokensLegend: SemanticTokensLegend = {
  tokenTypes: [...tokenTypes],
  tokenModifiers: [...tokenModifiers],
};

interface Class {
  type: TokenType;
  modifiers: Modifier[];
}

const symbolClass: { [K in SymbolKind]: Class } = {
  block: { type: "function", modifiers: [] },
  model: { type: "class", modifiers: [] },
  train: { type: "event", modifiers: [] },
  dim: { type: "typeParameter", modifiers: [] },
  const: { type: "variable", modifiers: ["readonly"] },
  param: { type: "property", modifiers: [] },
  "block-param": { type: "parameter", modifiers: [] },
  input: { type: "variable", modifiers: [] },
  output: { type: "variable", modifiers: [] },
  metric: { type: "variable", modifiers: [] },
  local: { type: "variable", modifiers: [] },
};

const typeWords = new Set(["F32", "I32", "Int", "Float", "Bool", "Fn"]);
const operatorWords = new Set(["Div", "Mod"]);
/** Hard and soft keywords; a soft one the analysis resolved (a dim named `batch`) is that name. */
const keywords = new Set(T.keywordTokens.map((t) => t.name));
/** No token for brackets and separators: editors colour them themselves. */
const punctuation = new Set([
  "LParen",
  "RParen",
  "LBracket",
  "RBracket",
  "LBrace",
  "RBrace",
  "Comma",
  "Colon",
]);

/**
 * Where a span of the analysed text is in `text`, the buffer now: the
 * analysis may lag the buffer by the keystrokes of the pause, so a span
 * before the edited stretch stays, one after it moves by the length the edit
 * added, and one inside it is dropped (the re-check's refresh brings it).
 */
function mapper(old: string, text: string): (s: Span) => number | undefined {
  if (old === text) return (s) => s.start;
  let pre = 0;
  const max = Math.min(old.length, text.length);
  while (pre < max && old.charCodeAt(pre) === text.charCodeAt(pre)) pre++;
  let suf = 0;
  while (
    suf < max - pre &&
    old.charCodeAt(old.length - 1 - suf) === text.charCodeAt(text.length - 1 - suf)
  )
    suf++;
  const tail = old.length - suf;
  return (s) =>
    s.end < pre ? s.start : s.start > tail ? s.start + text.length - old.length : undefined;
}

/** What the analysis says each name in `file` is, by its start offset in `text`. */
function resolved(
  a: Analysis | undefined,
  file: string | undefined,
  text: string,
): Map<number, Class> {
  const out = new Map<number, Class>();
  const old = file === undefined ? undefined : a?.sources.get(file);
  if (!a || old === undefined) return out;
  const at = mapper(old, text);
  const mark = (d: SymbolDef, span: Span, declaration: boolean) => {
    const start = at(span);
    if (start === undefined) return;
    const c = symbolClass[d.kind];
    const modifiers: Modifier[] = [...c.modifiers];
    if (declaration) modifiers.push("declaration");
    if (isStd(d.file)) modifiers.push("defaultLibrary");
    out.set(start, { type: c.type, modifiers });
  };
  for (const d of a.symbols.defs.values()) if (d.file === file) mark(d, d.span, true);
  for (const r of a.symbols.refs) {
    const d = a.symbols.defs.get(r.def);
    if (d && r.file === file) mark(d, r.span, false);
  }
  return out;
}

/** A token's class from the lexer alone; names get theirs from the analysis, or from where they stand. */
function classify(t: Tok, i: number, tokens: Tok[], names: Map<number, Class>): Class | null {
  const known = names.get(t.start);
  if (t.name && known) return known;
  if (t.type === "NumberLiteral") return { type: "number", modifiers: [] };
  if (t.type === "StringLiteral" || t.type === "UnterminatedString")
    return { type: "string", modifiers: [] };
  if (t.type.endsWith("Comment"))
    return { type: "comment", modifiers: t.type.startsWith("Doc") ? ["documentation"] : [] };
  if (typeWords.has(t.type)) return { type: "type", modifiers: [] };
  if (operatorWords.has(t.type)) return { type: "operator", modifiers: [] };
  if (keywords.has(t.type)) return { type: "keyword", modifiers: [] };
  if (t.type !== "Identifier")
    return punctuation.has(t.type) ? null : { type: "operator", modifiers: [] };
  // An unresolved name: an intrinsic's named argument (`axis:`), an intrinsic where it is
  // called, piped into or a param's `init` (`init glorot_uniform`), else a plain variable.
  // `import "x.dlg" as enc` declares the namespace `enc`.
  if (tokens[i - 1]?.type === "As") return { type: "namespace", modifiers: ["declaration"] };
  if (tokens[i + 1]?.type === "Colon") return { type: "parameter", modifiers: [] };
  const called =
    tokens[i + 1]?.type === "LParen" ||
    tokens[i - 1]?.type === "Pipe" ||
    tokens[i - 1]?.type === "Init";
  if (called || tokens[i - 1]?.type === "Block")
    return {
      type: "function",
      modifiers: intrinsics().some((s) => s.name === t.image) ? ["defaultLibrary"] : [],
    };
  return { type: "variable", modifiers: [] };
}

/**
 * `enc.encoder`, one token: the namespace, then the name after the dot as
 * what it resolved to (the resolver's reference starts there), or as a name
 * standing where it stands would be.
 */
function qualified(
  t: Tok,
  i: number,
  tokens: Tok[],
  names: Map<number, Class>,
): { start: number; end: number; cls: Class }[] {
  const dot = t.start + t.image.indexOf(".");
  const member: Tok = {
    ...t,
    type: "Identifier",
    image: t.image.slice(dot + 1 - t.start),
    start: dot + 1,
    name: true,
  };
  return [
    { start: t.start, end: dot, cls: { type: "namespace", modifiers: [] } },
    { start: dot + 1, end: t.end, cls: classify(member, i, tokens, names)! },
  ];
}

/** The semantic tokens of `text` (the buffer of `file`, analysed as `a` if given, perhaps an edit ago), LSP-encoded. */
export function semanticTokens(text: string, a?: Analysis, file?: string): number[] {
  const { tokens, comments } = lex(text);
  const names = resolved(a, file, text);
  const spans: { start: number; end: number; cls: Class }[] = [];
  tokens.forEach((t, i) => {
    if (t.type === "QualifiedName") {
      spans.push(...qualified(t, i, tokens, names));
      return;
    }
    const cls = classify(t, i, tokens, names);
    if (cls) spans.push({ start: t.start, end: t.end, cls });
  });
  for (const c of comments)
    spans.push({ start: c.start, end: c.end, cls: classify(c, -1, [], names)! });
  spans.sort((x, y) => x.start - y.start);

  const data: number[] = [];
  let lastLine = 0;
  let lastChar = 0;
  for (const s of spans) {
    // One piece per line the token touches, each without its line break.
    for (let from = s.start; from < s.end;) {
      const { line, character } = positionOf(text, from);
      const to = Math.min(s.end, offsetOf(text, { line: line + 1, character: 0 }));
      const length = text.slice(from, to).replace(/[\r\n]+$/, "").length;
      if (length > 0) {
        data.push(
          line - lastLine,
          line === lastLine ? character - lastChar : character,
          length,
          tokenTypes.indexOf(s.cls.type),
          s.cls.modifiers.reduce((bits, m) => bits | (1 << tokenModifiers.indexOf(m)), 0),
        );
        lastLine = line;
        lastChar = character;
      }
      // offsetOf clamps past the last line to the text's end.
      from = to > from ? to : s.end;
    }
  }
  return data;
}
