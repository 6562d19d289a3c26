/// <reference types="@webgpu/types" />
// GPU buffers as the plan sees them, and reading them back. The usage and
// map-mode flags are the spec's constant values, written out so the runtime
// works with a `gpu` object whose globals (GPUBufferUsage, ...) were never
// installed on globalThis (Node's `webgpu` package without `globals`).

import type { Buffer, DTypeName } from "../program.ts";

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

export function createStorage(device: GPUDevice, n: number, label: string): GPUBuffer {
  return device.createBuffer({
    label,
    size: storageBytes(n),
    usage: STORAGE | COPY_SRC | COPY_DST,
  });
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

/** Where each of several GPU buffers lands in one staging buffer. */
export interface Readback {
  src: GPUBuffer;
  /** Element count to read (4 bytes each) and its type on the host. */
  n: number;
  dtype: DTypeName | "f32" | "i32";
}

/** A staging buffer holding every readback's bytes back to back, and each one's offset. */
export function stagingFor(
  device: GPUDevice,
  reads: readonly Readback[],
  label: string,
): { staging: GPUBuffer; offsets: number[] } {
  const offsets: number[] = [];
  let bytes = 0;
  for (const r of reads) {
    offsets.push(bytes);
    bytes += 4 * r.n;
  }
  const staging = device.createBuffer({
    label,
    size: Math.max(4, bytes),
    usage: MAP_READ | COPY_DST,
  });
  return { staging, offsets };
}

/** Encode the copies of `reads` into `staging` at `offsets` (empty reads copy nothing). */
export function encodeReadback(
  encoder: GPUCommandEncoder,
  reads: readonly Readback[],
  staging: GPUBuffer,
  offsets: readonly number[],
): void {
  reads.forEach((r, i) => {
    if (r.n > 0) encoder.copyBufferToBuffer(r.src, 0, staging, offsets[i]!, 4 * r.n);
  });
}

/** After the submit that encoded the copies: map the staging buffer, copy each read out, unmap. */
export async function finishReadback(
  staging: GPUBuffer,
  reads: readonly Readback[],
  offsets: readonly number[],
): Promise<Buffer[]> {
  await staging.mapAsync(MAP_MODE_READ);
  try {
    const data = staging.getMappedRange();
    return reads.map((r, i) => hostArray(r.dtype, data, offsets[i]!, r.n));
  } finally {
    staging.unmap();
  }
}
