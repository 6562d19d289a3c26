// The ONNX exporter: the predict entry (inference mode, simplified) as an
// ONNX graph. Inputs keep their dlg names and symbolic dims (`B`), params
// become initializers named by their dlg path, each equation becomes the
// nodes its rule in onnx-rules.ts writes (or a fused node, onnx-peephole.ts),
// and each output is an Identity named after the dlg output. The result is
// a plain description (onnx-model.ts); the encoder the caller passes writes
// its protobuf bytes.

import { dimEq, dimVar, dimVars } from "../dims.ts";
import type { Exporter, ExportInput } from "../exporter.ts";
import type { Graph, Var } from "../ir.ts";
import { elemOf, OnnxBuild, Scope } from "./onnx-graph.ts";
import type { OnnxEncoder, OnnxGraph, OnnxModel, OnnxNode, OnnxValueInfo } from "./onnx-model.ts";
import { peephole } from "./onnx-peephole.ts";
import { applyRule, OPSET, type RuleCtx } from "./onnx-rules.ts";
import { paramDims } from "./param-dims.ts";

/** IR version 8: what ONNX 1.12 (opset 17) writes and every ONNX Runtime since 1.12 reads. */
const IR_VERSION = 8;

export function onnxExporter(encode: OnnxEncoder): Exporter {
  return {
    target: "onnx",
    extension: ".onnx",
    export: (input) => ({ bytes: encode(onnxModel(input)) }),
  };
}

/** `file:line:col` of an offset, for a node's doc string. */
function where(sources: ReadonlyMap<string, string>, file: string | undefined, at: number) {
  if (file === undefined) return undefined;
  const text = sources.get(file) ?? "";
  const before = text.slice(0, at).split("\n");
  return `${file}:${before.length}:${before[before.length - 1]!.length + 1}`;
}

class Converter {
  constructor(
    readonly build: OnnxBuild,
    readonly sources: ReadonlyMap<string, string>,
  ) {}

  info(name: string, v: Var): OnnxValueInfo {
    return {
      name,
      elem: elemOf[v.type.dtype],
      shape: v.type.shape.map((d) => this.build.typeDim(d)),
    };
  }

  /** Write `g`'s equations into `s`; `names` holds the ONNX name of every var defined so far. */
  graph(g: Graph, s: Scope, names: Map<number, string>): void {
    const defs = new Map<number, (typeof g.eqns)[number]>();
    const name = (v: Var) => {
      const n = names.get(v.id);
      if (n === undefined) throw new Error(`onnx export: var ${v.id} is read before it is defined`);
      return n;
    };
    const d = { def: (v: Var) => defs.get(v.id), name };
    const cx: RuleCtx = {
      s,
      b: this.build,
      body: (body, outer, extra) => this.body(body, outer, extra),
    };
    for (const e of g.eqns) {
      s.at = e.span ? where(this.sources, e.file, e.span.start) : undefined;
      const outs = peephole(e, d, s) ?? applyRule(e, e.inputs.map(name), cx);
      e.outs.forEach((v, k) => {
        names.set(v.id, outs[k]!);
        defs.set(v.id, e);
      });
    }
  }

  /** A scan body as a subgraph (see RuleCtx.body). */
  body(g: Graph, outer: (string | null)[], extra: Var[]): OnnxGraph {
    const b = this.build;
    const s = new Scope(b);
    const names = new Map<number, string>();
    const inputs: OnnxValueInfo[] = [];
    g.inputs.forEach((v, k) => {
      const o = outer[k];
      if (o !== null && o !== undefined) return void names.set(v.id, o);
      const n = b.fresh(v.hint ?? "in");
      names.set(v.id, n);
      inputs.push(this.info(n, v));
    });
    for (const v of extra) inputs.push(this.info(b.fresh(v.hint ?? "in"), v));
    this.graph(g, s, names);
    s.at = undefined;
    // Each body output its own name: Scan's outputs may repeat a var or pass an input through.
    const outputs = g.outputs.map((v) => {
      const n = b.fresh(v.hint ?? "out");
      s.emit("Identity", [names.get(v.id)!], [n]);
      return this.info(n, v);
    });
    return { name: b.fresh("scan_body"), nodes: s.nodes, initializers: [], inputs, outputs };
  }
}

