// What each workload of the WebGPU bench provides: its sample, its batches,
// and the two peers (TF.js and jax-js programs computing dlg's train step).

import type { HostBatch } from "./webgpu-data.ts";
import type { Init } from "./webgpu-dlg.ts";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";

/** One engine's train step: uploads batch `i`, trains on it, resolves to the loss read back. */
export interface Peer {
  step(batch: HostBatch, i: number): Promise<number>;
  dispose(): void;
}

export interface Workload {
  /** The --only key. */
  key: string;
  /** The table's row label. */
  title: string;
  sample: string;
  /** The train block, when not the sample's first. */
  config?: string;
  /** `count` batches in the order every engine trains on them. */
  batches(count: number): HostBatch[];
  /** The peers, from dlg's initial parameters (by dlg's names). */
  tfjs(tf: Tf, init: Record<string, Init>): Peer;
  jax(jax: JaxJs, init: Record<string, Init>): Peer;
}
