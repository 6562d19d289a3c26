// Which int inputs are indices, and into what: found by following each i32
// input's values through the ops that move them unchanged (reshape,
// transpose, broadcast, slice, a gather from them, a scan slicing or
// capturing them) to an op that uses them as positions: the index operand of
// a gather (valid: 0 <= i < the gathered axis) or an equality test against
// an iota (one_hot, as cross_entropy builds it: 0 <= i < the iota's length).
// An index out of range does not fail in a kernel (a gather reads 0, a
// one_hot row is all zeros), so the runtime checks these ranges on every
// call and names the input instead of returning a silently wrong loss.

import type { Dim } from "../dims.ts";
import type { Eqn, Graph, ProgramIR } from "../ir.ts";

/** One use of an input's values as indices: each must lie in [0, size). */
export interface IndexUse {
  size: Dim;
  /** How it is used, for the error message: "indices of a gather along axis 0", "class indices (one_hot, ...)". */
  what: string;
}

/** Ops whose first output holds (some of) the first input's values, unchanged. */
const carriesValues = new Set(["reshape", "transpose", "broadcast", "slice", "stop_gradient"]);

/**
 * The index uses of each input, by name, over the graphs of a program's
 * entries. `inputNames` maps the ids of an entry's graph inputs that are
 * model inputs to their names.
 */
export function indexUses(
  entries: readonly { graph: Graph; inputNames: ReadonlyMap<number, string> }[],
): Map<string, IndexUse[]> {
  const uses = new Map<string, IndexUse[]>();
  const add = (name: string, use: IndexUse) => {
    const list = uses.get(name) ?? [];
    if (
      !list.some((u) => u.what === use.what && JSON.stringify(u.size) === JSON.stringify(use.size))
    )
      list.push(use);
    uses.set(name, list);
  };
  for (const e of entries) {
    const origin = new Map<number, string>();
    for (const v of e.graph.inputs) {
      const name = e.inputNames.get(v.id);
      if (name !== undefined && v.type.dtype === "i32") origin.set(v.id, name);
    }
    walk(e.graph, origin, add);
  }
  return uses;
}

function walk(
  g: Graph,
  origin: Map<number, string>,
  add: (name: string, use: IndexUse) => void,
): void {
  /** Iotas (and their broadcasts) by var id: the length of the axis they count along. */
  const iotas = new Map<number, Dim>();
  for (const eqn of g.eqns) {
    const [a, b] = eqn.inputs;
    const out = eqn.outs[0];
    const from = a && origin.get(a.id);
    if (eqn.op === "iota") {
      iotas.set(out!.id, eqn.params.shape[eqn.params.axis]!);
    } else if (eqn.op === "broadcast" && a && iotas.has(a.id)) {
      iotas.set(out!.id, iotas.get(a.id)!);
    }
    if (from !== undefined && carriesValues.has(eqn.op)) origin.set(out!.id, from);
    if (eqn.op === "gather") {
      const { axis } = eqn.params;
      const idx = b && origin.get(b.id);
      if (idx !== undefined)
        add(idx, { size: a!.type.shape[axis]!, what: `indices of a gather along axis ${axis}` });
      if (from !== undefined) origin.set(out!.id, from);
    }
    if (eqn.op === "eq" && a && b) {
      for (const [x, y] of [
        [a, b],
        [b, a],
      ] as const) {
        const name = origin.get(x.id);
        const n = iotas.get(y.id);
        if (name !== undefined && n !== undefined)
          add(name, { size: n, what: "class indices (one_hot, as in cross_entropy)" });
      }
    }
    if (eqn.op === "scan") scanBody(eqn, origin, add);
  }
}

/** Follow values into a scan body: captured consts as they are, scanned inputs slice by slice. */
function scanBody(
  eqn: Eqn<"scan">,
  origin: ReadonlyMap<number, string>,
  add: (name: string, use: IndexUse) => void,
): void {
  const p = eqn.params;
  const inner = new Map<number, string>();
  eqn.inputs.forEach((v, k) => {
    const name = origin.get(v.id);
    const isCarry = k >= p.nConsts && k < p.nConsts + p.nCarry;
    if (name !== undefined && !isCarry) inner.set(p.body.inputs[k]!.id, name);
  });
  if (inner.size > 0) walk(p.body, inner, add);
}

/** The index uses of a program's model inputs, by name, over all its entries. */
export function programIndexUses(program: ProgramIR): Map<string, IndexUse[]> {
  return indexUses(
    program.entries.map((e) => ({
      graph: e.graph,
      inputNames: new Map(
        e.inSlots.flatMap((s, k) => (s.kind === "input" ? [[e.graph.inputs[k]!.id, s.name]] : [])),
      ),
    })),
  );
}
