// The functions written in TypeScript rather than .dlg: each maps directly
// onto IR primitives (elementwise math, reductions, movement, random). The
// standard library in std/prelude.dlg builds layers and losses from these.

import type { Span } from "../../grammar/index.ts";
import {
  dimAsConst,
  dimConst,
  dimExactDiv,
  dimMul,
  dimToString,
  numElements,
  shapeToString,
  type Dim,
} from "../dims.ts";
import type { DType, Var } from "../ir.ts";
import { fail, type Ctx } from "./context.ts";
import { staticInt } from "./expr.ts";
import { indexOps } from "./index-ops.ts";
import { windowIntrinsics } from "./window-ops.ts";
import { initializers } from "./initializers.ts";
import { repeatIntrinsic } from "./repeat.ts";
import {
  asVar,
  cast,
  checkExactDivision,
  emit,
  extremum,
  need,
  normAxis,
  reshapeVar,
  resultDType,
  tensor,
  toVar,
  unaryMath,
} from "./tensor-ops.ts";
import {
  describe,
  dimValue,
  type Arg,
  type CallSite,
  type IntrinsicFn,
  type Value,
} from "./values.ts";

type Impl = IntrinsicFn["impl"];

/** Declare an intrinsic from its signature text: `sum(x, axis?, keepdims?)`; `?` marks optional. */
export function intrinsic(sig: string, shown: string, impl: Impl): IntrinsicFn {
  const m = /^(\w+)\((.*)\)$/.exec(sig);
  if (!m) throw new Error(`bad intrinsic signature ${sig}`);
  const params = m[2]!
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) =>
      s.endsWith("?") ? { name: s.slice(0, -1), optional: true as const } : { name: s },
    );
  return { kind: "intrinsic", name: m[1]!, params, sig: shown, impl };
}

// ---------------------------------------------------------------- argument readers

export function arg(args: Map<string, Arg>, name: string, site: CallSite): Arg {
  return args.get(name) ?? { value: { kind: "poison" }, span: site.span };
}

export function tensorVar(ctx: Ctx, a: Arg): Var {
  return asVar(ctx, a);
}

export function boolArg(ctx: Ctx, a: Arg | undefined, dflt: boolean, what: string): boolean {
  if (!a) return dflt;
  const v = need(a.value);
  if (v.kind !== "bool")
    fail(ctx, "E2007", `${what} must be true or false, but it is ${describe(v)}`, a.span);
  return v.value;
}

export function numberArg(ctx: Ctx, a: Arg | undefined, dflt: number, what: string): number {
  if (!a) return dflt;
  const v = need(a.value);
  if (v.kind === "int" || v.kind === "float") return v.value;
  if (v.kind === "dim" && dimAsConst(v.dim) !== null) return dimAsConst(v.dim)!;
  fail(ctx, "E2007", `${what} must be a compile-time number, but it is ${describe(v)}`, a.span);
}

/** A shape written as a list of dimension expressions: `[B, 4 * H]`. */
export function shapeArg(ctx: Ctx, a: Arg, what = "a shape"): Dim[] {
  const v = need(a.value);
  if (v.kind !== "list")
    fail(
      ctx,
      "E2007",
      `${what} must be a list of dimensions like \`[B, 10]\`, but it is ${describe(v)}`,
      a.span,
    );
  return v.items.map((item, i) => {
    if (item.kind === "dim") return item.dim;
    if (item.kind === "int" && item.value >= 0) return dimConst(item.value);
    checkExactDivision(ctx, item, v.spans?.[i] ?? a.span);
    fail(
      ctx,
      "E2007",
      `${what} must list dimensions, but item ${i} is ${describe(item)}`,
      v.spans?.[i] ?? a.span,
    );
  });
}

