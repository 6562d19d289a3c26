// `scan xt in x along 1 carry (h = ..., c = ...) { ...; yield h }`.
//
// The body is elaborated once, into a graph of its own (a CaptureBuilder):
// the carries and the step slice `xt` are its inputs, and every tensor it
// reads from outside (weights, params of blocks called in the body, the
// seed) is captured as a const. Body statements run in a scope below the
// carries, so assigning a carry name defines its next value there while the
// right-hand side still reads the incoming one. The scan's value is the
// stacked yields, or the final carries when nothing is yielded.
//
// Random draws in the body: were the body to capture the per-call seed like
// any other tensor, every step would draw the same values. Instead a body
// that reads the seed gets a seed of its own per step, `seed * C + t`, passed
// in as one more scanned input (an i32 counter over the steps, computed
// outside the loop with plain i32 `mul`, `add` and `iota`). So the IR gains
// no op, every backend (interpreter, JS, WGSL) draws the same bits, and the
// reverse scan autodiff builds slices that input at the same t as the
// forward scan, recomputing exactly the forward step's masks. C is odd, so
// `seed * C` keeps distinct seeds distinct mod 2^32, and below 2^21, so the
// product stays exact in float64 before it wraps like an i32 (the
// interpreter and JS compute in float64, WGSL in wrapping i32: they agree).
// A nested scan's counter is built from the outer step's seed, so
// (outer t, inner t') pairs get distinct seeds for lengths below C.

import type * as ast from "../../grammar/index.ts";
import { CaptureBuilder } from "../builder.ts";
import { dimConst, shapeToString, type Dim } from "../dims.ts";
import type { Eqn, OpParams, Var } from "../ir.ts";
import { ShapeError, sameType } from "../shapes.ts";
import { fail, Scope, type Ctx } from "./context.ts";
import { evalExpr, staticInt } from "./expr.ts";
import { execAssign, execParam } from "./stmts.ts";
import { asVar, builder, need, tensor, toVar } from "./tensor-ops.ts";
import { describe, hoverText, typeText, type Value } from "./values.ts";

/** One yield or carry value, converted into the body graph. */
interface BodyOut {
  v: Var;
  span: ast.Span;
}

function scannedTensor(ctx: Ctx, e: ast.ScanExpr): Var {
  const v = need(evalExpr(ctx, e.source));
  if (v.kind !== "tensor")
    fail(ctx, "E2007", `\`scan\` walks a tensor, but this is ${describe(v)}`, e.source.span);
  return toVar(ctx, v, e.source.span, v.v.type.dtype);
}

function scanAxis(ctx: Ctx, e: ast.ScanExpr, rank: number): number {
  const a = staticInt(ctx, evalExpr(ctx, e.axis), e.axis.span, "the axis of `scan`");
  const axis = a < 0 ? a + rank : a;
  if (axis < 0 || axis >= rank)
    fail(ctx, "E3005", `axis ${a} is out of range for a tensor of rank ${rank}`, e.axis.span, {
      labels: [{ span: e.source.span, message: `this has rank ${rank}` }],
    });
  return axis;
}

export function elabScan(ctx: Ctx, e: ast.ScanExpr): Value {
  const outer = builder(ctx, e.span);
  const x = scannedTensor(ctx, e);
  const axis = scanAxis(ctx, e, x.type.shape.length);
  const inits = e.carries.map((c) =>
    asVar(ctx, { value: evalExpr(ctx, c.init), span: c.init.span }),
  );

  const gen = outer.gen;
  const carryIn = e.carries.map((c, k) => gen.fresh(inits[k]!.type, c.name.name));
  const sliceType = { dtype: x.type.dtype, shape: x.type.shape.filter((_, a) => a !== axis) };
  const item = gen.fresh(sliceType, e.item.name);
  const body = new CaptureBuilder(gen, [...carryIn, item]);

  // Carries and the item live in a scope of their own; the body's assignments go one below it.
  const carryScope = new Scope(ctx.scope);
  const bind = (name: ast.Ident, v: Var) => {
    const value: Value = { kind: "tensor", v, graph: body };
    carryScope.define(name.name, { value, span: name.span, file: ctx.file });
    ctx.s.type(ctx.file, name.span, hoverText(name.name, value));
  };
  e.carries.forEach((c, k) => bind(c.name, carryIn[k]!));
  bind(e.item, item);
  const inner: Ctx = { ...ctx, b: body, scope: new Scope(carryScope) };
  const yields: BodyOut[] = [];
  for (const s of e.body) {
    switch (s.kind) {
      case "Assign":
        execAssign(inner, s);
        break;
      case "Param":
        execParam(inner, s);
        break;
      case "Yield": {
        const v = need(evalExpr(inner, s.value));
        yields.push({ v: body.inner(toVar(inner, v, s.value.span, dtypeOf(v))), span: s.span });
        break;
      }
      default:
        fail(
          ctx,
          "E2009",
          `\`${s.kind.toLowerCase()}\` cannot appear in the body of a \`scan\``,
          s.span,
        );
    }
  }
  const next = e.carries.map((c, k) => nextCarry(inner, c, carryIn[k]!, inits[k]!, body));

  const stepSeed = perStepSeed(ctx, body, axis, x.type.shape[axis]!, e.span);
  const captures = [...body.captured.values()];
  const params: OpParams["scan"] = {
    body: {
      inputs: [
        ...captures.map((c) => c.inner),
        ...carryIn,
        item,
        ...(stepSeed ? [stepSeed.input] : []),
      ],
      eqns: [...(stepSeed?.eqns ?? []), ...body.eqns],
      outputs: [...next.map((n) => n.v), ...yields.map((y) => y.v)],
    },
    length: x.type.shape[axis]!,
    axis,
    reverse: false,
    nConsts: captures.length,
    nCarry: e.carries.length,
    nXs: stepSeed ? 2 : 1,
  };
  const xs = [x, ...(stepSeed ? [stepSeed.seeds] : [])];
  let outs: Var[];
  try {
    outs = outer.emitMulti("scan", params, [...captures.map((c) => c.outer), ...inits, ...xs], {
      span: e.span,
      file: ctx.file,
    });
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    fail(ctx, err.code, err.message, e.span, { notes: [...err.notes] });
  }
  const carries = outs.slice(0, e.carries.length);
  const ys = outs.slice(e.carries.length);
  const result = ys.length > 0 ? ys : carries;
  if (result.length === 1) return tensor(ctx, result[0]!);
  return { kind: "list", items: result.map((v) => tensor(ctx, v)) };
}

