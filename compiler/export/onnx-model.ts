// A plain-object description of an ONNX model: the subset of onnx.proto's
// ModelProto that the exporter writes (nodes, initializers, typed inputs and
// outputs, subgraphs for Scan). compiler/ imports no packages, so the
// exporter builds this description and its caller's encoder
// (cli/onnx-encode.ts, on the onnx-proto package) writes the protobuf bytes.

/** The element types dlg's tensors and the exporter's index tensors take. */
export type OnnxElem = "float" | "int32" | "int64" | "bool";

/** A dimension of a value's type: a size, or a named (symbolic) dim such as `B`. */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
  name: string;
  elem: OnnxElem;
  /** Absent: rank and sizes unknown (a scan body's intermediate). */
  shape?: OnnxDim[];
}

/** A constant tensor (a weight, or an exporter's constant), row-major. */
export interface OnnxTensor {
  name: string;
  elem: OnnxElem;
  dims: number[];
  /** float: Float32Array; int32: Int32Array; int64: BigInt64Array; bool: Uint8Array of 0/1. */
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
}

export type OnnxAttr =
  | { kind: "int"; i: number }
  | { kind: "ints"; ints: number[] }
  | { kind: "float"; f: number }
  | { kind: "graph"; g: OnnxGraph };

export interface OnnxNode {
  op: string;
  /** "" for an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, OnnxAttr>;
  name: string;
  /** Where in the .dlg source the node came from (`file:line:col`), for readers of the graph. */
  doc?: string;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  /** The default domain's opset version. */
  opset: number;
  producerName: string;
  producerVersion: string;
  graph: OnnxGraph;
  /** Free text (the model's name and where it came from). */
  doc: string;
  metadata: Record<string, string>;
}

/** What turns a description into the protobuf bytes of a `.onnx` file. */
export type OnnxEncoder = (model: OnnxModel) => Uint8Array;