/** `axis:` as one axis, a list of axes, or absent for all of them; normalised and sorted. */
function axesArg(ctx: Ctx, a: Arg | undefined, rank: number): number[] {
  if (!a) return Array.from({ length: rank }, (_, i) => i);
  const v = need(a.value);
  const items = v.kind === "list" ? v.items : [v];
  const axes = items.map((item, i) =>
    normAxis(
      ctx,
      staticInt(ctx, item, v.kind === "list" ? (v.spans?.[i] ?? a.span) : a.span, "an axis"),
      rank,
      a.span,
    ),
  );
  if (new Set(axes).size !== axes.length) fail(ctx, "E3005", "an axis is listed twice", a.span);
  return axes.sort((x, y) => x - y);
}

function tensorList(ctx: Ctx, a: Arg, what: string): { vars: Var[]; spans: Span[] } {
  const v = need(a.value);
  if (v.kind !== "list" || v.items.length === 0)
    fail(ctx, "E2007", `${what} takes a non-empty list of tensors, like \`[a, b]\``, a.span);
  const d = resultDType(v.items, "arith");
  const common: DType = v.items.every((i) => i.kind === "tensor" && i.v.type.dtype === "bool")
    ? "bool"
    : d;
  const spans = v.items.map((_, i) => v.spans?.[i] ?? a.span);
  return { vars: v.items.map((item, i) => toVar(ctx, item, spans[i]!, common)), spans };
}

// ---------------------------------------------------------------- reductions

function keepDims(ctx: Ctx, y: Var, x: Var, axes: number[], keep: boolean, span: Span): Var {
  if (!keep) return y;
  const shape = x.type.shape.map((d, i) => (axes.includes(i) ? dimConst(1) : d));
  return reshapeVar(ctx, y, shape, span);
}

function reduction(kind: "sum" | "max" | "min" | "mean"): IntrinsicFn {
  const shown = `${kind}(x, axis: int | [int] = all axes, keepdims: bool = false)`;
  return intrinsic(`${kind}(x, axis?, keepdims?)`, shown, (ctx, args, site) => {
    const xa = arg(args, "x", site);
    let x = tensorVar(ctx, xa);
    const axisArg = args.get("axis");
    if (axisArg && need(axisArg.value).kind === "tensor")
      fail(ctx, "E2007", `the second argument of \`${kind}\` is the axis`, axisArg.span, {
        help:
          kind === "max" || kind === "min"
            ? `for the elementwise ${kind}imum of two tensors use \`${kind}imum(a, b)\``
            : undefined,
      });
    const axes = axesArg(ctx, axisArg, x.type.shape.length);
    const keep = boolArg(ctx, args.get("keepdims"), false, "`keepdims`");
    const span = site.span;
    let y: Var;
    switch (kind) {
      case "sum":
        // Summing a mask counts its true elements.
        x = cast(ctx, x, x.type.dtype === "bool" ? "i32" : x.type.dtype, span);
        y = emit(ctx, "reduce_sum", { axes }, [x], span, [xa.span]);
        break;
      case "max":
        y = emit(ctx, "reduce_max", { axes }, [x], span, [xa.span]);
        break;
      case "min": {
        x = cast(ctx, x, x.type.dtype === "bool" ? "i32" : x.type.dtype, span);
        const neg = emit(ctx, "neg", {}, [x], span);
        y = emit(ctx, "neg", {}, [emit(ctx, "reduce_max", { axes }, [neg], span)], span);
        break;
      }
      case "mean": {
        // The mean of ints or bools is a float (accuracy = mean(pred == y)).
        x = cast(ctx, x, "f32", span);
        const total = emit(ctx, "reduce_sum", { axes }, [x], span, [xa.span]);
        const count = numElements(axes.map((i) => x.type.shape[i]!));
        y = emit(ctx, "div", {}, [total, toVar(ctx, dimValue(count), span, "f32")], span);
        break;
      }
    }
    return tensor(ctx, keepDims(ctx, y, x, axes, keep, span));
  });
}

// ---------------------------------------------------------------- movement

