// The .d.ts beside an emitted module. Untrusted names enter only through
// mangle.ts (`jsString` for keys, `commentText` for doc comments).

import type { ProgramIR, TensorType } from "../ir.ts";
import { commentText, jsData, jsString } from "../mangle.ts";
import { shapeSpec, specOf } from "./spec.ts";

const arrayType = (dtype: string) => (dtype === "f32" ? "Float32Array" : "Int32Array");

/** The .d.ts of an emitted module: its inputs, outputs, params and dims as types. */
export function moduleDts(program: ProgramIR, modelName: string): string {
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
    [
      "export interface Model {",
      "  /** Outputs for a batch (dropout off). Returned arrays are fresh copies. */",
      "  predict(inputs: PredictInputs, dims?: Dims): Outputs;",
      "  /** One optimizer step on a batch; returns the loss and metrics before the update. */",
      "  step(batch: Batch, dims?: Dims): Scores;",
      "  /** Loss and metrics on a batch (dropout off), without updating. */",
      "  evaluate(batch: Batch, dims?: Dims): Scores;",
      "  /** Live views of the current parameters, by path: the same arrays for the model's lifetime, updated in place by step() and load(). */",
      "  readonly params: Params;",
      "  /** Number of step() calls so far. */",
      "  readonly steps: number;",
      "  /** A safetensors checkpoint: params, optimizer state (`__state__.` prefix), step count and seed (the random stream's position) in `__metadata__`, plus the caller's `metadata` entries. */",
      "  save(metadata?: Record<string, string>): Uint8Array;",
      "  /** Restore a checkpoint from save() (params, state, step count, seed) and return its `__metadata__`; throws, loading nothing, if the file is malformed or its names, dtypes or shapes differ. */",
      "  load(bytes: Uint8Array): Record<string, string>;",
      "}",
    ].join("\n"),
    "/** `dims` fixes the dims that parameter shapes use (they hold for the model's lifetime). */\nexport declare function createModel(opts?: { seed?: number; dims?: Dims }): Model;",
    `export declare const spec: ${jsData(specOf(program), 2)};`,
    "",
  ].join("\n\n");
}
