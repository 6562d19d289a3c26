// Graph simplification, run to a fixed point: local rewrites (constant
// folding and algebraic identities), common-subexpression elimination and
// dead-code elimination. Each pass is small and obviously
// type-preserving: a rewrite either replaces an equation's output by a var of
// exactly the same type, or re-defines the same output var with a new
// equation. Autodiff leaves plenty to clean (seeds of ones, adds of zero,
// reshapes back to the same shape), and `bindInputs` turns `training` into a
// constant so predict's dropout folds away.

import { dimAsConst, dimConst, dimEq, dimSub, type Dim } from "./dims.ts";
import { binaryFns, compareFns, toDType, unaryFns } from "./elementwise.ts";
import { paramsToString } from "./ir-print.ts";
import {
  anyEqn,
  dce,
  isBinary,
  isCompare,
  isUnary,
  type Entry,
  type Eqn,
  type Graph,
  type Op,
  type OpParams,
  type Var,
} from "./ir.ts";
import { sameType } from "./shapes.ts";
import { simplifyScans } from "./simplify/scan.ts";

/** What a rewrite does with one equation. */
type Rewrite = { use: Var } | { eqn: Eqn } | null;

/** The fill value of every var defined by `const`, and the defining equation of every var. */
interface Facts {
  fills: Map<number, number>;
  defs: Map<number, Eqn>;
}

/** The value of `x` when every element equals it (elementwise folding of two fills is a fill). */
function scalarValue(e: Eqn, xs: number[]): number | null {
  if (isUnary(e.op)) return unaryFns[e.op](xs[0]!);
  if (isBinary(e.op)) return binaryFns[e.op](xs[0]!, xs[1]!);
  if (isCompare(e.op)) return compareFns[e.op](xs[0]!, xs[1]!);
  if (e.op === "select") return xs[0] ? xs[1]! : xs[2]!;
  if (e.op === "cast") return toDType(xs[0]!, e.params.dtype);
  // Movement of a fill is the same fill in the new shape.
  if (e.op === "reshape" || e.op === "broadcast" || e.op === "transpose") return xs[0]!;
  return null;
}

function concreteCount(shape: Dim[], axes: number[]): number | null {
  let n = 1;
  for (const a of axes) {
    const c = dimAsConst(shape[a]!);
    if (c === null) return null;
    n *= c;
  }
  return n;
}

/** Whether `idx` is n - 1 - iota([n]) (std's `flip`): a permutation that is its own inverse. */
function isReversal(idx: Var, n: Dim, defOf: (v: Var | undefined) => Eqn | undefined): boolean {
  const d = defOf(idx);
  if (d?.op !== "sub") return false;
  const [last, up] = d.inputs.map(defOf);
  return (
    last?.op === "dimval" &&
    dimEq(last.params.dim, dimSub(n, dimConst(1))) &&
    up?.op === "iota" &&
    up.params.shape.length === 1 &&
    dimEq(up.params.shape[0]!, n)
  );
}

function rewrite(e: Eqn, facts: Facts): Rewrite {
  const out = e.outs[0];
  if (!out || e.outs.length !== 1) return null;
  const redefine = <P extends Op>(op: P, params: OpParams[P], inputs: Var[]): Rewrite => ({
    eqn: anyEqn({ ...e, op, params, inputs }),
  });
  const fill = (value: number) =>
    redefine(
      "const",
      { value: toDType(value, out.type.dtype), dtype: out.type.dtype, shape: out.type.shape },
      [],
    );
  /** `x` in place of the output: as is when the types agree, else broadcast up to it. */
  const becomes = (x: Var): Rewrite =>
    sameType(x.type, out.type)
      ? { use: x }
      : x.type.dtype === out.type.dtype
        ? redefine("broadcast", { shape: out.type.shape }, [x])
        : null;
  const fillOf = (v: Var | undefined) => (v ? facts.fills.get(v.id) : undefined);
  const defOf = (v: Var | undefined) => (v ? facts.defs.get(v.id) : undefined);
  const [a, b, c] = e.inputs;
  const fa = fillOf(a);
  const fb = fillOf(b);

  // Constant folding: every input is a fill.
  const vals = e.inputs.map(fillOf);
  if (e.inputs.length > 0 && vals.every((v) => v !== undefined)) {
    const v = scalarValue(e, vals);
    if (v !== null) return fill(v);
    if (e.op === "reduce_sum" || e.op === "reduce_max") {
      const n = concreteCount(a!.type.shape, e.params.axes);
      if (n !== null && n > 0) return fill(e.op === "reduce_sum" ? vals[0]! * n : vals[0]!);
    }
  }

  switch (e.op) {
    case "add":
      if (fb === 0) return becomes(a!);
      if (fa === 0) return becomes(b!);
      return null;
    case "sub":
      if (fb === 0) return becomes(a!);
      if (fa === 0 && sameType(b!.type, out.type)) return redefine("neg", {}, [b!]);
      return null;
    case "mul":
      if (fb === 1) return becomes(a!);
      if (fa === 1) return becomes(b!);
      // x * 0 = 0 treats x as finite (as -ffast-math does): the zeros that
      // matter are structural ones from autodiff, multiplying finite values.
      if (fa === 0 || fb === 0) return fill(0);
      return null;
    case "div":
      return fb === 1 ? becomes(a!) : null;
    case "pow":
      return fb === 1 ? becomes(a!) : null;
    case "neg": {
      const d = defOf(a);
      return d?.op === "neg" ? becomes(d.inputs[0]!) : null;
    }
    case "select": {
      const fc = fillOf(a);
      if (fc !== undefined) return becomes(fc ? b! : c!);
      return b!.id === c!.id ? becomes(b!) : null;
    }
    case "cast":
      return a!.type.dtype === out.type.dtype ? becomes(a!) : null;
    case "reshape": {
      if (sameType(a!.type, out.type)) return { use: a! };
      const d = defOf(a);
      return d?.op === "reshape" ? redefine("reshape", { shape: out.type.shape }, d.inputs) : null;
    }
    case "broadcast":
      return sameType(a!.type, out.type) ? { use: a! } : null;
    case "transpose": {
      const { perm } = e.params;
      if (perm.every((p, i) => p === i)) return { use: a! };
      const d = defOf(a);
      if (d?.op !== "transpose") return null;
      // out[i] = mid[perm[i]] = x[inner[perm[i]]].
      const inner = d.params.perm;
      return redefine("transpose", { perm: perm.map((p) => inner[p]!) }, d.inputs);
    }
    case "scatter_add": {
      // Scattering to a reversal's positions (flip's gradient) is gathering from them.
      const n = e.params.shape[e.params.axis]!;
      return sameType(a!.type, out.type) && isReversal(b!, n, defOf)
        ? redefine("gather", { axis: e.params.axis }, [a!, b!])
        : null;
    }
    default:
      return null;
  }
}

