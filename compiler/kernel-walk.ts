// Generic traversal of the kernel IR's expression trees. Every walk over
// index (IExpr) and scalar (SExpr) expressions — cost, buffers read, loops
// read, rewrites, the codegens' analyses — goes through the two row tables
// below (a node's children, and the node rebuilt from new children), so a
// new node kind is one row in each (tsc names the table that lacks it)
// rather than a case in every hand-written switch.

import { dimAdd, dimConst, dimMul, numElements, type Dim } from "./dims.ts";
import type { BufId, IExpr, Kernel, SExpr } from "./kernel.ts";

/** The direct sub-expressions of a node, scalar and index ones apart, in evaluation order. */
export interface Children {
  s: SExpr[];
  i: IExpr[];
}

/** How to take a node apart and put it back together with other children (in the same order). */
interface Row<E, T> {
  children(e: E): Children;
  rebuild(e: E, c: Children): T;
}

const leaf = { children: () => ({ s: [], i: [] }), rebuild: <E>(e: E) => e };
const ofS = (...s: SExpr[]): Children => ({ s, i: [] });
const ofI = (...i: IExpr[]): Children => ({ s: [], i });

type SRows = { [K in SExpr["k"]]: Row<Extract<SExpr, { k: K }>, SExpr> };
// (`IExpr & { k: K }`: add, mul, div and mod share one member of the union.)
type IRows = { [K in IExpr["k"]]: Row<IExpr & { k: K }, IExpr> };

/** Nodes whose one child is the scalar `a` (unary, cast). */
const unaryRow = {
  children: (e: { a: SExpr }) => ofS(e.a),
  rebuild: <E extends { a: SExpr }>(e: E, c: Children): E => ({ ...e, a: c.s[0]! }),
};
/** Nodes whose children are `a` and `b`, scalars (`binary`) or indices (`add`), `side` picking them from `Children`. */
const pairRow = <X>(of: (...xs: X[]) => Children, side: (c: Children) => X[]) => ({
  children: (e: { a: X; b: X }) => of(e.a, e.b),
  rebuild: <E extends { a: X; b: X }>(e: E, c: Children): E => ({
    ...e,
    a: side(c)[0]!,
    b: side(c)[1]!,
  }),
});
const binaryRow = pairRow(ofS, (c) => c.s);
const indexPairRow = pairRow(ofI, (c) => c.i);

const sRows: SRows = {
  lit: leaf,
  acc: leaf,
  load: { children: (e) => ofI(e.index), rebuild: (e, c) => ({ ...e, index: c.i[0]! }) },
  index: { children: (e) => ofI(e.e), rebuild: (e, c) => ({ ...e, e: c.i[0]! }) },
  icompare: indexPairRow,
  unary: unaryRow,
  cast: unaryRow,
  binary: binaryRow,
  compare: binaryRow,
  and: binaryRow,
  select: {
    children: (e) => ofS(e.c, e.a, e.b),
    rebuild: (e, c) => ({ ...e, c: c.s[0]!, a: c.s[1]!, b: c.s[2]! }),
  },
  random: {
    children: (e) => ({ s: [e.seed], i: [e.index] }),
    rebuild: (e, c) => ({ ...e, seed: c.s[0]!, index: c.i[0]! }),
  },
};

const iRows: IRows = {
  const: leaf,
  loop: leaf,
  red: leaf,
  lin: leaf,
  iter: leaf,
  dim: leaf,
  add: indexPairRow,
  mul: indexPairRow,
  div: indexPairRow,
  mod: indexPairRow,
  val: { children: (e) => ofS(e.e), rebuild: (e, c) => ({ ...e, e: c.s[0]! }) },
};

const sRow = (e: SExpr) => sRows[e.k] as Row<SExpr, SExpr>;
const iRow = (e: IExpr) => iRows[e.k] as Row<IExpr, IExpr>;

export function sexprChildren(e: SExpr): Children {
  return sRow(e).children(e);
}

