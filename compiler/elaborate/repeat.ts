// `repeat(f, n)`: the function value f applied n times in sequence, each
// copy with its own params, lowered to one `scan` over the copies so that
// the body, and with it the emitted module, is built once whatever n is.
//
// The scan's carry is the activation and its xs are the STACKED params: f's
// body is elaborated once, inside the scan body, and while it runs each
// `param` statement (stmts.ts's execParam asks `repeatedParam`) declares no
// param of its own but one copy's slice of a param stacked [n, ...shape],
// which becomes one more scanned input. The stacked param is named
// `repeat_1.` + the rest of the copy's path (`repeat_1.dense_1.w`), with
// `stack: [{ prefix: "repeat_1.", n }]`; checkpoints and params() show copy
// i as `repeat_1.<i>.dense_1.w` (runtime/stacked.ts). f is applied with the
// repeat's path as its own (CallSite.path), so a block's params sit right
// under it (`repeat(encoder_block(heads: 4), 6)` has `repeat_1.layer_norm_1.scale`).
// A shared binding applied in the body keeps its own path, outside the
// repeat's: its params are ordinary ones, which every copy reads.
//
// Initialisation: each copy is initialised as an unstacked param would be
// (fans from the slice's shape, the same distribution), independently. The
// initialisers run once, in the body of a second scan over the copies, in
// the init graph, whose stacked yields are the stacked params' initial
// values; its random draws get a seed of their own per copy the way a
// forward scan's do (scan.ts's perStepSeed), from the init graph's seed.
// Dropout in a repeated body likewise draws a different mask per copy.
//
// Nesting: a repeat inside a repeated body stacks its params into the outer
// repeat's slices, so they end up [n_outer, n_inner, ...shape] with one
// stack level each; its init scan runs inside the outer init scan's body.
// A `state` (batch norm's running averages) is stacked like a param; its
// `update`, a value of the loop's body, becomes a stacked output of the
// loop, which is the stacked state's update (state.ts), so each copy keeps
// its own running averages.

import type { Span } from "../../grammar/index.ts";
import { CaptureBuilder, type Builder } from "../builder.ts";
import { dimConst, type Dim } from "../dims.ts";
import type { ModelParam, OpParams, Var } from "../ir.ts";
import { ShapeError, sameType } from "../shapes.ts";
import { fail, type Ctx, type ModelState } from "./context.ts";
import { applyFn, staticInt } from "./expr.ts";
import { arg, intrinsic } from "./intrinsics.ts";
import { perStepSeed } from "./scan.ts";
import { markState, setUpdate, stateUpdates } from "./state.ts";
import { builder, need, tensor } from "./tensor-ops.ts";
import {
  describe,
  typeText,
  type Arg,
  type CallSite,
  type IntrinsicFn,
  type Value,
} from "./values.ts";

type Level = NonNullable<ModelParam["stack"]>[number];

/** A scan body whose scanned inputs (the params' slices) are declared as it is built. */
class RepeatBody extends CaptureBuilder {
  readonly slices = new Set<number>();
  override inner(v: Var): Var {
    return this.slices.has(v.id) ? v : super.inner(v);
  }
}

/** One param the repeated body declared: one copy's slice, and that copy's initial value. */
interface Declared {
  /** Its path as declared (`repeat_1.encoder_block_1.dense_1.w`). */
  path: string;
  /** Stack levels of repeats nested inside this one, prefixes as prefixes of `path`. */
  levels: Level[];
  slice: Var;
  /** One copy's initial value, in `Frame.init`. */
  init: Var;
  span: Span;
  file: string;
  /** A `state` (never trained; its update, if any, is recorded in state.ts under `slice`). */
  state: boolean;
}

/** A repeat whose body is being elaborated. */
interface Frame {
  /** `repeat_1.`: every param of the body has a path below it. */
  prefix: string;
  n: number;
  body: RepeatBody;
  /** The init scan's body: each param's initial value for one copy. */
  init: CaptureBuilder;
  declared: Declared[];
}

/** The repeats being elaborated in each model, innermost last. */
const frames = new WeakMap<ModelState, Frame[]>();

/** The innermost repeat whose copies own `path` (none for a shared binding's param bound outside). */
function owner(m: ModelState, path: string): Frame | null {
  const open = frames.get(m) ?? [];
  for (let i = open.length - 1; i >= 0; i--) if (path.startsWith(open[i]!.prefix)) return open[i]!;
  return null;
}

