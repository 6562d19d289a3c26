// Shape and dtype rules: one exhaustive table, one rule per primitive. The
// elaborator calls them for every equation it builds (so user errors surface
// at the source span), autodiff calls them for gradient equations, and
// verify() re-checks a finished graph against them.

import type { DiagCode } from "./diagnostics.ts";
import {
  dimAdd,
  dimAsConst,
  dimConst,
  dimEq,
  dimMul,
  dimSub,
  dimFloorDiv,
  dimToString,
  numElements,
  shapeToString,
  type Dim,
} from "./dims.ts";
import {
  binaryOps,
  compareOps,
  unaryOps,
  type DType,
  type Op,
  type OpParams,
  type TensorType,
} from "./ir.ts";
import {
  avgPoolGradShape,
  conv2dGradFilterShape,
  conv2dGradInputShape,
  conv2dShape,
  maxPoolGradShape,
  maxPoolPickShape,
  poolShape,
} from "./shapes/window.ts";

/** A rule's complaint; the caller attaches spans (labels point at inputs by index). */
export class ShapeError extends Error {
  constructor(
    readonly code: DiagCode,
    message: string,
    readonly labels: { input: number; message: string }[] = [],
    readonly notes: string[] = [],
  ) {
    super(message);
  }
}

export type ShapeRule<P extends Op> = (params: OpParams[P], inputs: TensorType[]) => TensorType[];

const typeStr = (t: TensorType) => `${t.dtype}${shapeToString(t.shape)}`;

function arity(inputs: TensorType[], n: number, op: string): void {
  if (inputs.length !== n)
    throw new ShapeError("E9001", `${op} takes ${n} inputs, got ${inputs.length}`);
}

function checkAxis(axis: number, rank: number, what: string): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= rank)
    throw new ShapeError("E3005", `axis ${axis} is out of range for ${what} of rank ${rank}`);
}

/** Numpy broadcasting of several shapes (right-aligned; a literal 1 stretches). */
export function broadcastShapes(shapes: Dim[][]): Dim[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim | null = null;
    for (const s of shapes) {
      const x = s[s.length - rank + i];
      if (x === undefined || dimAsConst(x) === 1) continue;
      if (d === null) d = x;
      else if (!dimEq(d, x)) {
        throw new ShapeError(
          "E3001",
          `shapes ${shapes.map(shapeToString).join(" and ")} cannot be broadcast together`,
          shapes.map((sh, k) => ({ input: k, message: `this is ${shapeToString(sh)}` })),
        );
      }
    }
    out.push(d ?? dimConst(1));
  }
  return out;
}

function withBroadcastLabels<T>(inputs: TensorType[], f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ShapeError && e.code === "E3001")
      throw new ShapeError(
        "E3001",
        e.message,
        inputs.map((t, k) => ({ input: k, message: `this is ${shapeToString(t.shape)}` })),
      );
    throw e;
  }
}

function isFloat(t: TensorType): boolean {
  return t.dtype === "f32";
}

const unary = (_p: {}, ins: TensorType[]): TensorType[] => {
  arity(ins, 1, "unary op");
  const [x] = ins as [TensorType];
  if (!isFloat(x) && x.dtype !== "i32")
    throw new ShapeError("E3008", `expected a number tensor, got ${typeStr(x)}`, [
      { input: 0, message: "this is bool" },
    ]);
  return [x];
};

const binary = (_p: {}, ins: TensorType[]): TensorType[] => {
  arity(ins, 2, "binary op");
  const [a, b] = ins as [TensorType, TensorType];
  if (a.dtype !== b.dtype)
    throw new ShapeError("E3008", `element types differ: ${typeStr(a)} and ${typeStr(b)}`, [
      { input: 0, message: `this is ${typeStr(a)}` },
      { input: 1, message: `this is ${typeStr(b)}` },
    ]);
  if (a.dtype === "bool") throw new ShapeError("E3008", `arithmetic on bool tensors`);
  return [
    { dtype: a.dtype, shape: withBroadcastLabels(ins, () => broadcastShapes([a.shape, b.shape])) },
  ];
};

const compare = (_p: {}, ins: TensorType[]): TensorType[] => {
  arity(ins, 2, "comparison");
  const [a, b] = ins as [TensorType, TensorType];
  if (a.dtype !== b.dtype)
    throw new ShapeError("E3008", `cannot compare ${typeStr(a)} with ${typeStr(b)}`, [
      { input: 0, message: `this is ${typeStr(a)}` },
      { input: 1, message: `this is ${typeStr(b)}` },
    ]);
  return [
    { dtype: "bool", shape: withBroadcastLabels(ins, () => broadcastShapes([a.shape, b.shape])) },
  ];
};

