// CST -> AST. The only file that knows the shape of Chevrotain's CST (the rule
// and label names in parser.ts).
//
// After error recovery the CST may be partial: children missing, tokens
// inserted by recovery (empty image, NaN offsets). Every converter therefore
// returns null when an essential piece is missing, and callers drop what they
// cannot build, so a broken statement costs that statement and the rest of
// the file still yields a usable AST (the LSP needs one).
//
// Spans: an expression node's span is its own text (parentheses around it
// are not part of it), but a Binary/Pipe/Call/Index spans its operands'
// whole source extent, parentheses included, so `(a + b) @ w` spans from `(`.

import type { CstNode, IToken } from "chevrotain";
import type * as A from "./ast.ts";
import * as T from "./tokens.ts";

type Children = Record<string, (CstNode | IToken)[] | undefined>;

function kids(n: CstNode | undefined): Children {
  return (n?.children ?? {}) as Children;
}

function nodes(n: CstNode | undefined, key: string): CstNode[] {
  return (kids(n)[key] ?? []) as CstNode[];
}

function node(n: CstNode | undefined, key: string, i = 0): CstNode | undefined {
  return nodes(n, key)[i];
}

function toks(n: CstNode | undefined, key: string): IToken[] {
  return ((kids(n)[key] ?? []) as IToken[]).filter(isReal);
}

function tok(n: CstNode | undefined, key: string, i = 0): IToken | undefined {
  return toks(n, key)[i];
}

function isToken(x: CstNode | IToken): x is IToken {
  return "image" in x;
}

/** Tokens invented by recovery have no place in the text. */
function isReal(t: IToken): boolean {
  return !t.isInsertedInRecovery && Number.isFinite(t.startOffset);
}

function tokSpan(t: IToken): A.Span {
  return { start: t.startOffset, end: t.startOffset + t.image.length };
}

/** Source extent of a CST node (parentheses included), or null if it has no real tokens. */
function cstSpan(n: CstNode | undefined): A.Span | null {
  if (!n) return null;
  const loc = n.location;
  if (loc && Number.isFinite(loc.startOffset) && Number.isFinite(loc.endOffset)) {
    return { start: loc.startOffset, end: (loc.endOffset as number) + 1 };
  }
  // Recovery can leave NaN locations; fall back to the real tokens inside.
  let start = Infinity;
  let end = -Infinity;
  const walk = (c: CstNode) => {
    for (const list of Object.values(c.children)) {
      for (const x of list) {
        if (isToken(x)) {
          if (!isReal(x)) continue;
          start = Math.min(start, x.startOffset);
          end = Math.max(end, x.startOffset + x.image.length);
        } else walk(x);
      }
    }
  };
  walk(n);
  return Number.isFinite(start) ? { start, end } : null;
}

/** Smallest span covering all given parts; missing parts are skipped. */
function cover(...parts: (A.Span | IToken | CstNode | null | undefined)[]): A.Span | null {
  let start = Infinity;
  let end = -Infinity;
  for (const p of parts) {
    if (!p) continue;
    const s = "start" in p ? p : "image" in p ? (isReal(p) ? tokSpan(p) : null) : cstSpan(p);
    if (!s) continue;
    start = Math.min(start, s.start);
    end = Math.max(end, s.end);
  }
  return Number.isFinite(start) ? { start, end } : null;
}

function ident(t: IToken | undefined): A.Ident | null {
  if (!t || !isReal(t)) return null;
  return { kind: "Ident", name: t.image, span: tokSpan(t) };
}

function notNull<X>(x: X | null | undefined): x is X {
  return x !== null && x !== undefined;
}

// ---------------------------------------------------------------- entry point

/**
 * Builds the AST of a whole file. `comments` are the lexer's "comments"
 * group, used to attach doc comments to blocks and models.
 */
export function toProgram(cst: CstNode | undefined, text: string, comments: IToken[]): A.Program {
  const docs = new DocComments(text, comments);
  const decls = nodes(cst, "declaration")
    .map((d) => declaration(d, docs))
    .filter(notNull);
  const kept = docs.sorted
    .filter((c) => !docs.attached.has(c))
    .map((c): A.SourceComment => {
      const lineStart = text.lastIndexOf("\n", c.startOffset - 1) + 1;
      const ownLine = text.slice(lineStart, c.startOffset).trim() === "";
      return { text: c.image.trimEnd(), span: tokSpan(c), ownLine };
    });
  return { kind: "Program", decls, comments: kept, span: { start: 0, end: text.length } };
}

