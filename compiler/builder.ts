// Builds equations with inferred types. The elaborator, autodiff and the
// optimizer passes all append equations through a Builder, so every
// equation in every graph has passed its shape rule when it was made.

import type { Span } from "../grammar/index.ts";
import { infer } from "./shapes.ts";
import type { Eqn, Op, OpParams, Var, VarGen } from "./ir.ts";

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
    this.eqns.push(eqn as unknown as Eqn);
    return outs;
  }
}
