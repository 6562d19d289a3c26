// AST -> canonical .dlg text (what `dlg fmt` writes).
//
// Canonical form: 2-space indent, one statement per line, single spaces
// around binary operators, numbers exactly as written (`raw`), and the
// fewest parentheses that keep the tree: a child is parenthesised only when
// its precedence is looser than its position allows. A `|>` chain whose line
// would pass `width` columns is printed one stage per continuation line.
// Comments (`Program.comments`) are kept: each goes above the declaration,
// statement or setting it precedes, or stays at the end of the line it
// trails; one written inside a statement moves above that statement.
// Guarantees (tested): parse(print(p)) equals p up to spans and comment
// placement, and printing is idempotent.

import type * as A from "./ast.ts";

/** Column limit before a pipeline or a block signature is broken over lines (matches prettier). */
const width = 100;
const indentUnit = "  ";

export function printProgram(p: A.Program): string {
  return new Printer(p.comments ?? []).program(p);
}

/** Prints one expression on its own, as it would appear as a statement's value. */
export function printExpr(e: A.Expr): string {
  return new Printer([]).expr(e, "");
}

/** Prints a type as written in a signature: `int[B, T]`, `[..., n]`, `dim`. */
export function printType(t: A.TypeExpr): string {
  return new Printer([]).type(t);
}

// Binding strength, loosest first, mirroring the grammar's rule nesting.
const PIPE = 1;
const UNARY = 5;
const POWER = 6;
const POSTFIX = 7;
const ATOM = 8;

const binaryPrec: Record<A.BinaryOp, number> = {
  "==": 2,
  "!=": 2,
  "<": 2,
  "<=": 2,
  ">": 2,
  ">=": 2,
  "+": 3,
  "-": 3,
  "*": 4,
  "/": 4,
  "@": 4,
  div: 4,
  mod: 4,
  "^": POWER,
};

function prec(e: A.Expr): number {
  switch (e.kind) {
    case "If":
      // Its `else` branch extends as far right as it can, so as an operand
      // it always needs parentheses.
      return 0;
    case "Pipe":
      return PIPE;
    case "Binary":
      return binaryPrec[e.op];
    case "Unary":
      return UNARY;
    case "Call":
    case "Index":
      return POSTFIX;
    default:
      // Literals, names, lists, and `scan`, which its closing brace delimits.
      return ATOM;
  }
}

function isOneLine(d: A.Decl): boolean {
  return d.kind === "Import" || d.kind === "Dim" || d.kind === "Const";
}

/** Something printed on its own line(s) that comments can attach to. */
interface Item {
  span: A.Span;
  /** Text without leading indent; continuation lines carry their own. */
  render: () => string;
  /** Spans inside the item whose comments a nested body prints itself. */
  nested: A.Span[];
}

class Printer {
  /** Comments not yet printed, in source order. */
  private pending: A.SourceComment[];

  constructor(comments: A.SourceComment[]) {
    this.pending = [...comments].sort((a, b) => a.span.start - b.span.start);
  }

  program(p: A.Program): string {
    const out: string[] = [];
    let prev: A.Decl | undefined;
    p.decls.forEach((d, i) => {
      // Runs of one-line declarations (import, dim, const) stay together;
      // everything else is separated by a blank line.
      if (prev && !(isOneLine(prev) && isOneLine(d))) out.push("");
      out.push(...this.comments(this.takeBefore(d.span.start), ""));
      out.push(...this.declaration(d));
      this.trail(out, d.span.end, p.decls[i + 1]?.span.start ?? Infinity);
      prev = d;
    });
    const rest = this.takeBefore(Infinity);
    if (rest.length > 0 && out.length > 0) out.push("");
    out.push(...this.comments(rest, ""));
    return out.length === 0 ? "" : out.join("\n") + "\n";
  }

  // -------------------------------------------------------------- comments

  private takeBefore(offset: number, within?: A.Span, nested: A.Span[] = []): A.SourceComment[] {
    const taken: A.SourceComment[] = [];
    this.pending = this.pending.filter((c) => {
      const inside = within ? c.span.start >= within.start && c.span.start < within.end : true;
      const inNested = nested.some((n) => c.span.start >= n.start && c.span.start < n.end);
      if (c.span.start < offset && inside && !inNested) {
        taken.push(c);
        return false;
      }
      return true;
    });
    return taken;
  }

  private comments(cs: A.SourceComment[], indent: string): string[] {
    return cs.map((c) => indent + c.text);
  }

  /** Appends to the last line a comment that trailed code ending at `end`, if one starts before `limit`. */
  private trail(out: string[], end: number, limit: number): void {
    const next = this.pending[0];
    if (
      !next ||
      next.ownLine ||
      next.span.start < end ||
      next.span.start >= limit ||
      out.length === 0
    )
      return;
    this.pending.shift();
    out[out.length - 1] += `  ${next.text}`;
  }