/** Where each run-time dim is read: the first input axis that is exactly that dim. */
function dimSources(
  inputs: { name: string; v: Var }[],
): Map<string, { input: string; axis: number }> {
  const out = new Map<string, { input: string; axis: number }>();
  for (const { name, v } of inputs)
    v.type.shape.forEach((d, axis) => {
      const [dim, ...more] = dimVars(d);
      if (dim !== undefined && !more.length && !out.has(dim) && dimEq(d, dimVar(dim)))
        out.set(dim, { input: name, axis });
    });
  return out;
}

/** Every name a node (or a subgraph in it, which reads outer names) reads. */
function reads(n: OnnxNode, into: Set<string>): void {
  n.inputs.forEach((x) => into.add(x));
  for (const a of Object.values(n.attrs))
    if (a.kind === "graph") for (const m of a.g.nodes) reads(m, into);
}

/** Drop nodes and initializers nothing reads (what a fused pattern left behind). */
function prune(g: OnnxGraph): OnnxGraph {
  const live = new Set(g.outputs.map((o) => o.name));
  const kept: OnnxNode[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.outputs.some((o) => live.has(o))) continue;
    kept.push(n);
    reads(n, live);
  }
  const initializers = g.initializers.filter((t) => live.has(t.name));
  return { ...g, nodes: kept.reverse(), initializers };
}

/** The ONNX description of `input`'s predict entry. */
export function onnxModel(input: ExportInput): OnnxModel {
  const { model, program, weights, sources } = input;
  const predict = program.entries.find((e) => e.name === "predict");
  if (!predict) throw new Error(`model ${model.name} has no predict entry (it declares no output)`);
  const solved = paramDims(
    model.params,
    weights.map((w) => w.length),
  );
  // exportModel reports an unfixed dim (E4023) before any exporter runs.
  if (!("dims" in solved))
    throw new Error(`param ${solved.unfixed.path}'s dim ${solved.dim} is not fixed`);
  const g = predict.graph;
  const inputs: { name: string; v: Var }[] = [];
  const params: { index: number; v: Var }[] = [];
  // Only `random` reads the seed, and it has no rule (E4020 at its span):
  // the seed gets a name for that rule to fail on, never a graph input.
  let seed: Var | undefined;
  predict.inSlots.forEach((slot, k) => {
    const v = g.inputs[k]!;
    if (slot.kind === "input") inputs.push({ name: slot.name, v });
    else if (slot.kind === "param") params.push({ index: slot.index, v });
    else if (slot.kind === "seed") seed = v;
    else throw new Error(`the predict entry reads its ${slot.kind} slot`);
  });
  // A dim a param's shape takes from the data (linreg's F) is its weights' size: a constant here.
  const build = new OnnxBuild(dimSources(inputs), solved.dims);
  const cv = new Converter(build, sources);
  const names = new Map<number, string>();
  for (const { name, v } of inputs) names.set(v.id, name);
  if (seed) names.set(seed.id, "seed");
  const initializers = params.map(({ index, v }) => {
    const p = model.params[index]!;
    names.set(v.id, p.path);
    const dims = v.type.shape.map((d) => build.typeDim(d) as number);
    return { name: p.path, elem: "float" as const, dims, data: weights[index]! };
  });
  const top = new Scope(build);
  cv.graph(g, top, names);
  top.at = undefined;
  const outputs = predict.outSlots.map((slot, k) => {
    const v = g.outputs[k]!;
    const name = slot.kind === "output" ? slot.name : `${slot.kind}`;
    top.emit("Identity", [names.get(v.id)!], [name]);
    return cv.info(name, v);
  });
  const graph = prune({
    name: model.name,
    nodes: [...build.dimScope.nodes, ...top.nodes],
    initializers: [...initializers, ...build.initializers],
    inputs: inputs.map(({ name, v }) => cv.info(name, v)),
    outputs,
  });
  return {
    irVersion: IR_VERSION,
    opset: OPSET,
    producerName: "dlg",
    producerVersion: "0.1.0",
    graph,
    doc: `model ${model.name}: its predict() (inference mode), exported by dlg`,
    metadata: { model: model.name, dims: model.dims.join(",") },
  };
}
