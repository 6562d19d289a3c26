// Builds equations with inferred types. The elaborator, autodiff and the
// optimizer passes all append equations through a Builder, so every
// equation in every graph has passed its shape rule when it was made.

import type { Span } from "../grammar/index.ts";
import { infer } from "./shapes.ts";
import { anyEqn, type Eqn, type Op, type OpParams, type Var, type VarGen } from "./ir.ts";

export interface EmitOpts {
  hint?: string;
  span?: Span;
  file?: string;
}

export class Builder {
  readonly eqns: Eqn[] = [];
  constructor(readonly gen: VarGen) {}

  /** Append `op[params](inputs)` and return its single output. */
  emit<P extends Op>(op: P, params: OpParams[P], inputs: Var[], opts: EmitOpts = {}): Var {
    const outs = this.emitMulti(op, params, inputs, opts);
    if (outs.length !== 1) throw new Error(`${op} has ${outs.length} outputs; use emitMulti`);
    return outs[0]!;
  }

  /** Append an equation with any number of outputs (scan, later). */
  emitMulti<P extends Op>(op: P, params: OpParams[P], inputs: Var[], opts: EmitOpts = {}): Var[] {
    const types = infer(
      op,
      params,
      inputs.map((v) => v.type),
    );
    const outs = types.map((t, i) => this.gen.fresh(t, i === 0 ? opts.hint : undefined));
    const eqn: Eqn<P> = { op, params, inputs, outs };
    if (opts.span) eqn.span = opts.span;
    if (opts.file) eqn.file = opts.file;
    this.eqns.push(anyEqn(eqn));
    return outs;
  }
}

/**
 * A Builder for a nested graph (a scan's body). An input defined outside it
 * (a weight, a param of a block called in the body, the seed) is captured:
 * replaced by a fresh var of the same type, once per outer var, which the
 * enclosing equation passes in as a const.
 */
export class CaptureBuilder extends Builder {
  /** Outer var id -> its capture, in order of first use. */
  readonly captured = new Map<number, { outer: Var; inner: Var }>();
  private readonly defined = new Set<number>();

  constructor(gen: VarGen, inputs: Var[]) {
    super(gen);
    for (const v of inputs) this.defined.add(v.id);
  }

  /** `v` as a var of this graph: itself when defined here, else its capture. */
  inner(v: Var): Var {
    if (this.defined.has(v.id)) return v;
    let c = this.captured.get(v.id);
    if (!c) {
      c = { outer: v, inner: this.gen.fresh(v.type, v.hint) };
      this.captured.set(v.id, c);
    }
    return c.inner;
  }

  override emitMulti<P extends Op>(
    op: P,
    params: OpParams[P],
    inputs: Var[],
    opts: EmitOpts = {},
  ): Var[] {
    const outs = super.emitMulti(
      op,
      params,
      inputs.map((v) => this.inner(v)),
      opts,
    );
    for (const v of outs) this.defined.add(v.id);
    return outs;
  }
}
