// The emitted model module as the CLI sees it, and how Node loads one: the
// compiler hands back a string of JavaScript with no imports, which we write
// to a temporary file and import() by file URL (Node has no in-memory ESM
// loader). The interface below is the contract of compiler/emit.ts; results
// are awaited, so a backend whose calls return promises works unchanged.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

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

export interface RunResult {
  loss: number;
  metrics: Record<string, number>;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * Named dimensions given explicitly. The module infers dims from input
 * lengths (y: [B] gives B, then x: [B, F] gives F); passing what the data
 * fixed keeps calls unambiguous, e.g. predict({ x }) alone for [B, F].
 */
export type Dims = Record<string, number>;

export interface CompiledModel {
  predict(inputs: Batch, dims?: Dims): MaybePromise<unknown>;
  step(batch: Batch, dims?: Dims): MaybePromise<RunResult>;
  evaluate(batch: Batch, dims?: Dims): MaybePromise<RunResult>;
  /** `metadata` goes into the checkpoint's `__metadata__` beside the model's own entries. */
  save(metadata?: Record<string, string>): MaybePromise<Uint8Array>;
  /** Restores params, optimizer state, step count and seed; returns the checkpoint's `__metadata__`. */
  load(bytes: Uint8Array): MaybePromise<Record<string, string>>;
  /** Number of step() calls that completed. */
  readonly steps: number;
}

export interface ModelModule {
  /**
   * `dims` fixes named dimensions that parameter shapes use and inputs bind
   * once (linreg's `param theta: [F]`), from the data, when the model is made.
   */
  createModel(opts: { seed: number; dims?: Dims }): MaybePromise<CompiledModel>;
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
