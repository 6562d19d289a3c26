// AST -> canonical .dlg text (what `dlg fmt` writes).
//
// Canonical form: 2-space indent, one statement per line, single spaces
// around binary operators, numbers exactly as written (`raw`), and the
// fewest parentheses that keep the tree: a child is parenthesised only when
// its precedence is looser than its position allows. A `|>` chain whose line
// would pass `width` columns is printed one stage per continuation line, and
// a call or list value that long one argument or item per line.
// Comments are printed where grammar/comments.ts attached them (`trivia`):
// above an item, at the end of its line, or inline beside a node; a list
// (call arguments, list items, block parameters, scan carries, `|>` stages)
// holding a comment that needs a line of its own is printed one item per
// line, so the comment stays beside its item. Blank lines are the source's:
// one between statements, declarations or settings where it had any (as
// prettier keeps them), and a train block written on one line stays so
// while it fits.
// Guarantees (tested): parse(print(p)) equals p up to spans and comments,
// every comment is printed exactly once, and printing is idempotent.

import type * as A from "./ast.ts";
import { chain } from "./comments.ts";

/** Column limit before a pipeline, a call, a list or a block signature is broken over lines (matches prettier). */
const width = 100;
const indentUnit = "  ";

/** The program's text, its lines ending in "\n" (also inside a multi-line comment of a CRLF file). */
export function printProgram(p: A.Program): string {
  return new Printer().program(p).replace(/\r\n/g, "\n");
}

/** Prints one expression on its own, as it would appear as a statement's value. */
export function printExpr(e: A.Expr): string {
  return new Printer().expr(e, "");
}

