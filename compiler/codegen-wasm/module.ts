// A program's kernel functions as one WASM module, encoded twice when it
// uses relaxed SIMD: the relaxed binary first (FMA where the engine has
// it), then a plain-SIMD one with each relaxed multiply-add unfused, so an
// engine without relaxed SIMD still loads the module (the runtime compiles
// the first binary WebAssembly.validate accepts).

import { WASM_MAX_PAGES, type WasmBinary, type WasmProgram } from "../../runtime/program.ts";
import { encodeModule, type ModuleSpec } from "./encode.ts";
import { opInfo, type Instr, type Mnemonic, type WasmFunction } from "./instr.ts";

/** The memory import's minimum: page 0, the header of dims, steps and buffer table. */
export const MIN_PAGES = 1;

const usesRelaxed = (f: WasmFunction) => f.body.some((ins) => opInfo[ins[0]].relaxed);

/**
 * `f` without relaxed SIMD: `f32x4.relaxed_madd` (a b c -> a*b + c) becomes
 * `local.set t; f32x4.mul; local.get t; f32x4.add` and `relaxed_nmadd`
 * (-(a*b) + c) the same with `f32x4.neg` after the multiply, over one
 * v128 temp local added to the function.
 */
export function withoutRelaxed(f: WasmFunction): WasmFunction {
  if (!usesRelaxed(f)) return f;
  const t = f.params.length + f.locals.length;
  const unfused: Partial<Record<Mnemonic, readonly Instr[]>> = {
    "f32x4.relaxed_madd": [["local.set", t], ["f32x4.mul"], ["local.get", t], ["f32x4.add"]],
    "f32x4.relaxed_nmadd": [
      ["local.set", t],
      ["f32x4.mul"],
      ["f32x4.neg"],
      ["local.get", t],
      ["f32x4.add"],
    ],
  };
  const body = f.body.flatMap((ins) => {
    const plain = unfused[ins[0]];
    if (plain) return plain;
    if (opInfo[ins[0]].relaxed) throw new Error(`no plain-SIMD form of ${ins[0]}`);
    return [ins];
  });
  return { ...f, locals: [...f.locals, "v128"], body };
}

/** Every function once: helpers several kernels share must agree wherever they come from. */
function uniqueFunctions(fns: readonly WasmFunction[]): WasmFunction[] {
  const byName = new Map<string, WasmFunction>();
  for (const f of fns) {
    const seen = byName.get(f.name);
    if (seen === undefined) byName.set(f.name, f);
    else if (JSON.stringify(seen) !== JSON.stringify(f))
      throw new Error(`two different functions named ${f.name}`);
  }
  return [...byName.values()];
}

const BASE64 = new TextEncoder().encode(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
);

/** Bytes as base64 (a table walk: no Buffer in compiler/, and faster than btoa over a binary string). */
export function base64(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  let o = 0;
  for (let i = 0; i < bytes.length; i += 3) {
    const rest = bytes.length - i;
    const n =
      (bytes[i]! << 16) | ((rest > 1 ? bytes[i + 1]! : 0) << 8) | (rest > 2 ? bytes[i + 2]! : 0);
    out[o++] = BASE64[n >> 18]!;
    out[o++] = BASE64[(n >> 12) & 63]!;
    out[o++] = rest > 1 ? BASE64[(n >> 6) & 63]! : 0x3d; // "="
    out[o++] = rest > 2 ? BASE64[n & 63]! : 0x3d;
  }
  return new TextDecoder().decode(out);
}

/** The module's spec: the kernels (exported by name) and the helpers they call. */
export function moduleSpec(
  kernels: readonly WasmFunction[],
  helpers: readonly WasmFunction[] = [],
): ModuleSpec {
  const functions = uniqueFunctions([...kernels, ...helpers]);
  const exports = kernels.map((k) => k.name);
  if (new Set(exports).size !== exports.length) throw new Error("two kernels share a name");
  // The maximum: all a model's memory may get; a shared memory reserves its address space up
  // front, which 64-bit V8 does at no cost in committed memory.
  return { functions, exports, memory: { min: MIN_PAGES, max: WASM_MAX_PAGES } };
}

/** The program's module: relaxed and plain binaries when a function uses relaxed SIMD, else plain. */
export function wasmProgram(
  kernels: readonly WasmFunction[],
  helpers: readonly WasmFunction[] = [],
): WasmProgram {
  const spec = moduleSpec(kernels, helpers);
  const binary = (s: ModuleSpec, relaxed: boolean): WasmBinary => {
    const { bytes, memoryFlagAt } = encodeModule(s);
    return { base64: base64(bytes), relaxed, memoryFlagAt };
  };
  const plain = binary({ ...spec, functions: spec.functions.map(withoutRelaxed) }, false);
  const binaries = spec.functions.some(usesRelaxed) ? [binary(spec, true), plain] : [plain];
  return { binaries, maxPages: WASM_MAX_PAGES };
}
