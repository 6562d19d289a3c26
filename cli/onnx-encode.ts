// The protobuf bytes of an exported ONNX model: compiler/export/onnx.ts
// describes the model as plain objects (compiler/ imports no packages) and
// this encodes the description with onnx-proto (onnx.proto compiled for
// protobufjs), so the file is written by a maintained protobuf library.

import onnxProto, { type onnx as Onnx } from "onnx-proto";
import type {
  OnnxAttr,
  OnnxElem,
  OnnxGraph,
  OnnxModel,
  OnnxTensor,
  OnnxValueInfo,
} from "../compiler/export/onnx-model.ts";

// onnx-proto is CommonJS: its namespace is the default export's `onnx`.
const { onnx } = onnxProto;

const dataType: { [E in OnnxElem]: Onnx.TensorProto.DataType } = {
  float: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

const T = onnx.AttributeProto.AttributeType;

function attribute(name: string, a: OnnxAttr): Onnx.IAttributeProto {
  const kinds: {
    [K in OnnxAttr["kind"]]: (a: Extract<OnnxAttr, { kind: K }>) => Onnx.IAttributeProto;
  } = {
    int: (a) => ({ type: T.INT, i: a.i }),
    ints: (a) => ({ type: T.INTS, ints: a.ints }),
    float: (a) => ({ type: T.FLOAT, f: a.f }),
    graph: (a) => ({ type: T.GRAPH, g: graph(a.g) }),
  };
  return { name, ...(kinds[a.kind] as (a: OnnxAttr) => Onnx.IAttributeProto)(a) };
}

function valueInfo(v: OnnxValueInfo): Onnx.IValueInfoProto {
  const shape = v.shape && {
    dim: v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
  };
  return {
    name: v.name,
    type: { tensorType: { elemType: dataType[v.elem], ...(shape && { shape }) } },
  };
}

/** Little-endian raw bytes, as TensorProto.raw_data holds them (this machine's order: checked below). */
function tensor(t: OnnxTensor): Onnx.ITensorProto {
  const d = t.data;
  return {
    name: t.name,
    dims: t.dims,
    dataType: dataType[t.elem],
    rawData: new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
  };
}

function graph(g: OnnxGraph): Onnx.IGraphProto {
  return {
    name: g.name,
    node: g.nodes.map((n) => ({
      opType: n.op,
      name: n.name,
      input: n.inputs,
      output: n.outputs,
      attribute: Object.entries(n.attrs).map(([k, a]) => attribute(k, a)),
      ...(n.doc !== undefined && { docString: n.doc }),
    })),
    initializer: g.initializers.map(tensor),
    input: g.inputs.map(valueInfo),
    output: g.outputs.map(valueInfo),
  };
}

if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1)
  throw new Error(
    "onnx export writes raw tensor data in this machine's byte order, which is not little-endian",
  );

/** The `.onnx` file's bytes. */
export function encodeOnnx(m: OnnxModel): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: m.irVersion,
    opsetImport: [{ domain: "", version: m.opset }],
    producerName: m.producerName,
    producerVersion: m.producerVersion,
    docString: m.doc,
    graph: graph(m.graph),
    metadataProps: Object.entries(m.metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}