function declaration(n: CstNode, docs: DocComments): A.Decl | null {
  const c = kids(n);
  if (c.importDecl) return importDecl(node(n, "importDecl"));
  if (c.dimDecl) return dimDecl(node(n, "dimDecl"));
  if (c.constDecl) return constDecl(node(n, "constDecl"));
  if (c.blockDecl) return blockDecl(node(n, "blockDecl"), docs);
  if (c.modelDecl) return modelDecl(node(n, "modelDecl"), docs);
  if (c.trainDecl) return trainDecl(node(n, "trainDecl"));
  return null;
}

function importDecl(n: CstNode | undefined): A.ImportDecl | null {
  const path = stringLit(tok(n, "StringLiteral"));
  const span = cstSpan(n);
  if (!path || !span) return null;
  return { kind: "Import", path, span };
}

function dimDecl(n: CstNode | undefined): A.DimDecl | null {
  const names = toks(n, "Identifier").map(ident).filter(notNull);
  const span = cstSpan(n);
  if (names.length === 0 || !span) return null;
  return { kind: "Dim", names, span };
}

function constDecl(n: CstNode | undefined): A.ConstDecl | null {
  const name = ident(tok(n, "Identifier"));
  const value = expression(node(n, "expression"));
  const span = cstSpan(n);
  if (!name || !value || !span) return null;
  return { kind: "Const", name, value, span };
}

function blockDecl(n: CstNode | undefined, docs: DocComments): A.BlockDecl | null {
  const name = ident(tok(n, "Identifier"));
  const span = cstSpan(n);
  if (!name || !span) return null;
  const params = nodes(n, "blockParam").map(blockParam).filter(notNull);
  const resultNode = node(n, "typeExpr");
  const result = resultNode ? typeExpr(resultNode) : null;
  const body = nodes(n, "statement").map(statement).filter(notNull);
  return { kind: "Block", name, params, result, body, doc: docs.above(span.start), span };
}

function blockParam(n: CstNode): A.BlockParam | null {
  const name = ident(tok(n, "Identifier"));
  const type = typeExpr(node(n, "typeExpr"));
  const span = cstSpan(n);
  if (!name || !type || !span) return null;
  const def = node(n, "expression");
  return { name, type, default: def ? expression(def) : null, span };
}

function modelDecl(n: CstNode | undefined, docs: DocComments): A.ModelDecl | null {
  const name = ident(tok(n, "Identifier"));
  const span = cstSpan(n);
  if (!name || !span) return null;
  const body = nodes(n, "statement").map(statement).filter(notNull);
  return { kind: "Model", name, body, doc: docs.above(span.start), span };
}

function trainDecl(n: CstNode | undefined): A.TrainDecl | null {
  const name = ident(tok(n, "name"));
  const model = ident(tok(n, "model"));
  const span = cstSpan(n);
  if (!name || !model || !span) return null;
  const settings = nodes(n, "trainSetting").map(trainSetting).filter(notNull);
  return { kind: "Train", name, model, settings, span };
}

function trainSetting(n: CstNode): A.TrainSetting | null {
  const key = ident(tok(n, "Identifier"));
  const value = expression(node(n, "expression"));
  const span = cstSpan(n);
  if (!key || !value || !span) return null;
  return { key, value, span };
}

// ---------------------------------------------------------------- types

function typeExpr(n: CstNode | undefined): A.TypeExpr | null {
  const tensor = node(n, "tensorType");
  if (tensor) return tensorType(tensor);
  const scalar = node(n, "scalarType");
  const t = scalar ? Object.values(kids(scalar)).flat()[0] : undefined;
  if (!t || !isToken(t) || !isReal(t)) return null;
  return { kind: "ScalarType", name: t.image as A.ScalarTypeName, span: tokSpan(t) };
}

