// Generic traversal of the kernel IR's expression trees. Every walk over
// index (IExpr) and scalar (SExpr) expressions — cost, buffers read, loops
// read, the codegens' analyses — goes through the two children tables below,
// so a new node kind is one row in each (tsc names the table that lacks it)
// rather than a case in every hand-written switch.

import type { BufId, IExpr, SExpr } from "./kernel.ts";

/** The direct sub-expressions of a node, scalar and index ones apart, in evaluation order. */
export interface Children {
  s: SExpr[];
  i: IExpr[];
}

const none: Children = { s: [], i: [] };
const ofS = (...s: SExpr[]): Children => ({ s, i: [] });
const ofI = (...i: IExpr[]): Children => ({ s: [], i });

type SRows = { [K in SExpr["k"]]: (e: Extract<SExpr, { k: K }>) => Children };
// (`IExpr & { k: K }`: add, mul, div and mod share one member of the union.)
type IRows = { [K in IExpr["k"]]: (e: IExpr & { k: K }) => Children };

const sRows: SRows = {
  lit: () => none,
  acc: () => none,
  load: (e) => ofI(e.index),
  index: (e) => ofI(e.e),
  icompare: (e) => ofI(e.a, e.b),
  unary: (e) => ofS(e.a),
  cast: (e) => ofS(e.a),
  binary: (e) => ofS(e.a, e.b),
  compare: (e) => ofS(e.a, e.b),
  and: (e) => ofS(e.a, e.b),
  select: (e) => ofS(e.c, e.a, e.b),
  random: (e) => ({ s: [e.seed], i: [e.index] }),
};

const iRows: IRows = {
  const: () => none,
  loop: () => none,
  red: () => none,
  lin: () => none,
  iter: () => none,
  dim: () => none,
  add: (e) => ofI(e.a, e.b),
  mul: (e) => ofI(e.a, e.b),
  div: (e) => ofI(e.a, e.b),
  mod: (e) => ofI(e.a, e.b),
  val: (e) => ofS(e.e),
};

export function sexprChildren(e: SExpr): Children {
  return (sRows[e.k] as (e: SExpr) => Children)(e);
}

export function iexprChildren(e: IExpr): Children {
  return (iRows[e.k] as (e: IExpr) => Children)(e);
}

/** Tests on the nodes of a tree; a missing one is false. */
export interface NodeTest {
  s?: (e: SExpr) => boolean;
  i?: (e: IExpr) => boolean;
}

/** True when a node of `e` (itself included, through index expressions too) passes `test`; pre-order, stops at the first. */
export function someSExpr(e: SExpr, test: NodeTest): boolean {
  if (test.s?.(e)) return true;
  const c = sexprChildren(e);
  return c.s.some((x) => someSExpr(x, test)) || c.i.some((x) => someIExpr(x, test));
}

/** `someSExpr` from an index expression. */
export function someIExpr(e: IExpr, test: NodeTest): boolean {
  if (test.i?.(e)) return true;
  const c = iexprChildren(e);
  return c.s.some((x) => someSExpr(x, test)) || c.i.some((x) => someIExpr(x, test));
}

/** Visitors called on every node, pre-order (scalar children before index children). */
export interface NodeVisit {
  s?: (e: SExpr) => void;
  i?: (e: IExpr) => void;
}

export function visitSExpr(e: SExpr, visit: NodeVisit): void {
  someSExpr(e, { s: (x) => (visit.s?.(x), false), i: (x) => (visit.i?.(x), false) });
}

export function visitIExpr(e: IExpr, visit: NodeVisit): void {
  someIExpr(e, { s: (x) => (visit.s?.(x), false), i: (x) => (visit.i?.(x), false) });
}

/**
 * Bottom-up fold over the scalar tree only: `f` gets a node and the folds of
 * its scalar children (index sub-expressions, and the scalars inside them,
 * are the caller's business). `sexprCost` is `f = (e, kids) => own(e) + sum(kids)`.
 */
export function foldSExpr<T>(e: SExpr, f: (e: SExpr, kids: T[]) => T): T {
  return f(
    e,
    sexprChildren(e).s.map((x) => foldSExpr(x, f)),
  );
}

/** Every buffer the expressions load from (index expressions included), in first-use order. */
export function exprBuffers(roots: { s?: SExpr[]; i?: IExpr[] }, out: BufId[] = []): BufId[] {
  const visit: NodeVisit = {
    s: (x) => {
      if (x.k === "load" && !out.includes(x.buf)) out.push(x.buf);
    },
  };
  for (const e of roots.s ?? []) visitSExpr(e, visit);
  for (const e of roots.i ?? []) visitIExpr(e, visit);
  return out;
}
