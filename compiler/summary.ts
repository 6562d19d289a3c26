// `dlg summary`: a model's layers as a table, computed from the elaborated
// model (ModelIR) and the ASTs, without touching the elaborator.
//
// A layer with parameters is a top-level parameter path (`dense_1` of
// `dense_1.w`, `encode` of `encode.dense_1.w`). Equations are attributed to
// layers through their spans: the predict entry's graph (training false:
// dropout is the identity, batch norm uses its running averages; only what
// the outputs need) lists equations in evaluation order, each with the span
// of the source it came from, so it falls into runs of consecutive
// equations from the same declaration (std's `dense`, a user block, the
// model body). A run that reads a layer's parameters belongs to that layer
// (from each parameter read on, when one run reads two layers': `dense(8)
// |> dense(2)`), as does a run without parameters between two runs of the
// same layer (the activation inside a user block) or from the block a
// neighbouring layer is a call of (`row_attention_1`'s own operations
// around the std layers it calls); any other run is a row of its own,
// named after its block (`relu`) or, in the model body, where each call is
// a step, the name it calls (`maxpool`, `flatten`) or its operations. A
// layer's output shape is that of its last equation.
//
// FLOPs count arithmetic per example (the batch dim set to 1): a matmul
// 2·m·n·k, a convolution 2 per tap and output element, a pooling window one
// op per tap, a reduction one per element reduced, an elementwise op one per
// output element, data movement (reshape, slice, gather, ...) none, a scan
// its length times its body.

import type { Program, Span } from "../grammar/index.ts";
import {
  dimAdd,
  dimAsConst,
  dimConst,
  dimMul,
  dimSubst,
  dimToString,
  numElements,
  type Dim,
} from "./dims.ts";
import { buildEntries } from "./entries.ts";
import {
  largestId,
  liveEqns,
  VarGen,
  type Eqn,
  type ModelIR,
  type Op,
  type TensorType,
} from "./ir.ts";

export interface SummaryParam {
  path: string;
  /** Sizes; a dim the data fixes (linreg's `F`) stays its name. */
  shape: (number | string)[];
  /** A number, or an expression in such dims (`F`). */
  count: number | string;
  /** v2 `state`: saved and loaded, not trained. */
  state: boolean;
}

export interface SummaryRow {
  /** `dense_1`, or a parameter-free step's block (`relu`) or operations. */
  name: string;
  /** `f32[B, 256]`; null for a layer whose parameters the outputs do not use. */
  output: string | null;
  params: SummaryParam[];
  count: number | string;
  /** FLOPs per example (an expression in the other run-time dims if they matter). */
  flops: string;
}

export interface ModelSummary {
  model: string;
  rows: SummaryRow[];
  params: {
    total: number | string;
    trainable: number | string;
    state: number | string;
    bytes: number | string;
  };
  flops: string;
  /** The entry whose graph is counted: predict, or evaluate for a model without outputs. */
  entry: "predict" | "evaluate";
}

/** Arithmetic of one equation (whole batch); shapes are its inputs' and outputs'. */
const flopRules: { [P in Op]: (e: Eqn<P>) => Dim } = {
  neg: outElems,
  exp: outElems,
  log: outElems,
  sqrt: outElems,
  abs: outElems,
  sign: outElems,
  tanh: outElems,
  sigmoid: outElems,
  add: outElems,
  sub: outElems,
  mul: outElems,
  div: outElems,
  pow: outElems,
  max: outElems,
  min: outElems,
  eq: outElems,
  ne: outElems,
  lt: outElems,
  le: outElems,
  gt: outElems,
  ge: outElems,
  select: outElems,
  cast: none,
  const: none,
  dimval: none,
  iota: none,
  reduce_sum: inElems,
  reduce_max: inElems,
  argmax: inElems,
  // [..., m, k] @ [..., k, n]: 2·k per output element.
  matmul: (e) => dimMul(dimConst(2), dimMul(outElems(e), inner(e.inputs[0]!.type, 1))),
  reshape: none,
  transpose: none,
  broadcast: none,
  slice: none,
  pad: none,
  concat: none,
  gather: none,
  scatter_add: inElems,
  random: none,
  stop_gradient: none,
  // w [O, C, KH, KW]: 2·C·KH·KW per output element.
  conv2d: (e) => dimMul(dimConst(2), dimMul(outElems(e), inner(e.inputs[1]!.type, 3))),
  conv2d_grad_input: (e) =>
    dimMul(dimConst(2), dimMul(numElements(e.inputs[0]!.type.shape), inner(e.inputs[1]!.type, 3))),
  conv2d_grad_filter: (e) =>
    dimMul(dimConst(2), dimMul(numElements(e.inputs[1]!.type.shape), inner(e.outs[0]!.type, 3))),
  max_pool: (e) => dimMul(outElems(e), dimConst(e.params.window[0]! * e.params.window[1]!)),
  max_pool_grad: inElems,
  max_pool_pick: (e) => dimMul(outElems(e), dimConst(e.params.window[0]! * e.params.window[1]!)),
  avg_pool: (e) => dimMul(outElems(e), dimConst(e.params.window[0]! * e.params.window[1]!)),
  avg_pool_grad: inElems,
  scan: (e) => dimMul(e.params.length, graphFlops(e.params.body.eqns)),
};