function reduceShape(x: TensorType, axes: number[]): Dim[] {
  for (const a of axes) checkAxis(a, x.shape.length, "a tensor");
  const set = new Set(axes);
  if (set.size !== axes.length)
    throw new ShapeError("E3005", `repeated axis in [${axes.join(", ")}]`);
  return x.shape.filter((_, i) => !set.has(i));
}

function sameCount(a: Dim[], b: Dim[]): boolean {
  return dimEq(numElements(a), numElements(b));
}

/**
 * One rule for a whole family of ops (`{ add: r, sub: r, ... }`). Every
 * per-phase table uses this for its families, so most entries are one line.
 */
export function family<K extends Op, R>(ops: readonly K[], rule: R): { [P in K]: R } {
  return Object.fromEntries(ops.map((o) => [o, rule])) as { [P in K]: R };
}

export const shapeRules: { [P in Op]: ShapeRule<P> } = {
  ...family(unaryOps, unary),
  ...family(binaryOps, binary),
  ...family(compareOps, compare),
  select: (_p, ins) => {
    arity(ins, 3, "select");
    const [c, a, b] = ins as [TensorType, TensorType, TensorType];
    if (c.dtype !== "bool")
      throw new ShapeError("E3008", `condition must be bool, got ${typeStr(c)}`, [
        { input: 0, message: `this is ${typeStr(c)}` },
      ]);
    if (a.dtype !== b.dtype)
      throw new ShapeError(
        "E3008",
        `branches have different element types: ${typeStr(a)} and ${typeStr(b)}`,
        [
          { input: 1, message: `this is ${typeStr(a)}` },
          { input: 2, message: `this is ${typeStr(b)}` },
        ],
      );
    return [
      {
        dtype: a.dtype,
        shape: withBroadcastLabels(ins, () => broadcastShapes([c.shape, a.shape, b.shape])),
      },
    ];
  },
  cast: (p, ins) => {
    arity(ins, 1, "cast");
    return [{ dtype: p.dtype, shape: ins[0]!.shape }];
  },
  const: (p, ins) => {
    arity(ins, 0, "const");
    return [{ dtype: p.dtype, shape: p.shape }];
  },
  dimval: (p, ins) => {
    arity(ins, 0, "dimval");
    return [{ dtype: p.dtype, shape: [] }];
  },
  iota: (p, ins) => {
    arity(ins, 0, "iota");
    checkAxis(p.axis, p.shape.length, "iota");
    return [{ dtype: p.dtype, shape: p.shape }];
  },
  reduce_sum: (p, ins) => {
    arity(ins, 1, "reduce_sum");
    const x = ins[0]!;
    if (x.dtype === "bool")
      throw new ShapeError("E3008", "cannot sum a bool tensor; cast it first");
    return [{ dtype: x.dtype, shape: reduceShape(x, p.axes) }];
  },
  reduce_max: (p, ins) => {
    arity(ins, 1, "reduce_max");
    const x = ins[0]!;
    return [{ dtype: x.dtype, shape: reduceShape(x, p.axes) }];
  },
  argmax: (p, ins) => {
    arity(ins, 1, "argmax");
    return [{ dtype: "i32", shape: reduceShape(ins[0]!, [p.axis]) }];
  },
  matmul: (_p, ins) => {
    arity(ins, 2, "matmul");
    const [a, b] = ins as [TensorType, TensorType];
    const labels = [
      { input: 0, message: `this is ${shapeToString(a.shape)}` },
      { input: 1, message: `this is ${shapeToString(b.shape)}` },
    ];
    if (a.shape.length < 2 || b.shape.length < 2)
      throw new ShapeError(
        "E3003",
        `matmul needs operands of rank 2 or more, got ${shapeToString(a.shape)} and ${shapeToString(b.shape)}`,
        labels,
      );
    if (a.dtype !== b.dtype || a.dtype === "bool")
      throw new ShapeError("E3008", `matmul of ${typeStr(a)} and ${typeStr(b)}`, labels);
    const k1 = a.shape[a.shape.length - 1]!;
    const k2 = b.shape[b.shape.length - 2]!;
    if (!dimEq(k1, k2))
      throw new ShapeError(
        "E3002",
        `inner dimensions of matmul don't match: ${shapeToString(a.shape)} @ ${shapeToString(b.shape)}`,
        labels,
        [`the last dimension of the left operand must equal the second-to-last of the right one`],
      );
    const batch = withBroadcastLabels(ins, () =>
      broadcastShapes([a.shape.slice(0, -2), b.shape.slice(0, -2)]),
    );
    return [
      {
        dtype: a.dtype,
        shape: [...batch, a.shape[a.shape.length - 2]!, b.shape[b.shape.length - 1]!],
      },
    ];
  },
  reshape: (p, ins) => {
    arity(ins, 1, "reshape");
    const x = ins[0]!;
    if (!sameCount(x.shape, p.shape))
      throw new ShapeError(
        "E3006",
        `cannot reshape ${shapeToString(x.shape)} to ${shapeToString(p.shape)}: element counts differ`,
        [{ input: 0, message: `this is ${shapeToString(x.shape)}` }],
      );
    return [{ dtype: x.dtype, shape: p.shape }];
  },
  transpose: (p, ins) => {
    arity(ins, 1, "transpose");
    const x = ins[0]!;
    const ok =
      p.perm.length === x.shape.length &&
      [...p.perm].sort((a, b) => a - b).every((v, i) => v === i);
    if (!ok)
      throw new ShapeError(
        "E3005",
        `permutation [${p.perm.join(", ")}] does not fit a tensor of rank ${x.shape.length}`,
      );
    return [{ dtype: x.dtype, shape: p.perm.map((i) => x.shape[i]!) }];
  },
  broadcast: (p, ins) => {
    arity(ins, 1, "broadcast");
    const x = ins[0]!;
    const target = withBroadcastLabels(ins, () => broadcastShapes([x.shape, p.shape]));
    if (target.length !== p.shape.length || !target.every((d, i) => dimEq(d, p.shape[i]!)))
      throw new ShapeError(
        "E3001",
        `cannot broadcast ${shapeToString(x.shape)} to ${shapeToString(p.shape)}`,
        [{ input: 0, message: `this is ${shapeToString(x.shape)}` }],
      );
    return [{ dtype: x.dtype, shape: p.shape }];
  },
  slice: (p, ins) => {
    arity(ins, 1, "slice");
    const x = ins[0]!;
    const r = x.shape.length;
    if (p.start.length !== r || p.stop.length !== r || p.step.length !== r)
      throw new ShapeError(
        "E3003",
        `slice has ${p.start.length} axes but the tensor has rank ${r}`,
      );
    const shape = x.shape.map((_, i) => {
      const step = p.step[i]!;
      if (!Number.isInteger(step) || step < 1)
        throw new ShapeError("E3011", `slice step must be a positive integer, got ${step}`);
      const len = dimSub(p.stop[i]!, p.start[i]!);
      const c = dimAsConst(len);
      if (c !== null && c <= 0) throw new ShapeError("E3011", `slice along axis ${i} is empty`);
      return step === 1 ? len : dimFloorDiv(dimAdd(len, dimConst(step - 1)), dimConst(step));
    });
    return [{ dtype: x.dtype, shape }];
  },
  pad: (p, ins) => {
    arity(ins, 1, "pad");
    const x = ins[0]!;
    const r = x.shape.length;
    if (p.lo.length !== r || p.hi.length !== r || p.interior.length !== r)
      throw new ShapeError("E3003", `pad has ${p.lo.length} axes but the tensor has rank ${r}`);
    const shape = x.shape.map((d, i) => {
      const inner = dimMul(dimConst(p.interior[i]!), dimSub(d, dimConst(1)));
      return dimAdd(dimAdd(dimAdd(d, inner), p.lo[i]!), p.hi[i]!);
    });
    return [{ dtype: x.dtype, shape }];
  },
  concat: (p, ins) => {
    if (ins.length < 1) throw new ShapeError("E2004", "concat needs at least one tensor");
    const first = ins[0]!;
    checkAxis(p.axis, first.shape.length, "concat");
    let total = dimConst(0);
    ins.forEach((t, k) => {
      const bad =
        t.dtype !== first.dtype ||
        t.shape.length !== first.shape.length ||
        t.shape.some((d, i) => i !== p.axis && !dimEq(d, first.shape[i]!));
      if (bad)
        throw new ShapeError(
          "E3010",
          `cannot concatenate ${typeStr(first)} and ${typeStr(t)} along axis ${p.axis}: the other dimensions must match`,
          [
            { input: 0, message: `this is ${shapeToString(first.shape)}` },
            { input: k, message: `this is ${shapeToString(t.shape)}` },
          ],
        );
      total = dimAdd(total, t.shape[p.axis]!);
    });
    const shape = [...first.shape];
    shape[p.axis] = total;
    return [{ dtype: first.dtype, shape }];
  },
  gather: (p, ins) => {
    arity(ins, 2, "gather");
    const [x, idx] = ins as [TensorType, TensorType];
    checkAxis(p.axis, x.shape.length, "gather");
    if (idx.dtype !== "i32")
      throw new ShapeError("E3008", `indices must be int, got ${typeStr(idx)}`, [
        { input: 1, message: `this is ${typeStr(idx)}` },
      ]);
    return [
      {
        dtype: x.dtype,
        shape: [...x.shape.slice(0, p.axis), ...idx.shape, ...x.shape.slice(p.axis + 1)],
      },
    ];
  },
  scatter_add: (p, ins) => {
    arity(ins, 2, "scatter_add");
    const [upd, idx] = ins as [TensorType, TensorType];
    checkAxis(p.axis, p.shape.length, "scatter_add");
    if (idx.dtype !== "i32")
      throw new ShapeError("E3008", `indices must be int, got ${typeStr(idx)}`);
    const expect = [...p.shape.slice(0, p.axis), ...idx.shape, ...p.shape.slice(p.axis + 1)];
    if (expect.length !== upd.shape.length || !expect.every((d, i) => dimEq(d, upd.shape[i]!)))
      throw new ShapeError(
        "E3010",
        `scatter_add updates are ${shapeToString(upd.shape)}, expected ${shapeToString(expect)}`,
      );
    return [{ dtype: upd.dtype, shape: p.shape }];
  },
  random: (p, ins) => {
    arity(ins, 1, "random");
    const seed = ins[0]!;
    if (seed.dtype !== "i32" || seed.shape.length !== 0)
      throw new ShapeError("E9001", `random seed must be an i32 scalar, got ${typeStr(seed)}`);
    return [{ dtype: "f32", shape: p.shape }];
  },
  stop_gradient: (_p, ins) => {
    arity(ins, 1, "stop_gradient");
    return [ins[0]!];
  },
  conv2d: conv2dShape,
  conv2d_grad_input: conv2dGradInputShape,
  conv2d_grad_filter: conv2dGradFilterShape,
  max_pool: poolShape("max_pool"),
  max_pool_grad: maxPoolGradShape,
  max_pool_pick: maxPoolPickShape,
  avg_pool: poolShape("avg_pool"),
  avg_pool_grad: avgPoolGradShape,
  scan: (p, ins) => scanShape(p, ins),
};

