// The emitted model module as the CLI sees it, and how Node loads one: the
// compiler hands back a string of JavaScript with no imports, which we write
// to a temporary file and import() by file URL (Node has no in-memory ESM
// loader). The model API is runtime/model.ts's, the same on every backend.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Model, ModelOptions, Scores } from "../runtime/model.ts";

export type ElemType = "f32" | "i32" | "bool";
export type Tensor = Float32Array | Int32Array;
/** Typed arrays keyed by input name; the batch size follows from their lengths. */
export type Batch = Record<string, Tensor>;

export interface TensorSpec {
  name: string;
  dtype: ElemType;
  /** Named dimensions are strings (`"B"`), fixed ones numbers. */
  shape: (string | number)[];
}

export interface ModelSpec {
  model: string;
  dims: string[];
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  metrics: string[];
  params: unknown;
}

export type RunResult = Scores;

/**
 * Named dimensions given explicitly. The module infers dims from input
 * lengths (y: [B] gives B, then x: [B, F] gives F); passing what the data
 * fixed keeps calls unambiguous, e.g. predict({ x }) alone for [B, F].
 */
export type Dims = Record<string, number>;

/** What the training loop and checkpoints use of a model (a test can stand in for it). */
export type CompiledModel = Pick<Model, "step" | "evaluate" | "save" | "load" | "steps">;

export interface ModelModule {
  /**
   * `dims` fixes named dimensions that parameter shapes use and inputs bind
   * once (linreg's `param theta: [F]`), from the data, when the model is made.
   */
  createModel(opts?: ModelOptions): Promise<Model>;
  spec: ModelSpec;
}

/** Import an emitted module from its source text. */
export async function loadModule(js: string): Promise<ModelModule> {
  const dir = mkdtempSync(join(tmpdir(), "dlg-"));
  const file = join(dir, "model.mjs");
  try {
    writeFileSync(file, js);
    const mod = (await import(pathToFileURL(file).href)) as Partial<ModelModule>;
    if (
      typeof mod.createModel !== "function" ||
      typeof mod.spec !== "object" ||
      mod.spec === null
    ) {
      // Not the user's fault: the emitter broke its own contract.
      throw new Error("the emitted module does not export createModel and spec");
    }
    return mod as ModelModule;
  } finally {
    // Once imported, the module lives in memory; the file is no longer needed.
    rmSync(dir, { recursive: true, force: true });
  }
}