  /**
   * `header`, then the items one level deeper, then `}` at `indent`.
   * `close` is the offset of the closing brace in the source, so comments
   * after the last item stay inside the braces.
   */
  private body(header: string, items: Item[], indent: string, close: number): string[] {
    const inner = indent + indentUnit;
    const lines: string[] = [];
    items.forEach((it, i) => {
      lines.push(...this.comments(this.takeBefore(it.span.start), inner));
      // Comments written inside the item (between pipeline stages, say) go above it.
      lines.push(...this.comments(this.takeBefore(it.span.end, it.span, it.nested), inner));
      lines.push(inner + it.render());
      this.trail(lines, it.span.end, items[i + 1]?.span.start ?? close);
    });
    lines.push(...this.comments(this.takeBefore(close), inner));
    if (lines.length === 0) return [`${header}}`];
    return [header, ...lines, `${indent}}`];
  }

  // -------------------------------------------------------------- declarations

  private declaration(d: A.Decl): string[] {
    switch (d.kind) {
      case "Import":
        return [`import ${stringLit(d.path.value)}`];
      case "Dim":
        return [`dim ${d.names.map((n) => n.name).join(", ")}`];
      case "Const":
        return [`const ${d.name.name} = ${this.expr(d.value, "")}`];
      case "Block": {
        const result = d.result ? ` -> ${this.type(d.result)}` : "";
        const params = d.params.map((p) => this.blockParam(p));
        let header = `block ${d.name.name}(${params.join(", ")})${result} {`;
        if (header.length > width) {
          header = [
            `block ${d.name.name}(`,
            ...params.map((s) => `${indentUnit}${s},`),
            `)${result} {`,
          ].join("\n");
        }
        return [
          ...docLines(d.doc),
          ...this.body(header, this.stmtItems(d.body, ""), "", d.span.end - 1),
        ];
      }
      case "Model":
        return [
          ...docLines(d.doc),
          ...this.body(`model ${d.name.name} {`, this.stmtItems(d.body, ""), "", d.span.end - 1),
        ];
      case "Train": {
        const items = d.settings.map((s): Item => ({
          span: s.span,
          render: () => `${s.key.name} ${this.expr(s.value, indentUnit)}`,
          nested: [],
        }));
        return this.body(`train ${d.name.name} for ${d.model.name} {`, items, "", d.span.end - 1);
      }
    }
  }

  private blockParam(p: A.BlockParam): string {
    const def = p.default ? ` = ${this.expr(p.default, "")}` : "";
    return `${p.name.name}: ${this.type(p.type)}${def}`;
  }

  // -------------------------------------------------------------- types

  type(t: A.TypeExpr): string {
    if (t.kind === "ScalarType") return t.name;
    const dims = t.dims.map((d) => (d.kind === "Ellipsis" ? "..." : this.expr(d, "")));
    return `${t.dtype ?? ""}[${dims.join(", ")}]`;
  }

  // -------------------------------------------------------------- statements

  /** Statements as body items; `indent` is the indent of the enclosing braces. */
  private stmtItems(stmts: A.Stmt[], indent: string): Item[] {
    const inner = indent + indentUnit;
    return stmts.map((s) => ({
      span: s.span,
      render: () => this.statement(s, inner),
      nested: scanSpans(s),
    }));
  }

  private statement(s: A.Stmt, indent: string): string {
    switch (s.kind) {
      case "Assign":
        return this.valueAfter(`${s.targets.map((t) => t.name).join(", ")} = `, s.value, indent);
      case "Param": {
        const init = s.init ? ` init ${this.expr(s.init, indent)}` : "";
        return `param ${s.name.name}: ${this.type(s.type)}${init}`;
      }
      case "Input":
        return `input ${s.name.name}: ${this.type(s.type)}`;
      case "Output":
        return this.valueAfter(`output ${s.name.name} = `, s.value, indent);
      case "Metric":
        return this.valueAfter(`metric ${s.name.name} = `, s.value, indent);
      case "Loss":
        return this.valueAfter("loss ", s.value, indent);
      case "Return":
        return this.valueAfter("return ", s.value, indent);
      case "Yield":
        return this.valueAfter("yield ", s.value, indent);
    }
  }

  /**
   * `prefix` followed by `value`; a pipeline that would overflow the line
   * is laid out top to bottom, the way layer stacks are meant to read.
   */
  private valueAfter(prefix: string, value: A.Expr, indent: string): string {
    if (value.kind !== "Pipe") return prefix + this.expr(value, indent);
    // Measure on a throwaway printer: the real one must not consume
    // comments (inside a scan) for a layout that is then discarded.
    const flat = prefix + new Printer([]).expr(value, indent);
    const firstLine = flat.split("\n")[0] ?? "";
    if (indent.length + firstLine.length <= width) return prefix + this.expr(value, indent);
    const stages: A.Expr[] = [];
    let head: A.Expr = value;
    while (head.kind === "Pipe") {
      stages.unshift(head.right);
      head = head.left;
    }
    const cont = indent + indentUnit;
    const lines = [prefix + this.operand(head, PIPE, "left", indent)];
    for (const st of stages) lines.push(`${cont}|> ${this.operand(st, PIPE, "right", cont)}`);
    return lines.join("\n");
  }

