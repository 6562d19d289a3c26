// Symbolic dimension algebra. A Dim is a polynomial with integer
// coefficients over atoms: named dims (`B`, `T`) and opaque floor-division or
// remainder terms that cannot be simplified further (`(W + 2) div 3`). The
// normal form is canonical, so structural equality of normal forms is
// equality of dims for everything the checker needs: `4 * H == H * 4`,
// `(H + 1) - 1 == H`, `2 * (B + 1) == 2 * B + 2`.

export type DimAtom =
  | { kind: "var"; name: string }
  | { kind: "div"; num: Dim; den: Dim }
  | { kind: "mod"; num: Dim; den: Dim };

/** coeff * product(atoms); atoms sorted by key, repeated for powers. */
interface Term {
  coeff: number;
  atoms: DimAtom[];
}

export interface Dim {
  readonly terms: readonly Term[];
}

/** A div or mod atom's key, printed once: normalize sorts and groups by keys on every operation. */
const printedKeys = new WeakMap<DimAtom, string>();

function atomKey(a: DimAtom): string {
  if (a.kind === "var") return a.name;
  let key = printedKeys.get(a);
  if (key === undefined) {
    key = `(${dimToString(a.num)}) ${a.kind} (${dimToString(a.den)})`;
    printedKeys.set(a, key);
  }
  return key;
}

function termKey(t: Term): string {
  const { atoms } = t;
  if (atoms.length === 0) return "";
  if (atoms.length === 1) return atomKey(atoms[0]!);
  return atoms.map(atomKey).join("*");
}

/** The atoms of a product in key order (a fresh array when there is anything to sort). */
function sortedAtoms(atoms: readonly DimAtom[]): DimAtom[] {
  if (atoms.length < 2) return atoms as DimAtom[];
  return atoms
    .map((a) => ({ a, key: atomKey(a) }))
    .sort((x, y) => (x.key < y.key ? -1 : 1))
    .map((x) => x.a);
}

/**
 * Dimension arithmetic left the integers that doubles hold exactly (beyond
 * Number.MAX_SAFE_INTEGER, or not finite): `2 ^ 1024`, `[2^40, 2^40]`. The
 * elaborator reports it at the expression's span.
 */
export class DimOverflow extends Error {
  constructor(readonly value: number) {
    super(`dimension arithmetic overflows: ${value} is beyond ${Number.MAX_SAFE_INTEGER}`);
  }
}

/** Combine like terms, drop zeros, sort for a canonical form. */
function normalize(terms: readonly Term[]): Dim {
  if (terms.length === 1) {
    // One term (a constant, a scaled name): nothing to combine. Terms are
    // never mutated once in a Dim, so its atoms can be shared.
    const t = terms[0]!;
    if (!Number.isSafeInteger(t.coeff)) throw new DimOverflow(t.coeff);
    if (t.coeff === 0) return { terms: [] };
    return { terms: [{ coeff: t.coeff, atoms: sortedAtoms(t.atoms) }] };
  }
  const byKey = new Map<string, { term: Term; key: string }>();
  for (const t of terms) {
    if (!Number.isSafeInteger(t.coeff)) throw new DimOverflow(t.coeff);
    const term = { coeff: t.coeff, atoms: sortedAtoms(t.atoms) };
    const key = termKey(term);
    const prev = byKey.get(key);
    if (prev) prev.term.coeff += t.coeff;
    else byKey.set(key, { term, key });
  }
  const out = [...byKey.values()].filter((t) => t.term.coeff !== 0);
  for (const t of out) if (!Number.isSafeInteger(t.term.coeff)) throw new DimOverflow(t.term.coeff);
  // Constant term last, higher-degree terms first, then by key: `4*H + 1`.
  out.sort((a, b) => b.term.atoms.length - a.term.atoms.length || (a.key < b.key ? -1 : 1));
  return { terms: out.map((t) => t.term) };
}

export function dimConst(n: number): Dim {
  if (Math.abs(n) > Number.MAX_SAFE_INTEGER) throw new DimOverflow(n);
  if (!Number.isInteger(n)) throw new Error(`dimension must be an integer, got ${n}`);
  return normalize([{ coeff: n, atoms: [] }]);
}

export function dimVar(name: string): Dim {
  return { terms: [{ coeff: 1, atoms: [{ kind: "var", name }] }] };
}

export function dimAdd(a: Dim, b: Dim): Dim {
  return normalize([...a.terms, ...b.terms]);
}

