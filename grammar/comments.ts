// Attaches each comment of a parsed file (Program.comments) to the AST node
// it belongs to, as `trivia`, so that `print` (`dlg fmt`) puts it back where
// it was written. Runs after toProgram, on spans and the token stream alone.
//
// The places a comment can keep are the items of the file's lists, each of
// which `print` can put on a line of its own: declarations, statements, train
// settings, call arguments, list items, block parameters, scan carries and
// the stages of a `|>` chain. A comment is, by what surrounds it on its line:
// - inline (a block comment with code after it on the line): `before` the
//   outermost node starting at the next token, else `after` the one ending at
//   the previous token;
// - trailing (code before it on the line, none after): `trailing` of the item
//   it follows in the innermost list around it, or that list's `open` when it
//   follows the opening bracket;
// - own-line: `leading` of the item below it, or the list's `inner` after the
//   last item.
// A comment inside an item but in none of its lists (`a + // why` between
// operands) cannot stay there once the item is reprinted: it goes above the item.
// Doc comments are the declarations' `doc`, not in Program.comments.

import type { IToken } from "chevrotain";
import type * as A from "./ast.ts";

/** A list whose items `print` can lay out one per line. */
interface List {
  /** Between the opening and closing bracket (the whole file for the declarations). */
  range: A.Span;
  items: { span: A.Span; node: A.Commented }[];
  owner: A.Commented;
  kind: ListKind;
}

interface ListKind {
  /** The owner's head* fields take the list's own comments (block parameters, scan carries). */
  head?: boolean;
  /** Statements, settings and declarations keep a blank line above them. */
  blanks?: boolean;
  /** A `|>` chain: its head is printed after the statement's `x = `, with no line above it of its own. */
  chain?: boolean;
}

/**
 * Fills `trivia` on the nodes of `p` (a program just built from `text`).
 * `tokens` are the lexer's tokens (comments excluded), `docs` the comments
 * that became declarations' doc.
 */
export function attachComments(p: A.Program, text: string, tokens: IToken[], docs: DocToken[]) {
  const comments = p.comments ?? [];
  const w = new Walk(text, tokens);
  w.list({ start: 0, end: text.length }, p.decls, p, { blanks: true });
  for (const d of p.decls) w.decl(d);
  for (const l of w.lists) if (l.kind.blanks) markBlanks(l, text, docs);
  // A declaration's doc comment prints as written (`///` lines or `/** */`).
  let prev = 0;
  for (const d of p.decls) {
    const mine = docs.filter((c) => c.start >= prev && c.end <= d.span.start);
    if (mine.length > 0 && "doc" in d && d.doc !== null)
      (d.trivia ??= {}).doc = mine.map((c) => c.text.trimEnd());
    prev = d.span.end;
  }
  for (const c of comments) {
    if (c.ownLine && blankAbove(text, c.span.start)) c.blankBefore = true;
    w.attach(c);
  }
}

/** The stages of a `|>` chain, its head first (a list of its own, for comments and for print). */
export function chain(e: A.PipeExpr): A.Expr[] {
  const parts: A.Expr[] = [];
  let head: A.Expr = e;
  while (head.kind === "Pipe") {
    parts.unshift(head.right);
    head = head.left;
  }
  return [head, ...parts];
}

type Kind = Exclude<keyof A.Trivia, "blankBefore" | "oneLine" | "doc">;

function add(node: A.Commented, kind: Kind, c: A.SourceComment): void {
  const t = (node.trivia ??= {});
  (t[kind] ??= []).push(c);
}

/** Whether the whitespace above `offset` holds an empty line. */
function blankAbove(text: string, offset: number): boolean {
  let i = offset - 1;
  let lines = 0;
  while (i >= 0 && /\s/.test(text[i]!)) if (text[i--] === "\n") lines++;
  return i >= 0 && lines >= 2;
}

/** A comment token that became a declaration's doc. */
interface DocToken extends A.Span {
  text: string;
}

function markBlanks(l: List, text: string, docs: DocToken[]): void {
  l.items.forEach((it, i) => {
    // A declaration's doc comment is its first line. (print drops a blank line at a list's start.)
    const prev = i === 0 ? l.range.start : l.items[i - 1]!.span.end;
    const doc = docs.find((d) => d.start >= prev && d.end <= it.span.start);
    if (blankAbove(text, doc?.start ?? it.span.start)) (it.node.trivia ??= {}).blankBefore = true;
  });
}

