// The forward-pass side of the CPU bench's TF.js and jax-js peers (their
// train steps are bench/webgpu-peers.ts's, which run on any backend): the
// model's output from dlg's initial parameters, read back to the host.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import type { Forward } from "./cpu-workload.ts";
import type { HostBatch } from "./webgpu-data.ts";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";
import type { JaxTree } from "./webgpu-peers.ts";

/** A TF.js forward pass: `f` builds the output from the host batch (inside a tidy). */
export function tfjsForward(
  tf: Tf,
  vars: Record<string, TF.Variable>,
  f: (batch: HostBatch) => TF.Tensor,
): Forward {
  return {
    async run(batch) {
      const out = tf.tidy(() => f(batch));
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
    dispose: () => tf.dispose(Object.values(vars)),
  };
}

/**
 * A jax-js forward pass: `f(params, batch)` inside one jit (it consumes both,
 * jax-js's ownership rules), on the arrays `upload` makes of the host batch.
 */
export function jaxForward<P extends JaxTree, B extends JaxTree>(
  jax: JaxJs,
  params: P,
  f: (p: P, b: B) => Jax.Array,
  upload: (batch: HostBatch) => B,
): Forward {
  const fn = jax.jit(f) as unknown as ((p: P, b: B) => Jax.Array) & { dispose(): void };
  return {
    async run(batch) {
      const out = fn(jax.tree.ref(params), upload(batch));
      return Float32Array.from(await out.data());
    },
    dispose() {
      jax.tree.dispose(params);
      fn.dispose();
    },
  };
}