  // -------------------------------------------------------------- expressions

  /**
   * Prints `e` as an operand of an operator of strength `p`. Left-associative
   * operators accept an equally strong left operand but not a right one;
   * `^` is the reverse, and its right side is a unary expression.
   */
  private operand(e: A.Expr, p: number, side: "left" | "right", indent: string): string {
    const q = prec(e);
    let parens: boolean;
    if (p === POWER) parens = side === "left" ? q <= POWER : q < UNARY;
    else if (side === "left") parens = q < p;
    else parens = q <= p;
    const text = this.expr(e, indent);
    return parens ? `(${text})` : text;
  }

  /** Prints `e` where any expression is allowed (an argument, a statement's value). */
  expr(e: A.Expr, indent: string): string {
    switch (e.kind) {
      case "Number":
        return e.raw;
      case "String":
        return stringLit(e.value);
      case "Bool":
        return e.value ? "true" : "false";
      case "Name":
        return e.name;
      case "Binary": {
        const p = binaryPrec[e.op];
        return `${this.operand(e.left, p, "left", indent)} ${e.op} ${this.operand(e.right, p, "right", indent)}`;
      }
      case "Unary": {
        // `-(-x)` rather than `--x`, which reads like a decrement. The
        // operand of unary minus is a power expression or tighter.
        const q = prec(e.operand);
        const inner = this.expr(e.operand, indent);
        return q <= UNARY ? `-(${inner})` : `-${inner}`;
      }
      case "Pipe":
        return `${this.operand(e.left, PIPE, "left", indent)} |> ${this.operand(e.right, PIPE, "right", indent)}`;
      case "Call": {
        const args = e.args.map(
          (a) => (a.name ? `${a.name.name}: ` : "") + this.expr(a.value, indent),
        );
        return `${this.operand(e.callee, POSTFIX, "left", indent)}(${args.join(", ")})`;
      }
      case "Index": {
        const items = e.indices.map((i) =>
          i.kind === "Slice" ? this.slice(i, indent) : this.expr(i, indent),
        );
        return `${this.operand(e.target, POSTFIX, "left", indent)}[${items.join(", ")}]`;
      }
      case "List":
        return `[${e.items.map((i) => this.expr(i, indent)).join(", ")}]`;
      case "If": {
        const cond =
          e.cond.kind === "If" ? `(${this.expr(e.cond, indent)})` : this.expr(e.cond, indent);
        return `if ${cond} then ${this.expr(e.then, indent)} else ${this.expr(e.else, indent)}`;
      }
      case "Scan": {
        const carries =
          e.carries.length === 0
            ? ""
            : ` carry (${e.carries.map((c) => `${c.name.name} = ${this.expr(c.init, indent)}`).join(", ")})`;
        const header = `scan ${e.item.name} in ${this.expr(e.source, indent)} along ${this.expr(e.axis, indent)}${carries} {`;
        return this.body(header, this.stmtItems(e.body, indent), indent, e.span.end - 1).join("\n");
      }
    }
  }

  private slice(s: A.SliceExpr, indent: string): string {
    const part = (x: A.Expr | null) => (x ? this.expr(x, indent) : "");
    return `${part(s.start)}:${part(s.end)}` + (s.step ? `:${part(s.step)}` : "");
  }
}

function docLines(doc: string | null): string[] {
  if (doc === null) return [];
  return doc.split("\n").map((l) => (l === "" ? "///" : `/// ${l}`));
}

function stringLit(value: string): string {
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

/** Spans of the `scan` expressions in a statement (their bodies print their own comments). */
function scanSpans(s: A.Stmt): A.Span[] {
  const out: A.Span[] = [];
  const visit = (e: A.Expr | A.SliceExpr | null): void => {
    if (!e) return;
    switch (e.kind) {
      case "Scan":
        out.push(e.span);
        return;
      case "Binary":
        visit(e.left);
        visit(e.right);
        return;
      case "Pipe":
        visit(e.left);
        visit(e.right);
        return;
      case "Unary":
        visit(e.operand);
        return;
      case "Call":
        visit(e.callee);
        e.args.forEach((a) => visit(a.value));
        return;
      case "Index":
        visit(e.target);
        e.indices.forEach(visit);
        return;
      case "Slice":
        visit(e.start);
        visit(e.end);
        visit(e.step);
        return;
      case "List":
        e.items.forEach(visit);
        return;
      case "If":
        visit(e.cond);
        visit(e.then);
        visit(e.else);
        return;
      default:
        return;
    }
  };
  if (s.kind === "Param") visit(s.init);
  else if (s.kind !== "Input") visit(s.value);
  return out;
}
