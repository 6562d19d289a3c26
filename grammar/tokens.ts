// The .dlg lexer: token types and their order.
//
// Keywords come in two kinds. Hard keywords (`block`, `if`, `div`, ...) are
// reserved. Soft keywords (`input`, `loss`, `in`, `carry`, ...) start a
// statement or a clause but are also ordinary names: each one is in the
// `Identifier` category, so wherever the parser CONSUMEs an Identifier a soft
// keyword matches too, and `loss = x` or a variable named `input` still parses.
// Every keyword has `longer_alt: Identifier` so `inputs` or `format` lexes as
// one identifier rather than a keyword followed by letters.
//
// Comments are kept in the "comments" group rather than skipped, so `to-ast`
// can attach a `///` or `/** */` doc comment to the block or model below it.
// Unterminated strings and block comments lex as their own token types
// (instead of failing), so the error is reported once, as E1002, and the
// parser still sees a string where the user meant one.

import { createToken, Lexer, type TokenType } from "chevrotain";

export const Identifier = createToken({
  name: "Identifier",
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  label: "a name",
});

function hard(word: string, label?: string): TokenType {
  return createToken({
    name: word[0]!.toUpperCase() + word.slice(1),
    pattern: new RegExp(word),
    longer_alt: Identifier,
    label: label ?? `'${word}'`,
  });
}

function soft(word: string): TokenType {
  return createToken({
    name: word[0]!.toUpperCase() + word.slice(1),
    pattern: new RegExp(word),
    longer_alt: Identifier,
    categories: [Identifier],
    label: `'${word}'`,
  });
}

// ---------------------------------------------------------------- keywords

export const Import = hard("import");
export const Dim = hard("dim");
export const Const = hard("const");
export const Block = hard("block");
export const Model = hard("model");
export const Train = hard("train");
export const For = hard("for");
export const Return = hard("return");
export const Yield = hard("yield");
export const Scan = hard("scan");
export const If = hard("if");
export const Then = hard("then");
export const Else = hard("else");
export const Div = hard("div");
export const Mod = hard("mod");
export const True = hard("true");
export const False = hard("false");

// Element-type and scalar-type words. Reserved: a variable named `int` would
// make `int[B]` ambiguous between a type and an index expression.
export const Int = hard("int");
export const Float = hard("float");
export const Bool = hard("bool");
export const F32 = hard("f32");
export const I32 = hard("i32");

export const Param = soft("param");
export const Input = soft("input");
export const Output = soft("output");
export const Metric = soft("metric");
export const Loss = soft("loss");
export const Init = soft("init");
export const In = soft("in");
export const Along = soft("along");
export const Carry = soft("carry");
// Train-setting keys: the parser reads any name as a key (the elaborator
// checks which keys exist); these are tokens so editors can highlight them.
export const Batch = soft("batch");
export const Epochs = soft("epochs");
export const Seed = soft("seed");
export const Optimizer = soft("optimizer");
export const Full = soft("full");
// v2: `state x: [c] init zeros`, `update x = ...`, `act: fn = relu`,
// `import "a.dlg" as a`, `keep best accuracy`. Soft, so v1 programs that
// use these words as names still parse.
export const State = soft("state");
export const Update = soft("update");
export const Fn = soft("fn");
export const As = soft("as");
export const Keep = soft("keep");
export const Best = soft("best");

/**
 * `enc.encoder`: a name read through an import's namespace (v2). One token,
 * so no space may stand around the dot, and `1.5`, `.5` and `...` lex as
 * before (a qualified name starts with a letter and has a letter after its dot).
 */
export const QualifiedName = createToken({
  name: "QualifiedName",
  pattern: /[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*/,
  label: "a qualified name",
});

// ---------------------------------------------------------------- literals

export const NumberLiteral = createToken({
  name: "NumberLiteral",
  // `3`, `0.5`, `.5`, `1e-4`, `2.5E+3`. No trailing-dot form (`3.`): it
  // reads like a typo and a dot may one day mean field access.
  pattern: /(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/,
  label: "a number",
});

export const StringLiteral = createToken({
  name: "StringLiteral",
  pattern: /"(?:[^"\\\r\n]|\\.)*"/,
  label: "a string",
});

