// Building ONNX graphs: fresh names, deduplicated constants, nodes, and the
// run-time value of a symbolic dim (`B`, `B * T`, `(H + 2) div 3`) as an
// int64 tensor computed from an input's shape, which Reshape, Expand, Slice,
// Range and ConstantOfShape take where a size is not known until the inputs
// arrive. One OnnxBuild serves a model and every Scan body in it (a body
// reads the outer graph's constants and dims by name, as ONNX allows).

import { dimAsConst, dimKey, dimSubst, dimToString, type Dim } from "../dims.ts";
import type { DType } from "../ir.ts";
import type { OnnxAttr, OnnxDim, OnnxElem, OnnxGraph, OnnxNode, OnnxTensor } from "./onnx-model.ts";

export const elemOf: { [D in DType]: OnnxElem } = { f32: "float", i32: "int32", bool: "bool" };

/** An attribute value as written in a rule: an int, a list of ints, `{ f }` a float, `{ g }` a subgraph. */
export type AttrValue = number | number[] | { f: number } | { g: OnnxGraph };

function attr(v: AttrValue): OnnxAttr {
  if (typeof v === "number") return { kind: "int", i: v };
  if (Array.isArray(v)) return { kind: "ints", ints: v };
  return "f" in v ? { kind: "float", f: v.f } : { kind: "graph", g: v.g };
}

/** Where each named dim is read at run time: axis `axis` of graph input `input`. */
export type DimSources = ReadonlyMap<string, { input: string; axis: number }>;

/** A graph's nodes, in order; `at` is the source location stamped on the nodes made next. */
export class Scope {
  readonly nodes: OnnxNode[] = [];
  at: string | undefined;
  constructor(readonly build: OnnxBuild) {}

  /** Node `op` on `inputs`; the names of its `nOut` outputs (fresh). */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, nOut = 1): string[] {
    const outputs = Array.from({ length: nOut }, () => this.build.fresh(op.toLowerCase()));
    this.emit(op, inputs, outputs, attrs);
    return outputs;
  }

  /** The one output of node `op`. */
  one(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.node(op, inputs, attrs)[0]!;
  }

  /** Node `op` writing the given output names. */
  emit(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}) {
    const n: OnnxNode = {
      op,
      inputs,
      outputs,
      attrs: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, attr(v)])),
      name: this.build.fresh(op),
    };
    if (this.at !== undefined) n.doc = this.at;
    this.nodes.push(n);
  }
}

/** What all graphs of one model share: names, constants (initializers), dims. */
export class OnnxBuild {
  private count = 0;
  readonly initializers: OnnxTensor[] = [];
  private readonly consts = new Map<string, string>();
  /** Dims and shapes already computed, by key. */
  private readonly dims = new Map<string, string>();
  /** The nodes that compute dims from input shapes: they run first, in the top graph. */
  readonly dimScope = new Scope(this);

  constructor(
    private readonly sources: DimSources,
    /** Dims fixed at export (a param's shape fixed by its weights): constants in the graph. */
    private readonly fixed: ReadonlyMap<string, Dim>,
  ) {}

  /** A name no dlg identifier or param path can take (`#` is not in either). */
  fresh(hint: string): string {
    return `${hint}#${this.count++}`;
  }

  /** A constant tensor, made once per value. */
  constant(elem: OnnxElem, dims: number[], values: readonly number[]): string {
    const key = `${elem}[${dims.join(",")}]${values.join(",")}`;
    let name = this.consts.get(key);
    if (name === undefined) {
      name = this.fresh("const");
      const data =
        elem === "float"
          ? Float32Array.from(values)
          : elem === "int32"
            ? Int32Array.from(values)
            : elem === "int64"
              ? BigInt64Array.from(values, (v) => BigInt(v))
              : Uint8Array.from(values, (v) => (v ? 1 : 0));
      this.initializers.push({ name, elem, dims, data });
      this.consts.set(key, name);
    }
    return name;
  }

  /** A scalar constant of a dlg element type. */
  scalar(value: number, dtype: DType): string {
    return this.constant(elemOf[dtype], [], [value]);
  }

  /** A list of int64s (axes, pads, a constant shape). */
  ints(values: readonly number[]): string {
    return this.constant("int64", [values.length], values);
  }

  /** `d` with the export's fixed dims substituted. */
  resolve(d: Dim): Dim {
    return this.fixed.size ? dimSubst(d, this.fixed) : d;
  }

  /** A dim as a value type's entry: its size, or its name (`B`, `B * T`). */
  typeDim(d: Dim): OnnxDim {
    const r = this.resolve(d);
    return dimAsConst(r) ?? dimToString(r);
  }

  /** The run-time value of `d` as an int64 tensor of shape [1]. */
  dim(d: Dim): string {
    const r = this.resolve(d);
    const c = dimAsConst(r);
    if (c !== null) return this.ints([c]);
    const key = dimKey(r);
    let name = this.dims.get(key);
    if (name === undefined) {
      name = this.compute(r);
      this.dims.set(key, name);
    }
    return name;
  }

  /** A polynomial over named dims, div and mod atoms, as int64 nodes. */
  private compute(d: Dim): string {
    const s = this.dimScope;
    const terms = d.terms.map((t) => {
      const atoms = t.atoms.map((a) => {
        if (a.kind === "var") {
          const src = this.sources.get(a.name);
          if (!src) throw new Error(`no input's shape gives dimension ${a.name}`);
          return s.one("Shape", [src.input], { start: src.axis, end: src.axis + 1 });
        }
        // Dims are never negative, so int64 Div (truncating) floors like `div`.
        return s.one(a.kind === "div" ? "Div" : "Mod", [this.dim(a.num), this.dim(a.den)]);
      });
      const product = atoms.reduce((p, x) => s.one("Mul", [p, x]));
      return t.coeff === 1 || atoms.length === 0
        ? (product ?? this.ints([t.coeff]))
        : s.one("Mul", [product, this.ints([t.coeff])]);
    });
    return terms.reduce((a, b) => s.one("Add", [a, b]));
  }

  /**
   * A shape as an int64 [rank] tensor: a constant when every dim is known,
   * else the pieces concatenated. With `inferOne`, Reshape's -1 stands for
   * the one symbolic dim (so the shape stays a constant ORT can fold).
   */
  shape(ds: readonly Dim[], inferOne = false): string {
    const rs = ds.map((d) => this.resolve(d));
    const cs = rs.map(dimAsConst);
    const unknown = cs.filter((c) => c === null).length;
    if (unknown === 0 || (inferOne && unknown === 1 && !cs.includes(0)))
      return this.ints(cs.map((c) => c ?? -1));
    const key = `[${rs.map(dimKey).join(", ")}]`;
    const known = this.dims.get(key);
    if (known !== undefined) return known;
    const pieces: string[] = [];
    let run: number[] = [];
    rs.forEach((d, i) => {
      const c = cs[i];
      if (c !== null && c !== undefined) return void run.push(c);
      if (run.length) pieces.push(this.ints(run));
      run = [];
      pieces.push(this.dim(d));
    });
    if (run.length) pieces.push(this.ints(run));
    const name = this.dimScope.one("Concat", pieces, { axis: 0 });
    this.dims.set(key, name);
    return name;
  }
}