/** Prints a type as written in a signature: `int[B, T]`, `[..., n]`, `dim`. */
export function printType(t: A.TypeExpr): string {
  return new Printer().type(t);
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

/** One entry of a list that may be printed one item per line. */
interface Item {
  node: A.Commented;
  /** The item's text at `indent`, without its own comments; continuation lines carry their indent. */
  render: (indent: string) => string;
}

/** Block comments written just before the node on its line. */
function inlineBefore(n: A.Commented): string {
  return (n.trivia?.before ?? []).map((c) => `${c.text} `).join("");
}

function inlineAfter(n: A.Commented): string {
  return (n.trivia?.after ?? []).map((c) => ` ${c.text}`).join("");
}

/** The comments that end the node's line: its inline `after` ones too, as nothing follows them now. */
function lineEnd(n: A.Commented, indent: string): string {
  return lineComments([...(n.trivia?.after ?? []), ...(n.trivia?.trailing ?? [])], indent);
}

/**
 * Comments at the end of a line; one after a `//` comment (which runs to the
 * line's end) or a block comment over several lines goes on the next line,
 * at `indent`, as it would be read back.
 */
function lineComments(cs: A.SourceComment[] | undefined, indent: string): string {
  let out = "";
  let prev: A.SourceComment | undefined;
  for (const c of cs ?? []) {
    const next = prev && (prev.text.startsWith("//") || prev.text.includes("\n"));
    out += (next ? `\n${indent}` : "  ") + c.text;
    prev = c;
  }
  return out;
}

/** Whether the node has a comment that needs a line of its own or a line end. */
function needsLines(n: A.Commented): boolean {
  return (n.trivia?.leading?.length ?? 0) > 0 || (n.trivia?.trailing?.length ?? 0) > 0;
}

/** Lines with at most one blank line in a row and none first. */
class Lines {
  readonly out: string[] = [];
  blank(): void {
    if (this.out.length > 0 && this.out[this.out.length - 1] !== "") this.out.push("");
  }
  comments(cs: A.SourceComment[] | undefined, indent: string, blanks: boolean): void {
    for (const c of cs ?? []) {
      if (blanks && c.blankBefore) this.blank();
      this.out.push(indent + c.text);
    }
  }
  get last(): string | undefined {
    return this.out[this.out.length - 1];
  }
}

class Printer {
  program(p: A.Program): string {
    const lines = new Lines();
    for (const d of p.decls) {
      lines.comments(d.trivia?.leading, "", true);
      if (d.trivia?.blankBefore) lines.blank();
      const decl = this.declaration(d);
      const doc = d.trivia?.doc ?? ("doc" in d ? docLines(d.doc) : []);
      // A plain `///` comment right above a doc would join it when reparsed.
      if (doc.length > 0 && lines.last?.startsWith("///")) lines.blank();
      decl[0] = inlineBefore(d) + decl[0];
      decl[decl.length - 1] += lineEnd(d, "");
      lines.out.push(...doc, ...decl);
    }
    lines.comments(p.trivia?.inner, "", true);
    return lines.out.length === 0 ? "" : lines.out.join("\n") + "\n";
  }

  /**
   * `header` (ending in `{`), then the items one level deeper, then `}` at
   * `indent`; the owner's `open` comments stay on the header's line, its
   * `inner` ones after the last item.
   */
  private body(header: string, owner: A.Commented, items: Item[], indent: string): string[] {
    const inner = indent + indentUnit;
    const lines = new Lines();
    for (const it of items) {
      lines.comments(it.node.trivia?.leading, inner, true);
      if (it.node.trivia?.blankBefore) lines.blank();
      lines.out.push(inner + inlineBefore(it.node) + it.render(inner) + lineEnd(it.node, inner));
    }
    lines.comments(owner.trivia?.inner, inner, true);
    const open = lineComments(owner.trivia?.open, inner);
    if (lines.out.length === 0 && open === "") return [`${header}}`];
    return [header + open, ...lines.out, `${indent}}`];
  }

  /**
   * `open`, the items separated by commas, `close`: on one line, or one item
   * per line (each with a trailing comma) when `broken` or when a comment
   * needs a line of its own. `head` picks the owner's block-parameter or
   * carry comments instead of its body's.
   */
  private commaList(
    [open, close]: [string, string],
    items: Item[],
    owner: A.Commented,
    head: boolean,
    indent: string,
    broken = false,
  ): string {
    const t = owner.trivia;
    const openCs = head ? t?.headOpen : t?.open;
    const innerCs = head ? t?.headInner : t?.inner;
    // An empty list holding only `/* */` comments on one line: `f(/* none */)`.
    const only = [...(openCs ?? []), ...(innerCs ?? [])];
    if (items.length === 0 && only.every((c) => c.text.startsWith("/*") && !c.text.includes("\n")))
      return `${open}${only.map((c) => c.text).join(" ")}${close}`;
    if (!broken && !openCs?.length && !innerCs?.length && !items.some((i) => needsLines(i.node)))
      return `${open}${items.map((i) => inlineBefore(i.node) + i.render(indent) + inlineAfter(i.node)).join(", ")}${close}`;
    const inner = indent + indentUnit;
    const lines = new Lines();
    lines.out.push(open + lineComments(openCs, inner));
    for (const it of items) {
      lines.comments(it.node.trivia?.leading, inner, false);
      lines.out.push(
        `${inner}${inlineBefore(it.node)}${it.render(inner)},${lineEnd(it.node, inner)}`,
      );
    }
    lines.comments(innerCs, inner, false);
    lines.out.push(indent + close);
    return lines.out.join("\n");
  }

  // -------------------------------------------------------------- declarations

  /** The declaration's lines, without its doc comment. */
  private declaration(d: A.Decl): string[] {
    switch (d.kind) {
      case "Import":
        return [`import ${stringLit(d.path.value)}${d.alias ? ` as ${d.alias.name}` : ""}`];
      case "Dim":
        return [`dim ${d.names.map((n) => n.name).join(", ")}`];
      case "Const":
        return [this.valueAfter(`const ${d.name.name} = `, d.value, "")];
      case "Block": {
        const params = d.params.map((p): Item => ({ node: p, render: () => this.blockParam(p) }));
        const header = (broken: boolean, result = d.result ? ` -> ${this.type(d.result)}` : "") =>
          `block ${d.name.name}${this.commaList(["(", ")"], params, d, true, "", broken)}${result} {`;
        let text = header(false);
        if (!text.includes("\n") && text.length > width) text = header(true);
        // A result type still too long goes one dim per line (unless a comment sits among its dims).
        const last = text.slice(text.lastIndexOf("\n") + 1);
        if (last.length > width && d.result?.kind === "TensorType") {
          const dims = d.result.dims;
          if (dims.every((x) => x.kind === "Ellipsis" || !x.trivia))
            text = header(true, ` -> ${this.brokenType(d.result)}`);
        }
        return this.body(text, d, this.stmtItems(d.body), "");
      }
      case "Model":
        return this.body(`model ${d.name.name} {`, d, this.stmtItems(d.body), "");
      case "Train": {
        const items = d.settings.map((s): Item => ({
          node: s,
          // `keep`'s value is a metric's name, written after the word `best`.
          render: (i) =>
            this.valueAfter(s.key.name === "keep" ? "keep best " : `${s.key.name} `, s.value, i),
        }));
        const header = `train ${d.name.name} for ${d.model.name} {`;
        // Kept on one line as written, LANGUAGE.md's idiom, while it fits and holds no comment.
        const flat = `${header} ${items.map((it) => it.render(indentUnit)).join("  ")} }`;
        const quiet = !d.trivia?.open && !d.trivia?.inner && d.settings.every((s) => !s.trivia);
        if (
          d.trivia?.oneLine &&
          quiet &&
          d.settings.length > 0 &&
          flat.length <= width &&
          !flat.includes("\n")
        )
          return [flat];
        return this.body(header, d, items, "");
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

  /** A tensor type one dim per line. */
  private brokenType(t: A.TensorTypeExpr): string {
    const dims = t.dims.map((x): Item =>
      x.kind === "Ellipsis"
        ? { node: {}, render: () => "..." }
        : { node: x, render: () => this.bare(x, "") },
    );
    return (t.dtype ?? "") + this.commaList(["[", "]"], dims, {}, false, "", true);
  }

  // -------------------------------------------------------------- statements

  private stmtItems(stmts: A.Stmt[]): Item[] {
    return stmts.map((s) => ({ node: s, render: (indent) => this.statement(s, indent) }));
  }

  private statement(s: A.Stmt, indent: string): string {
    switch (s.kind) {
      case "Assign":
        return this.valueAfter(`${s.targets.map((t) => t.name).join(", ")} = `, s.value, indent);
      case "Param": {
        const init = s.init ? ` init ${this.expr(s.init, indent)}` : "";
        return `param ${s.name.name}: ${this.type(s.type)}${init}`;
      }
      case "State": {
        const init = s.init ? ` init ${this.expr(s.init, indent)}` : "";
        return `state ${s.name.name}: ${this.type(s.type)}${init}`;
      }
      case "Update":
        return this.valueAfter(`update ${s.name.name} = `, s.value, indent);
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
    return prefix + this.fitted(prefix, value, indent, "");
  }

  /**
   * `e` as written after `prefix` at `indent` (and before `suffix`), broken
   * where its first line would pass `width`: a pipeline one stage per line,
   * a call's arguments, a list's items or a scan's carries one per line (each
   * fitted the same way at its deeper indent), an arithmetic chain one operand
   * per line. An `if` or an index stays on one line. `own` says which of
   * the inline comments beside `e` it prints: the others are its caller's
   * (a stage's `after` ones end the line; a list item's are the list's).
   */
  private fitted(
    prefix: string,
    e: A.Expr,
    indent: string,
    suffix: string,
    own: "both" | "before" | "none" = "both",
  ): string {
    const wrap = (text: string) =>
      (own === "none" ? "" : inlineBefore(e)) + text + (own === "both" ? inlineAfter(e) : "");
    const flat = wrap(this.bare(e, indent));
    if (indent.length + (prefix + flat).split("\n")[0]!.length + suffix.length <= width)
      return flat;
    if (e.kind === "Pipe") return wrap(this.pipe(e, indent, true, prefix));
    if (e.kind === "Call") return wrap(this.call(e, indent, true));
    if (e.kind === "Scan" && e.carries.length > 0) return wrap(this.scan(e, indent, true));
    if (e.kind === "Binary" && e.op !== "^") return wrap(this.brokenBinary(e, indent, prefix));
    if (e.kind === "List") return wrap(this.list(e, indent, true));
    return flat;
  }

  /** A `|>` chain on one line, or one stage per continuation line (forced by a comment on a stage). */
  private pipe(e: A.PipeExpr, indent: string, broken: boolean, prefix = ""): string {
    const [head, ...stages] = chain(e);
    if (!broken && !stages.some(needsLines) && !needsLines(head!)) {
      const rest = stages.map((st) => this.operand(st, PIPE, "right", indent));
      return [this.operand(head!, PIPE, "left", indent), ...rest].join(" |> ");
    }
    const cont = indent + indentUnit;
    const lines = new Lines();
    lines.out.push(
      this.chainPart(head!, PIPE, "left", prefix, indent, false) + lineEnd(head!, cont),
    );
    for (const st of stages) {
      lines.comments(st.trivia?.leading, cont, false);
      lines.out.push(
        `${cont}|> ${this.chainPart(st, PIPE, "right", "|> ", cont, false)}${lineEnd(st, cont)}`,
      );
    }
    return lines.out.join("\n");
  }

  /**
   * An operand of a broken chain (a `|>` stage, an arithmetic operand) after
   * `prefix`, as `operand` prints it; a call or list too long for the line is
   * fitted (it needs no parentheses). Without `after`, its inline comments
   * after it are left for the line's end.
   */
  private chainPart(
    x: A.Expr,
    p: number,
    side: "left" | "right",
    prefix: string,
    indent: string,
    after: boolean,
  ): string {
    if (x.kind !== "Call" && x.kind !== "List") return this.operand(x, p, side, indent, after);
    return this.fitted(prefix, x, indent, "", after ? "both" : "before");
  }

  // -------------------------------------------------------------- expressions

  /**
   * Prints `e` as an operand of an operator of strength `p`. Left-associative
   * operators accept an equally strong left operand but not a right one;
   * `^` is the reverse, and its right side is a unary expression. Without
   * `after`, the inline comments after `e` are left for the caller to put at
   * the line's end.
   */
  private operand(
    e: A.Expr,
    p: number,
    side: "left" | "right",
    indent: string,
    after = true,
  ): string {
    const q = prec(e);
    let parens: boolean;
    if (p === POWER) parens = side === "left" ? q <= POWER : q < UNARY;
    else if (side === "left") parens = q < p;
    else parens = q <= p;
    const text = inlineBefore(e) + this.bare(e, indent) + (after ? inlineAfter(e) : "");
    return parens ? `(${text})` : text;
  }

  /** Prints `e` where any expression is allowed (an argument, a statement's value). */
  expr(e: A.Expr, indent: string): string {
    return inlineBefore(e) + this.bare(e, indent) + inlineAfter(e);
  }

  /** `e` without the inline comments beside it. */
  private bare(e: A.Expr, indent: string): string {
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
        return this.pipe(e, indent, false);
      case "Call":
        return this.call(e, indent, false);
      case "Index": {
        const items = e.indices.map((i) =>
          i.kind === "Slice" ? this.slice(i, indent) : this.expr(i, indent),
        );
        return `${this.operand(e.target, POSTFIX, "left", indent)}[${items.join(", ")}]`;
      }
      case "List":
        return this.list(e, indent, false);
      case "If": {
        const cond =
          e.cond.kind === "If" ? `(${this.expr(e.cond, indent)})` : this.expr(e.cond, indent);
        return `if ${cond} then ${this.expr(e.then, indent)} else ${this.expr(e.else, indent)}`;
      }
      case "Scan":
        return this.scan(e, indent, false);
    }
  }

  /**
   * A chain of equally strong left-associative operators (`a + b - c`) one
   * operand per continuation line, each after its operator, as `|>` stages are.
   */
  private brokenBinary(e: A.BinaryExpr, indent: string, prefix: string): string {
    const p = binaryPrec[e.op];
    const rest: [A.BinaryOp, A.Expr][] = [];
    let head: A.Expr = e;
    // The left operand joins the chain unless a comment sits beside it.
    while (head.kind === "Binary" && binaryPrec[head.op] === p && (head === e || !head.trivia)) {
      rest.unshift([head.op, head.right]);
      head = head.left;
    }
    const cont = indent + indentUnit;
    const tail = rest.map(
      ([op, x]) => `\n${cont}${op} ${this.chainPart(x, p, "right", `${op} `, cont, true)}`,
    );
    return this.chainPart(head, p, "left", prefix, indent, true) + tail.join("");
  }

  /** A call, its arguments on one line or (`broken`) one per line, each fitted in turn. */
  private call(e: A.CallExpr, indent: string, broken: boolean): string {
    const args = e.args.map((a): Item => {
      const name = a.name ? `${a.name.name}: ` : "";
      const value = (i: string) =>
        broken ? this.fitted(name, a.value, i, ",") : this.expr(a.value, i);
      return { node: a, render: (i) => name + value(i) };
    });
    const callee = this.operand(e.callee, POSTFIX, "left", indent);
    return callee + this.commaList(["(", ")"], args, e, false, indent, broken);
  }

  /** A list, its items on one line or (`broken`) one per line, each fitted in turn. */
  private list(e: A.ListExpr, indent: string, broken: boolean): string {
    const items = e.items.map((x): Item => ({
      node: x,
      render: (i) => (broken ? this.fitted("", x, i, ",", "none") : this.bare(x, i)),
    }));
    return this.commaList(["[", "]"], items, e, false, indent, broken);
  }

  /** A `scan`, its carries on one line or (`broken`) one per line. */
  private scan(e: A.ScanExpr, indent: string, broken: boolean): string {
    const carries = e.carries.map((c): Item => {
      const name = `${c.name.name} = `;
      const init = (i: string) =>
        broken ? this.fitted(name, c.init, i, ",") : this.expr(c.init, i);
      return { node: c, render: (i) => name + init(i) };
    });
    const carry =
      carries.length === 0
        ? ""
        : ` carry ${this.commaList(["(", ")"], carries, e, true, indent, broken)}`;
    const header = `scan ${e.item.name} in ${this.expr(e.source, indent)} along ${this.expr(e.axis, indent)}${carry} {`;
    return this.body(header, e, this.stmtItems(e.body), indent).join("\n");
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
