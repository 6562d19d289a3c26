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

function atomKey(a: DimAtom): string {
  switch (a.kind) {
    case "var":
      return a.name;
    case "div":
      return `(${dimToString(a.num)}) div (${dimToString(a.den)})`;
    case "mod":
      return `(${dimToString(a.num)}) mod (${dimToString(a.den)})`;
  }
}

function termKey(t: Term): string {
  return t.atoms.map(atomKey).join("*");
}

/** Combine like terms, drop zeros, sort for a canonical form. */
function normalize(terms: Term[]): Dim {
  const byKey = new Map<string, Term>();
  for (const t of terms) {
    const atoms = [...t.atoms].sort((a, b) => (atomKey(a) < atomKey(b) ? -1 : 1));
    const k = atoms.map(atomKey).join("*");
    const prev = byKey.get(k);
    if (prev) prev.coeff += t.coeff;
    else byKey.set(k, { coeff: t.coeff, atoms });
  }
  const out = [...byKey.values()].filter((t) => t.coeff !== 0);
  // Constant term last, higher-degree terms first, then by key: `4*H + 1`.
  out.sort((a, b) => b.atoms.length - a.atoms.length || (termKey(a) < termKey(b) ? -1 : 1));
  return { terms: out };
}

export function dimConst(n: number): Dim {
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

export function dimEq(a: Dim, b: Dim): boolean {
  return dimAsConst(dimSub(a, b)) === 0;
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
  const visit = (d: Dim) => {
    for (const t of d.terms)
      for (const at of t.atoms) {
        if (at.kind === "var") names.add(at.name);
        else {
          visit(at.num);
          visit(at.den);
        }
      }
  };
  visit(a);
  return [...names].sort();
}

/** Generic printer: `atom` renders a named dim; used for text and for JS code. */
function render(
  a: Dim,
  atom: (name: string) => string,
  divOp: (n: string, d: string) => string,
  modOp: (n: string, d: string) => string,
): string {
  if (a.terms.length === 0) return "0";
  const atomText = (x: DimAtom): string =>
    x.kind === "var"
      ? atom(x.name)
      : x.kind === "div"
        ? divOp(render(x.num, atom, divOp, modOp), render(x.den, atom, divOp, modOp))
        : modOp(render(x.num, atom, divOp, modOp), render(x.den, atom, divOp, modOp));
  let s = "";
  a.terms.forEach((t, i) => {
    const neg = t.coeff < 0;
    const c = Math.abs(t.coeff);
    const factors = t.atoms.map(atomText);
    if (c !== 1 || factors.length === 0) factors.unshift(String(c));
    const body = factors.join(" * ");
    if (i === 0) s = neg ? `-${body}` : body;
    else s += neg ? ` - ${body}` : ` + ${body}`;
  });
  return s;
}

export function dimToString(a: Dim): string {
  return render(
    a,
    (n) => n,
    (n, d) => `(${n}) div (${d})`.replace(/\((\w+)\)/g, "$1"),
    (n, d) => `(${n}) mod (${d})`.replace(/\((\w+)\)/g, "$1"),
  );
}

/** A JS expression computing the dim; `lookup(name)` gives the expression for a named dim. */
export function dimToJs(a: Dim, lookup: (name: string) => string): string {
  const body = render(
    a,
    lookup,
    (n, d) => `Math.floor((${n}) / (${d}))`,
    (n, d) => `(((${n}) % (${d})) + (${d})) % (${d})`,
  );
  return `(${body})`;
}

export function dimEval(a: Dim, env: Readonly<Record<string, number>>): number {
  const atomVal = (x: DimAtom): number => {
    if (x.kind === "var") {
      const v = env[x.name];
      if (v === undefined) throw new Error(`dimension ${x.name} is not bound`);
      return v;
    }
    const n = dimEval(x.num, env);
    const d = dimEval(x.den, env);
    return x.kind === "div" ? Math.floor(n / d) : n - d * Math.floor(n / d);
  };
  let sum = 0;
  for (const t of a.terms) sum += t.atoms.reduce((p, x) => p * atomVal(x), t.coeff);
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
