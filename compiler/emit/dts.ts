// The .d.ts beside an emitted module. Every input, output and parameter is
// typed with its name, dtype and shape (`Tensor<"f32", ["B", 784]>`, see
// dts-types.ts), so tsc rejects a call with a missing or misnamed input or
// a wrong typed-array kind, and the dims fixed at createModel keep their
// literal values in later calls. Untrusted names enter only through
// mangle.ts (`jsString` for keys and string literal types, `commentText`
// for doc comments).

import type { ProgramIR, TensorType } from "../ir.ts";
import { commentText, jsData, jsString } from "../mangle.ts";
import type { BackendName } from "../../runtime/executor.ts";
import { dimsDecls, iface, tensorDecl, tensorType } from "./dts-types.ts";
import { shapeSpec, specOf, userParams } from "./spec.ts";

type Named = { name: string; type: TensorType };

/** The .d.ts of an emitted module: its inputs, outputs, params and dims as types, and its model API. */
export function moduleDts(
  program: ProgramIR,
  modelName: string,
  target: BackendName = "js",
): string {
  const doc = (t: TensorType) =>
    `  /** ${t.dtype}${commentText(`[${shapeSpec(t.shape).join(", ")}]`)} */\n`;
  const field = (x: Named, fresh = false) =>
    `${doc(x.type)}  ${jsString(x.name)}: ${tensorType(x.type, fresh)};`;
  /**
   * The inputs `entries` read, each required. The model's other inputs are
   * left out, not optional: an optional `"constructor"?` or
   * `"hasOwnProperty"?` would be checked against the members every object
   * literal has from Object.prototype, and reject a correct call.
   */
  const inputs = (...entries: string[]) => {
    const read = new Set(
      program.entries
        .filter((e) => entries.includes(e.name))
        .flatMap((e) => e.inSlots.flatMap((s) => (s.kind === "input" ? [s.name] : []))),
    );
    return program.inputs.filter((i) => read.has(i.name)).map((i) => field(i));
  };
  const dims = dimsDecls(program);
  // A model without a loss has no step() (the runtime would throw), so calling it is a type error.
  const hasStep = program.entries.some((e) => e.name === "step");
  return [
    `/** Model ${commentText(modelName)}, compiled by dlg.${dims.doc} */`,
    tensorDecl,
    iface("PredictInputs", inputs("predict")),
    iface("Batch", inputs("step", "evaluate")),
    iface(
      "Outputs",
      program.outputs.map((o) => field(o, true)),
    ),
    iface(
      "Metrics",
      program.metrics.map((m) => `  ${jsString(m)}: number;`),
    ),
    iface(
      "Params",
      userParams(program).map(
        (p) => `${doc(p.type)}  readonly ${jsString(p.name)}: ${tensorType(p.type, true)};`,
      ),
    ),
    dims.text,
    "export interface Scores {\n  loss: number;\n  metrics: Metrics;\n}",
    modelOptions(target, dims.required),
    modelInterface(target, hasStep),
    `/** Create a model and initialise its parameters from \`seed\`. \`dims\` fixes dims for the model's lifetime (those that size parameters must be given); later calls keep their values. */\nexport declare function createModel<const Fixed extends Dims = Dims>(${dims.required ? "opts" : "opts?"}: ModelOptions<Fixed>): Promise<Model<Fixed>>;`,
    ...(target === "webgpu" ? [] : [syncModelInterface(target, dims.required, hasStep)]),
    `export declare const spec: ${jsData(specOf(program), 2)};`,
    "",
  ].join("\n\n");
}

/**
 * createModel's options. The WebGPU ones are typed structurally, so the
 * .d.ts needs no @webgpu/types: `navigator.gpu` or the `webgpu` package's
 * `create([])` fits `gpu`.
 */
function modelOptions(target: BackendName, dimsRequired: boolean): string {
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
    "export interface ModelOptions<Fixed extends Dims = Dims> {",
    "  /** Initialisation and dropout seed (default 0). */",
    "  seed?: number;",
    "  /** Steps per epoch of the run (ceil(examples / batch)): a learning-rate schedule that changes per epoch, or cosine, needs it. */",
    "  stepsPerEpoch?: number;",
    "  /** Epochs of the run (default: the train block's): where cosine reaches 0. */",
    "  epochs?: number;",
    "  /** Dims fixed for the model's lifetime: those in ModelDims must be given; any other key is an error. */",
    `  dims${dimsRequired ? "" : "?"}: Fixed & ModelDims & { [K in Exclude<keyof Fixed, keyof Dims>]: never };`,
    `  /** The backend this module was compiled for; any other throws (compile with \`dlg compile --target\`). */`,
    `  backend?: ${JSON.stringify(target)};`,
    ...gpu,
    ...threads,
    "}",
  ].join("\n");
}

/** The model API every backend shares. */
function modelInterface(target: BackendName, hasStep: boolean): string {
  return [
    "export interface Model<Fixed extends Dims = Dims> {",
    `  readonly backend: ${JSON.stringify(target)};`,
    "  /** Outputs for a batch (dropout off), as fresh copies. */",
    "  predict(inputs: PredictInputs, dims?: CallDims<Fixed>): Promise<Outputs>;",
    ...(hasStep
      ? [
          "  /** One optimizer step on a batch; resolves to the loss and metrics before the update. */",
          "  step(batch: Batch, dims?: CallDims<Fixed>): Promise<Scores>;",
        ]
      : []),
    "  /** Loss and metrics on a batch (dropout off), without updating. */",
    "  evaluate(batch: Batch, dims?: CallDims<Fixed>): Promise<Scores>;",
    "  /** Copies of the current parameters, by path. */",
    "  params(): Promise<Params>;",
    "  /** Number of step() calls that completed. */",
    "  readonly steps: number;",
    ...checkpointDocs("Promise<Bytes>", "Promise<Record<string, string>>"),
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
function syncModelInterface(
  target: "js" | "wasm",
  dimsRequired: boolean,
  hasStep: boolean,
): string {
  const js = target === "js";
  return [
    `/** The ${js ? "JS" : "WASM"} backend's synchronous model: createModel()'s API with results returned directly. */`,
    "export interface SyncModel<Fixed extends Dims = Dims> {",
    `  readonly backend: ${JSON.stringify(target)};`,
    "  predict(inputs: PredictInputs, dims?: CallDims<Fixed>): Outputs;",
    ...(hasStep ? ["  step(batch: Batch, dims?: CallDims<Fixed>): Scores;"] : []),
    "  evaluate(batch: Batch, dims?: CallDims<Fixed>): Scores;",
    js
      ? "  /** Live views of the current parameters, by path: the same arrays for the model's lifetime, updated in place by step() and load(). */"
      : "  /** Copies of the current parameters, by path, read afresh each time. */",
    "  readonly params: Params;",
    "  readonly steps: number;",
    ...checkpointDocs("Bytes", "Record<string, string>"),
    "  dispose(): void;",
    "}",
    js
      ? "/** A synchronous model, with live `params` views, for code that cannot await. */"
      : "/** A synchronous model on the calling thread (no workers: `threads` must be 1 or absent), for code that cannot await. */",
    `export declare function createModelSync<const Fixed extends Dims = Dims>(${dimsRequired ? "opts" : "opts?"}: ModelOptions<Fixed>): SyncModel<Fixed>;`,
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
