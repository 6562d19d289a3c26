// Nesting limits. Every phase after the lexer walks the program recursively
// (the parser, the AST builder, the printer, the elaborator), so a file that
// nests too deeply would overflow the JavaScript stack. Two guards keep the
// depth bounded, both reported as E1006 at the place where the limit is
// passed: one inside the parser (brackets, `if`, `^`: the grammar recurses
// there), one on the finished AST (chains the parser reads in a loop, such
// as `- - - x` or `x |> f |> g`, still build one AST level per operator).

import type { Decl, Expr, Program, Span } from "./ast.ts";

/**
 * Expressions inside one another while parsing. Chevrotain spends a dozen
 * stack frames per level, so a cold parse of ~250 nested parentheses already
 * overflows Node's default stack; real programs nest a handful deep.
 */
export const MAX_PARSE_NESTING = 64;

/**
 * Levels of expression nodes (`-x` is two, `x |> f` three: the pipe, `x`
 * and `f`), counted across nested expressions and scan bodies. The
 * elaborator, the deepest walker, survives about 1,700 levels of the
 * costliest kind (`x[:][:]…`) on Node's default stack; it guards its own
 * depth across block calls (MAX_EVAL_DEPTH, E2011), and this limit keeps a
 * single expression well inside that. test/nesting.test.ts compiles and
 * runs a program at exactly this depth.
 */
export const MAX_AST_DEPTH = 500;

/** Thrown from inside the parser when `MAX_PARSE_NESTING` is passed; `parse` reports it. */
export class NestingTooDeep extends Error {
  constructor(readonly span: Span) {
    super("nesting too deep");
  }
}

/** The node kinds that count towards `MAX_AST_DEPTH`: expressions. */
const counted: Record<Expr["kind"], true> = {
  Number: true,
  String: true,
  Bool: true,
  Name: true,
  Binary: true,
  Unary: true,
  Call: true,
  Pipe: true,
  Index: true,
  List: true,
  If: true,
  Scan: true,
};

function levels(node: object): number {
  const kind = (node as { kind?: unknown }).kind;
  return typeof kind === "string" && Object.hasOwn(counted, kind) ? 1 : 0;
}

/** The child nodes of an AST node: every property holding objects, except spans. */
function children(node: object): object[] {
  const out: object[] = [];
  for (const [key, v] of Object.entries(node)) {
    if (key === "span" || key === "opSpan" || v === null || typeof v !== "object") continue;
    if (!Array.isArray(v)) out.push(v);
    else for (const x of v) if (x !== null && typeof x === "object") out.push(x);
  }
  return out;
}

function spanOf(node: object): Span | undefined {
  return (node as { span?: Span }).span;
}

/**
 * The part of `node` its deepest child does not cover: the ` |> relu` that
 * lengthens a chain to the left of it, the `-` in front of a negation.
 */
function ownPart(node: object, child: object, text: string): Span {
  const s = spanOf(node);
  const c = spanOf(child);
  if (!s || !c) return s ?? { start: 0, end: 0 };
  const part = c.end < s.end ? { start: c.end, end: s.end } : { start: s.start, end: c.start };
  const lead = text.slice(part.start, part.end).search(/\S/);
  return lead > 0 ? { start: part.start + lead, end: part.end } : part;
}

/**
 * The first place (in source order) where a declaration nests more than
 * `MAX_AST_DEPTH` levels, found without recursion: heights are computed
 * bottom-up with an explicit stack.
 */
export function tooDeepAt(decl: Decl, text: string): Span | null {
  const height = new Map<object, number>();
  const deepest = new Map<object, object>();
  const stack: { node: object; done: boolean }[] = [{ node: decl, done: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    const kids = children(top.node);
    if (!top.done) {
      stack.push({ node: top.node, done: true });
      for (let i = kids.length - 1; i >= 0; i--) stack.push({ node: kids[i]!, done: false });
      continue;
    }
    let h = 0;
    for (const k of kids) {
      const kh = height.get(k)!;
      if (kh > h) {
        h = kh;
        deepest.set(top.node, k);
      }
    }
    const own = h + levels(top.node);
    height.set(top.node, own);
    if (own > MAX_AST_DEPTH) {
      const child = deepest.get(top.node);
      return child ? ownPart(top.node, child, text) : (spanOf(top.node) ?? { start: 0, end: 0 });
    }
  }
  return null;
}

/** The program without its too-deep declarations, and where each passed the limit. */
export function dropTooDeep(program: Program, text: string): { program: Program; at: Span[] } {
  const at: Span[] = [];
  const decls = program.decls.filter((d) => {
    const span = tooDeepAt(d, text);
    if (span) at.push(span);
    return span === null;
  });
  return at.length === 0 ? { program, at } : { program: { ...program, decls }, at };
}