/**
 * Whether a param at `path` is declared in a repeated body, as one copy's
 * slice: sharing.ts leaves it to repeat, which merges a shared binding's
 * params by path when it stacks them (a slice is only valid in its own body).
 */
export function inRepeat(ctx: Ctx, path: string): boolean {
  return ctx.m !== null && owner(ctx.m, path) !== null;
}

/** Where a `param` statement inside a repeated body puts its initial value and its slice. */
export interface RepeatedParam {
  /** The builder its initialiser runs in (the init scan's body). */
  init: Builder;
  /** The builder the slice belongs to (the forward scan's body). */
  body: Builder;
  /** Declare one copy's param: returns the slice the body reads. */
  declare(shape: Dim[], init: Var, span: Span, file: string): Var;
}

/**
 * For execParam: null outside a repeated body; inside one, how to declare
 * the param (or state) as one copy's slice.
 */
export function repeatedParam(ctx: Ctx, path: string, state: boolean): RepeatedParam | null {
  const f = ctx.m && owner(ctx.m, path);
  if (!f) return null;
  return {
    init: f.init,
    body: f.body,
    declare: (shape, init, at, file) => declareIn(f, path, [], shape, init, at, file, state),
  };
}

function declareIn(
  f: Frame,
  path: string,
  levels: Level[],
  shape: Dim[],
  init: Var,
  span: Span,
  file: string,
  state: boolean,
): Var {
  const slice = f.body.gen.fresh({ dtype: "f32", shape }, path);
  f.body.slices.add(slice.id);
  f.declared.push({ path, levels, slice, init, span, file, state });
  return slice;
}

export function repeatIntrinsic(): IntrinsicFn {
  return intrinsic("repeat(x, f, n)", "repeat(x, f: fn, n: int)", (ctx, args, site) =>
    elabRepeat(ctx, arg(args, "x", site), arg(args, "f", site), arg(args, "n", site), site),
  );
}

function elabRepeat(ctx: Ctx, xa: Arg, fa: Arg, na: Arg, site: CallSite): Value {
  const m = ctx.m;
  const outer = builder(ctx, site.span);
  const x = need(xa.value);
  if (x.kind !== "tensor" || !m)
    fail(
      ctx,
      "E2007",
      `\`repeat\` applies a function to a tensor, but this is ${describe(x)}`,
      xa.span,
    );
  const fv = need(fa.value);
  if (fv.kind !== "fn")
    fail(
      ctx,
      "E2007",
      `the function \`repeat\` applies must be a function, but it is ${describe(fv)}`,
      fa.span,
      {
        help: "pass a layer without its input, like `repeat(dense(64), 3)` or `repeat(my_block, 3)`",
      },
    );
  const n = staticInt(ctx, na.value, na.span, "the count of `repeat`");
  if (n < 1) fail(ctx, "E3041", `\`repeat\` needs a count of at least 1, but it is ${n}`, na.span);

  const k = (ctx.counters.get("repeat") ?? 0) + 1;
  ctx.counters.set("repeat", k);
  const prefix = `${ctx.path}repeat_${k}.`;
  const carry = outer.gen.fresh(x.v.type, "h");
  const body = new RepeatBody(outer.gen, [carry]);
  const frame: Frame = {
    prefix,
    n,
    body,
    init: new CaptureBuilder(outer.gen, []),
    declared: [],
  };
  const stack = frames.get(m) ?? [];
  frames.set(m, stack);
  stack.push(frame);
  let result: Value;
  try {
    const inner: Ctx = { ...ctx, b: body, path: prefix, counters: new Map() };
    const h: Value = { kind: "tensor", v: carry, graph: body };
    result = need(
      applyFn(inner, fv, [{ value: h, span: xa.span }], {
        name: fv.fn.name,
        span: fa.span,
        path: prefix,
      }),
    );
  } finally {
    stack.pop();
  }
  if (result.kind !== "tensor" || !sameType(result.v.type, carry.type)) {
    const got = result.kind === "tensor" ? typeText(result.v.type) : describe(result);
    fail(
      ctx,
      "E3040",
      `\`repeat\` feeds each copy's output to the next copy, so its function must return its input's type, but it maps ${typeText(carry.type)} to ${got}`,
      fa.span,
      {
        labels: [{ span: xa.span, message: `this is ${typeText(carry.type)}` }],
        help: "repeat a block whose result has the shape of its input (a residual block), or change its output size",
      },
    );
  }
  const stacked = stackParams(ctx, frame, site.span);
  const next = body.inner(result.v);
  // Each copy's state updates, stacked by the loop: the stacked states' updates.
  const updates = stateUpdates(m);
  const updated = frame.declared.flatMap((d, i) => {
    const u = updates.get(d.slice.id);
    return u ? [{ i, u }] : [];
  });
  const seed = perStepSeed(ctx, body, 0, dimConst(n), site.span);
  const captures = [...body.captured.values()];
  const slices = frame.declared.map((d) => d.slice);
  const params: OpParams["scan"] = {
    body: {
      inputs: [...captures.map((c) => c.inner), carry, ...slices, ...(seed ? [seed.input] : [])],
      eqns: [...(seed?.eqns ?? []), ...body.eqns],
      outputs: [next, ...updated.map(({ u }) => body.inner(u.var))],
    },
    length: dimConst(n),
    axis: 0,
    reverse: false,
    nConsts: captures.length,
    nCarry: 1,
    nXs: slices.length + (seed ? 1 : 0),
  };
  const ins = [...captures.map((c) => c.outer), x.v, ...stacked, ...(seed ? [seed.seeds] : [])];
  try {
    const outs = outer.emitMulti("scan", params, ins, { span: site.span, file: ctx.file });
    // An update is written in the block that declares its state, so in the state's file.
    updated.forEach(({ i, u }, j) =>
      setUpdate(m, stacked[i]!, { var: outs[1 + j]!, span: u.span, file: frame.declared[i]!.file }),
    );
    return tensor(ctx, outs[0]!);
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    fail(ctx, err.code, err.message, site.span, { notes: [...err.notes] });
  }
}