function tensorType(n: CstNode | undefined): A.TensorTypeExpr | null {
  const span = cstSpan(n);
  if (!n || !span || !tok(n, "LBracket")) return null;
  const elem = node(n, "elemType");
  const elemTok = elem ? (Object.values(kids(elem)).flat()[0] as IToken | undefined) : undefined;
  // `float[...]` is accepted as the spelled-out default and means f32.
  const dtype = elemTok
    ? elemTok.image === "float"
      ? "f32"
      : (elemTok.image as A.ElemTypeName)
    : null;
  const dims = nodes(n, "dimItem").map(dimItem).filter(notNull);
  return { kind: "TensorType", dtype, dims, span };
}

function dimItem(n: CstNode): A.Expr | A.EllipsisExpr | null {
  const dots = tok(n, "Ellipsis");
  if (dots) return { kind: "Ellipsis", span: tokSpan(dots) };
  return expression(node(n, "expression"));
}

// ---------------------------------------------------------------- statements

function statement(n: CstNode): A.Stmt | null {
  const inner = Object.values(kids(n)).flat()[0];
  if (!inner || isToken(inner)) return null;
  const span = cstSpan(inner);
  if (!span) return null;
  const name = ident(tok(inner, "Identifier"));
  const value = expression(node(inner, "expression"));
  switch (inner.name) {
    case "paramStmt": {
      const type = tensorType(node(inner, "tensorType"));
      if (!name || !type) return null;
      return { kind: "Param", name, type, init: value, span };
    }
    case "inputStmt": {
      const type = tensorType(node(inner, "tensorType"));
      if (!name || !type) return null;
      return { kind: "Input", name, type, span };
    }
    case "outputStmt":
      return name && value ? { kind: "Output", name, value, span } : null;
    case "metricStmt":
      return name && value ? { kind: "Metric", name, value, span } : null;
    case "lossStmt":
      return value ? { kind: "Loss", value, span } : null;
    case "returnStmt":
      return value ? { kind: "Return", value, span } : null;
    case "yieldStmt":
      return value ? { kind: "Yield", value, span } : null;
    case "assignStmt": {
      const targets = toks(inner, "Identifier").map(ident).filter(notNull);
      return targets.length > 0 && value ? { kind: "Assign", targets, value, span } : null;
    }
  }
  return null;
}

// ---------------------------------------------------------------- expressions

/** Operator tokens that are direct children of `n`, in source order. */
function operatorTokens(n: CstNode, keys: string[]): IToken[] {
  return keys.flatMap((k) => toks(n, k)).sort((a, b) => a.startOffset - b.startOffset);
}

/**
 * Folds `operand (op operand)*` left-associatively. Each operator is paired
 * with the first operand that starts after it, so a missing operand (after
 * recovery) ends the chain instead of misaligning it.
 */
function foldLeft(
  operands: CstNode[],
  ops: IToken[],
  convert: (n: CstNode) => A.Expr | null,
  make: (op: IToken, left: A.Expr, right: A.Expr, span: A.Span) => A.Expr,
): A.Expr | null {
  const first = operands[0];
  if (!first) return null;
  let acc = convert(first);
  const accStart = cstSpan(first);
  for (const op of ops) {
    const rightNode = operands.find((o) => (cstSpan(o)?.start ?? -1) > op.startOffset);
    const right = rightNode ? convert(rightNode) : null;
    if (!acc || !right || !rightNode) break;
    const span = cover(accStart, rightNode);
    if (!span) break;
    acc = make(op, acc, right, span);
  }
  return acc;
}

function binary(op: IToken, left: A.Expr, right: A.Expr, span: A.Span): A.BinaryExpr {
  return { kind: "Binary", op: op.image as A.BinaryOp, left, right, opSpan: tokSpan(op), span };
}

function expression(n: CstNode | undefined): A.Expr | null {
  if (!n) return null;
  return foldLeft(
    nodes(n, "compareExpr"),
    toks(n, "Pipe"),
    compareExpr,
    (_op, left, right, span) => ({
      kind: "Pipe",
      left,
      right,
      span,
    }),
  );
}

