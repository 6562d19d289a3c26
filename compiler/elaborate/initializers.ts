// Tensors made from nothing but a shape: constants and random draws. These
// are the parameter initialisers (`param w: [n, m] init glorot_uniform` calls
// `glorot_uniform([n, m])` in the init graph), and in a model body they draw
// from the per-call seed instead (dropout's mask is `uniform(shape(x))`).

import type { Span } from "../../grammar/index.ts";
import { dimAsConst, dimConst, dimMul, numElements, shapeToString, type Dim } from "../dims.ts";
import { CaptureBuilder } from "../builder.ts";
import type { Op, OpParams, Var } from "../ir.ts";
import { fail, type Ctx } from "./context.ts";
import { arg, intrinsic, numberArg, shapeArg } from "./intrinsics.ts";
import { builder, emit, tensor } from "./tensor-ops.ts";
import type { Arg, IntrinsicFn } from "./values.ts";

/**
 * A scalar that is a compile-time number when the dims it comes from are
 * concrete, and a graph value when they are only known at run time (a
 * fan-in of `F` features in linear regression).
 */
type Num = number | Var;

class Scalars {
  constructor(
    private readonly ctx: Ctx,
    private readonly span: Span,
  ) {}
  /** As a tensor (for ops on whole tensors). */
  tensor(x: Num): Var {
    return typeof x === "number"
      ? emit(this.ctx, "const", { value: x, dtype: "f32", shape: [] }, [], this.span)
      : x;
  }
  private bin(
    op: "add" | "sub" | "mul" | "div",
    a: Num,
    b: Num,
    f: (x: number, y: number) => number,
  ): Num {
    if (typeof a === "number" && typeof b === "number") return f(a, b);
    return emit(this.ctx, op, {}, [this.tensor(a), this.tensor(b)], this.span);
  }
  // Methods, not arrow fields: those are four (tsx-named) closures per instance, one per init call.
  add(a: Num, b: Num): Num {
    return this.bin("add", a, b, (x, y) => x + y);
  }
  sub(a: Num, b: Num): Num {
    return this.bin("sub", a, b, (x, y) => x - y);
  }
  mul(a: Num, b: Num): Num {
    return this.bin("mul", a, b, (x, y) => x * y);
  }
  div(a: Num, b: Num): Num {
    return this.bin("div", a, b, (x, y) => x / y);
  }
  sqrt(a: Num): Num {
    return typeof a === "number" ? Math.sqrt(a) : emit(this.ctx, "sqrt", {}, [a], this.span);
  }
  dim(d: Dim): Num {
    const c = dimAsConst(d);
    return c !== null ? c : emit(this.ctx, "dimval", { dim: d, dtype: "f32" }, [], this.span);
  }
}

/** Uniform [0, 1) of `shape` from the graph's seed, on a stream of its own. */
function draw(ctx: Ctx, shape: Dim[], span: Span): Var {
  const m = ctx.m;
  if (!m) fail(ctx, "E2007", "random values only exist inside a model", span);
  const seed = ctx.b === m.init ? m.initSeed : m.seed;
  return emit(ctx, "random", { shape, stream: m.nextStream++ }, [seed], span);
}

/** `low + (high - low) * u`, skipping the arithmetic for the unit interval. */
function uniformOf(ctx: Ctx, shape: Dim[], low: Num, high: Num, span: Span): Var {
  const u = draw(ctx, shape, span);
  if (low === 0 && high === 1) return u;
  const s = new Scalars(ctx, span);
  const scaled = emit(ctx, "mul", {}, [u, s.tensor(s.sub(high, low))], span);
  return emit(ctx, "add", {}, [scaled, s.tensor(low)], span);
}

/**
 * Standard normal draws by Box–Muller: sqrt(-2 ln(1 - u1)) * cos(2π u2). The
 * primitives have no cos, so it is a degree-11 odd polynomial for sin on
 * [-π/2, π/2] (error below 1e-7, under f32 resolution) after folding u2 into
 * that range: cos(2π u2) = -sin(2π (1/4 - |u2 - 1/2|)).
 */