export function dimNeg(a: Dim): Dim {
  return normalize(a.terms.map((t) => ({ coeff: -t.coeff, atoms: t.atoms })));
}

export function dimSub(a: Dim, b: Dim): Dim {
  return dimAdd(a, dimNeg(b));
}

export function dimMul(a: Dim, b: Dim): Dim {
  const terms: Term[] = [];
  for (const x of a.terms)
    for (const y of b.terms)
      terms.push({ coeff: x.coeff * y.coeff, atoms: [...x.atoms, ...y.atoms] });
  return normalize(terms);
}

export function dimAsConst(a: Dim): number | null {
  if (a.terms.length === 0) return 0;
  const [t] = a.terms;
  return a.terms.length === 1 && t && t.atoms.length === 0 ? t.coeff : null;
}

/** Normal forms are canonical (every Dim is built here), so equal dims have the same terms in the same order. */
export function dimEq(a: Dim, b: Dim): boolean {
  if (a === b) return true;
  if (a.terms.length !== b.terms.length) return false;
  for (let i = 0; i < a.terms.length; i++) {
    const x = a.terms[i]!;
    const y = b.terms[i]!;
    if (x.coeff !== y.coeff || x.atoms.length !== y.atoms.length || termKey(x) !== termKey(y))
      return false;
  }
  return true;
}

/**
 * A string equal for two dims exactly when `dimEq` holds: the normal form
 * written out term by term, so a Map can group dims without pairwise `dimEq`.
 */
export function dimKey(a: Dim): string {
  return a.terms.map((t) => `${t.coeff}:${termKey(t)}`).join(";");
}

/**
 * `a / b` when it divides exactly for every value of the dims, else null.
 * Handles a constant divisor of every coefficient and a divisor that is a
 * single term dividing every term (`4*H / H`, `(2*B + 2) / 2`).
 */
export function dimExactDiv(a: Dim, b: Dim): Dim | null {
  const bc = dimAsConst(b);
  if (bc === 0) return null;
  if (b.terms.length !== 1) {
    // a == k*b for a constant k?
    const [bt] = b.terms;
    const [at] = a.terms;
    if (!bt || !at) return a.terms.length === 0 ? dimConst(0) : null;
    const k = at.coeff / bt.coeff;
    return Number.isInteger(k) && dimEq(a, dimMul(b, dimConst(k))) ? dimConst(k) : null;
  }
  const d = b.terms[0]!;
  const out: Term[] = [];
  for (const t of a.terms) {
    if (t.coeff % d.coeff !== 0) return null;
    const rest = [...t.atoms];
    for (const da of d.atoms) {
      const i = rest.findIndex((x) => atomKey(x) === atomKey(da));
      if (i < 0) return null;
      rest.splice(i, 1);
    }
    out.push({ coeff: t.coeff / d.coeff, atoms: rest });
  }
  return normalize(out);
}

/** Floor division; folds when both are constant or the division is exact. */
export function dimFloorDiv(a: Dim, b: Dim): Dim {
  const ac = dimAsConst(a);
  const bc = dimAsConst(b);
  if (ac !== null && bc !== null && bc !== 0) return dimConst(Math.floor(ac / bc));
  const exact = dimExactDiv(a, b);
  if (exact) return exact;
  return { terms: [{ coeff: 1, atoms: [{ kind: "div", num: a, den: b }] }] };
}

/** Remainder of floor division (sign of the divisor, like Python). */
export function dimMod(a: Dim, b: Dim): Dim {
  const ac = dimAsConst(a);
  const bc = dimAsConst(b);
  if (ac !== null && bc !== null && bc !== 0) return dimConst(ac - bc * Math.floor(ac / bc));
  if (dimExactDiv(a, b)) return dimConst(0);
  return { terms: [{ coeff: 1, atoms: [{ kind: "mod", num: a, den: b }] }] };
}

/** Names of the dims that `a` depends on, sorted, without repeats. */
export function dimVars(a: Dim): string[] {
  const names = new Set<string>();
  addVars(a, names);
  return [...names].sort();
}

// The helpers of hot functions live at module level: under tsx (keepNames)
// a closure declared inside one is named by an Object.defineProperty per call.

function addVars(d: Dim, names: Set<string>): void {
  for (const t of d.terms)
    for (const at of t.atoms) {
      if (at.kind === "var") names.add(at.name);
      else {
        addVars(at.num, names);
        addVars(at.den, names);
      }
    }
}

