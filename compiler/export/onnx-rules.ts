// One ONNX rule per IR primitive, `{ [P in Op]: ... }`, so a new primitive
// makes tsc name this table. A rule gets the equation, its inputs' ONNX names
// and the scope to write nodes into, and returns its outputs' names. The
// opset is 17 throughout (ReduceSum takes its axes as an input there,
// ReduceMax as an attribute; LayerNormalization exists). Ops only the
// backward pass makes (`*_grad`, scatter_add) and the counter-based RNG have
// no rule: they throw NoExportRule, which compile.ts reports at the span.

import { dimAsConst, dimEq } from "../dims.ts";
import { NoExportRule } from "../exporter.ts";
import { anyEqn } from "../ir.ts";
import type { BinaryOp, CompareOp, Eqn, Graph, Op, Pool2d, UnaryOp, Var, Window2d } from "../ir.ts";
import { elemOf, type OnnxBuild, type Scope } from "./onnx-graph.ts";
import type { OnnxGraph } from "./onnx-model.ts";

export const OPSET = 17;

export interface RuleCtx {
  s: Scope;
  b: OnnxBuild;
  /**
   * A scan body as an ONNX subgraph: input k reads outer name `outer[k]`
   * where given (a const), else it is a subgraph input; `extra` inputs
   * (unused by the body) follow them.
   */
  body(g: Graph, outer: (string | null)[], extra: Var[]): OnnxGraph;
}

type Rule<P extends Op> = (e: Eqn<P>, ins: string[], cx: RuleCtx) => string | string[];

/** No rule for `e`: the reason, at its span. */
function noRule(e: Eqn, why: string): never {
  throw new NoExportRule("onnx", e.op, e.span, e.file, why);
}

const none =
  <P extends Op>(why: string): Rule<P> =>
  (e) =>
    noRule(anyEqn(e), why);

const GRAD_ONLY = "only the backward pass uses it, and the ONNX graph is the predict entry";

const unary: { [P in UnaryOp]: string } = {
  neg: "Neg",
  exp: "Exp",
  log: "Log",
  sqrt: "Sqrt",
  abs: "Abs",
  sign: "Sign",
  tanh: "Tanh",
  sigmoid: "Sigmoid",
};

const binary: { [P in BinaryOp]: string } = {
  add: "Add",
  sub: "Sub",
  mul: "Mul",
  div: "Div",
  pow: "Pow",
  max: "Max",
  min: "Min",
};

/** Comparisons: the ONNX op and whether its result is negated (`ne` is Not(Equal)). */
const compare: { [P in CompareOp]: [string, boolean] } = {
  eq: ["Equal", false],
  ne: ["Equal", true],
  lt: ["Less", false],
  le: ["LessOrEqual", false],
  gt: ["Greater", false],
  ge: ["GreaterOrEqual", false],
};

const unaryRule =
  <P extends UnaryOp>(op: string): Rule<P> =>
  (_e, ins, { s }) =>
    s.one(op, ins);

const binaryRule =
  <P extends BinaryOp>(op: string): Rule<P> =>
  (_e, ins, { s }) =>
    s.one(op, ins);

const compareRule =
  <P extends CompareOp>([op, negate]: [string, boolean]): Rule<P> =>
  (e, ins, { s }) => {
    // Only Equal takes bools; the orderings compare them as 0/1.
    const args =
      op !== "Equal" && e.inputs[0]!.type.dtype === "bool"
        ? ins.map((x) => s.one("Cast", [x], { to: ONNX_TYPE.int32 }))
        : ins;
    const r = s.one(op, args);
    return negate ? s.one("Not", [r]) : r;
  };

/** onnx.proto's TensorProto.DataType numbers (Cast's `to`). */
export const ONNX_TYPE = { float: 1, int32: 6, int64: 7, bool: 9 } as const;

/** IR padding [top, bottom, left, right] as ONNX pads [top, left, bottom, right]. */
const pads2d = (p: number[]) => [p[0]!, p[2]!, p[1]!, p[3]!];

const pool = (p: Pool2d) => ({
  kernel_shape: p.window,
  strides: p.stride,
  pads: pads2d(p.padding),
});

const conv = (p: Window2d) => ({
  strides: p.stride,
  pads: pads2d(p.padding),
  dilations: p.dilation,
});