class Walk {
  readonly lists: List[] = [];
  /** The outermost node starting / ending at each offset (for inline comments). */
  private readonly startAt = new Map<number, { node: A.Commented; len: number }>();
  private readonly endAt = new Map<number, { node: A.Commented; len: number }>();

  constructor(
    private readonly text: string,
    private readonly tokens: IToken[],
  ) {}

  // ------------------------------------------------------------ collecting

  list(
    range: A.Span,
    items: (A.Commented & { span: A.Span })[],
    owner: A.Commented,
    kind: ListKind = {},
  ): void {
    this.lists.push({ range, items: items.map((n) => ({ span: n.span, node: n })), owner, kind });
  }

  private node(n: A.Commented, span: A.Span): void {
    const len = span.end - span.start;
    const s = this.startAt.get(span.start);
    if (!s || s.len < len) this.startAt.set(span.start, { node: n, len });
    const e = this.endAt.get(span.end);
    if (!e || e.len < len) this.endAt.set(span.end, { node: n, len });
  }

  /** The list between the bracket token ending at `closeEnd` and its opening partner. */
  private bracketed(closeEnd: number): A.Span | null {
    const i = this.tokenEndingAt(closeEnd);
    const close = this.tokens[i];
    if (!close) return null;
    const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
    const opener = pairs[close.image];
    if (!opener) return null;
    let depth = 0;
    for (let j = i; j >= 0; j--) {
      const t = this.tokens[j]!;
      if (t.image === close.image) depth++;
      else if (t.image === opener && --depth === 0)
        return { start: t.startOffset + 1, end: close.startOffset };
    }
    return null;
  }

  private tokenEndingAt(end: number): number {
    const i = this.firstFrom(end) - 1;
    const t = this.tokens[i];
    return t && t.startOffset + t.image.length === end ? i : -1;
  }