const reshape = intrinsic(
  "reshape(x, shape)",
  "reshape(x, shape: [dim, ...])",
  (ctx, args, site) => {
    const xa = arg(args, "x", site);
    const x = tensorVar(ctx, xa);
    const sa = arg(args, "shape", site);
    const sv = need(sa.value);
    if (sv.kind !== "list")
      fail(
        ctx,
        "E2007",
        `the new shape must be a list of dimensions, but it is ${describe(sv)}`,
        sa.span,
      );
    // One `-1` stands for whatever size makes the element counts agree.
    const inferAt = sv.items.findIndex((i) => i.kind === "int" && i.value === -1);
    const items = sv.items.map((item, i) =>
      i === inferAt ? ({ kind: "int", value: 1 } as Value) : item,
    );
    const shape = shapeArg(
      ctx,
      { value: { kind: "list", items, ...(sv.spans ? { spans: sv.spans } : {}) }, span: sa.span },
      "the new shape",
    );
    if (inferAt >= 0) {
      const known = numElements(shape);
      const q = dimExactDiv(numElements(x.type.shape), known);
      if (q === null)
        fail(
          ctx,
          "E3006",
          `cannot infer the \`-1\` in the reshape of ${shapeToString(x.type.shape)}`,
          sa.span,
          {
            notes: [
              `${dimToString(numElements(x.type.shape))} elements do not divide into parts of ${dimToString(known)}`,
            ],
          },
        );
      shape[inferAt] = q;
    }
    return tensor(ctx, emit(ctx, "reshape", { shape }, [x], site.span, [xa.span]));
  },
);

const transpose = intrinsic(
  "transpose(x, perm?)",
  "transpose(x, perm: [int] = swap the last two axes)",
  (ctx, args, site) => {
    const xa = arg(args, "x", site);
    const x = tensorVar(ctx, xa);
    const r = x.type.shape.length;
    const pa = args.get("perm");
    let perm: number[];
    if (pa) {
      const pv = need(pa.value);
      if (pv.kind !== "list")
        fail(ctx, "E2007", `\`perm\` must be a list of axes, but it is ${describe(pv)}`, pa.span);
      perm = pv.items.map((i, k) =>
        normAxis(ctx, staticInt(ctx, i, pv.spans?.[k] ?? pa.span, "an axis"), r, pa.span),
      );
    } else {
      if (r < 2)
        fail(
          ctx,
          "E3003",
          `\`transpose\` swaps the last two axes, but this tensor is ${shapeToString(x.type.shape)}`,
          xa.span,
        );
      perm = Array.from({ length: r }, (_, i) => i);
      perm[r - 2] = r - 1;
      perm[r - 1] = r - 2;
    }
    return tensor(ctx, emit(ctx, "transpose", { perm }, [x], site.span, [xa.span]));
  },
);

const flatten = intrinsic("flatten(x)", "flatten(x)", (ctx, args, site) => {
  const xa = arg(args, "x", site);
  const x = tensorVar(ctx, xa);
  const [first, ...rest] = x.type.shape;
  if (!first)
    fail(
      ctx,
      "E3003",
      "`flatten` keeps the first axis and needs a tensor of rank 1 or more",
      xa.span,
    );
  return tensor(ctx, reshapeVar(ctx, x, [first, numElements(rest)], site.span));
});

const concat = intrinsic(
  "concat(xs, axis?)",
  "concat(xs: [tensor, ...], axis: int = -1)",
  (ctx, args, site) => {
    const { vars, spans } = tensorList(ctx, arg(args, "xs", site), "`concat`");
    const rank = vars[0]!.type.shape.length;
    const axis = normAxis(
      ctx,
      args.get("axis")
        ? staticInt(ctx, args.get("axis")!.value, args.get("axis")!.span, "`axis`")
        : -1,
      rank,
      args.get("axis")?.span ?? site.span,
    );
    return tensor(ctx, emit(ctx, "concat", { axis }, vars, site.span, spans));
  },
);

const stack = intrinsic(
  "stack(xs, axis?)",
  "stack(xs: [tensor, ...], axis: int = 0)",
  (ctx, args, site) => {
    const { vars, spans } = tensorList(ctx, arg(args, "xs", site), "`stack`");
    const rank = vars[0]!.type.shape.length + 1;
    const aa = args.get("axis");
    const axis = normAxis(
      ctx,
      aa ? staticInt(ctx, aa.value, aa.span, "`axis`") : 0,
      rank,
      aa?.span ?? site.span,
    );
    const lifted = vars.map((v, i) => {
      const shape = [...v.type.shape];
      shape.splice(axis, 0, dimConst(1));
      return reshapeVar(ctx, v, shape, spans[i]!);
    });
    return tensor(ctx, emit(ctx, "concat", { axis }, lifted, site.span, spans));
  },
);

