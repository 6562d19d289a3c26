// The model's one linear memory, laid out as the WASM target's kernels
// expect (compiler/backends/wasm.ts): page 0 is a header (the run-time dims
// D at byte 0, the scans' steps T at 128, the buffer table from 256: buffer
// i's byte address at 256 + 4 i), data from 65536, every buffer 64-byte
// aligned. Typed-array views of the memory are remade whenever it has grown
// (an unshared memory's old buffer is detached by a grow, a shared one's
// views stop at the old length).

import {
  UNIFORM_DIMS,
  UNIFORM_SCANS,
  WASM_BUFFERS_AT as TABLE_AT,
  WASM_DIMS_AT as DIMS_AT,
  WASM_MAX_BUFFERS,
  WASM_STEPS_AT as STEPS_AT,
} from "../program.ts";
import { bytesText } from "../sizes.ts";

export const PAGE = 65536;
/** How many dims and scans the header holds (as many as a WebGPU uniform record). */
export const MAX_DIMS = UNIFORM_DIMS;
export const MAX_SCANS = UNIFORM_SCANS;
/** Buffer table entries that fit below the data (the compiler refuses models past it). */
export const MAX_BUFFERS = WASM_MAX_BUFFERS;

export const align64 = (n: number): number => Math.ceil(n / 64) * 64;

export class WasmMemory {
  private buffer: ArrayBuffer | SharedArrayBuffer | null = null;
  private views!: { u8: Uint8Array; i32: Int32Array; u32: Uint32Array; f32: Float32Array };

  constructor(
    readonly memory: WebAssembly.Memory,
    /** The memory import's maximum, in pages. */
    private readonly maxPages: number,
  ) {}

  /** Fresh views if the memory grew since they were made. */
  private get v() {
    const buf = this.memory.buffer;
    if (buf !== this.buffer) {
      this.buffer = buf;
      this.views = {
        u8: new Uint8Array(buf),
        i32: new Int32Array(buf),
        u32: new Uint32Array(buf),
        f32: new Float32Array(buf),
      };
    }
    return this.views;
  }

  /** Whether the memory holds `bytes` bytes already. */
  holds(bytes: number): boolean {
    return bytes <= this.memory.buffer.byteLength;
  }

  /** Grow the memory to hold `bytes` bytes; `what` says what needs them when they do not fit. */
  ensure(bytes: number, what: () => string): void {
    const have = this.memory.buffer.byteLength / PAGE;
    const need = Math.ceil(bytes / PAGE);
    if (need <= have) return;
    if (need > this.maxPages)
      throw new Error(
        `${what()} need ${bytesText(bytes)} of WebAssembly memory, more than its maximum ${bytesText(this.maxPages * PAGE)}`,
      );
    try {
      this.memory.grow(need - have);
    } catch (e) {
      throw new Error(
        `${what()} need ${bytesText(bytes)} of WebAssembly memory: ${(e as Error).message}`,
      );
    }
  }

  setDims(D: readonly number[]): void {
    const { i32 } = this.v;
    for (let i = 0; i < MAX_DIMS; i++) i32[DIMS_AT / 4 + i] = i < D.length ? D[i]! | 0 : 0;
  }

  setStep(scan: number, t: number): void {
    this.v.i32[STEPS_AT / 4 + scan] = t;
  }

  /** Buffer i's address in the table. */
  address(i: number): number {
    return this.v.u32[TABLE_AT / 4 + i]!;
  }

  /** The whole buffer table (entry i = buffer i's address). */
  setTable(table: Uint32Array): void {
    this.v.u32.set(table, TABLE_AT / 4);
  }

  setAddress(i: number, at: number): void {
    this.v.u32[TABLE_AT / 4 + i] = at;
  }

  /** Exchange buffers a's and b's addresses (a scan's cur and next carries). */
  swap(a: number, b: number): void {
    const { u32 } = this.v;
    const t = u32[TABLE_AT / 4 + a]!;
    u32[TABLE_AT / 4 + a] = u32[TABLE_AT / 4 + b]!;
    u32[TABLE_AT / 4 + b] = t;
  }

  copy(dst: number, src: number, bytes: number): void {
    if (dst !== src && bytes > 0) this.v.u8.copyWithin(dst, src, src + bytes);
  }

  /** `data` written at byte address `at`. */
  write(at: number, data: Float32Array | Int32Array): void {
    (data instanceof Float32Array ? this.v.f32 : this.v.i32).set(data, at / 4);
  }

  /** A view of `n` elements at `at`, valid until the memory next grows (the caller copies). */
  view(at: number, n: number, dtype: "f32" | "i32"): Float32Array | Int32Array {
    return (dtype === "f32" ? this.v.f32 : this.v.i32).subarray(at / 4, at / 4 + n);
  }
}
