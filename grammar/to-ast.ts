// CST -> AST. The only file that knows the shape of Chevrotain's CST. It
// reads every node through the types generated from the grammar
// (grammar/cst.ts, `npm run gen:cst`), so a renamed rule, label or token in
// parser.ts is a type error here rather than a child silently not found.
//
// After error recovery the CST may be partial: children missing (even those
// the generated types call required, hence `kids`), tokens inserted by
// recovery (empty image, NaN offsets). Every converter therefore returns null
// when an essential piece is missing, and callers drop what they cannot
// build, so a broken statement costs that statement and the rest of the file
// still yields a usable AST (the LSP needs one).
//
// Spans: an expression node's span is its own text (parentheses around it
// are not part of it), but a Binary/Pipe/Call/Index spans its operands'
// whole source extent, parentheses included, so `(a + b) @ w` spans from `(`.

import type { CstNode, IToken } from "chevrotain";
import type * as A from "./ast.ts";
import type * as C from "./cst.ts";
import * as T from "./tokens.ts";

/**
 * A node's children. Recovery can leave out any child, even one the grammar
 * requires, so each is read as possibly absent.
 */
function kids<Children>(n: { children: Children } | undefined): Partial<Children> {
  return n?.children ?? {};
}

/** The tokens of a child list that are really in the text. */
function real(list: IToken[] | undefined): IToken[] {
  return (list ?? []).filter(isReal);
}

function tok(list: IToken[] | undefined): IToken | undefined {
  return real(list)[0];
}

function isToken(x: CstNode | IToken): x is IToken {
  return "image" in x;
}

/** Tokens invented by recovery have no place in the text. */
function isReal(t: IToken): boolean {
  return !t.isInsertedInRecovery && Number.isFinite(t.startOffset);
}

/** What each alternative of an `OR` rule holds, by its key among the rule's children. */
type Alternatives<Children> = {
  [K in keyof Children]-?: NonNullable<Children[K]> extends (infer X)[] ? X : never;
};

/** One converter per alternative of an `OR` rule, so a new alternative is a type error until handled. */
type Converters<Children, R> = {
  [K in keyof Children]-?: (x: Alternatives<Children>[K]) => R | null;
};

/** The alternative an `OR` rule took: its key and its child (a real token or a node). */
function chosen<M extends Record<keyof M, CstNode | IToken>>(c: {
  [K in keyof M]?: M[K][];
}): { key: keyof M; item: M[keyof M] } | undefined {
  for (const key in c) {
    const item = c[key]?.find((x) => !isToken(x) || isReal(x));
    if (item) return { key, item };
  }
  return undefined;
}