const split = intrinsic(
  "split(x, n, axis?)",
  "split(x, n: int, axis: int = -1)",
  (ctx, args, site) => {
    const xa = arg(args, "x", site);
    const x = tensorVar(ctx, xa);
    const na = arg(args, "n", site);
    const n = staticInt(ctx, na.value, na.span, "the number of parts");
    if (n < 1) fail(ctx, "E2007", `cannot split into ${n} parts`, na.span);
    const aa = args.get("axis");
    const shape = x.type.shape;
    const axis = normAxis(
      ctx,
      aa ? staticInt(ctx, aa.value, aa.span, "`axis`") : -1,
      shape.length,
      aa?.span ?? site.span,
    );
    const size = shape[axis]!;
    const part = dimExactDiv(size, dimConst(n));
    if (part === null)
      fail(
        ctx,
        "E3004",
        `cannot split ${shapeToString(shape)} into ${n} equal parts along axis ${axis}`,
        site.span,
        {
          labels: [{ span: xa.span, message: `this is ${shapeToString(shape)}` }],
          notes: [`${dimToString(size)} is not a multiple of ${n}`],
        },
      );
    const parts: Value[] = [];
    for (let k = 0; k < n; k++) {
      const start = shape.map((_, i) => (i === axis ? dimMul(part, dimConst(k)) : dimConst(0)));
      const stop = shape.map((d, i) => (i === axis ? dimMul(part, dimConst(k + 1)) : d));
      const step = shape.map(() => 1);
      parts.push(tensor(ctx, emit(ctx, "slice", { start, stop, step }, [x], site.span)));
    }
    return { kind: "list", items: parts };
  },
);

const shape = intrinsic("shape(x)", "shape(x) -> [dim, ...]", (ctx, args, site) => {
  const x = tensorVar(ctx, arg(args, "x", site));
  return { kind: "list", items: x.type.shape.map(dimValue) };
});

// ---------------------------------------------------------------- elementwise and friends

function unary(
  name: "exp" | "log" | "sqrt" | "abs" | "sign" | "tanh" | "sigmoid",
  fold: (x: number) => number,
): IntrinsicFn {
  return intrinsic(`${name}(x)`, `${name}(x)`, (ctx, args, site) =>
    unaryMath(ctx, name, arg(args, "x", site), site.span, fold),
  );
}

const where = intrinsic(
  "where(cond, a, b)",
  "where(cond: bool tensor, a, b)",
  (ctx, args, site) => {
    const ca = arg(args, "cond", site);
    const cv = need(ca.value);
    if (cv.kind === "bool")
      return need(cv.value ? arg(args, "a", site).value : arg(args, "b", site).value);
    if (cv.kind !== "tensor" || cv.v.type.dtype !== "bool")
      fail(
        ctx,
        "E3008",
        `the condition of \`where\` must be a bool tensor, but it is ${describe(cv)}`,
        ca.span,
        {
          help: "compare to get a bool tensor, e.g. `where(x > 0, x, 0.0)`",
        },
      );
    const a = arg(args, "a", site);
    const b = arg(args, "b", site);
    const av = need(a.value);
    const bv = need(b.value);
    const allBool = [av, bv].every(
      (v) => v.kind === "bool" || (v.kind === "tensor" && v.v.type.dtype === "bool"),
    );
    const d: DType = allBool ? "bool" : resultDType([av, bv], "arith");
    const x = toVar(ctx, av, a.span, d);
    const y = toVar(ctx, bv, b.span, d);
    return tensor(ctx, emit(ctx, "select", {}, [cv.v, x, y], site.span, [ca.span, a.span, b.span]));
  },
);

