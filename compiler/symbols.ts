// The program's index for editors: where each name is defined and used
// (across imports and into std), and what each evaluated expression's type
// was. The language server (lsp/) answers hover, definition, references,
// rename, inlay hints and completion from it without walking the AST itself.
//
// CONTRACT (issue 9, lead): these types are what lsp/ codes against. The
// resolver that fills `SymbolIndex` lives beside this file; the elaborator
// records `TypeAt`s; compile.ts's `analyze()` returns an `Analysis`; an
// `AnalysisCache` (symbols/cache.ts) kept between calls reuses unchanged files' parses.

import type { Program, Span } from "../grammar/index.ts";
import type { Diagnostic } from "./diagnostics.ts";

export type SymbolKind =
  | "block"
  | "model"
  | "train"
  | "dim"
  | "const"
  /** `param w: [...]` inside a block or model. */
  | "param"
  /** A block's parameter in its signature (`units: int`). */
  | "block-param"
  | "input"
  | "output"
  | "metric"
  /** A name assigned in a block or model body (`h = ...`), or a scan's item/carry. */
  | "local";

export interface SymbolDef {
  /** Stable within one Analysis: `${file}:${span.start}` of the defining name. */
  id: string;
  name: string;
  kind: SymbolKind;
  file: string;
  /** The defining name itself. */
  span: Span;
  /** The whole declaration or statement (document symbols, folding). */
  declSpan: Span;
  /** One line for hover and completion: `block dense(x: [..., n], units: int, bias: bool = true) -> [..., units]`, `dim B`, `const lr = 0.1`. */
  detail: string;
  /** The `///` or `/** *\/` doc comment of a block, if any. */
  doc?: string;
  /** The id of the enclosing block or model, for names local to one. */
  container?: string;
}

export interface SymbolRef {
  file: string;
  /** The name as written at the use (for a named argument `units:`, the `units`). */
  span: Span;
  /** SymbolDef.id of what it refers to. */
  def: string;
}

export interface SymbolIndex {
  defs: Map<string, SymbolDef>;
  /** Every use of a name; a definition is not also listed as a use. */
  refs: SymbolRef[];
}

/**
 * What the elaborator learned at a span, as hover text. At an evaluated
 * expression, its type: `f32[B, 512]`, `int = 3`, `dim = 784`,
 * `list [B, 16]`. At a name it binds: `logits: f32[B, 10]`,
 * `param dense_1.w: f32[784, 256]`, `n: dim = 784`, a block param
 * `x: [..., n]  — here f32[B, 784]`, a named argument `kernel: int = 5`.
 * At a callee: first its signature (`dense(x: [..., n], units: int, bias:
 * bool = true) -> [..., units]`, then `\n\n` and the doc comment), then
 * what each call bound and returned (`n = 784, units = 256, bias = true →
 * f32[B, 256]`; `→ i32[B]` for an intrinsic). A block inlined at several
 * calls evaluates its body once per call, so a span may carry several texts
 * (distinct, in order of first appearance; after 4, a last `…` says there were more).
 */
export interface TypeAt {
  file: string;
  span: Span;
  texts: string[];
}

/** Everything the front half knows about an entry file and what it imports. */
export interface Analysis {
  entry: string;
  diagnostics: Diagnostic[];
  /** Every file read (std included), by path: the texts the spans index. */
  sources: Map<string, string>;
  /** Each file's AST (recovered, possibly partial, when it has syntax errors). */
  programs: Map<string, Program>;
  symbols: SymbolIndex;
  /** Types of evaluated expressions and bound names (hovers). */
  types: TypeAt[];
}