export function iexprChildren(e: IExpr): Children {
  return iRow(e).children(e);
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
 * are the caller's business).
 */
export function foldSExpr<T>(e: SExpr, f: (e: SExpr, kids: T[]) => T): T {
  return f(
    e,
    sexprChildren(e).s.map((x) => foldSExpr(x, f)),
  );
}

/** Replacements for the nodes of a tree: a node for which one returns null is kept (its children mapped). */
export interface NodeMap {
  s?: (e: SExpr) => SExpr | null;
  i?: (e: IExpr) => IExpr | null;
}

/**
 * `e` with nodes replaced where `map` says, top-down through index
 * expressions too (a replacement is not walked into). Subtrees in which
 * nothing changed are the original objects.
 */
export function mapSExpr(e: SExpr, map: NodeMap): SExpr {
  return map.s?.(e) ?? mapChildren(e, sRow(e), map);
}

/** `mapSExpr` from an index expression. */
export function mapIExpr(e: IExpr, map: NodeMap): IExpr {
  return map.i?.(e) ?? mapChildren(e, iRow(e), map);
}

function mapChildren<E>(e: E, row: Row<E, E>, map: NodeMap): E {
  const c = row.children(e);
  const s = c.s.map((x) => mapSExpr(x, map));
  const i = c.i.map((x) => mapIExpr(x, map));
  const same = s.every((x, k) => x === c.s[k]) && i.every((x, k) => x === c.i[k]);
  return same ? e : row.rebuild(e, { s, i });
}

// ---------------------------------------------------------------- analyses

/** What a node costs itself, past its scalar children: arithmetic 1, a random draw 4; loads, literals and index arithmetic are free. */
const ownCost: { [K in SExpr["k"]]: number } = {
  lit: 0,
  acc: 0,
  load: 0,
  index: 0,
  icompare: 0,
  unary: 1,
  cast: 1,
  binary: 1,
  compare: 1,
  and: 1,
  select: 1,
  random: 4,
};

/** Number of arithmetic nodes: what recomputing one element costs. */
export function sexprCost(e: SExpr): number {
  return foldSExpr<number>(e, (x, kids) => kids.reduce((a, b) => a + b, ownCost[x.k]));
}

/** Root expressions of a kernel's trees, scalar and index ones apart. */
export interface Roots {
  s?: SExpr[];
  i?: IExpr[];
}

/** Every buffer the expressions load from (index expressions included), in first-use order. */
export function exprBuffers(roots: Roots, out: BufId[] = []): BufId[] {
  const visit: NodeVisit = {
    s: (x) => {
      if (x.k === "load" && !out.includes(x.buf)) out.push(x.buf);
    },
  };
  for (const e of roots.s ?? []) visitSExpr(e, visit);
  for (const e of roots.i ?? []) visitIExpr(e, visit);
  return out;
}

type Leaf = Exclude<Kernel, { kind: "scan" }>;
const opt = (e: IExpr | undefined): IExpr[] => (e === undefined ? [] : [e]);

/** Every expression a kernel other than a scan evaluates, by kind (where it stores included). */
const kernelRoots: { [K in Leaf["kind"]]: (k: Extract<Leaf, { kind: K }>) => Roots } = {
  map: (k) => ({ s: [k.body], i: opt(k.outAt) }),
  reduce: (k) => ({ s: [k.body], i: opt(k.outAt) }),
  matmul: (k) => ({
    s: [k.epilogue],
    i: [k.a.batch, k.b.batch, ...opt(k.a.at), ...opt(k.b.at), ...opt(k.outAt)],
  }),
  scatter: (k) => ({ s: [k.valid, k.value], i: [k.target, ...opt(k.outAt)] }),
};

/** Every expression a kernel other than a scan evaluates (where it stores included). */
export function kernelExprs(k: Leaf): Roots {
  return (kernelRoots[k.kind] as (k: Leaf) => Roots)(k);
}

/** Buffers a kernel reads (its output excluded unless it also reads it), in first-use order. */
export function kernelInputs(k: Kernel): BufId[] {
  if (k.kind === "scan") {
    // Everything the loop reads, its own carries and scanned inputs included.
    const out = [
      ...k.carries.map((c) => c.init),
      ...k.stacked.filter((s) => !s.write).map((s) => s.buf),
    ];
    for (const b of k.body) for (const x of kernelInputs(b)) if (!out.includes(x)) out.push(x);
    return out;
  }
  const operands = k.kind === "matmul" ? [...new Set([k.a.buf, k.b.buf])] : [];
  return exprBuffers(kernelExprs(k), operands);
}

/** Buffers a kernel writes that outlive it: a scan writes its stacked outputs and final carries. */
export function kernelOutputs(k: Kernel): BufId[] {
  if (k.kind !== "scan") return [k.out];
  return [
    ...k.stacked.filter((s) => s.write).map((s) => s.buf),
    ...k.carries.flatMap((c) => (c.final === null ? [] : [c.final])),
  ];
}

const c = (n: number) => dimConst(n);

/**
 * A kernel's FLOPs and the elements it writes, symbolic: arithmetic nodes
 * per element times elements, a matmul's 2·m·n·k and its epilogue, a
 * reduction's accumulate (what `dump --explain` reports, and WASM's work
 * estimate for threading).
 */
const work: {
  [K in Leaf["kind"]]: (k: Extract<Leaf, { kind: K }>) => { flops: Dim; written: Dim };
} = {
  map: (k) => {
    const n = numElements(k.shape);
    return { flops: dimMul(n, c(sexprCost(k.body))), written: n };
  },
  reduce: (k) => {
    const n = numElements(k.shape);
    return { flops: dimMul(dimMul(n, numElements(k.red)), c(sexprCost(k.body) + 1)), written: n };
  },
  matmul: (k) => {
    const n = numElements([...k.batch, k.m, k.n]);
    const product = dimMul(dimMul(n, k.k), c(2));
    return { flops: dimAdd(product, dimMul(n, c(sexprCost(k.epilogue)))), written: n };
  },
  scatter: (k) => {
    const n = numElements(k.domain);
    return { flops: dimMul(n, c(sexprCost(k.value) + 1)), written: n };
  },
};

export const kernelWork = (k: Leaf): { flops: Dim; written: Dim } =>
  (work[k.kind] as (k: Leaf) => { flops: Dim; written: Dim })(k);
