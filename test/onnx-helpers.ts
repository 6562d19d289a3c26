// What the ONNX export tests and bench/onnx-predict.ts share: a model's JS
// module and its ONNX export on the same weights, and a seeded batch of the
// right shapes to run both on.

import * as ort from "onnxruntime-node";
import { loadModule, type Batch, type ModelSpec } from "../cli/module.ts";
import { compile, exportModel, nodeHost } from "../cli/node-host.ts";
import { encodeOnnx } from "../cli/onnx-encode.ts";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import type { Model } from "../runtime/model.ts";
import { uniform } from "./graph-helpers.ts";

/** Sizes for named dims other than the batch (what data would fix). */
const OTHER = 4;
/** Int inputs (labels, token ids) draw from [0, 3): valid for every example's classes and vocab. */
const INT_RANGE = 3;

export interface Pair {
  model: Model;
  /** The ONNX file exported with the module's own params. */
  bytes: Uint8Array;
  /** A batch of `n` examples (seeded) and the dims it binds. */
  batch(n: number, seed: number): Seeded;
}

export interface Seeded {
  batch: Batch;
  dims: Record<string, number>;
  /** Each input's shape. */
  shapes: Record<string, number[]>;
}

/** The batch dims: each input's first, when it is named. */
const batchDims = (spec: ModelSpec) =>
  new Set(spec.inputs.flatMap((i) => (typeof i.shape[0] === "string" ? [i.shape[0]] : [])));

/** The named dims other than the batch, at the size data would fix (OTHER). */
export function fixedDims(spec: ModelSpec): Record<string, number> {
  const batch = batchDims(spec);
  return Object.fromEntries(
    spec.dims.filter((d) => !batch.has(d)).map((d): [string, number] => [d, OTHER]),
  );
}

/** Seeded batches of `n` examples for `spec`'s inputs, with `fixed` for the other dims. */
export function seededBatches(
  spec: ModelSpec,
  fixed: Record<string, number>,
): (n: number, seed: number) => Seeded {
  const batch = batchDims(spec);
  return (n, seed) => {
    const dims: Record<string, number> = { ...fixed };
    for (const d of batch) dims[d] = n;
    const out: Batch = {};
    const shapes: Record<string, number[]> = {};
    spec.inputs.forEach((input, k) => {
      const shape = input.shape.map((d) => (typeof d === "number" ? d : dims[d]!));
      shapes[input.name] = shape;
      const u = uniform(
        shape.reduce((p, d) => p * d, 1),
        seed + k,
      );
      out[input.name] =
        input.dtype === "f32"
          ? Float32Array.from(u)
          : Int32Array.from(u, (v) => Math.floor(((v + 1) / 2) * INT_RANGE));
    });
    return { batch: out, dims, shapes };
  };
}

/** `file`'s model `name` as a JS module (seed 3) and as ONNX on the module's params. */
export async function modelPair(file: string, name?: string): Promise<Pair> {
  const r = compile(file, name === undefined ? {} : { model: name });
  if (!r.ok) throw new Error(renderDiagnostics(r.diagnostics, r.sources));
  const mod = await loadModule(r.js!);
  const fixed = fixedDims(mod.spec);
  // A run's length, for learning-rate schedules that decay over it (the tests step a few times).
  const model = await mod.createModel({ seed: 3, dims: fixed, stepsPerEpoch: 1000, epochs: 1 });
  const weights = new Map(Object.entries(await model.params()));
  const x = exportModel(file, {
    host: nodeHost,
    target: "onnx",
    encoders: { onnx: encodeOnnx },
    weights,
    ...(name !== undefined && { model: name }),
  });
  if (!x.ok) throw new Error(renderDiagnostics(x.diagnostics, x.sources));
  return { model, bytes: x.bytes!, batch: seededBatches(mod.spec, fixed) };
}

/** ONNX Runtime's outputs on a seeded batch (the inputs the graph takes). */
export async function runOrt(
  session: ort.InferenceSession,
  { batch, shapes }: Seeded,
): Promise<Record<string, Float32Array | Int32Array>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    const data = batch[name]!;
    feeds[name] = new ort.Tensor(
      data instanceof Float32Array ? "float32" : "int32",
      data,
      shapes[name],
    );
  }
  const got = await session.run(feeds);
  return Object.fromEntries(
    Object.entries(got).map(([k, t]) => [k, t.data as Float32Array | Int32Array]),
  );
}