const oneHot = intrinsic(
  "one_hot(labels, n)",
  "one_hot(labels: int tensor, n: int) -> [..., n]",
  (ctx, args, site) => {
    const la = arg(args, "labels", site);
    const lv = need(la.value);
    if (lv.kind === "tensor" && lv.v.type.dtype === "f32")
      fail(ctx, "E3008", "`one_hot` needs int labels, but these are f32", la.span, {
        help: "declare the labels input as `int[...]`",
      });
    const labels = toVar(ctx, lv, la.span, "i32");
    const na = arg(args, "n", site);
    const nv = need(na.value);
    const n =
      nv.kind === "dim" ? nv.dim : dimConst(staticInt(ctx, nv, na.span, "the number of classes"));
    const shape = [...labels.type.shape, n];
    // labels[..., None] == iota along the new last axis, as floats.
    const col = reshapeVar(ctx, labels, [...labels.type.shape, dimConst(1)], site.span);
    const ids = emit(ctx, "iota", { shape, axis: shape.length - 1, dtype: "i32" }, [], site.span);
    return tensor(
      ctx,
      emit(ctx, "cast", { dtype: "f32" }, [emit(ctx, "eq", {}, [col, ids], site.span)], site.span),
    );
  },
);

const stopGradient = intrinsic("stop_gradient(x)", "stop_gradient(x)", (ctx, args, site) =>
  tensor(ctx, emit(ctx, "stop_gradient", {}, [tensorVar(ctx, arg(args, "x", site))], site.span)),
);

const l2 = intrinsic("l2(xs)", "l2(xs: tensor | [tensor, ...]) -> []", (ctx, args, site) => {
  const a = arg(args, "xs", site);
  const v = need(a.value);
  const items = v.kind === "list" ? v.items : [v];
  let total = emit(ctx, "const", { value: 0, dtype: "f32", shape: [] }, [], site.span);
  items.forEach((item, i) => {
    const p = toVar(ctx, item, v.kind === "list" ? (v.spans?.[i] ?? a.span) : a.span, "f32");
    const sq = emit(ctx, "mul", {}, [p, p], site.span);
    const axes = p.type.shape.map((_, k) => k);
    total = emit(
      ctx,
      "add",
      {},
      [total, emit(ctx, "reduce_sum", { axes }, [sq], site.span)],
      site.span,
    );
  });
  return tensor(ctx, total);
});

const sigmoidFold = (x: number) => 1 / (1 + Math.exp(-x));
const signFold = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0);

/** Every TypeScript-defined name of the standard library. */
export function intrinsicTable(): IntrinsicFn[] {
  return [
    unary("exp", Math.exp),
    unary("log", Math.log),
    unary("sqrt", Math.sqrt),
    unary("abs", Math.abs),
    unary("sign", signFold),
    unary("tanh", Math.tanh),
    unary("sigmoid", sigmoidFold),
    intrinsic("maximum(a, b)", "maximum(a, b)", (ctx, args, site) =>
      extremum(ctx, "max", arg(args, "a", site), arg(args, "b", site), site.span),
    ),
    intrinsic("minimum(a, b)", "minimum(a, b)", (ctx, args, site) =>
      extremum(ctx, "min", arg(args, "a", site), arg(args, "b", site), site.span),
    ),
    reduction("sum"),
    reduction("max"),
    reduction("min"),
    reduction("mean"),
    intrinsic("argmax(x, axis?)", "argmax(x, axis: int = -1)", (ctx, args, site) => {
      const xa = arg(args, "x", site);
      const x = tensorVar(ctx, xa);
      const aa = args.get("axis");
      const axis = normAxis(
        ctx,
        aa ? staticInt(ctx, aa.value, aa.span, "`axis`") : -1,
        x.type.shape.length,
        aa?.span ?? xa.span,
      );
      return tensor(ctx, emit(ctx, "argmax", { axis }, [x], site.span, [xa.span]));
    }),
    reshape,
    transpose,
    flatten,
    concat,
    stack,
    split,
    shape,
    where,
    oneHot,
    stopGradient,
    l2,
    ...initializers(),
    ...indexOps(),
    ...windowIntrinsics(),
    repeatIntrinsic(),
  ];
}