function outElems(e: Eqn): Dim {
  return numElements(e.outs[0]!.type.shape);
}

function inElems(e: Eqn): Dim {
  return numElements(e.inputs[0]!.type.shape);
}

function none(): Dim {
  return dimConst(0);
}

/** The product of a type's last `n` axes: a matmul's k, a convolution's C·KH·KW. */
function inner(t: TensorType, n: number): Dim {
  return numElements(t.shape.slice(t.shape.length - n));
}

function eqnFlops(e: Eqn): Dim {
  return (flopRules[e.op] as (e: Eqn) => Dim)(e);
}

function graphFlops(eqns: readonly Eqn[]): Dim {
  return eqns.reduce((sum, e) => dimAdd(sum, eqnFlops(e)), dimConst(0));
}

/** `f32[B, 256]` */
function typeText(t: TensorType): string {
  return `${t.dtype}[${t.shape.map(dimToString).join(", ")}]`;
}

/** The declaration (block or model) of `programs` whose span holds `span` in `file`. */
function declOf(
  programs: ReadonlyMap<string, Program>,
  file: string | undefined,
  span: Span | undefined,
): string {
  const program = file === undefined ? undefined : programs.get(file);
  if (program === undefined || span === undefined) return "";
  for (const d of program.decls)
    if (
      (d.kind === "Block" || d.kind === "Model") &&
      d.span.start <= span.start &&
      span.end <= d.span.end
    )
      // In the model body each call (`maxpool(2)`, `flatten`) is a step of its own.
      return d.kind === "Model"
        ? `model ${d.name.name} in ${file} at ${span.start}:${span.end}`
        : `block ${d.name.name} in ${file}`;
  return "";
}

interface Run {
  decl: string;
  /** The block's name, or "" for the model body. */
  block: string;
  /** In the model body: the name the source calls there (`maxpool` of `maxpool(2)`), if any. */
  called?: string;
  eqns: Eqn[];
  /** The layer each equation reads parameters of, if any (by equation index in `eqns`). */
  layers: (string | null)[];
}

const layerOf = (path: string) => path.split(".")[0]!;

