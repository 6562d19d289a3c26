// Nesting limits. Every phase after the lexer walks the program recursively
// (the parser, the AST builder, the printer, the elaborator), so a file that
// nests too deeply would overflow the JavaScript stack. Two guards keep the
// depth bounded, both reported as E1006 at the place where the limit is
// passed: one inside the parser (brackets, `if`, `^`: the grammar recurses
// there), one on the finished AST (chains the parser reads in a loop, such
// as `- - - x` or `x |> f |> g`, still build one AST level per operator).

import type {
  Arg,
  BlockParam,
  Decl,
  EllipsisExpr,
  Expr,
  Program,
  ScanCarry,
  SliceExpr,
  Span,
  Stmt,
  TrainSetting,
  TypeExpr,
} from "./ast.ts";

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

function levels(node: Child): number {
  return "kind" in node && Object.hasOwn(counted, node.kind) ? 1 : 0;
}

type Node = Decl | Stmt | Expr | TypeExpr | SliceExpr | EllipsisExpr;
type Kind = Node["kind"];
/** The nodes without a `kind`, each reached from its parent's entry below. */
type Part = Arg | BlockParam | TrainSetting | ScanCarry;
type Child = Node | Part;

const none: Child[] = [];
const opt = (x: Child | null): Child[] => (x ? [x] : none);

/**
 * The children of each kind of node that can hold an expression, in source
 * order (names and comments cannot, so they are not walked): read directly
 * instead of through Object.entries, which built an array per property of
 * every node of every parse.
 */
const childrenOf: { [K in Kind]: (n: Extract<Node, { kind: K }>) => Child[] } = {
  Import: () => none,
  Dim: () => none,
  Const: (n) => [n.value],
  Block: (n) => [...n.params, ...opt(n.result), ...n.body],
  Model: (n) => n.body,
  Train: (n) => n.settings,
  Assign: (n) => [n.value],
  Param: (n) => [n.type, ...opt(n.init)],
  State: (n) => [n.type, ...opt(n.init)],
  Update: (n) => [n.value],
  Input: (n) => [n.type],
  Output: (n) => [n.value],
  Metric: (n) => [n.value],
  Loss: (n) => [n.value],
  Return: (n) => [n.value],
  Yield: (n) => [n.value],
  TensorType: (n) => n.dims,
  ScalarType: () => none,
  Number: () => none,
  String: () => none,
  Bool: () => none,
  Name: () => none,
  Binary: (n) => [n.left, n.right],
  Unary: (n) => [n.operand],
  Call: (n) => [n.callee, ...n.args],
  Pipe: (n) => [n.left, n.right],
  Index: (n) => [n.target, ...n.indices],
  Slice: (n) => [...opt(n.start), ...opt(n.end), ...opt(n.step)],
  List: (n) => n.items,
  If: (n) => [n.cond, n.then, n.else],
  Scan: (n) => [n.source, n.axis, ...n.carries, ...n.body],
  Ellipsis: () => none,
};

function children(node: Child): Child[] {
  if ("kind" in node) return (childrenOf[node.kind] as (n: Node) => Child[])(node);
  // A call's argument, a block's param, a train setting, a scan's carry.
  if ("type" in node) return [node.type, ...opt(node.default)];
  return ["init" in node ? node.init : node.value];
}

/**
 * The part of `node` its deepest child does not cover: the ` |> relu` that
 * lengthens a chain to the left of it, the `-` in front of a negation.
 */
function ownPart(node: Child, child: Child, text: string): Span {
  const s = node.span;
  const c = child.span;
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
  const height = new Map<Child, number>();
  const deepest = new Map<Child, Child>();
  // A node is pushed without its children, then again with them once they are on the stack above it.
  const stack: { node: Child; kids: Child[] | null }[] = [{ node: decl, kids: null }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (!top.kids) {
      const kids = children(top.node);
      stack.push({ node: top.node, kids });
      for (let i = kids.length - 1; i >= 0; i--) stack.push({ node: kids[i]!, kids: null });
      continue;
    }
    const kids = top.kids;
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
      return child ? ownPart(top.node, child, text) : top.node.span;
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