/** An interval of values; the ends may be infinite. */
interface Range {
  lo: number;
  hi: number;
}

const ANY: Range = { lo: -Infinity, hi: Infinity };

function productRange(rs: readonly Range[]): Range {
  // Only non-negative factors multiply interval ends simply (and 0 * Infinity must stay 0).
  if (rs.some((r) => r.lo < 0)) return ANY;
  const lo = rs.reduce((p, r) => p * r.lo, 1);
  const hi = rs.some((r) => r.hi === 0) ? 0 : rs.reduce((p, r) => p * r.hi, 1);
  return { lo, hi };
}

function atomRange(x: DimAtom): Range {
  if (x.kind === "var") return { lo: 1, hi: Infinity };
  const n = dimRange(x.num);
  const d = dimRange(x.den);
  if (d.lo < 1) return ANY;
  if (x.kind === "mod") return { lo: 0, hi: d.hi - 1 };
  if (n.lo < 0) return ANY;
  return { lo: Math.floor(n.lo / d.hi), hi: Math.floor(n.hi / d.lo) };
}

function dimRange(a: Dim): Range {
  let lo = 0;
  let hi = 0;
  for (const t of a.terms) {
    const p = productRange(t.atoms.map(atomRange));
    const [tl, th] =
      t.coeff > 0 ? [t.coeff * p.lo, t.coeff * p.hi] : [t.coeff * p.hi, t.coeff * p.lo];
    lo = lo === -Infinity || Number.isNaN(tl) ? -Infinity : lo + tl;
    hi = hi === Infinity || Number.isNaN(th) ? Infinity : hi + th;
  }
  return { lo, hi };
}

/**
 * The least value `a` can take when every named dim is at least 1 (the
 * runtime binds no smaller one); -Infinity when nothing bounds it.
 * `2 * B + 1` >= 3, `W mod 4` >= 0, `B - 1` >= 0, `1 - B` unbounded.
 */
export function dimMin(a: Dim): number {
  return dimRange(a).lo;
}

/**
 * How tightly a rendered expression binds, loosest first. The .dlg grammar
 * and JS agree on the order: sums, then products (`*`, `div`, `mod`, `%`, all
 * left-associative), then unary minus, then atoms (names, calls, brackets).
 */
const SUM = 0;
const PRODUCT = 1;
const NEG = 2;
const ATOM = 3;

interface Printed {
  text: string;
  prec: number;
}

/** The operators of one target language; operands come pre-printed with their binding. */
interface DimSyntax {
  atom: (name: string) => string;
  div: (num: Printed, den: Printed) => Printed;
  mod: (num: Printed, den: Printed) => Printed;
}

const wrap = (p: Printed, min: number): string => (p.prec >= min ? p.text : `(${p.text})`);

function atomText(x: DimAtom, syntax: DimSyntax): Printed {
  return x.kind === "var"
    ? { text: syntax.atom(x.name), prec: ATOM }
    : syntax[x.kind](render(x.num, syntax), render(x.den, syntax));
}

/**
 * Precedence-correct printer: a div or mod term inside a product is
 * bracketed (`2 * (W mod 3)`, not `2 * W mod 3`, which reads `(2 * W) mod 3`),
 * and so is one under a leading minus (`-(W div 2)`, as `-W div 2` floors `-W`).
 */
function render(a: Dim, syntax: DimSyntax): Printed {
  if (a.terms.length === 0) return { text: "0", prec: ATOM };
  let text = "";
  let prec = SUM;
  for (let i = 0; i < a.terms.length; i++) {
    const t = a.terms[i]!;
    const neg = t.coeff < 0;
    const c = Math.abs(t.coeff);
    const factors = t.atoms.map((x) => atomText(x, syntax));
    if (c !== 1 || factors.length === 0) factors.unshift({ text: String(c), prec: ATOM });
    const leadingMinus = neg && i === 0;
    const body = factors
      .map((f, k) => wrap(f, k > 0 ? ATOM : leadingMinus ? NEG : PRODUCT))
      .join(" * ");
    if (i === 0) text = neg ? `-${body}` : body;
    else text += neg ? ` - ${body}` : ` + ${body}`;
    if (a.terms.length === 1)
      prec = factors.length > 1 ? PRODUCT : leadingMinus ? NEG : factors[0]!.prec;
  }
  return { text, prec };
}

