// A graph of the IR as Python: one line per equation, each a PyTorch call,
// so autograd differentiates the forward graph (the exported script never
// needs the backward pass dlg builds for step()). Variables are named after
// their hints (`logits_57`), and each line ends with the .dlg line it came
// from. The rules are a table keyed by op, so tsc names a missing one; the
// ops only a backward pass holds have none (NoExportRule), since no forward
// graph contains them.

import { positionAt } from "../diagnostics.ts";
import { dimAsConst, dimToPy, type Dim } from "../dims.ts";
import type { DType, Eqn, Graph, Op, OpParams, Var } from "../ir.ts";
import { binaryOps, compareOps, unaryOps } from "../ir.ts";
import { toDType } from "../elementwise.ts";
import { NoExportRule } from "../exporter.ts";

/** How a graph's inputs are read in Python (`inp["x"]`, `P["dense_1.w"]`, `seed`), by var id. */
export type InputNames = ReadonlyMap<number, string>;

export interface PyGraphOptions {
  /** The function's name and its parameter list, as Python. */
  name: string;
  params: string;
  inputs: InputNames;
  /** The return statement's expression, given the output vars' Python names. */
  result: (outs: string[]) => string;
  sources: ReadonlyMap<string, string>;
  /** A one-line docstring. */
  doc: string;
}

export const pyDType: { [D in DType]: string } = {
  f32: "torch.float32",
  i32: "torch.int32",
  bool: "torch.bool",
};

/** A dim as a Python int expression over the bound dims `D` (`D["B"] * 4`). */
export function pyDim(d: Dim): string {
  const c = dimAsConst(d);
  if (c !== null) return String(c);
  const py = dimToPy(d, (name) => `D[${JSON.stringify(name)}]`);
  // dimToPy parenthesises the whole expression; a lone dim reads better bare (`D["B"]`).
  return /^\(D\["\w+"\]\)$/.test(py) ? py.slice(1, -1) : py;
}

/** A shape as a Python tuple: `()`, `(D["B"],)`, `(D["B"], 784)`. */
const shapePy = (shape: readonly Dim[]) =>
  shape.length === 1 ? `(${pyDim(shape[0]!)},)` : `(${shape.map(pyDim).join(", ")})`;

const pyNumber = (x: number) =>
  Number.isNaN(x)
    ? 'float("nan")'
    : x === Infinity
      ? 'float("inf")'
      : x === -Infinity
        ? 'float("-inf")'
        : Number.isInteger(x) && Math.abs(x) < 2 ** 53
          ? `${x}.0`
          : String(x);

type Rule<P extends Op> = (p: OpParams[P], a: string[], e: Eqn<P>) => string;

const unary: { [P in (typeof unaryOps)[number]]: string } = {
  neg: "torch.neg",
  exp: "torch.exp",
  log: "torch.log",
  sqrt: "torch.sqrt",
  abs: "torch.abs",
  sign: "_sign",
  tanh: "torch.tanh",
  sigmoid: "torch.sigmoid",
};

const binary: { [P in (typeof binaryOps)[number]]: (a: string, b: string) => string } = {
  add: (a, b) => `${a} + ${b}`,
  sub: (a, b) => `${a} - ${b}`,
  mul: (a, b) => `${a} * ${b}`,
  div: (a, b) => `${a} / ${b}`,
  pow: (a, b) => `torch.pow(${a}, ${b})`,
  max: (a, b) => `torch.maximum(${a}, ${b})`,
  min: (a, b) => `torch.minimum(${a}, ${b})`,
};

const compare: { [P in (typeof compareOps)[number]]: string } = {
  eq: "==",
  ne: "!=",
  lt: "<",
  le: "<=",
  gt: ">",
  ge: ">=",
};

/** A backward-only op: PyTorch's autograd differentiates the forward graph instead. */
const backwardOnly =
  <P extends Op>(op: P): Rule<P> =>
  (_p, _a, e) => {
    throw new NoExportRule(
      "pytorch",
      op,
      e.span,
      e.file,
      "it appears only in dlg's backward pass; PyTorch's autograd differentiates the forward graph",
    );
  };

/** dlg's casts (compiler/elementwise.ts's toDType): NaN is false, float -> int truncates, wraps, and reads NaN/inf as 0. */
const castFn: { [D in DType]: string } = { f32: "_to_f32", i32: "_to_i32", bool: "_to_bool" };

/** F.pad's order: last axis first, (left, right, top, bottom). */
const padLRTB = (p: readonly number[]) => `(${p[2]}, ${p[3]}, ${p[0]}, ${p[1]})`;

const pair = (xs: readonly number[]) => `(${xs.join(", ")})`;

const unaryRule =
  (o: (typeof unaryOps)[number]): Rule<typeof o> =>
  (_p, [x]) =>
    `${unary[o]}(${x})`;