const compareOps = ["EqEq", "NotEq", "LessEq", "GreaterEq", "Less", "Greater"];
function compareExpr(n: CstNode): A.Expr | null {
  return foldLeft(nodes(n, "additiveExpr"), operatorTokens(n, compareOps), additiveExpr, binary);
}

function additiveExpr(n: CstNode): A.Expr | null {
  return foldLeft(
    nodes(n, "multiplicativeExpr"),
    operatorTokens(n, ["Plus", "Minus"]),
    multiplicativeExpr,
    binary,
  );
}

function multiplicativeExpr(n: CstNode): A.Expr | null {
  const ops = operatorTokens(n, ["Star", "Slash", "At", "Div", "Mod"]);
  return foldLeft(nodes(n, "unaryExpr"), ops, unaryExpr, binary);
}

function unaryExpr(n: CstNode): A.Expr | null {
  const powerNode = node(n, "powerExpr");
  let acc = powerExpr(powerNode);
  if (!acc) return null;
  const minuses = toks(n, "Minus");
  for (let i = minuses.length - 1; i >= 0; i--) {
    const span = cover(minuses[i], powerNode);
    if (!span) break;
    acc = { kind: "Unary", op: "-", operand: acc, span };
  }
  return acc;
}

function powerExpr(n: CstNode | undefined): A.Expr | null {
  const baseNode = node(n, "postfixExpr");
  const base = postfixExpr(baseNode);
  const caret = tok(n, "Caret");
  const expNode = node(n, "unaryExpr");
  if (!base || !caret || !expNode) return base;
  const exponent = unaryExpr(expNode);
  const span = cover(baseNode, expNode);
  if (!exponent || !span) return base;
  return binary(caret, base, exponent, span);
}

function postfixExpr(n: CstNode | undefined): A.Expr | null {
  const atomNode = node(n, "atom");
  let acc = atom(atomNode);
  if (!acc) return null;
  const suffixes = [...nodes(n, "callSuffix"), ...nodes(n, "indexSuffix")].sort(
    (a, b) => (cstSpan(a)?.start ?? 0) - (cstSpan(b)?.start ?? 0),
  );
  for (const s of suffixes) {
    const span = cover(atomNode, s);
    if (!span) break;
    if (s.name === "callSuffix") {
      const args = nodes(s, "argument").map(argument).filter(notNull);
      acc = { kind: "Call", callee: acc, args, span };
    } else {
      const indices = nodes(s, "indexItem").map(indexItem).filter(notNull);
      acc = { kind: "Index", target: acc, indices, span };
    }
  }
  return acc;
}

function argument(n: CstNode): A.Arg | null {
  const value = expression(node(n, "expression"));
  const span = cstSpan(n);
  if (!value || !span) return null;
  return { name: ident(tok(n, "Identifier")), value, span };
}

function indexItem(n: CstNode): A.Expr | A.SliceExpr | null {
  const startNode = node(n, "start");
  const rest = node(n, "sliceRest");
  if (!rest && toks(n, "Colon").length === 0) return expression(startNode);
  const span = cstSpan(n);
  if (!span) return null;
  const endNode = node(rest, "end");
  const stepNode = node(rest, "step");
  return {
    kind: "Slice",
    start: startNode ? expression(startNode) : null,
    end: endNode ? expression(endNode) : null,
    step: stepNode ? expression(stepNode) : null,
    span,
  };
}

function atom(n: CstNode | undefined): A.Expr | null {
  const c = kids(n);
  const number = tok(n, "NumberLiteral");
  if (number) {
    return {
      kind: "Number",
      value: Number(number.image),
      raw: number.image,
      isInt: /^\d+$/.test(number.image),
      span: tokSpan(number),
    };
  }
  const str = stringLit(tok(n, "StringLiteral"));
  if (str) return str;
  const t = tok(n, "True") ?? tok(n, "False");
  if (t) return { kind: "Bool", value: t.tokenType === T.True, span: tokSpan(t) };
  const name = tok(n, "Identifier");
  if (name) return { kind: "Name", name: name.image, span: tokSpan(name) };
  if (c.parenExpr) return expression(node(node(n, "parenExpr"), "expression"));
  if (c.listExpr) return listExpr(node(n, "listExpr"));
  if (c.ifExpr) return ifExpr(node(n, "ifExpr"));
  if (c.scanExpr) return scanExpr(node(n, "scanExpr"));
  return null;
}