/** Converts the alternative an `OR` rule took with that alternative's converter. */
function alternative<M extends Record<keyof M, CstNode | IToken>, R>(
  c: { [K in keyof M]?: M[K][] },
  convert: { [K in keyof M]: (x: M[K]) => R | null },
): R | null {
  const taken = chosen(c);
  return taken ? convert[taken.key](taken.item) : null;
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
  const decls = (isProgram(cst) ? (kids(cst).declaration ?? []) : [])
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

/** The parser's entry rule is `program`, so its CST is a program node. */
function isProgram(n: CstNode | undefined): n is C.ProgramCstNode {
  return n?.name === "program";
}

function declaration(n: C.DeclarationCstNode, docs: DocComments): A.Decl | null {
  const decls: Converters<C.DeclarationCstChildren, A.Decl> = {
    importDecl,
    dimDecl,
    constDecl,
    blockDecl: (b) => blockDecl(b, docs),
    modelDecl: (m) => modelDecl(m, docs),
    trainDecl,
  };
  return alternative(kids(n), decls);
}

function importDecl(n: C.ImportDeclCstNode): A.ImportDecl | null {
  const c = kids(n);
  const path = stringLit(tok(c.StringLiteral));
  const span = cstSpan(n);
  if (!path || !span) return null;
  return { kind: "Import", path, alias: ident(tok(c.Identifier)), span };
}

function dimDecl(n: C.DimDeclCstNode): A.DimDecl | null {
  const names = real(kids(n).Identifier).map(ident).filter(notNull);
  const span = cstSpan(n);
  if (names.length === 0 || !span) return null;
  return { kind: "Dim", names, span };
}

function constDecl(n: C.ConstDeclCstNode): A.ConstDecl | null {
  const c = kids(n);
  const name = ident(tok(c.Identifier));
  const value = expression(c.expression?.[0]);
  const span = cstSpan(n);
  if (!name || !value || !span) return null;
  return { kind: "Const", name, value, span };
}

function blockDecl(n: C.BlockDeclCstNode, docs: DocComments): A.BlockDecl | null {
  const c = kids(n);
  const name = ident(tok(c.Identifier));
  const span = cstSpan(n);
  if (!name || !span) return null;
  const params = (c.blockParam ?? []).map(blockParam).filter(notNull);
  const resultNode = c.typeExpr?.[0];
  const result = resultNode ? typeExpr(resultNode) : null;
  const body = (c.statement ?? []).map(statement).filter(notNull);
  return { kind: "Block", name, params, result, body, doc: docs.above(span.start), span };
}

function blockParam(n: C.BlockParamCstNode): A.BlockParam | null {
  const c = kids(n);
  const name = ident(tok(c.Identifier));
  const type = typeExpr(c.typeExpr?.[0]);
  const span = cstSpan(n);
  if (!name || !type || !span) return null;
  const def = c.expression?.[0];
  return { name, type, default: def ? expression(def) : null, span };
}

function modelDecl(n: C.ModelDeclCstNode, docs: DocComments): A.ModelDecl | null {
  const c = kids(n);
  const name = ident(tok(c.Identifier));
  const span = cstSpan(n);
  if (!name || !span) return null;
  const body = (c.statement ?? []).map(statement).filter(notNull);
  return { kind: "Model", name, body, doc: docs.above(span.start), span };
}

function trainDecl(n: C.TrainDeclCstNode): A.TrainDecl | null {
  const c = kids(n);
  const name = ident(tok(c.name));
  const model = ident(tok(c.model));
  const span = cstSpan(n);
  if (!name || !model || !span) return null;
  const settings = (c.trainSetting ?? []).map(trainSetting).filter(notNull);
  return { kind: "Train", name, model, settings, span };
}

function trainSetting(n: C.TrainSettingCstNode): A.TrainSetting | null {
  const c = kids(n);
  const span = cstSpan(n);
  // `keep best accuracy` is the setting `keep` whose value is the name `accuracy`.
  const keep = tok(c.Keep);
  const key = keep ? ident(keep) : ident(tok(c.key));
  const metric = tok(c.metric);
  const value = keep ? (metric ? nameExpr(metric) : null) : expression(c.expression?.[0]);
  if (!key || !value || !span) return null;
  return { key, value, span };
}

// ---------------------------------------------------------------- types

function typeExpr(n: C.TypeExprCstNode | undefined): A.TypeExpr | null {
  const types: Converters<C.TypeExprCstChildren, A.TypeExpr> = { tensorType, scalarType };
  return alternative(kids(n), types);
}

const scalarTypeNames: { [K in keyof C.ScalarTypeCstChildren]-?: A.ScalarTypeName } = {
  Int: "int",
  Float: "float",
  Bool: "bool",
  Dim: "dim",
  Fn: "fn",
};

function scalarType(n: C.ScalarTypeCstNode): A.ScalarTypeExpr | null {
  const t = chosen(kids(n));
  return t ? { kind: "ScalarType", name: scalarTypeNames[t.key], span: tokSpan(t.item) } : null;
}

const elemTypeNames: { [K in keyof C.ElemTypeCstChildren]-?: A.ElemTypeName } = {
  F32: "f32",
  I32: "i32",
  Int: "int",
  Bool: "bool",
  // `float[...]` is accepted as the spelled-out default and means f32.
  Float: "f32",
};

function tensorType(n: C.TensorTypeCstNode | undefined): A.TensorTypeExpr | null {
  const c = kids(n);
  const span = cstSpan(n);
  if (!n || !span || !tok(c.LBracket)) return null;
  const elem = chosen(kids(c.elemType?.[0]));
  const dtype = elem ? elemTypeNames[elem.key] : null;
  const dims = (c.dimItem ?? []).map(dimItem).filter(notNull);
  return { kind: "TensorType", dtype, dims, span };
}

function dimItem(n: C.DimItemCstNode): A.Expr | A.EllipsisExpr | null {
  const items: Converters<C.DimItemCstChildren, A.Expr | A.EllipsisExpr> = {
    Ellipsis: (dots) => ({ kind: "Ellipsis", span: tokSpan(dots) }),
    expression,
  };
  return alternative(kids(n), items);
}

// ---------------------------------------------------------------- statements

function statement(n: C.StatementCstNode): A.Stmt | null {
  return alternative(kids(n), statements);
}

/** `output NAME = value` and `metric NAME = value`, alike but for their kind. */
function namedValueStmt(
  kind: "Output" | "Metric",
  n: C.OutputStmtCstNode | C.MetricStmtCstNode,
): A.Stmt | null {
  const c = kids<C.OutputStmtCstChildren | C.MetricStmtCstChildren>(n);
  const name = ident(tok(c.Identifier));
  const value = expression(c.expression?.[0]);
  const span = cstSpan(n);
  return name && value && span ? { kind, name, value, span } : null;
}

/** `loss value`, `return value` and `yield value`, alike but for their kind. */
function valueStmt(
  kind: "Loss" | "Return" | "Yield",
  n: C.LossStmtCstNode | C.ReturnStmtCstNode | C.YieldStmtCstNode,
): A.Stmt | null {
  const c = kids<C.LossStmtCstChildren | C.ReturnStmtCstChildren | C.YieldStmtCstChildren>(n);
  const value = expression(c.expression?.[0]);
  const span = cstSpan(n);
  return value && span ? { kind, value, span } : null;
}

/** `param NAME: [..] init value` and `state NAME: [..] init value`, alike but for their kind. */
function tensorDeclStmt(
  kind: "Param" | "State",
  n: C.ParamStmtCstNode | C.StateStmtCstNode,
): A.Stmt | null {
  const c = kids<C.ParamStmtCstChildren | C.StateStmtCstChildren>(n);
  const name = ident(tok(c.Identifier));
  const type = tensorType(c.tensorType?.[0]);
  const init = expression(c.expression?.[0]);
  const span = cstSpan(n);
  return name && type && span ? { kind, name, type, init, span } : null;
}

const statements: Converters<C.StatementCstChildren, A.Stmt> = {
  paramStmt: (n) => tensorDeclStmt("Param", n),
  stateStmt: (n) => tensorDeclStmt("State", n),
  updateStmt(n) {
    const c = kids(n);
    const name = ident(tok(c.Identifier));
    const value = expression(c.expression?.[0]);
    const span = cstSpan(n);
    return name && value && span ? { kind: "Update", name, value, span } : null;
  },
  inputStmt(n) {
    const c = kids(n);
    const name = ident(tok(c.Identifier));
    const type = tensorType(c.tensorType?.[0]);
    const span = cstSpan(n);
    return name && type && span ? { kind: "Input", name, type, span } : null;
  },
  outputStmt: (n) => namedValueStmt("Output", n),
  metricStmt: (n) => namedValueStmt("Metric", n),
  lossStmt: (n) => valueStmt("Loss", n),
  returnStmt: (n) => valueStmt("Return", n),
  yieldStmt: (n) => valueStmt("Yield", n),
  assignStmt(n) {
    const c = kids(n);
    const targets = real(c.Identifier).map(ident).filter(notNull);
    const value = expression(c.expression?.[0]);
    const span = cstSpan(n);
    return targets.length > 0 && value && span ? { kind: "Assign", targets, value, span } : null;
  },
};

// ---------------------------------------------------------------- expressions

/** An operator token and the operator it spells. */
interface Operator {
  token: IToken;
  op: A.BinaryOp;
}

/** The binary operator each operator token of a rule spells. */
type OperatorTable<Children> = {
  [K in keyof Children as NonNullable<Children[K]> extends IToken[] ? K : never]-?: A.BinaryOp;
};

const compareOps: OperatorTable<C.CompareExprCstChildren> = {
  EqEq: "==",
  NotEq: "!=",
  LessEq: "<=",
  GreaterEq: ">=",
  Less: "<",
  Greater: ">",
};
const additiveOps: OperatorTable<C.AdditiveExprCstChildren> = { Plus: "+", Minus: "-" };
const multiplicativeOps: OperatorTable<C.MultiplicativeExprCstChildren> = {
  Star: "*",
  Slash: "/",
  At: "@",
  Div: "div",
  Mod: "mod",
};

/** The operator tokens that are direct children of a node, in source order. */
function operators<K extends string>(
  c: { [_ in NoInfer<K>]?: IToken[] },
  table: { [_ in K]: A.BinaryOp },
): Operator[] {
  const ops: Operator[] = [];
  for (const key in table) for (const token of real(c[key])) ops.push({ token, op: table[key] });
  return ops.sort((a, b) => a.token.startOffset - b.token.startOffset);
}

/**
 * Folds `operand (op operand)*` left-associatively. Each operator is paired
 * with the first operand that starts after it, so a missing operand (after
 * recovery) ends the chain instead of misaligning it.
 */
function foldLeft<N extends CstNode, O extends { token: IToken }>(
  operands: N[] | undefined,
  ops: O[],
  convert: (n: N) => A.Expr | null,
  make: (op: O, left: A.Expr, right: A.Expr, span: A.Span) => A.Expr,
): A.Expr | null {
  const first = operands?.[0];
  if (!operands || !first) return null;
  let acc = convert(first);
  const accStart = cstSpan(first);
  for (const op of ops) {
    const rightNode = operands.find((o) => (cstSpan(o)?.start ?? -1) > op.token.startOffset);
    const right = rightNode ? convert(rightNode) : null;
    if (!acc || !right || !rightNode) break;
    const span = cover(accStart, rightNode);
    if (!span) break;
    acc = make(op, acc, right, span);
  }
  return acc;
}

function binary({ token, op }: Operator, left: A.Expr, right: A.Expr, span: A.Span): A.BinaryExpr {
  return { kind: "Binary", op, left, right, opSpan: tokSpan(token), span };
}

function expression(n: C.ExpressionCstNode | undefined): A.Expr | null {
  const c = kids(n);
  return foldLeft(
    c.compareExpr,
    real(c.Pipe).map((token) => ({ token })),
    compareExpr,
    (_op, left, right, span) => ({ kind: "Pipe", left, right, span }),
  );
}

function compareExpr(n: C.CompareExprCstNode): A.Expr | null {
  const c = kids(n);
  return foldLeft(c.additiveExpr, operators(c, compareOps), additiveExpr, binary);
}

function additiveExpr(n: C.AdditiveExprCstNode): A.Expr | null {
  const c = kids(n);
  return foldLeft(c.multiplicativeExpr, operators(c, additiveOps), multiplicativeExpr, binary);
}

function multiplicativeExpr(n: C.MultiplicativeExprCstNode): A.Expr | null {
  const c = kids(n);
  return foldLeft(c.unaryExpr, operators(c, multiplicativeOps), unaryExpr, binary);
}

function unaryExpr(n: C.UnaryExprCstNode): A.Expr | null {
  const c = kids(n);
  const powerNode = c.powerExpr?.[0];
  let acc = powerExpr(powerNode);
  if (!acc) return null;
  const minuses = real(c.Minus);
  for (let i = minuses.length - 1; i >= 0; i--) {
    const span = cover(minuses[i], powerNode);
    if (!span) break;
    acc = { kind: "Unary", op: "-", operand: acc, span };
  }
  return acc;
}

function powerExpr(n: C.PowerExprCstNode | undefined): A.Expr | null {
  const c = kids(n);
  const baseNode = c.postfixExpr?.[0];
  const base = postfixExpr(baseNode);
  const caret = tok(c.Caret);
  const expNode = c.unaryExpr?.[0];
  if (!base || !caret || !expNode) return base;
  const exponent = unaryExpr(expNode);
  const span = cover(baseNode, expNode);
  if (!exponent || !span) return base;
  return binary({ token: caret, op: "^" }, base, exponent, span);
}

function postfixExpr(n: C.PostfixExprCstNode | undefined): A.Expr | null {
  const c = kids(n);
  const atomNode = c.atom?.[0];
  let acc = atom(atomNode);
  if (!acc) return null;
  const suffixes = [...(c.callSuffix ?? []), ...(c.indexSuffix ?? [])].sort(
    (a, b) => (cstSpan(a)?.start ?? 0) - (cstSpan(b)?.start ?? 0),
  );
  for (const s of suffixes) {
    const span = cover(atomNode, s);
    if (!span) break;
    if (s.name === "callSuffix") {
      const args = (kids(s).argument ?? []).map(argument).filter(notNull);
      acc = { kind: "Call", callee: acc, args, span };
    } else {
      const indices = (kids(s).indexItem ?? []).map(indexItem).filter(notNull);
      acc = { kind: "Index", target: acc, indices, span };
    }
  }
  return acc;
}

function argument(n: C.ArgumentCstNode): A.Arg | null {
  const c = kids(n);
  const name = ident(tok(c.Identifier));
  const value = expression(c.expression?.[0]);
  const span = cstSpan(n);
  if (!value || !span) return null;
  return { name, value, span };
}

function indexItem(n: C.IndexItemCstNode): A.Expr | A.SliceExpr | null {
  const c = kids(n);
  const startNode = c.start?.[0];
  const rest = c.sliceRest?.[0];
  if (!rest && real(c.Colon).length === 0) return expression(startNode);
  const span = cstSpan(n);
  if (!span) return null;
  const endNode = kids(rest).end?.[0];
  const stepNode = kids(rest).step?.[0];
  return {
    kind: "Slice",
    start: startNode ? expression(startNode) : null,
    end: endNode ? expression(endNode) : null,
    step: stepNode ? expression(stepNode) : null,
    span,
  };
}

function atom(n: C.AtomCstNode | undefined): A.Expr | null {
  return alternative(kids(n), atoms);
}

const atoms: Converters<C.AtomCstChildren, A.Expr> = {
  NumberLiteral: (t) => ({
    kind: "Number",
    value: Number(t.image),
    raw: t.image,
    isInt: /^\d+$/.test(t.image),
    span: tokSpan(t),
  }),
  StringLiteral: stringLit,
  True: (t) => ({ kind: "Bool", value: true, span: tokSpan(t) }),
  False: (t) => ({ kind: "Bool", value: false, span: tokSpan(t) }),
  Identifier: nameExpr,
  QualifiedName: (t) => {
    const dot = t.image.indexOf(".");
    const qualifier: A.Ident = {
      kind: "Ident",
      name: t.image.slice(0, dot),
      span: { start: t.startOffset, end: t.startOffset + dot },
    };
    return { kind: "Name", name: t.image, qualifier, span: tokSpan(t) };
  },
  parenExpr: (p) => expression(kids(p).expression?.[0]),
  listExpr,
  ifExpr,
  scanExpr,
};

function nameExpr(t: IToken): A.NameExpr {
  return { kind: "Name", name: t.image, span: tokSpan(t) };
}

/** `"a\"b"` -> `a"b`. An unterminated string keeps what was written. */
function stringLit(t: IToken | undefined): A.StringLit | null {
  if (!t) return null;
  const closed = t.tokenType !== T.UnterminatedString;
  const body = t.image.slice(1, closed ? -1 : undefined);
  return { kind: "String", value: body.replace(/\\(.)/g, "$1"), span: tokSpan(t) };
}

function listExpr(n: C.ListExprCstNode): A.ListExpr | null {
  const span = cstSpan(n);
  if (!span) return null;
  const items = (kids(n).expression ?? []).map(expression).filter(notNull);
  return { kind: "List", items, span };
}

function ifExpr(n: C.IfExprCstNode): A.IfExpr | null {
  const c = kids(n);
  const cond = expression(c.cond?.[0]);
  const then = expression(c.then?.[0]);
  const otherwise = expression(c.else?.[0]);
  const span = cstSpan(n);
  if (!cond || !then || !otherwise || !span) return null;
  return { kind: "If", cond, then, else: otherwise, span };
}

function scanExpr(n: C.ScanExprCstNode): A.ScanExpr | null {
  const c = kids(n);
  const item = ident(tok(c.Identifier));
  const source = expression(c.source?.[0]);
  const axis = expression(c.axis?.[0]);
  const span = cstSpan(n);
  if (!item || !source || !axis || !span) return null;
  const carries = (c.carryItem ?? []).map(carryItem).filter(notNull);
  const body = (c.statement ?? []).map(statement).filter(notNull);
  return { kind: "Scan", item, source, axis, carries, body, span };
}

function carryItem(n: C.CarryItemCstNode): A.ScanCarry | null {
  const c = kids(n);
  const name = ident(tok(c.Identifier));
  const value = expression(c.expression?.[0]);
  const span = cstSpan(n);
  if (!name || !value || !span) return null;
  return { name, init: value, span };
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