function sliceRule(e: Eqn<"slice">, [x]: string[], { s, b }: RuleCtx): string {
  const { start, stop, step } = e.params;
  const shape = e.inputs[0]!.type.shape;
  // Only the axes that are cut: a full axis needs no (possibly symbolic) bounds.
  const axes = shape
    .map((d, a) => a)
    .filter((a) => dimAsConst(start[a]!) !== 0 || !dimEq(stop[a]!, shape[a]!) || step[a] !== 1);
  if (axes.length === 0) return s.one("Identity", [x!]);
  return s.one("Slice", [
    x!,
    b.shape(axes.map((a) => start[a]!)),
    b.shape(axes.map((a) => stop[a]!)),
    b.ints(axes),
    b.ints(axes.map((a) => step[a]!)),
  ]);
}

/**
 * dlg's gather reads 0 at an out-of-range index, where ONNX Gather fails:
 * gather at the index clamped into range, then zero where it was not.
 */
function gatherRule(e: Eqn<"gather">, [x, idx]: string[], { s, b }: RuleCtx): string {
  const { axis } = e.params;
  const xType = e.inputs[0]!.type;
  const iType = e.inputs[1]!.type;
  const n = s.one("Cast", [b.dim(xType.shape[axis]!)], { to: ONNX_TYPE.int32 });
  const zero = b.scalar(0, "i32");
  const valid = s.one("And", [s.one("GreaterOrEqual", [idx!, zero]), s.one("Less", [idx!, n])]);
  const got = s.one("Gather", [x!, s.one("Where", [valid, idx!, zero])], { axis });
  const trailing = xType.shape.length - axis - 1;
  const mask = trailing
    ? s.one("Unsqueeze", [
        valid,
        b.ints(Array.from({ length: trailing }, (_, k) => iType.shape.length + k)),
      ])
    : valid;
  return s.one("Where", [mask, got, b.scalar(0, e.outs[0]!.type.dtype)]);
}

/**
 * A scan as ONNX Scan: consts are read from the outer graph by name, the
 * carries are Scan's state, the xs its scan inputs along `axis`. Scan takes
 * its length from a scan input, so a scan over no xs scans a [length] dummy.
 */
function scanRule(e: Eqn<"scan">, ins: string[], cx: RuleCtx): string[] {
  const { s, b } = cx;
  const p = e.params;
  const carries = ins.slice(p.nConsts, p.nConsts + p.nCarry);
  const xs = ins.slice(p.nConsts + p.nCarry);
  const outer = p.body.inputs.map((_, k) => (k < p.nConsts ? ins[k]! : null));
  const extra: Var[] = [];
  const axes = xs.map(() => p.axis);
  if (xs.length === 0) {
    xs.push(s.one("ConstantOfShape", [b.dim(p.length)]));
    axes.push(0);
    extra.push({ id: -1, type: { dtype: "f32", shape: [] }, hint: "step" });
  }
  const nYs = p.body.outputs.length - p.nCarry;
  const dir = p.reverse ? 1 : 0;
  return s.node(
    "Scan",
    [...carries, ...xs],
    {
      body: { g: cx.body(p.body, outer, extra) },
      num_scan_inputs: xs.length,
      scan_input_axes: axes,
      scan_input_directions: axes.map(() => dir),
      // An empty list is no attribute in protobuf: a scan yielding nothing leaves them out.
      ...(nYs > 0 && {
        scan_output_axes: Array.from({ length: nYs }, () => p.axis),
        scan_output_directions: Array.from({ length: nYs }, () => dir),
      }),
    },
    e.outs.length,
  );
}