/** A string that hits the end of the line first; the parser treats it as a string. */
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /"(?:[^"\\\r\n]|\\.)*/,
  categories: [StringLiteral],
  label: "a string",
});

// ---------------------------------------------------------------- comments

export const DocLineComment = createToken({
  name: "DocLineComment",
  pattern: /\/\/\/(?!\/)[^\r\n]*/,
  group: "comments",
});
export const LineComment = createToken({
  name: "LineComment",
  pattern: /\/\/[^\r\n]*/,
  group: "comments",
});
export const DocBlockComment = createToken({
  name: "DocBlockComment",
  // `/**/` is an empty plain comment, not a doc comment.
  pattern: /\/\*\*(?!\/)[\s\S]*?\*\//,
  group: "comments",
  line_breaks: true,
});
export const BlockComment = createToken({
  name: "BlockComment",
  pattern: /\/\*[\s\S]*?\*\//,
  group: "comments",
  line_breaks: true,
});
export const UnterminatedComment = createToken({
  name: "UnterminatedComment",
  pattern: /\/\*[\s\S]*/,
  group: "comments",
  line_breaks: true,
});

export const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n\f\v\u00a0\ufeff]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});

// ---------------------------------------------------------------- punctuation

function punct(name: string, text: string): TokenType {
  const escaped = text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  return createToken({ name, pattern: new RegExp(escaped), label: `'${text}'` });
}

export const Pipe = punct("Pipe", "|>");
export const Arrow = punct("Arrow", "->");
export const Ellipsis = punct("Ellipsis", "...");
export const EqEq = punct("EqEq", "==");
export const NotEq = punct("NotEq", "!=");
export const LessEq = punct("LessEq", "<=");
export const GreaterEq = punct("GreaterEq", ">=");
export const Less = punct("Less", "<");
export const Greater = punct("Greater", ">");
export const Equals = punct("Equals", "=");
export const Plus = punct("Plus", "+");
export const Minus = punct("Minus", "-");
export const Star = punct("Star", "*");
export const Slash = punct("Slash", "/");
export const At = punct("At", "@");
export const Caret = punct("Caret", "^");
export const LParen = punct("LParen", "(");
export const RParen = punct("RParen", ")");
export const LBracket = punct("LBracket", "[");
export const RBracket = punct("RBracket", "]");
export const LBrace = punct("LBrace", "{");
export const RBrace = punct("RBrace", "}");
export const Comma = punct("Comma", ",");
export const Colon = punct("Colon", ":");

export const keywordTokens: TokenType[] = [
  Import,
  Dim,
  Const,
  Block,
  Model,
  Train,
  For,
  Return,
  Yield,
  Scan,
  If,
  Then,
  Else,
  Div,
  Mod,
  True,
  False,
  Int,
  Float,
  Bool,
  F32,
  I32,
  Param,
  Input,
  Output,
  Metric,
  Loss,
  Init,
  In,
  Along,
  Carry,
  Batch,
  Epochs,
  Seed,
  Optimizer,
  Full,
  State,
  Update,
  Fn,
  As,
  Keep,
  Best,
];

/**
 * Every token type, in lexing order: comments before `/`, longer operators
 * before their prefixes (`|>` `->` `...` `==` `<=`), the unterminated forms
 * after the terminated ones, a qualified name before the keywords and
 * Identifier (which would take its first part), keywords before Identifier.
 */
export const allTokens: TokenType[] = [
  WhiteSpace,
  DocLineComment,
  LineComment,
  DocBlockComment,
  BlockComment,
  UnterminatedComment,
  StringLiteral,
  UnterminatedString,
  Ellipsis,
  NumberLiteral,
  Pipe,
  Arrow,
  EqEq,
  NotEq,
  LessEq,
  GreaterEq,
  Less,
  Greater,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  At,
  Caret,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  Comma,
  Colon,
  QualifiedName,
  ...keywordTokens,
  Identifier,
];

export const dlgLexer = new Lexer(allTokens, {
  // "full" because it is the mode in which tokens carry `endOffset`, which
  // the parser's CST locations (and so every span) are built from.
  positionTracking: "full",
  ensureOptimizations: false,
});