/** Odd and below 2^21: see the header. */
const SEED_STRIDE = 0x1e3779;

/**
 * When the body captured the model's seed (a random draw, or a nested scan
 * with one), stop capturing it: compute `from * C + t` for every step t in
 * the enclosing graph (`from` is the seed itself, except for repeat.ts's
 * init scans, which derive theirs from the init graph's seed), shaped
 * [1 x axis, length] so the scan slices it along its own axis, and define
 * the body's seed var from the slice instead.
 */
export function perStepSeed(
  ctx: Ctx,
  body: CaptureBuilder,
  axis: number,
  length: Dim,
  span: ast.Span,
  from?: Var,
): { input: Var; eqns: Eqn[]; seeds: Var } | null {
  const seed = ctx.m?.seed;
  const cap = seed && body.captured.get(seed.id);
  if (!seed || !cap) return null;
  body.captured.delete(seed.id);
  const outer = builder(ctx, span);
  const opts = { span, file: ctx.file, hint: "step_seed" };
  const shape = [...Array<Dim>(axis).fill(dimConst(1)), length];
  const stride = outer.emit("const", { value: SEED_STRIDE, dtype: "i32", shape: [] }, []);
  const base = outer.emit("mul", {}, [from ?? seed, stride]);
  const t = outer.emit("iota", { shape, axis, dtype: "i32" }, []);
  const seeds = outer.emit("add", {}, [base, t], opts);
  if (axis === 0) return { input: cap.inner, eqns: [], seeds };
  const input = body.gen.fresh({ dtype: "i32", shape: shape.slice(0, axis) }, "step_seed");
  const reshape: Eqn = { op: "reshape", params: { shape: [] }, inputs: [input], outs: [cap.inner] };
  return { input, eqns: [reshape], seeds };
}

function dtypeOf(v: Value) {
  return v.kind === "tensor" ? v.v.type.dtype : v.kind === "bool" ? "bool" : "f32";
}

/**
 * The value a carry leaves the body with: its assignment in the body, or the
 * incoming value when the body does not assign it. It must keep its type,
 * since the next step reads it where the first step read the initial value.
 */
function nextCarry(
  inner: Ctx,
  c: ast.ScanCarry,
  incoming: Var,
  init: Var,
  body: CaptureBuilder,
): BodyOut {
  const entry = inner.scope.own(c.name.name);
  if (!entry) return { v: incoming, span: c.span };
  const v = need(typeof entry.value === "function" ? entry.value(inner, c.span) : entry.value);
  const span = entry.span ?? c.span;
  if (v.kind !== "tensor" || !sameType(v.v.type, init.type)) {
    const got = v.kind === "tensor" ? typeText(v.v.type) : describe(v);
    fail(
      inner,
      "E3020",
      `carry \`${c.name.name}\` changes shape in the scan body: it starts as ${typeText(init.type)} but the body makes it ${got}`,
      c.span,
      {
        labels: [
          { span: c.init.span, message: `starts as ${shapeToString(init.type.shape)}` },
          {
            span,
            message:
              v.kind === "tensor"
                ? `becomes ${shapeToString(v.v.type.shape)} here`
                : "assigned here",
          },
        ],
        notes: [
          "each step reads the carry where the previous step left it, so its shape and type must stay the same",
        ],
      },
    );
  }
  return { v: body.inner(v.v), span };
}
