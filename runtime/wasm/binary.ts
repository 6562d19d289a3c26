// Choosing and compiling the module's WebAssembly binary. The module carries
// its binaries as base64, preferred first (relaxed SIMD, then plain SIMD);
// the engine takes the first one it validates. Every binary imports one
// memory, `env.memory`, emitted shared (limits flag 0x03): an engine or page
// without SharedArrayBuffer gets a copy with that flag patched to 0x01
// (unshared, min and max) and runs single-threaded.

import type { WasmBinary, WasmProgram } from "../program.ts";

/** The limits flag of a shared memory with a maximum, and of an unshared one. */
const SHARED_FLAG = 0x03;
const UNSHARED_FLAG = 0x01;

export interface Chosen {
  module: WebAssembly.Module;
  /** The memory import's declared minimum (pages): the memory must start at least this large. */
  minPages: number;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

/** An unsigned LEB128 at `at` (the memory limits' minimum follows the flag). */
function readLeb(bytes: Uint8Array, at: number): number {
  let v = 0;
  let scale = 1;
  for (let i = at; i < bytes.length; i++) {
    v += (bytes[i]! & 0x7f) * scale;
    if ((bytes[i]! & 0x80) === 0) return v;
    scale *= 128;
  }
  throw new Error("internal: truncated memory limits in the WebAssembly binary");
}

/** `b`'s bytes, with the memory made unshared unless `shared`. */
function bytesOf(b: WasmBinary, shared: boolean): Uint8Array<ArrayBuffer> {
  const bytes = decodeBase64(b.base64);
  if (bytes[b.memoryFlagAt] !== SHARED_FLAG)
    throw new Error(
      `internal: the WebAssembly binary's memory flag at ${b.memoryFlagAt} is ${bytes[b.memoryFlagAt]}, expected 0x03`,
    );
  if (!shared) bytes[b.memoryFlagAt] = UNSHARED_FLAG;
  return bytes;
}

/** Bytes the engine can compile: the first binary it validates, shared or not. */
function choose(
  wasm: WasmProgram,
  shared: boolean,
): { bytes: Uint8Array<ArrayBuffer>; b: WasmBinary } {
  let last: Uint8Array<ArrayBuffer> | null = null;
  for (const b of wasm.binaries) {
    const bytes = bytesOf(b, shared);
    if (WebAssembly.validate(bytes)) return { bytes, b };
    last = bytes;
  }
  // An engine with SIMD that refuses the plain-SIMD binary (the last) means the binary is wrong.
  if (last && WebAssembly.validate(SIMD_PROBE)) {
    let why = "no reason given";
    try {
      new WebAssembly.Module(last);
    } catch (e) {
      why = (e as Error).message;
    }
    throw new Error(
      `internal: the model's WebAssembly does not compile (a compiler bug; please report it): ${why}`,
    );
  }
  throw new Error(
    "this JavaScript engine cannot run the model's WebAssembly: it needs 128-bit SIMD " +
      "(Node 16.4+, Chrome 91+, Firefox 89+, Safari 16.4+); compile the model for the js " +
      "backend (`dlg compile --target js`) to run it here",
  );
}

/** The smallest module that uses SIMD: `(func (result v128) (v128.const i32x4 0 0 0 0))`. */
const SIMD_PROBE = Uint8Array.of(
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...[0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b], // type section: () -> v128
  ...[0x03, 0x02, 0x01, 0x00], // function section: one, of type 0
  ...[0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x0b], // code
);

/** The chosen binary, compiled synchronously (createModelSync; workers receive the compiled Module). */
export function compileSync(wasm: WasmProgram, shared: boolean): Chosen {
  const { bytes, b } = choose(wasm, shared);
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes);
  } catch (e) {
    // A browser's main thread limits synchronous compiles (Chromium: 8 MB).
    if (!(e instanceof RangeError)) throw e;
    throw new Error(
      `createModelSync() cannot compile this model's WebAssembly here (${e.message}); ` +
        "use createModel(), which compiles asynchronously, or run the model in a Worker",
    );
  }
  return {
    module,
    minPages: readLeb(bytes, b.memoryFlagAt + 1),
  };
}

/** The chosen binary, compiled off the main thread where the engine can (a browser page). */
export async function compileAsync(wasm: WasmProgram, shared: boolean): Promise<Chosen> {
  const { bytes, b } = choose(wasm, shared);
  return {
    module: await WebAssembly.compile(bytes),
    minPages: readLeb(bytes, b.memoryFlagAt + 1),
  };
}