/** `W div 2`, `(W - 5) div 2 + 1`: operands are bracketed unless they are a name or a number. */
const dlgSyntax: DimSyntax = {
  atom: (n) => n,
  div: (n, d) => ({ text: `${wrap(n, ATOM)} div ${wrap(d, ATOM)}`, prec: PRODUCT }),
  mod: (n, d) => ({ text: `${wrap(n, ATOM)} mod ${wrap(d, ATOM)}`, prec: PRODUCT }),
};

export function dimToString(a: Dim): string {
  // Most dims are a number or a name (every tensor's hover text prints its shape).
  if (a.terms.length === 1) {
    const t = a.terms[0]!;
    if (t.atoms.length === 0) return String(t.coeff);
    const x = t.atoms[0]!;
    if (t.coeff === 1 && t.atoms.length === 1 && x.kind === "var") return x.name;
  }
  return render(a, dlgSyntax).text;
}

/** The dim as text that is safe as the operand of any operator: bracketed unless it is one name or number. */
export function dimToOperand(a: Dim): string {
  return wrap(render(a, dlgSyntax), ATOM);
}

/** A JS expression computing the dim; `lookup(name)` gives the expression for a named dim. */
export function dimToJs(a: Dim, lookup: (name: string) => string): string {
  const body = render(a, {
    atom: lookup,
    div: (n, d) => ({ text: `Math.floor(${wrap(n, PRODUCT)} / ${wrap(d, ATOM)})`, prec: ATOM }),
    // JS `%` truncates; adding the divisor and taking `%` again floors, like `mod`.
    mod: (n, d) => {
      const den = wrap(d, ATOM);
      return { text: `(${wrap(n, PRODUCT)} % ${den} + ${den}) % ${den}`, prec: PRODUCT };
    },
  });
  return `(${body.text})`;
}

/** A Python expression computing the dim: Python's `//` and `%` floor, as `div` and `mod` do. */
export function dimToPy(a: Dim, lookup: (name: string) => string): string {
  const body = render(a, {
    atom: lookup,
    div: (n, d) => ({ text: `${wrap(n, ATOM)} // ${wrap(d, ATOM)}`, prec: PRODUCT }),
    mod: (n, d) => ({ text: `${wrap(n, ATOM)} % ${wrap(d, ATOM)}`, prec: PRODUCT }),
  });
  return `(${body.text})`;
}

function atomVal(x: DimAtom, env: Readonly<Record<string, number>>): number {
  if (x.kind === "var") {
    const v = env[x.name];
    if (v === undefined) throw new Error(`dimension ${x.name} is not bound`);
    return v;
  }
  const n = dimEval(x.num, env);
  const d = dimEval(x.den, env);
  return x.kind === "div" ? Math.floor(n / d) : n - d * Math.floor(n / d);
}

export function dimEval(a: Dim, env: Readonly<Record<string, number>>): number {
  let sum = 0;
  for (const t of a.terms) sum += t.atoms.reduce((p, x) => p * atomVal(x, env), t.coeff);
  return sum;
}

/** Replace named dims by other dims (used when a block's signature binds `n := 784`). */
export function dimSubst(a: Dim, env: ReadonlyMap<string, Dim>): Dim {
  let out = dimConst(0);
  for (const t of a.terms) {
    let term = dimConst(t.coeff);
    for (const x of t.atoms) {
      const v =
        x.kind === "var"
          ? (env.get(x.name) ?? dimVar(x.name))
          : x.kind === "div"
            ? dimFloorDiv(dimSubst(x.num, env), dimSubst(x.den, env))
            : dimMod(dimSubst(x.num, env), dimSubst(x.den, env));
      term = dimMul(term, v);
    }
    out = dimAdd(out, term);
  }
  return out;
}

// ---------------------------------------------------------------- shapes

export function shapeToString(shape: readonly Dim[]): string {
  return `[${shape.map(dimToString).join(", ")}]`;
}

export function shapeEq(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]!));
}

export function numElements(shape: readonly Dim[]): Dim {
  return shape.reduce((p, d) => dimMul(p, d), dimConst(1));
}

/** Concrete sizes, or null if any dim is symbolic. */
export function shapeAsConst(shape: readonly Dim[]): number[] | null {
  const out: number[] = [];
  for (const d of shape) {
    const c = dimAsConst(d);
    if (c === null) return null;
    out.push(c);
  }
  return out;
}

export function shapeOf(...sizes: (number | string)[]): Dim[] {
  return sizes.map((s) => (typeof s === "number" ? dimConst(s) : dimVar(s)));
}
