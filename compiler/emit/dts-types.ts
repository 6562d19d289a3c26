// The shape types of a module's .d.ts: `Tensor<dtype, shape>` for its
// tensors, and the dims a call or createModel may give. Shapes are tuple
// types, concrete sizes as numeric literals and named dims (or dim
// expressions, `"4 * H"`) as string literals, both written here only: sizes
// as numbers, names through `jsString`, so no name from a .dlg file can
// reach the declarations as anything but a string literal type.

import { dimVars } from "../dims.ts";
import type { ProgramIR, TensorType } from "../ir.ts";
import { commentText, jsString } from "../mangle.ts";
import { shapeSpec } from "./spec.ts";

/**
 * The array a tensor is, with its dtype and shape as optional phantom
 * properties: a plain typed array of the right kind fits (the runtime checks
 * lengths), an Int32Array for a float input does not (lib.d.ts's
 * `[Symbol.toStringTag]` tells the two apart), and a tensor typed for
 * another shape does not either.
 */
export const tensorDecl = [
  "/** A tensor's element type: bool tensors are Int32Arrays of 0 and 1. */",
  'export type DType = "f32" | "i32" | "bool";',
  "/** A tensor: a flat, row-major typed array (Float32Array for f32, Int32Array for i32 and bool). `S` is its shape: sizes as numbers, named dims as strings. Both are types only: any array of the right kind fits, and the runtime checks its length. */",
  "export type Tensor<D extends DType, S extends readonly (number | string)[]> =",
  '  (D extends "f32" ? Float32Array : Int32Array) & { readonly __dlgDtype?: D; readonly __dlgShape?: S };',
  "/** A tensor the model made (an output, a param): a Tensor on its own ArrayBuffer, never a SharedArrayBuffer, so it fits a BufferSource (a Blob, fetch's body, WebGPU's writeBuffer) and any Tensor input of its shape. */",
  "export type FreshTensor<D extends DType, S extends readonly (number | string)[]> =",
  '  ReturnType<(D extends "f32" ? Float32Array : Int32Array)["slice"]> & Tensor<D, S>;',
  "/** Bytes the model made (a checkpoint): a Uint8Array on its own ArrayBuffer. */",
  'export type Bytes = ReturnType<Uint8Array["slice"]>;',
].join("\n");

/** `export interface NAME { ... }`, one member (already indented, with its doc) a line; `{}` when empty. */
export function iface(name: string, members: readonly string[]): string {
  return `export interface ${name} {${members.map((m) => `\n${m}`).join("")}${members.length ? "\n" : ""}}`;
}

/**
 * `Tensor<"f32", ["B", 784]>`; `FreshTensor<...>` for one the model makes:
 * `slice()`'s return type is the typed array on an ArrayBuffer in every
 * TypeScript version (`Float32Array<ArrayBuffer>` since 5.7, where a plain
 * `Float32Array` may sit on a SharedArrayBuffer and is no BufferSource).
 */
export function tensorType(t: TensorType, fresh = false): string {
  const dims = shapeSpec(t.shape).map((d) => (typeof d === "number" ? String(d) : jsString(d)));
  return `${fresh ? "FreshTensor" : "Tensor"}<${jsString(t.dtype)}, [${dims.join(", ")}]>`;
}

/**
 * `Dims` (every named dim, optional), `ModelDims` (those that size
 * parameters or optimizer state, required at createModel, as the runtime
 * requires them) and `CallDims`: a call's dims, where those fixed at
 * createModel keep the literal types they were given (`F: 3` there makes
 * `{ F: 12 }` in a call a type error, as it is a run-time error).
 */
export function dimsDecls(program: ProgramIR): { text: string; doc: string; required: boolean } {
  const fixed = new Set(
    [...program.params, ...program.state].flatMap((t) => t.type.shape.flatMap(dimVars)),
  );
  const modelDims = program.dims.filter((d) => fixed.has(d));
  const text = [
    "/** The model's named dims. A call reads them from its inputs' lengths; give one only where the lengths cannot tell. */",
    iface(
      "Dims",
      program.dims.map((d) => `  ${jsString(d)}?: number;`),
    ),
    "/** The dims that size parameters: createModel must be given them, and they hold for the model's lifetime. */",
    iface(
      "ModelDims",
      modelDims.map((d) => `  ${jsString(d)}: number;`),
    ),
    "/** A call's dims: those fixed at createModel (`Fixed`) keep the values given there. */",
    "export type CallDims<Fixed extends Dims = Dims> = Dims & Partial<Fixed>;",
  ].join("\n");
  const doc = [
    program.dims.length
      ? ` Run-time dims (${commentText(program.dims.join(", "))}) are read from the input lengths.`
      : "",
    modelDims.length
      ? ` createModel needs ${commentText(modelDims.join(", "))} (they size parameters).`
      : "",
  ].join("");
  return { text, doc, required: modelDims.length > 0 };
}