interface PassResult {
  graph: Graph;
  changed: boolean;
}

/** One forward walk applying `rewrite` to every equation. */
function rewritePass(g: Graph): PassResult {
  const subst = new Map<number, Var>();
  const facts: Facts = { fills: new Map(), defs: new Map() };
  const sub = (v: Var) => subst.get(v.id) ?? v;
  const eqns: Eqn[] = [];
  let changed = false;
  for (const orig of g.eqns) {
    let e: Eqn = { ...orig, inputs: orig.inputs.map(sub) };
    const r = rewrite(e, facts);
    if (r && "use" in r) {
      subst.set(e.outs[0]!.id, r.use);
      changed = true;
      continue;
    }
    if (r) {
      e = r.eqn;
      changed = true;
    }
    eqns.push(e);
    for (const v of e.outs) facts.defs.set(v.id, e);
    if (e.op === "const") facts.fills.set(e.outs[0]!.id, e.params.value);
  }
  return { graph: { inputs: g.inputs, eqns, outputs: g.outputs.map(sub) }, changed };
}

/** Merge equations with the same op, params and inputs (all primitives are pure). */
function csePass(g: Graph): PassResult {
  const subst = new Map<number, Var>();
  const seen = new Map<string, Eqn>();
  const sub = (v: Var) => subst.get(v.id) ?? v;
  const eqns: Eqn[] = [];
  for (const orig of g.eqns) {
    const e: Eqn = { ...orig, inputs: orig.inputs.map(sub) };
    const key = `${e.op}${paramsToString(e.params)} ${e.inputs.map((v) => v.id).join(" ")}`;
    const prev = seen.get(key);
    if (prev) {
      e.outs.forEach((v, i) => subst.set(v.id, prev.outs[i]!));
      continue;
    }
    seen.set(key, e);
    eqns.push(e);
  }
  return {
    graph: { inputs: g.inputs, eqns, outputs: g.outputs.map(sub) },
    changed: eqns.length !== g.eqns.length,
  };
}

export { dce };

/** Rewrites, CSE and DCE, repeated until nothing changes. */
export function simplify(g: Graph): Graph {
  let cur = g;
  // Every round that changes something removes or folds an equation, so this
  // terminates long before the cap; the cap only guards against a rewrite
  // pair that undoes each other.
  for (let round = 0; round < 100; round++) {
    const r = rewritePass(cur);
    const c = csePass(r.graph);
    const d = dce(c.graph);
    const s = simplifyScans(d, simplify);
    const changed = r.changed || c.changed || d.eqns.length !== c.graph.eqns.length || s.changed;
    cur = s.graph;
    if (!changed) break;
  }
  return cur;
}

/**
 * An entry simplified, without the inputs nothing reads any more (unless it
 * keeps them): its slots follow its inputs.
 */
export function simplifyEntry(e: Entry): Entry {
  const g = simplify(e.graph);
  const used = new Set(g.outputs.map((v) => v.id));
  for (const q of g.eqns) q.inputs.forEach((v) => used.add(v.id));
  const keep = g.inputs.map((v) => e.keepInputs === true || used.has(v.id));
  return {
    ...e,
    graph: { ...g, inputs: g.inputs.filter((_, k) => keep[k]) },
    inSlots: e.inSlots.filter((_, k) => keep[k]),
  };
}

/**
 * Replace graph inputs by constants (e.g. `training` by false for predict):
 * the inputs disappear and a `const` equation defines each var instead. Run
 * `simplify` afterwards to fold what they decide.
 */
export function bindInputs(g: Graph, values: Map<Var, number>): Graph {
  const byId = new Map([...values].map(([v, x]) => [v.id, x]));
  const consts: Eqn[] = [];
  for (const v of g.inputs) {
    const value = byId.get(v.id);
    if (value === undefined) continue;
    const params: OpParams["const"] = {
      value: toDType(value, v.type.dtype),
      dtype: v.type.dtype,
      shape: v.type.shape,
    };
    consts.push({ op: "const", params, inputs: [], outs: [v] });
  }
  return {
    inputs: g.inputs.filter((v) => !byId.has(v.id)),
    eqns: [...consts, ...g.eqns],
    outputs: g.outputs,
  };
}