/** The table of a model (see the header). */
export function summarize(
  model: ModelIR,
  programs: ReadonlyMap<string, Program>,
  /** The source texts (ElaborateResult.sources): a model-body step is named by the call it is. */
  sources?: ReadonlyMap<string, string>,
): ModelSummary {
  const batch = model.inputs[0]?.var.type.shape[0];
  const batchName =
    batch !== undefined && batch.terms.length === 1 && batch.terms[0]!.coeff === 1
      ? batch.terms[0]!.atoms.length === 1 && batch.terms[0]!.atoms[0]!.kind === "var"
        ? batch.terms[0]!.atoms[0]!.name
        : null
      : null;
  const perExample = (d: Dim) =>
    dimToString(batchName === null ? d : dimSubst(d, new Map([[batchName, dimConst(1)]])));

  // The predict entry's graph (evaluate's, loss and metrics, for a model
  // without outputs): training false, so dropout is the identity and batch
  // norm reads its running averages.
  const gen = new VarGen(largestId(model.forward, model.init) + 1);
  const entry = model.outputs.length > 0 ? "predict" : "evaluate";
  const predict = buildEntries(model, null, gen).entries.find((e) => e.name === entry)!;
  const paramLayer = new Map<number, string>();
  predict.inSlots.forEach((slot, k) => {
    if (slot.kind === "param")
      paramLayer.set(predict.graph.inputs[k]!.id, layerOf(model.params[slot.index]!.path));
  });

  // Runs of consecutive equations from one declaration, on the outputs' path.
  const eqns = liveEqns(predict.graph.eqns, predict.graph.outputs);
  const runs: Run[] = [];
  for (const e of eqns) {
    const decl = declOf(programs, e.file, e.span);
    const reads = e.inputs.map((v) => paramLayer.get(v.id)).find((l) => l !== undefined) ?? null;
    let run = runs[runs.length - 1];
    if (run === undefined || run.decl !== decl) {
      const m = /^block (\S+)/.exec(decl);
      const text =
        e.file !== undefined && e.span
          ? sources?.get(e.file)?.slice(e.span.start, e.span.end)
          : undefined;
      const called = m ? undefined : /^([A-Za-z_][\w.]*)\s*(?:\(|$)/.exec(text ?? "")?.[1];
      run = { decl, block: m ? m[1]! : "", ...(called && { called }), eqns: [], layers: [] };
      runs.push(run);
    }
    run.eqns.push(e);
    run.layers.push(reads);
  }

  // Each equation's row: a layer's name, or its run's own row (by run index).
  const owner: (string | number)[][] = runs.map((r) => {
    let current = r.layers.find((l) => l !== null) ?? null;
    return r.layers.map((l) => {
      if (l !== null) current = l;
      return current ?? -1;
    });
  });
  runs.forEach((r, i) => {
    if (owner[i]!.every((o) => o !== -1)) return;
    // A run with no parameters between two runs of the same layer is that layer's.
    const before = owner
      .slice(0, i)
      .reverse()
      .find((o) => o.some((x) => typeof x === "string"));
    const after = owner.slice(i + 1).find((o) => o.some((x) => typeof x === "string"));
    const last = before?.filter((x) => typeof x === "string").pop();
    const next = after?.find((x) => typeof x === "string");
    // So is one of the block a neighbouring layer is a call of (`row_attention` of `row_attention_1`).
    const called = (l: string | number | undefined) =>
      typeof l === "string" && r.block !== "" && new RegExp(`^${r.block}_\\d+$`).test(l);
    const mine = last !== undefined && last === next ? last : [last, next].find(called);
    owner[i] = owner[i]!.map(() => mine ?? i);
  });

  const rows = new Map<string, { flops: Dim; output: string | null; run?: Run }>();
  runs.forEach((r, i) =>
    r.eqns.forEach((e, k) => {
      const o = owner[i]![k]!;
      const key = typeof o === "string" ? o : `#${o}`;
      const row = rows.get(key) ?? { flops: dimConst(0), output: null, run: r };
      row.flops = dimAdd(row.flops, eqnFlops(e));
      row.output = typeText(e.outs[0]!.type);
      rows.set(key, row);
    }),
  );
  const paramsOf = new Map<string, { list: SummaryParam[]; count: Dim }>();
  for (const p of model.params) {
    const shape = p.var.type.shape.map((d) => dimValue(d));
    const count = numElements(p.var.type.shape);
    const layer = paramsOf.get(layerOf(p.path)) ?? { list: [], count: dimConst(0) };
    layer.list.push({ path: p.path, shape, count: dimValue(count), state: p.state === true });
    layer.count = dimAdd(layer.count, count);
    paramsOf.set(layerOf(p.path), layer);
  }
  // Layers without a run (their parameters feed only the loss) still get a row.
  for (const name of paramsOf.keys())
    if (!rows.has(name)) rows.set(name, { flops: dimConst(0), output: null });

  const table: SummaryRow[] = [...rows].map(([key, row]) => {
    const layer = key.startsWith("#") ? undefined : paramsOf.get(key);
    return {
      name: key.startsWith("#") ? runName(row.run!) : key,
      output: row.output,
      params: layer?.list ?? [],
      count: dimValue(layer?.count ?? dimConst(0)),
      flops: perExample(row.flops),
    };
  });
  const sum = (keep: (p: ModelIR["params"][number]) => boolean) =>
    model.params
      .filter(keep)
      .reduce((n, p) => dimAdd(n, numElements(p.var.type.shape)), dimConst(0));
  const total = sum(() => true);
  return {
    model: model.name,
    rows: table,
    params: {
      total: dimValue(total),
      trainable: dimValue(sum((p) => !p.state)),
      state: dimValue(sum((p) => p.state === true)),
      bytes: dimValue(dimMul(dimConst(4), total)),
    },
    flops: perExample(graphFlops(eqns)),
    entry,
  };
}

/** A size as a number, or the expression of the dims it depends on. */
function dimValue(d: Dim): number | string {
  return dimAsConst(d) ?? dimToString(d);
}

/** A parameter-free run's name: its block, or in the model body its operations. */
function runName(r: Run): string {
  if (r.block !== "") return r.block;
  if (r.called !== undefined) return r.called;
  const ops = [...new Set(r.eqns.map((e) => e.op).filter((op) => op !== "const"))];
  return ops.length > 0 ? ops.join(", ") : "const";
}

/** A count with thousands separators, or an expression as it is. */
const grouped = (n: number | string) => (typeof n === "number" ? n.toLocaleString("en-US") : n);

/** The table as text: one line per row, then the totals. */
export function renderSummary(s: ModelSummary): string {
  const flops = (f: string) => (/^\d+$/.test(f) ? grouped(Number(f)) : f);
  // A composite layer (a block of layers) shows how many tensors; --json lists them all.
  const params = (ps: SummaryParam[]) =>
    ps.length > 3
      ? `${ps.length} tensors`
      : ps
          .map((p) => `${p.path.slice(p.path.indexOf(".") + 1)} [${p.shape.join(", ")}]`)
          .join(", ") || "-";
  const body = s.rows.map((r) => [
    r.name,
    r.output ?? "-",
    params(r.params),
    grouped(r.count),
    flops(r.flops),
  ]);
  const head = ["layer", "output", "parameters", "count", "FLOPs/example"];
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const p = s.params;
  return [
    `model ${s.model}`,
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...body.map(line),
    "",
    `parameters: ${grouped(p.total)} (${grouped(p.trainable)} trainable, ${grouped(p.state)} state), ${grouped(p.bytes)} bytes (f32)`,
    `FLOPs per example (${s.entry}${s.entry === "evaluate" ? ": the model has no outputs" : ""}): ${flops(s.flops)}`,
  ].join("\n");
}