/**
 * After the body: initialise every declared param for all n copies (the
 * init scan, in the enclosing repeat's init body or the model's init graph)
 * and declare the stacked params one level up (the enclosing repeat's
 * slices, or the model's params). Returns the stacked forward vars, in the
 * order of `frame.declared`.
 */
function stackParams(ctx: Ctx, frame: Frame, span: Span): Var[] {
  const m = ctx.m!;
  if (frame.declared.length === 0) return [];
  const parent = owner(m, frame.prefix);
  const into: Ctx = { ...ctx, b: parent ? parent.init : m.init };
  const { init, n } = frame;
  // The initialisers draw from the forward seed inside a scan body (initializers.ts's draw):
  // each copy gets its own from the init graph's seed, or from the enclosing copy's.
  const seed = perStepSeed(into, init, 0, dimConst(n), span, parent ? m.seed : m.initSeed);
  const used = [...init.captured.values()];
  if (used.length > 0)
    fail(ctx, "E2007", "a parameter initialiser cannot use tensors of the model", span, {
      notes: ["initialisers run once, before any input exists; use compile-time values"],
    });
  const params: OpParams["scan"] = {
    body: {
      inputs: seed ? [seed.input] : [],
      eqns: [...(seed?.eqns ?? []), ...init.eqns],
      outputs: frame.declared.map((d) => init.inner(d.init)),
    },
    length: dimConst(n),
    axis: 0,
    reverse: false,
    nConsts: 0,
    nCarry: 0,
    nXs: seed ? 1 : 0,
  };
  const inits = builder(into, span).emitMulti("scan", params, seed ? [seed.seeds] : [], {
    span,
    file: ctx.file,
  });
  return frame.declared.map((d, i) => {
    const levels = [{ prefix: frame.prefix, n }, ...d.levels];
    const shape = [dimConst(n), ...d.slice.type.shape];
    if (parent) return declareIn(parent, d.path, levels, shape, inits[i]!, d.span, d.file, d.state);
    // A path met again is a shared binding's param declared by its second application.
    const prev = m.params.find((p) => p.path === d.path);
    if (prev && sameType(prev.var.type, { dtype: "f32", shape })) return prev.var;
    if (prev)
      fail(ctx, "E2013", `two different parameters would both be named \`${d.path}\``, d.span);
    const v = m.gen.fresh({ dtype: "f32", shape }, d.path);
    m.params.push({
      path: d.path,
      var: v,
      span: d.span,
      file: d.file,
      init: inits[i]!,
      stack: levels,
    });
    if (d.state) markState(m, v);
    return v;
  });
}