const binaryRule =
  (o: (typeof binaryOps)[number]): Rule<typeof o> =>
  (_p, [x, y], e) =>
    // Python's `/` on ints is true division; dlg's i32 division truncates (and x / 0 is 0).
    o === "div" && e.outs[0]!.type.dtype === "i32" ? `_idiv(${x}, ${y})` : binary[o](x!, y!);
const compareRule =
  (o: (typeof compareOps)[number]): Rule<typeof o> =>
  (_p, [x, y]) =>
    `${x} ${compare[o]} ${y}`;

const rules: { [P in Op]: Rule<P> } = {
  ...(Object.fromEntries(unaryOps.map((o) => [o, unaryRule(o)])) as {
    [P in (typeof unaryOps)[number]]: Rule<P>;
  }),
  ...(Object.fromEntries(binaryOps.map((o) => [o, binaryRule(o)])) as {
    [P in (typeof binaryOps)[number]]: Rule<P>;
  }),
  ...(Object.fromEntries(compareOps.map((o) => [o, compareRule(o)])) as {
    [P in (typeof compareOps)[number]]: Rule<P>;
  }),
  select: (_p, [c, a, b]) => `torch.where(${c}, ${a}, ${b})`,
  cast: (p, [x]) => `${castFn[p.dtype]}(${x})`,
  const: (p) =>
    `torch.full(${shapePy(p.shape)}, ${p.dtype === "f32" ? pyNumber(p.value) : p.dtype === "bool" ? (p.value !== 0 ? "True" : "False") : String(toDType(p.value, "i32"))}, dtype=${pyDType[p.dtype]}, device=DEVICE)`,
  dimval: (p) => `torch.tensor(${pyDim(p.dim)}, dtype=${pyDType[p.dtype]}, device=DEVICE)`,
  iota: (p) => `_iota(${shapePy(p.shape)}, ${p.axis}, ${pyDType[p.dtype]})`,
  reduce_sum: (p, [x], e) =>
    p.axes.length === 0
      ? x!
      : `torch.sum(${x}, dim=${pair(p.axes)})${e.outs[0]!.type.dtype === "f32" ? "" : `.to(${pyDType[e.outs[0]!.type.dtype]})`}`,
  reduce_max: (p, [x]) => (p.axes.length === 0 ? x! : `torch.amax(${x}, dim=${pair(p.axes)})`),
  argmax: (p, [x]) => `_argmax(${x}, ${p.axis})`,
  matmul: (_p, [a, b]) => `torch.matmul(${a}, ${b})`,
  reshape: (p, [x]) => `${x}.reshape(${shapePy(p.shape)})`,
  transpose: (p, [x]) =>
    p.perm.length === 0 ? x! : `${x}.permute(${pair(p.perm)}${p.perm.length === 1 ? "," : ""})`,
  broadcast: (p, [x]) => `torch.broadcast_to(${x}, ${shapePy(p.shape)})`,
  slice: (p, [x]) =>
    `${x}[${p.start.map((s, i) => `${pyDim(s)}:${pyDim(p.stop[i]!)}:${p.step[i]}`).join(", ")}${p.start.length === 1 ? "," : ""}]`,
  pad: (p, [x]) =>
    `_pad(${x}, ${shapePy(p.lo)}, ${shapePy(p.hi)}, ${p.interior.length === 0 ? "()" : `(${p.interior.join(", ")},)`})`,
  concat: (p, xs) => `torch.cat([${xs.join(", ")}], dim=${p.axis})`,
  gather: (p, [x, idx]) => `_gather(${x}, ${idx}, ${p.axis})`,
  scatter_add: (p, [upd, idx]) => `_scatter_add(${upd}, ${idx}, ${p.axis}, ${shapePy(p.shape)})`,
  random: (p, [seed]) => `_uniform(${seed}, ${p.stream}, ${shapePy(p.shape)})`,
  stop_gradient: (_p, [x]) => `${x}.detach()`,
  conv2d: (p, [x, w]) =>
    `F.conv2d(F.pad(${x}, ${padLRTB(p.padding)}), ${w}, stride=${pair(p.stride)}, dilation=${pair(p.dilation)})`,
  conv2d_grad_input: backwardOnly("conv2d_grad_input"),
  conv2d_grad_filter: backwardOnly("conv2d_grad_filter"),
  max_pool: (p, [x]) =>
    `F.max_pool2d(F.pad(${x}, ${padLRTB(p.padding)}, value=float("-inf")), ${pair(p.window)}, stride=${pair(p.stride)})`,
  max_pool_grad: backwardOnly("max_pool_grad"),
  max_pool_pick: backwardOnly("max_pool_pick"),
  avg_pool: (p, [x]) =>
    `F.avg_pool2d(F.pad(${x}, ${padLRTB(p.padding)}), ${pair(p.window)}, stride=${pair(p.stride)})`,
  avg_pool_grad: backwardOnly("avg_pool_grad"),
  // Scans are statements, not expressions: see PyGraph.scan.
  scan: () => "",
};

