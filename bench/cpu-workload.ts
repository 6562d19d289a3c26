// What each workload of the CPU bench (bench/cpu.ts) provides: its dlg model
// (bench/cpu-models/KEY.dlg), its seeded batches, its FLOPs, and the peers:
// TF.js and jax-js programs of its train step and forward pass, and the ONNX
// graph of its forward pass (for onnxruntime).

import type { HostBatch } from "./webgpu-data.ts";
import type { Init } from "./webgpu-dlg.ts";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";
import type { Peer } from "./webgpu-workload.ts";

/** One engine's forward pass: batch in, the model's output read back to the host. */
export interface Forward {
  run(batch: HostBatch): Promise<Float32Array>;
  dispose(): void;
}

export interface CpuWorkload {
  /** The --only key, and the name of its .dlg file in bench/cpu-models/. */
  key: string;
  /** The table's heading. */
  title: string;
  /** The inputs predict() takes (the forward pass) with their shapes, and the output it returns. */
  forwardInputs: Record<string, number[]>;
  output: string;
  /** FLOPs of one forward pass: 2 per multiply-add of its matmuls and convolutions. */
  flops: number;
  /** Batch `k` (k = 0 or 1; the steps alternate), the same arrays in every process. */
  batchAt(k: number): HostBatch;
  /** Absent for a forward-only workload. */
  train?: {
    tfjs(tf: Tf, init: Record<string, Init>): Peer;
    jax(jax: JaxJs, init: Record<string, Init>): Peer;
  };
  forward: {
    tfjs(tf: Tf, init: Record<string, Init>): Forward;
    jax(jax: JaxJs, init: Record<string, Init>): Forward;
    /** The serialised ONNX model; its initializers are `init`, its inputs named as dlg's. */
    onnx(init: Record<string, Init>): Uint8Array;
  };
}

/** A train step's FLOPs: forward, then backward (the gradients of activations and of weights). */
export const trainFlops = (w: CpuWorkload): number => 3 * w.flops;

/**
 * `n` floats from a xorshift32 stream seeded by `seed`: uniform in [lo, hi).
 * Plain integer arithmetic, so every process (and every engine) gets the same bits.
 */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

/** `n` integer labels in [0, classes), from the same stream. */
export function labels(n: number, classes: number, seed: number): Int32Array {
  return Int32Array.from(uniform(n, seed, 0, 1), (u) =>
    Math.min(classes - 1, Math.floor(u * classes)),
  );
}
