// A small builder of ONNX graphs for the CPU bench's forward rows, on
// onnx-proto (the ONNX schema compiled for protobufjs). Each workload writes
// its forward pass node by node; the initializers are dlg's initial
// parameters, so onnxruntime computes what dlg's predict() computes.

import onnxProto, { type onnx as Onnx } from "onnx-proto";
import type { Init } from "./webgpu-dlg.ts";

// onnx-proto is CommonJS: its namespace is the default export's `onnx`.
const { onnx } = onnxProto;

/** An attribute: an integer, a list of integers, or `{ f }` a float. */
type Attr = number | number[] | { f: number };

const F32 = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;

function attribute(name: string, v: Attr): Onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "number") return { name, type: T.INT, i: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  return { name, type: T.FLOAT, f: v.f };
}

const bytesOf = (a: Float32Array | BigInt64Array) =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export class OnnxGraph {
  private nodes: Onnx.INodeProto[] = [];
  private inits: Onnx.ITensorProto[] = [];
  private inputs: Onnx.IValueInfoProto[] = [];
  private count = 0;

  /** A graph input (float32), named as dlg's input so the same feeds fit. */
  input(name: string, shape: number[]): string {
    this.inputs.push({
      name,
      type: { tensorType: { elemType: F32, shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
    });
    return name;
  }

  /** A float32 initializer. */
  weight(name: string, data: Float32Array, shape: number[]): string {
    this.inits.push({ name, dims: shape, dataType: F32, rawData: bytesOf(data) });
    return name;
  }

  /** dlg's initial parameter `name`, optionally rewritten (a transpose, a gate reorder). */
  param(init: Record<string, Init>, name: string): string {
    const p = init[name];
    if (!p) throw new Error(`dlg has no parameter ${name}`);
    return this.weight(name, p.data, p.shape);
  }

  /** An int64 constant (Reshape's shape). */
  ints(values: number[]): string {
    const name = `const_${this.count++}`;
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.inits.push({ name, dims: [values.length], dataType: I64, rawData: bytesOf(data) });
    return name;
  }

  /** A float32 scalar constant. */
  scalar(x: number): string {
    return this.weight(`const_${this.count++}`, Float32Array.of(x), []);
  }

  /** Node `type` on `inputs` ("" for an omitted optional input); its outputs' names. */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1): string[] {
    const out = Array.from({ length: outputs }, () => `${type.toLowerCase()}_${this.count++}`);
    this.nodes.push({
      opType: type,
      input: inputs,
      output: out,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** dlg's dense layer `layer` on `x`: x @ layer.w + layer.b, from dlg's initial parameters. */
  dense(x: string, init: Record<string, Init>, layer: string): string {
    const y = this.node("MatMul", [x, this.param(init, `${layer}.w`)]);
    return this.node("Add", [y, this.param(init, `${layer}.b`)]);
  }

  /** The first output of node `type`. */
  node(type: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.op(type, inputs, attrs)[0]!;
  }

  /** The serialised model with `output` as its one output (opset 15, which onnx-proto's schema has). */
  model(output: string): Uint8Array {
    const graph = onnx.GraphProto.create({
      name: "dlg_bench",
      node: this.nodes,
      initializer: this.inits,
      input: this.inputs,
      output: [{ name: output, type: { tensorType: { elemType: F32 } } }],
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: "dlg bench/cpu-onnx.ts",
      opsetImport: [{ domain: "", version: 15 }],
      graph,
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