/** Python identifiers: a hint's letters, digits and underscores, then the var's id. */
function pyName(v: Var): string {
  const base = (v.hint ?? "v")
    .replace(/[^A-Za-z0-9_]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 32);
  return `${/^[A-Za-z]/.test(base) ? base : `v${base}`}_${v.id}`;
}

/** Prints one graph (and its scan bodies, as nested functions). */
class PyGraph {
  private readonly lines: string[] = [];
  private readonly names = new Map<number, string>();
  private scans = 0;

  constructor(
    private readonly sources: ReadonlyMap<string, string>,
    private readonly indent: string,
  ) {}

  name(v: Var): string {
    const n = this.names.get(v.id);
    if (n !== undefined) return n;
    const fresh = pyName(v);
    this.names.set(v.id, fresh);
    return fresh;
  }

  bind(v: Var, expr: string): void {
    this.names.set(v.id, expr);
  }

  private where(e: Eqn): string {
    if (!e.span || !e.file) return "";
    const text = this.sources.get(e.file);
    if (text === undefined) return "";
    const p = positionAt(text, e.span.start);
    const file = e.file
      .split("/")
      .pop()!
      .replace(/[\r\n]/g, "");
    return `  # ${file}:${p.line}`;
  }

  eqns(eqns: readonly Eqn[]): void {
    for (const e of eqns) {
      if (e.op === "scan") {
        this.scan(e as Eqn<"scan">);
        continue;
      }
      const args = e.inputs.map((v) => this.name(v));
      const expr = (rules[e.op] as Rule<Op>)(e.params, args, e);
      this.lines.push(`${this.indent}${this.name(e.outs[0]!)} = ${expr}${this.where(e)}`);
    }
  }

  /** A scan: its body a nested function, the loop over its steps, the ys stacked along the axis. */
  private scan(e: Eqn<"scan">): void {
    const p = e.params;
    const k = this.scans++;
    const fn = `_scan_body_${e.outs[0]!.id}_${k}`;
    const body = new PyGraph(this.sources, `${this.indent}    `);
    const params = p.body.inputs.map((v) => body.name(v));
    body.eqns(p.body.eqns);
    const i = this.indent;
    const ins = e.inputs.map((v) => this.name(v));
    const consts = ins.slice(0, p.nConsts);
    const carry = ins.slice(p.nConsts, p.nConsts + p.nCarry);
    const xs = ins.slice(p.nConsts + p.nCarry);
    const nYs = p.body.outputs.length - p.nCarry;
    const outs = e.outs.map((v) => this.name(v));
    this.lines.push(
      `${i}def ${fn}(${params.join(", ")}):${this.where(e)}`,
      ...body.lines,
      `${i}    return (${p.body.outputs.map((v) => body.name(v)).join(", ")}${p.body.outputs.length === 1 ? "," : ""})`,
      `${i}carry_${k} = [${carry.join(", ")}]`,
      `${i}ys_${k} = [[] for _ in range(${nYs})]`,
      `${i}steps_${k} = range(${pyDim(p.length)})`,
      `${i}for t in ${p.reverse ? `reversed(steps_${k})` : `steps_${k}`}:`,
      `${i}    outs = ${fn}(${[...consts, `*carry_${k}`, ...xs.map((x) => `${x}.select(${p.axis}, t)`)].join(", ")})`,
      `${i}    carry_${k} = list(outs[:${p.nCarry}])`,
      `${i}    for j in range(${nYs}):`,
      `${i}        ys_${k}[j].append(outs[${p.nCarry} + j])`,
    );
    const stacked = Array.from({ length: nYs }, (_, j) => {
      const y = p.body.outputs[p.nCarry + j]!;
      const steps = p.reverse ? `ys_${k}[${j}][::-1]` : `ys_${k}[${j}]`;
      return `_stack(${steps}, ${p.axis}, ${shapePy(y.type.shape)}, ${pyDType[y.type.dtype]})`;
    });
    const results = [...Array.from({ length: p.nCarry }, (_, c) => `carry_${k}[${c}]`), ...stacked];
    outs.forEach((o, j) => this.lines.push(`${i}${o} = ${results[j]}`));
  }

  text(): string[] {
    return this.lines;
  }
}

/** `def name(params):` computing the graph; `opts.inputs` says how each graph input is read. */
export function pyFunction(g: Graph, opts: PyGraphOptions): string {
  const pg = new PyGraph(opts.sources, "    ");
  for (const v of g.inputs) {
    const src = opts.inputs.get(v.id);
    if (src === undefined) throw new Error(`graph input ${v.hint ?? v.id} has no Python name`);
    pg.bind(v, src);
  }
  pg.eqns(g.eqns);
  const outs = g.outputs.map((v) => pg.name(v));
  return [
    `def ${opts.name}(${opts.params}):`,
    `    """${opts.doc}"""`,
    ...pg.text(),
    `    return ${opts.result(outs)}`,
    "",
  ].join("\n");
}
