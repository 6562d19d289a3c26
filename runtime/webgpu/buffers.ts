/// <reference types="@webgpu/types" />
// GPU buffers as the plan sees them, and reading them back. The usage and
// map-mode flags are the spec's constant values, written out so the runtime
// works with a `gpu` object whose globals (GPUBufferUsage, ...) were never
// installed on globalThis (Node's `webgpu` package without `globals`).

import type { Buffer, DTypeName } from "../program.ts";
import { bytesText } from "../sizes.ts";

export const MAP_READ = 0x0001;
export const COPY_SRC = 0x0004;
export const COPY_DST = 0x0008;
export const UNIFORM = 0x0040;
export const STORAGE = 0x0080;
export const SHADER_COMPUTE = 0x4;
export const MAP_MODE_READ = 0x0001;

/**
 * Bytes of the GPU buffer for `n` 4-byte elements: a whole number of vec4s
 * (so a kernel may view any buffer as `array<vec4<f32>>`), and never empty
 * (WebGPU cannot bind a zero-sized storage buffer).
 */
export function storageBytes(n: number): number {
  return Math.max(16, Math.ceil((4 * n) / 16) * 16);
}

/**
 * Throws, naming `what` and the limit, when `bytes` exceed the device's
 * `limit` (a default device: 128 MiB a storage binding, 256 MiB a buffer).
 * The compiler keeps every buffer within the default limits at the dims it
 * can see; a run-time batch can still outgrow them.
 */
export function checkLimit(
  device: GPUDevice,
  bytes: number,
  limit: "maxStorageBufferBindingSize" | "maxBufferSize",
  what: string,
  hint: string,
): void {
  const max = device.limits[limit];
  if (bytes > max)
    throw new Error(
      `WebGPU cannot hold ${what}: it needs ${bytesText(bytes)}, over this device's ${limit} of ${bytesText(max)}; ${hint}`,
    );
}

/** A storage buffer for `n` elements; `what` names it in errors (and labels it), `hint` says what to do. */
export function createStorage(
  device: GPUDevice,
  n: number,
  what: string,
  hint = "use a smaller batch",
): GPUBuffer {
  const size = storageBytes(n);
  // Every storage buffer is bound whole: the binding limit is the one that bites.
  checkLimit(device, size, "maxStorageBufferBindingSize", what, hint);
  checkLimit(device, size, "maxBufferSize", what, hint);
  return device.createBuffer({ label: what, size, usage: STORAGE | COPY_SRC | COPY_DST });
}

/** A host array for `n` elements of `dtype` (i32 and bool live in Int32Arrays, as on the JS backend). */
export function hostArray(
  dtype: DTypeName | "f32" | "i32",
  data: ArrayBuffer,
  at: number,
  n: number,
): Buffer {
  return dtype === "f32"
    ? new Float32Array(data.slice(at, at + 4 * n))
    : new Int32Array(data.slice(at, at + 4 * n));
}

/** Write a host array into the start of a GPU buffer (queued: lands before the next submit runs). */
export function writeHost(device: GPUDevice, dst: GPUBuffer, a: Buffer): void {
  device.queue.writeBuffer(dst, 0, a.buffer as ArrayBuffer, a.byteOffset, a.byteLength);
}

/** A GPU buffer to read back, and its element count (4 bytes each) and type on the host. */
export interface Readback {
  src: GPUBuffer;
  n: number;
  dtype: DTypeName | "f32" | "i32";
}

/**
 * Mappable copies of several GPU buffers, back to back: one staging buffer,
 * or as few as the device's maxBufferSize allows (a big model's params and
 * optimizer state). Encode the copies into a call's command buffer, then
 * read after its submit.
 */
export class Staging {
  readonly buffers: GPUBuffer[] = [];
  /** Per read: which staging buffer, at which byte offset. */
  private readonly at: { buf: number; offset: number }[] = [];

  constructor(
    device: GPUDevice,
    readonly reads: readonly Readback[],
    label: string,
  ) {
    const max = device.limits.maxBufferSize;
    const sizes = [0];
    for (const r of reads) {
      // Each read fits a buffer on its own: it is a storage buffer within the binding limit.
      if (sizes.at(-1)! + 4 * r.n > max) sizes.push(0);
      this.at.push({ buf: sizes.length - 1, offset: sizes.at(-1)! });
      sizes[sizes.length - 1]! += 4 * r.n;
    }
    for (const size of sizes)
      this.buffers.push(
        device.createBuffer({ label, size: Math.max(4, size), usage: MAP_READ | COPY_DST }),
      );
  }

  /** The copies into the staging buffers (empty reads copy nothing). */
  encode(encoder: GPUCommandEncoder): void {
    this.reads.forEach((r, i) => {
      const { buf, offset } = this.at[i]!;
      if (r.n > 0) encoder.copyBufferToBuffer(r.src, 0, this.buffers[buf]!, offset, 4 * r.n);
    });
  }

  /** After the submit that encoded the copies: map, copy each read out, unmap. */
  async read(): Promise<Buffer[]> {
    await Promise.all(this.buffers.map((b) => b.mapAsync(MAP_MODE_READ)));
    try {
      const data = this.buffers.map((b) => b.getMappedRange());
      return this.reads.map((r, i) => {
        const { buf, offset } = this.at[i]!;
        return hostArray(r.dtype, data[buf]!, offset, r.n);
      });
    } finally {
      for (const b of this.buffers) if (b.mapState === "mapped") b.unmap();
    }
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
  }
}