function standardNormal(ctx: Ctx, shape: Dim[], span: Span): Var {
  const c = (value: number) => emit(ctx, "const", { value, dtype: "f32", shape: [] }, [], span);
  const op = (o: "add" | "sub" | "mul", a: Var, b: Var) => emit(ctx, o, {}, [a, b], span);
  const u1 = draw(ctx, shape, span);
  const u2 = draw(ctx, shape, span);
  // 1 - u1 is in (0, 1], so the log is finite.
  const r = emit(
    ctx,
    "sqrt",
    {},
    [op("mul", c(-2), emit(ctx, "log", {}, [op("sub", c(1), u1)], span))],
    span,
  );
  const folded = op("sub", c(0.25), emit(ctx, "abs", {}, [op("sub", u2, c(0.5))], span));
  const theta = op("mul", c(2 * Math.PI), folded);
  const t = op("mul", theta, theta);
  const coeffs = [-1 / 39916800, 1 / 362880, -1 / 5040, 1 / 120, -1 / 6, 1];
  let poly = c(coeffs[0]!);
  for (const k of coeffs.slice(1)) poly = op("add", op("mul", poly, t), c(k));
  const sin = op("mul", theta, poly);
  return op("mul", r, emit(ctx, "neg", {}, [sin], span));
}

function normalOf(ctx: Ctx, shape: Dim[], std: Num, mean: Num, span: Span): Var {
  const s = new Scalars(ctx, span);
  const z = standardNormal(ctx, shape, span);
  const scaled = std === 1 ? z : emit(ctx, "mul", {}, [z, s.tensor(std)], span);
  return mean === 0 ? scaled : emit(ctx, "add", {}, [scaled, s.tensor(mean)], span);
}

/**
 * Fan-in and fan-out for dlg's layouts. A matrix is [in, out], as `dense`
 * stores it (x @ w). A filter of rank 3 or more is channels-first,
 * [out, in, k...], as `conv2d` stores it: the kernel axes are a receptive
 * field that multiplies both fans (fan_in = in * kh * kw). A vector counts as
 * fan-in = fan-out = its length.
 */
function fans(shape: Dim[]): { fanIn: Dim; fanOut: Dim } {
  const n = shape.length;
  if (n === 0) return { fanIn: numElements([]), fanOut: numElements([]) };
  if (n === 1) return { fanIn: shape[0]!, fanOut: shape[0]! };
  if (n === 2) return { fanIn: shape[0]!, fanOut: shape[1]! };
  const receptive = numElements(shape.slice(2));
  return { fanIn: dimMul(shape[1]!, receptive), fanOut: dimMul(shape[0]!, receptive) };
}

/**
 * One step of classical Gram–Schmidt with re-orthogonalisation ("twice is
 * enough", Giraud et al. 2005), as a scan body over the column index k:
 * column k of the carry, still the Gaussian's, loses its components along
 * the finished columns 0..k-1 in two passes (the second mops up what float32
 * rounding left of the first), is normalised and written back. Every step is
 * O(rows · cols), so the loop is O(rows · cols²), against Newton–Schulz's
 * dozens of full matrix products.
 */
function gramSchmidtStep(ctx: Ctx, q: Var, k: Var, rows: number, cols: number, span: Span) {
  const e = <P extends Op>(op: P, params: OpParams[P], ...ins: Var[]) =>
    emit(ctx, op, params, ins, span);
  const c = (value: number) => e("const", { value, dtype: "f32", shape: [] });
  const col = e("iota", { shape: [dimConst(cols)], axis: 0, dtype: "i32" });
  const isK = e("eq", {}, col, k);
  const done = e("cast", { dtype: "f32" }, e("lt", {}, col, k));
  const finished = e("mul", {}, q, done);
  const asColumn = (v: Var) => e("reshape", { shape: [dimConst(rows), dimConst(1)] }, v);
  let v = e("reduce_sum", { axes: [1] }, e("mul", {}, q, e("cast", { dtype: "f32" }, isK)));
  for (let pass = 0; pass < 2; pass++) {
    const coef = e("reduce_sum", { axes: [0] }, e("mul", {}, finished, asColumn(v)));
    v = e("sub", {}, v, e("reduce_sum", { axes: [1] }, e("mul", {}, finished, coef)));
  }
  // A column that is exactly zero (a zero Gaussian draw in a 1×1) stays zero instead of NaN.
  const norm = e("sqrt", {}, e("reduce_sum", { axes: [0] }, e("mul", {}, v, v)));
  const unit = e("div", {}, v, e("max", {}, norm, c(1e-30)));
  return e("select", {}, isK, asColumn(unit), q);
}

/**
 * Orthogonal initialisation (Saxe et al., 2014): the Q of a Gaussian
 * matrix's QR decomposition with R's diagonal made positive, which is
 * Haar-distributed (Gram–Schmidt's R has a positive diagonal by
 * construction, so no sign fix is needed). The shape is viewed as
 * [prod(leading), last] like Keras; the result has orthonormal columns when
 * rows ≥ cols, else orthonormal rows (the transpose of a tall one), times
 * `gain`.
 */
