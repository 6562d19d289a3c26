// The .d.ts beside an emitted module. Untrusted names enter only through
// mangle.ts (`jsString` for keys, `commentText` for doc comments).

import type { ProgramIR, TensorType } from "../ir.ts";
import { commentText, jsData, jsString } from "../mangle.ts";
import type { BackendName } from "../../runtime/executor.ts";
import { shapeSpec, specOf } from "./spec.ts";

const arrayType = (dtype: string) => (dtype === "f32" ? "Float32Array" : "Int32Array");

/** The .d.ts of an emitted module: its inputs, outputs, params and dims as types, and its model API. */
export function moduleDts(
  program: ProgramIR,
  modelName: string,
  target: BackendName = "js",
): string {
  const field = (x: { name: string; type: TensorType }, optional = false) =>
    `  /** ${x.type.dtype}${commentText(`[${shapeSpec(x.type.shape).join(", ")}]`)} */\n  ${jsString(x.name)}${optional ? "?" : ""}: ${arrayType(x.type.dtype)};`;
  const entry = (name: string) => program.entries.find((e) => e.name === name);
  const inputsOf = (name: string) => {
    const e = entry(name);
    const names = new Set(e ? e.inSlots.flatMap((s) => (s.kind === "input" ? [s.name] : [])) : []);
    return program.inputs.filter((i) => names.has(i.name));
  };
  const iface = (name: string, fields: string[]) =>
    `export interface ${name} {\n${fields.join("\n")}\n}`;
  const dimsDoc = program.dims.length
    ? ` Run-time dims (${commentText(program.dims.join(", "))}) are read from the input lengths.`
    : "";
  return [
    `/** Model ${commentText(modelName)}, compiled by dlg.${dimsDoc} */`,
    iface(
      "PredictInputs",
      inputsOf("predict").map((i) => field(i)),
    ),
    iface(
      "Batch",
      inputsOf("step").length
        ? inputsOf("step").map((i) => field(i))
        : inputsOf("evaluate").map((i) => field(i)),
    ),
    iface(
      "Outputs",
      program.outputs.map((o) => field(o)),
    ),
    iface(
      "Metrics",
      program.metrics.map((m) => `  ${jsString(m)}: number;`),
    ),
    iface(
      "Params",
      program.params.map(
        (p) =>
          `  /** ${commentText(`[${shapeSpec(p.type.shape).join(", ")}]`)} */\n  readonly ${jsString(p.path)}: Float32Array;`,
      ),
    ),
    iface(
      "Dims",
      program.dims.map((d) => `  ${jsString(d)}?: number;`),
    ),
    "export interface Scores {\n  loss: number;\n  metrics: Metrics;\n}",
    modelOptions(target),
    modelInterface(target),
    "/** Create a model and initialise its parameters from `seed`. `dims` fixes the dims that parameter shapes use (they hold for the model's lifetime). */\nexport declare function createModel(opts?: ModelOptions): Promise<Model>;",
    ...(target === "webgpu" ? [] : [syncModelInterface(target)]),
    `export declare const spec: ${jsData(specOf(program), 2)};`,
    "",
  ].join("\n\n");
}

/**
 * createModel's options. The WebGPU ones are typed structurally, so the
 * .d.ts needs no @webgpu/types: `navigator.gpu` or the `webgpu` package's
 * `create([])` fits `gpu`.
 */
function modelOptions(target: BackendName): string {
  const gpu =
    target === "webgpu"
      ? [
          "  /** Where to get the device: `navigator.gpu` in a browser, `create([])` of the `webgpu` package in Node (default: `navigator.gpu`). */",
          "  gpu?: { requestAdapter(options?: object): Promise<unknown> };",
          "  /** A GPUDevice to run on instead of requesting one from `gpu`. */",
          "  device?: object;",
        ]
      : [];
  const threads =
    target === "wasm"
      ? [
          "  /** Threads that run the kernels (workers plus the caller, over a shared memory where SharedArrayBuffer exists); default min(cores, 4); 1: no workers. Any count gives the same results bit for bit. */",
          "  threads?: number;",
        ]
      : [];
  return [
    "export interface ModelOptions {",
    "  /** Initialisation and dropout seed (default 0). */",
    "  seed?: number;",
    "  /** Dims fixed for the model's lifetime: those that parameter shapes use. */",
    "  dims?: Dims;",
    `  /** The backend this module was compiled for; any other throws (compile with \`dlg compile --target\`). */`,
    `  backend?: ${JSON.stringify(target)};`,
    ...gpu,
    ...threads,
    "}",
  ].join("\n");
}

/** The model API every backend shares. */
function modelInterface(target: BackendName): string {
  return [
    "export interface Model {",
    `  readonly backend: ${JSON.stringify(target)};`,
    "  /** Outputs for a batch (dropout off), as fresh copies. */",
    "  predict(inputs: PredictInputs, dims?: Dims): Promise<Outputs>;",
    "  /** One optimizer step on a batch; resolves to the loss and metrics before the update. */",
    "  step(batch: Batch, dims?: Dims): Promise<Scores>;",
    "  /** Loss and metrics on a batch (dropout off), without updating. */",
    "  evaluate(batch: Batch, dims?: Dims): Promise<Scores>;",
    "  /** Copies of the current parameters, by path. */",
    "  params(): Promise<Params>;",
    "  /** Number of step() calls that completed. */",
    "  readonly steps: number;",
    ...checkpointDocs("Promise<Uint8Array>", "Promise<Record<string, string>>"),
    "  /** Release the backend's resources once pending calls finish; later calls reject. */",
    "  dispose(): void;",
    "}",
  ].join("\n");
}

/**
 * The synchronous path of the JS and WASM backends: the same model with
 * direct results (WASM: on the calling thread only), and the params live
 * (JS) or copied at each read (WASM: they live in the module's memory).
 */
function syncModelInterface(target: "js" | "wasm"): string {
  const js = target === "js";
  return [
    `/** The ${js ? "JS" : "WASM"} backend's synchronous model: createModel()'s API with results returned directly. */`,
    "export interface SyncModel {",
    `  readonly backend: ${JSON.stringify(target)};`,
    "  predict(inputs: PredictInputs, dims?: Dims): Outputs;",
    "  step(batch: Batch, dims?: Dims): Scores;",
    "  evaluate(batch: Batch, dims?: Dims): Scores;",
    js
      ? "  /** Live views of the current parameters, by path: the same arrays for the model's lifetime, updated in place by step() and load(). */"
      : "  /** Copies of the current parameters, by path, read afresh each time. */",
    "  readonly params: Params;",
    "  readonly steps: number;",
    ...checkpointDocs("Uint8Array", "Record<string, string>"),
    "  dispose(): void;",
    "}",
    js
      ? "/** A synchronous model, with live `params` views, for code that cannot await. */"
      : "/** A synchronous model on the calling thread (no workers: `threads` must be 1 or absent), for code that cannot await. */",
    "export declare function createModelSync(opts?: ModelOptions): SyncModel;",
  ].join("\n");
}

function checkpointDocs(saved: string, loaded: string): string[] {
  return [
    "  /** A safetensors checkpoint: params, optimizer state (`__state__.` prefix), step count and seed (the random stream's position) in `__metadata__`, plus the caller's `metadata` entries. */",
    `  save(metadata?: Record<string, string>): ${saved};`,
    "  /** Restore a checkpoint from save() (params, state, step count, seed) and return its `__metadata__`; throws, loading nothing, if the file is malformed or its names, dtypes or shapes differ. */",
    `  load(bytes: Uint8Array): ${loaded};`,
  ];
}