export const onnxRules: { [P in Op]: Rule<P> } = {
  ...(Object.fromEntries(Object.entries(unary).map(([k, v]) => [k, unaryRule(v)])) as {
    [P in UnaryOp]: Rule<P>;
  }),
  ...(Object.fromEntries(Object.entries(binary).map(([k, v]) => [k, binaryRule(v)])) as {
    [P in BinaryOp]: Rule<P>;
  }),
  ...(Object.fromEntries(Object.entries(compare).map(([k, v]) => [k, compareRule(v)])) as {
    [P in CompareOp]: Rule<P>;
  }),
  select: (_e, ins, { s }) => s.one("Where", ins),
  cast: (e, [x], { s }) => s.one("Cast", [x!], { to: ONNX_TYPE[elemOf[e.params.dtype]] }),
  const: (e, _ins, { s, b }) => {
    const c = b.scalar(e.params.value, e.params.dtype);
    return e.params.shape.length ? s.one("Expand", [c, b.shape(e.params.shape)]) : c;
  },
  dimval: (e, _ins, { s, b }) => {
    const v = s.one("Cast", [b.dim(e.params.dim)], { to: ONNX_TYPE[elemOf[e.params.dtype]] });
    return s.one("Reshape", [v, b.ints([])]);
  },
  iota: (e, _ins, { s, b }) => {
    const { shape, axis, dtype } = e.params;
    const n = s.one("Reshape", [b.dim(shape[axis]!), b.ints([])]);
    const range = s.one("Range", [b.constant("int64", [], [0]), n, b.constant("int64", [], [1])]);
    const along = shape.map((_, a) => (a === axis ? -1 : 1));
    const line = s.one("Reshape", [
      s.one("Cast", [range], { to: ONNX_TYPE[elemOf[dtype]] }),
      b.ints(along),
    ]);
    return s.one("Expand", [line, b.shape(shape)]);
  },
  reduce_sum: (e, [x], { s, b }) =>
    e.params.axes.length === 0
      ? s.one("Identity", [x!])
      : s.one("ReduceSum", [x!, b.ints(e.params.axes)], { keepdims: 0 }),
  reduce_max: (e, [x], { s }) =>
    e.params.axes.length === 0
      ? s.one("Identity", [x!])
      : s.one("ReduceMax", [x!], { axes: e.params.axes, keepdims: 0 }),
  argmax: (e, [x], { s }) =>
    s.one("Cast", [s.one("ArgMax", [x!], { axis: e.params.axis, keepdims: 0 })], {
      to: ONNX_TYPE.int32,
    }),
  matmul: (_e, ins, { s }) => s.one("MatMul", ins),
  reshape: (e, [x], { s, b }) => s.one("Reshape", [x!, b.shape(e.params.shape, true)]),
  transpose: (e, [x], { s }) => s.one("Transpose", [x!], { perm: e.params.perm }),
  broadcast: (e, [x], { s, b }) => s.one("Expand", [x!, b.shape(e.params.shape)]),
  slice: sliceRule,
  pad: (e, [x], cx) => {
    const { lo, hi, interior } = e.params;
    if (interior.some((k) => k !== 0))
      noRule(e, `interior padding is a strided slice's transpose: ${GRAD_ONLY}`);
    return cx.s.one("Pad", [x!, cx.b.shape([...lo, ...hi])]);
  },
  concat: (e, ins, { s }) => s.one("Concat", ins, { axis: e.params.axis }),
  gather: gatherRule,
  scatter_add: none(`scatter_add is gather's transpose: ${GRAD_ONLY}`),
  random: none(
    "dlg's counter-based random numbers have no ONNX operator with the same bits; keep random draws under `if training`",
  ),
  stop_gradient: (_e, [x], { s }) => s.one("Identity", [x!]),
  conv2d: (e, ins, { s }) => s.one("Conv", ins, conv(e.params)),
  conv2d_grad_input: none(GRAD_ONLY),
  conv2d_grad_filter: none(GRAD_ONLY),
  max_pool: (e, [x], { s }) => s.one("MaxPool", [x!], pool(e.params)),
  max_pool_grad: none(GRAD_ONLY),
  max_pool_pick: none(GRAD_ONLY),
  // dlg's average counts padding as zeros: ONNX's count_include_pad.
  avg_pool: (e, [x], { s }) =>
    s.one("AveragePool", [x!], { ...pool(e.params), count_include_pad: 1 }),
  avg_pool_grad: none(GRAD_ONLY),
  scan: scanRule,
};

/** `e`'s rule applied: generic in the op, so the table's rule for it takes `e`. */
export function applyRule<P extends Op>(e: Eqn<P>, ins: string[], cx: RuleCtx): string[] {
  const r = onnxRules[e.op](e, ins, cx);
  return Array.isArray(r) ? r : [r];
}