  /** Index of the first token starting at or after `offset`. */
  private firstFrom(offset: number): number {
    let lo = 0;
    let hi = this.tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.tokens[mid]!.startOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  decl(d: A.Decl): void {
    this.node(d, d.span);
    if (d.kind === "Const") this.expr(d.value);
    else if (d.kind === "Block") {
      const open = this.tokens[this.firstFrom(d.name.span.end)];
      const close =
        d.params.length > 0
          ? this.closingAfter(d.params[d.params.length - 1]!.span.end, ")")
          : open && this.tokens[this.firstFrom(open.startOffset + 1)];
      if (open?.image === "(" && close?.image === ")")
        this.list({ start: open.startOffset + 1, end: close.startOffset }, d.params, d, {
          head: true,
        });
      for (const p of d.params) {
        this.node(p, p.span);
        this.type(p.type);
        if (p.default) this.expr(p.default);
      }
      if (d.result) this.type(d.result);
      this.body(d.span.end, d.body, d);
    } else if (d.kind === "Model") this.body(d.span.end, d.body, d);
    else if (d.kind === "Train") {
      const range = this.bracketed(d.span.end);
      if (range) this.list(range, d.settings, d, { blanks: true });
      if (range && !this.text.slice(range.start, range.end).includes("\n"))
        (d.trivia ??= {}).oneLine = true;
      for (const s of d.settings) {
        this.node(s, s.span);
        this.expr(s.value);
      }
    }
  }

  /** The `close` token after `offset`, skipping a trailing comma. */
  private closingAfter(offset: number, close: string): IToken | undefined {
    let t = this.tokens[this.firstFrom(offset)];
    if (t?.image === ",") t = this.tokens[this.firstFrom(t.startOffset + 1)];
    return t?.image === close ? t : undefined;
  }

  private body(end: number, stmts: A.Stmt[], owner: A.Commented): void {
    const range = this.bracketed(end);
    if (range) this.list(range, stmts, owner, { blanks: true });
    for (const s of stmts) this.stmt(s);
  }

  private stmt(s: A.Stmt): void {
    this.node(s, s.span);
    if (s.kind === "Param" || s.kind === "State" || s.kind === "Input") this.type(s.type);
    if (s.kind === "Param" || s.kind === "State") {
      if (s.init) this.expr(s.init);
    } else if (s.kind !== "Input") this.expr(s.value);
  }

  private type(t: A.TypeExpr): void {
    if (t.kind === "TensorType") for (const d of t.dims) if (d.kind !== "Ellipsis") this.expr(d);
  }

  private expr(e: A.Expr | A.SliceExpr | null): void {
    if (!e) return;
    if (e.kind === "Slice") {
      this.expr(e.start);
      this.expr(e.end);
      this.expr(e.step);
      return;
    }
    this.node(e, e.span);
    switch (e.kind) {
      case "Binary":
        this.expr(e.left);
        this.expr(e.right);
        return;
      case "Unary":
        this.expr(e.operand);
        return;
      case "Pipe": {
        // The chain prints as one unit (head, then stages); its inner left
        // nodes are never printed on their own, so they take no comments.
        const parts = chain(e);
        this.list(e.span, parts, e, { chain: true });
        for (const x of parts) this.expr(x);
        return;
      }
      case "Call": {
        this.expr(e.callee);
        const range = this.bracketed(e.span.end);
        if (range) this.list(range, e.args, e);
        for (const a of e.args) {
          this.node(a, a.span);
          this.expr(a.value);
        }
        return;
      }
      case "Index":
        this.expr(e.target);
        e.indices.forEach((i) => this.expr(i));
        return;
      case "List": {
        const range = this.bracketed(e.span.end);
        if (range) this.list(range, e.items, e);
        e.items.forEach((i) => this.expr(i));
        return;
      }
      case "If":
        this.expr(e.cond);
        this.expr(e.then);
        this.expr(e.else);
        return;
      case "Scan": {
        this.expr(e.source);
        this.expr(e.axis);
        const body = this.bracketed(e.span.end);
        if (e.carries.length > 0 && body) {
          // `carry ( ... )` ends just before the body's `{`.
          const brace = this.tokens[this.firstFrom(body.start - 1) - 1];
          const range = brace && this.bracketed(brace.startOffset + brace.image.length);
          if (range) this.list(range, e.carries, e, { head: true });
        }
        for (const c of e.carries) {
          this.node(c, c.span);
          this.expr(c.init);
        }
        this.body(e.span.end, e.body, e);
        return;
      }
      default:
        return;
    }
  }

  // ------------------------------------------------------------ attaching

  attach(c: A.SourceComment): void {
    const i = this.firstFrom(c.span.start);
    const prev = this.tokens[i - 1];
    const next = this.tokens[this.firstFrom(c.span.end)];
    const prevEnd = prev ? prev.startOffset + prev.image.length : -1;
    const sameLineBefore =
      prev !== undefined && !this.text.slice(prevEnd, c.span.start).includes("\n");
    const sameLineAfter =
      next !== undefined &&
      c.text.startsWith("/*") &&
      !this.text.slice(c.span.end, next.startOffset).includes("\n");
    if (sameLineAfter) {
      const starting = this.startAt.get(next.startOffset);
      if (starting) return add(starting.node, "before", c);
      const ending = sameLineBefore ? this.endAt.get(prevEnd) : undefined;
      if (ending) return add(ending.node, "after", c);
    }
    const list = this.innermost(c.span);
    const inside = list.items.find(
      (it) => it.span.start < c.span.start && c.span.end <= it.span.end,
    );
    if (inside) return add(inside.node, "leading", c);
    if (sameLineBefore) {
      const above = list.items.filter((it) => it.span.end <= c.span.start).pop();
      if (above) return add(above.node, "trailing", c);
      return add(list.owner, list.kind.head ? "headOpen" : "open", c);
    }
    const below = list.items.find((it) => it.span.start >= c.span.end);
    if (below) return add(below.node, "leading", c);
    add(list.owner, list.kind.head ? "headInner" : "inner", c);
  }

  /** The smallest list around `s`; not a chain whose head holds it (a comment there goes above the statement). */
  private innermost(s: A.Span): List {
    let best = this.lists[0]!;
    for (const l of this.lists) {
      const inHead =
        l.kind.chain &&
        l.items[0] &&
        l.items[0].span.start < s.start &&
        s.end <= l.items[0].span.end;
      if (
        !inHead &&
        l.range.start <= s.start &&
        s.end <= l.range.end &&
        l.range.end - l.range.start < best.range.end - best.range.start
      )
        best = l;
    }
    return best;
  }
}