/**
 * The scan's interface against its body: consts and carries pass in as they
 * are, xs lose `axis` (each step sees one slice), the body's next carries
 * must have exactly the carry types, and ys gain `axis` back (stacked).
 */
function scanShape(p: OpParams["scan"], ins: TensorType[]): TensorType[] {
  const { body, nConsts, nCarry, nXs, axis, length } = p;
  arity(ins, nConsts + nCarry + nXs, "scan");
  if (body.inputs.length !== ins.length || body.outputs.length < nCarry)
    throw new ShapeError(
      "E9001",
      `scan body takes ${body.inputs.length} inputs and gives ${body.outputs.length} outputs for ${nConsts} consts, ${nCarry} carries and ${nXs} xs`,
    );
  const mismatch = (what: string, want: TensorType, got: TensorType, input: number) =>
    new ShapeError(
      "E9001",
      `scan ${what} is ${typeStr(got)} but the body expects ${typeStr(want)}`,
      [{ input, message: `this is ${typeStr(got)}` }],
    );
  ins.forEach((t, i) => {
    const inner = body.inputs[i]!.type;
    if (i < nConsts + nCarry) {
      if (!sameType(t, inner)) throw mismatch(i < nConsts ? "const" : "carry", inner, t, i);
      return;
    }
    checkAxis(axis, t.shape.length, "a scanned tensor");
    const slice = { dtype: t.dtype, shape: t.shape.filter((_, a) => a !== axis) };
    if (!sameType(slice, inner)) throw mismatch("slice", inner, slice, i);
    if (!dimEq(t.shape[axis]!, length))
      throw new ShapeError(
        "E3010",
        `scan runs ${dimToString(length)} steps but this tensor has ${dimToString(t.shape[axis]!)} along axis ${axis}`,
        [{ input: i, message: `this is ${shapeToString(t.shape)}` }],
      );
  });
  const carries = body.inputs.slice(nConsts, nConsts + nCarry).map((v) => v.type);
  body.outputs.slice(0, nCarry).forEach((v, k) => {
    const want = carries[k]!;
    if (!sameType(v.type, want))
      throw new ShapeError(
        "E3020",
        `carry ${k} enters the scan body as ${typeStr(want)} but leaves it as ${typeStr(v.type)}`,
        [{ input: nConsts + k, message: `this is ${typeStr(want)}` }],
      );
  });
  const ys = body.outputs.slice(nCarry).map((v) => {
    if (axis > v.type.shape.length)
      throw new ShapeError(
        "E3005",
        `cannot stack a per-step ${typeStr(v.type)} along axis ${axis}`,
      );
    const shape = [...v.type.shape];
    shape.splice(axis, 0, length);
    return { dtype: v.type.dtype, shape };
  });
  return [...carries, ...ys];
}

export function infer<P extends Op>(
  op: P,
  params: OpParams[P],
  inputs: TensorType[],
): TensorType[] {
  return shapeRules[op](params, inputs);
}

export function sameType(a: TensorType, b: TensorType): boolean {
  return (
    a.dtype === b.dtype &&
    a.shape.length === b.shape.length &&
    a.shape.every((d, i) => dimEq(d, b.shape[i]!))
  );
}

export type { DType };
