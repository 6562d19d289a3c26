// Helpers of the grammar tests (test/grammar.test.ts, test/grammar-v2.test.ts):
// parsing that must succeed, ASTs without their spans, compact s-expressions.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { parse } from "../grammar/index.ts";
import type { Expr, Program, Span, Stmt } from "../grammar/index.ts";

export function dlgFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".dlg"))
    .sort()
    .map((f) => join(dir, f));
}

/** The AST without spans and attached comments (Program.comments reduced to their text), for structural equality. */
export function strip(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(strip);
  if (x && typeof x === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) {
      if (
        k === "span" ||
        k === "opSpan" ||
        k === "ownLine" ||
        k === "blankBefore" ||
        k === "trivia"
      )
        continue;
      out[k] = strip(v);
    }
    return out;
  }
  return x;
}

export function parseOk(text: string): Program {
  const r = parse(text);
  expect(r.errors).toEqual([]);
  return r.program;
}

/** The first statement of a model whose body is `body`. */
export function stmt(body: string): Stmt {
  const d = parseOk(`model m {\n${body}\n}`).decls[0];
  if (d?.kind !== "Model" || !d.body[0]) throw new Error(`no statement parsed from ${body}`);
  return d.body[0];
}

/** The value of `_ = <src>`. */
export function ex(src: string): Expr {
  const s = stmt(`_ = ${src}`);
  if (s.kind !== "Assign") throw new Error("not an assignment");
  return s.value;
}

/** A compact s-expression of an expression tree, to state precedence tersely. */
export function sx(
  e: Expr | { kind: "Slice"; start: Expr | null; end: Expr | null; step: Expr | null },
): string {
  switch (e.kind) {
    case "Number":
      return e.raw;
    case "Name":
      return e.name;
    case "Bool":
      return String(e.value);
    case "String":
      return JSON.stringify(e.value);
    case "Binary":
      return `(${e.op} ${sx(e.left)} ${sx(e.right)})`;
    case "Unary":
      return `(neg ${sx(e.operand)})`;
    case "Pipe":
      return `(|> ${sx(e.left)} ${sx(e.right)})`;
    case "Call":
      return `(call ${sx(e.callee)}${e.args.map((a) => " " + (a.name ? `${a.name.name}=` : "") + sx(a.value)).join("")})`;
    case "Index":
      return `(index ${sx(e.target)}${e.indices.map((i) => " " + sx(i)).join("")})`;
    case "Slice":
      return `${e.start ? sx(e.start) : "_"}:${e.end ? sx(e.end) : "_"}:${e.step ? sx(e.step) : "_"}`;
    case "List":
      return `[${e.items.map(sx).join(" ")}]`;
    case "If":
      return `(if ${sx(e.cond)} ${sx(e.then)} ${sx(e.else)})`;
    case "Scan":
      return `(scan ${e.item.name} ${sx(e.source)} ${sx(e.axis)})`;
  }
}

/** Every object with a `kind` in the tree, parents before children. */
export function nodesOf(
  x: unknown,
  out: Record<string, unknown>[] = [],
): Record<string, unknown>[] {
  if (Array.isArray(x)) x.forEach((v) => nodesOf(v, out));
  else if (x && typeof x === "object") {
    const o = x as Record<string, unknown>;
    if (typeof o.kind === "string") out.push(o);
    Object.values(o).forEach((v) => nodesOf(v, out));
  }
  return out;
}

/** Every Span object anywhere in the tree. */
export function spansOf(x: unknown, out: Span[] = []): Span[] {
  if (Array.isArray(x)) x.forEach((v) => spansOf(v, out));
  else if (x && typeof x === "object") {
    const o = x as Record<string, unknown>;
    if (typeof o.start === "number" && typeof o.end === "number" && Object.keys(o).length === 2) {
      out.push(o as unknown as Span);
    }
    Object.values(o).forEach((v) => spansOf(v, out));
  }
  return out;
}

export function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split("\n").length;
}

export const exprKinds = new Set([
  "Number",
  "String",
  "Bool",
  "Name",
  "Binary",
  "Unary",
  "Call",
  "Pipe",
  "Index",
  "List",
  "If",
  "Scan",
]);

/**
 * Every expression of `file` spans text that parses back to the same
 * expression, and every binary operator's span is its operator.
 */
export function expectSpansParseBack(file: string): void {
  const text = readFileSync(file, "utf8");
  for (const n of nodesOf(parseOk(text))) {
    if (!exprKinds.has(n.kind as string)) continue;
    const span = n.span as Span;
    const src = text.slice(span.start, span.end);
    expect(strip(ex(src)), src).toEqual(strip(n));
    if (n.kind === "Binary")
      expect(text.slice((n.opSpan as Span).start, (n.opSpan as Span).end)).toBe(n.op);
  }
}
