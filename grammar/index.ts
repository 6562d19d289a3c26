// The only door into grammar/: compiler/ imports from here and nowhere else.
// `parse` never throws: syntax errors come back as data with spans.

export * from "./ast.ts";
export { parse } from "./parse.ts";
export type { ParseError, ParseResult } from "./parse.ts";
export { printProgram } from "./print.ts";
export { printExpr, printType } from "./print.ts";
// The lexer and its token types, for editors that read half-written text
// token by token (lsp/ semantic tokens and completion contexts).
export * as tokens from "./tokens.ts";