/** `"a\"b"` -> `a"b`. An unterminated string keeps what was written. */
function stringLit(t: IToken | undefined): A.StringLit | null {
  if (!t) return null;
  const closed = t.tokenType !== T.UnterminatedString;
  const body = t.image.slice(1, closed ? -1 : undefined);
  return { kind: "String", value: body.replace(/\\(.)/g, "$1"), span: tokSpan(t) };
}

function listExpr(n: CstNode | undefined): A.ListExpr | null {
  const span = cstSpan(n);
  if (!span) return null;
  const items = nodes(n, "expression").map(expression).filter(notNull);
  return { kind: "List", items, span };
}

function ifExpr(n: CstNode | undefined): A.IfExpr | null {
  const cond = expression(node(n, "cond"));
  const then = expression(node(n, "then"));
  const otherwise = expression(node(n, "else"));
  const span = cstSpan(n);
  if (!cond || !then || !otherwise || !span) return null;
  return { kind: "If", cond, then, else: otherwise, span };
}

function scanExpr(n: CstNode | undefined): A.ScanExpr | null {
  const item = ident(tok(n, "Identifier"));
  const source = expression(node(n, "source"));
  const axis = expression(node(n, "axis"));
  const span = cstSpan(n);
  if (!item || !source || !axis || !span) return null;
  const carries = nodes(n, "carryItem").map(carryItem).filter(notNull);
  const body = nodes(n, "statement").map(statement).filter(notNull);
  return { kind: "Scan", item, source, axis, carries, body, span };
}

function carryItem(n: CstNode): A.ScanCarry | null {
  const name = ident(tok(n, "Identifier"));
  const init = expression(node(n, "expression"));
  const span = cstSpan(n);
  if (!name || !init || !span) return null;
  return { name, init, span };
}

// ---------------------------------------------------------------- doc comments

/**
 * Finds the doc comment directly above a declaration: a `/** *\/` block, or
 * a run of `///` lines, with no blank line and no other comment between it
 * and the declaration.
 */
class DocComments {
  /** All comments, in source order. */
  readonly sorted: IToken[];
  /** Comments consumed as some declaration's `doc`. */
  readonly attached = new Set<IToken>();

  constructor(
    private readonly text: string,
    comments: IToken[],
  ) {
    this.sorted = [...comments].sort((a, b) => a.startOffset - b.startOffset);
  }

  above(offset: number): string | null {
    let i = this.lastBefore(offset);
    const last = this.sorted[i];
    if (!last || !this.adjacent(last, offset)) return null;
    if (last.tokenType === T.DocBlockComment) {
      this.attached.add(last);
      return stripBlockDoc(last.image);
    }
    if (last.tokenType !== T.DocLineComment) return null;
    const lines: string[] = [];
    let next = offset;
    for (; i >= 0; i--) {
      const c = this.sorted[i]!;
      if (c.tokenType !== T.DocLineComment || !this.adjacent(c, next)) break;
      lines.unshift(c.image.slice(3).replace(/^ /, "").trimEnd());
      this.attached.add(c);
      next = c.startOffset;
    }
    return lines.join("\n");
  }

  private lastBefore(offset: number): number {
    let i = -1;
    for (let j = 0; j < this.sorted.length && this.sorted[j]!.startOffset < offset; j++) i = j;
    return i;
  }

  /** Only whitespace with at most one line break between `c` and `offset`. */
  private adjacent(c: IToken, offset: number): boolean {
    const gap = this.text.slice(c.startOffset + c.image.length, offset);
    return /^\s*$/.test(gap) && (gap.match(/\n/g)?.length ?? 0) <= 1;
  }
}

function stripBlockDoc(image: string): string {
  const lines = image
    .slice(3, -2)
    .split(/\r?\n/)
    .map((l) => l.replace(/^\s*\* ?/, "").trimEnd());
  while (lines.length > 0 && lines[0]!.trim() === "") lines.shift();
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === "") lines.pop();
  return lines.map((l, i) => (i === 0 ? l.trim() : l)).join("\n");
}