function orthogonalOf(ctx: Ctx, shape: Dim[], gain: number, span: Span): Var {
  const sizes = shape.map(dimAsConst);
  if (shape.length < 2 || sizes.some((d) => d === null))
    fail(
      ctx,
      "E2007",
      `\`orthogonal\` needs a matrix (rank 2 or more) whose size is fixed at compile time, but this shape is ${shapeToString(shape)}`,
      span,
    );
  const rows = (sizes as number[]).slice(0, -1).reduce((p, d) => p * d, 1);
  const cols = sizes[sizes.length - 1]!;
  const [tall, narrow] = rows >= cols ? [rows, cols] : [cols, rows];
  const a = standardNormal(ctx, [dimConst(tall), dimConst(narrow)], span);
  const outer = builder(ctx, span);
  const carry = outer.gen.fresh(a.type, "q");
  const k = outer.gen.fresh({ dtype: "i32", shape: [] }, "k");
  const body = new CaptureBuilder(outer.gen, [carry, k]);
  const next = gramSchmidtStep({ ...ctx, b: body }, carry, k, tall, narrow, span);
  const ks = emit(ctx, "iota", { shape: [dimConst(narrow)], axis: 0, dtype: "i32" }, [], span);
  const params: OpParams["scan"] = {
    body: { inputs: [carry, k], eqns: body.eqns, outputs: [next] },
    length: dimConst(narrow),
    axis: 0,
    reverse: false,
    nConsts: 0,
    nCarry: 1,
    nXs: 1,
  };
  let x = outer.emitMulti("scan", params, [a, ks], { span, file: ctx.file })[0]!;
  if (rows < cols) x = emit(ctx, "transpose", { perm: [1, 0] }, [x], span);
  if (gain !== 1)
    x = emit(
      ctx,
      "mul",
      {},
      [x, emit(ctx, "const", { value: gain, dtype: "f32", shape: [] }, [], span)],
      span,
    );
  return emit(ctx, "reshape", { shape }, [x], span);
}

/** An intrinsic whose first argument is the shape of the one tensor it makes. */
function shaped(
  sig: string,
  shown: string,
  make: (ctx: Ctx, shape: Dim[], args: Map<string, Arg>, span: Span) => Var,
): IntrinsicFn {
  return intrinsic(sig, shown, (ctx, args, site) =>
    tensor(ctx, make(ctx, shapeArg(ctx, arg(args, "shape", site)), args, site.span)),
  );
}

function filled(value: number, name: string): IntrinsicFn {
  return shaped(`${name}(shape)`, `${name}(shape: [dim, ...])`, (ctx, shape, _args, span) =>
    emit(ctx, "const", { value, dtype: "f32", shape }, [], span),
  );
}

export function initializers(): IntrinsicFn[] {
  return [
    filled(0, "zeros"),
    filled(1, "ones"),
    shaped(
      "uniform(shape, low?, high?)",
      "uniform(shape: [dim, ...], low: float = 0.0, high: float = 1.0)",
      (ctx, shape, args, span) => {
        const low = numberArg(ctx, args.get("low"), 0, "`low`");
        const high = numberArg(ctx, args.get("high"), 1, "`high`");
        return uniformOf(ctx, shape, low, high, span);
      },
    ),
    shaped(
      "normal(shape, std?, mean?)",
      "normal(shape: [dim, ...], std: float = 1.0, mean: float = 0.0)",
      (ctx, shape, args, span) => {
        const std = numberArg(ctx, args.get("std"), 1, "`std`");
        const mean = numberArg(ctx, args.get("mean"), 0, "`mean`");
        return normalOf(ctx, shape, std, mean, span);
      },
    ),
    // Glorot & Bengio (2010): keeps activation variance steady through tanh/linear layers.
    shaped(
      "glorot_uniform(shape)",
      "glorot_uniform(shape: [dim, ...])",
      (ctx, shape, _args, span) => {
        const s = new Scalars(ctx, span);
        const { fanIn, fanOut } = fans(shape);
        const limit = s.sqrt(s.div(6, s.add(s.dim(fanIn), s.dim(fanOut))));
        return uniformOf(ctx, shape, s.sub(0, limit), limit, span);
      },
    ),
    shaped(
      "orthogonal(shape, gain?)",
      "orthogonal(shape: [dim, ...], gain: float = 1.0)",
      (ctx, shape, args, span) =>
        orthogonalOf(ctx, shape, numberArg(ctx, args.get("gain"), 1, "`gain`"), span),
    ),
    // He et al. (2015): the variance ReLU layers need, std = sqrt(2 / fan_in).
    shaped("he_normal(shape)", "he_normal(shape: [dim, ...])", (ctx, shape, _args, span) => {
      const s = new Scalars(ctx, span);
      return normalOf(ctx, shape, s.sqrt(s.div(2, s.dim(fans(shape).fanIn))), 0, span);
    }),
  ];
}
