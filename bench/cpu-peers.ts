// The CPU bench's TF.js and jax-js peers: each workload describes its network
// once (PeerNet: the output from a batch), and peersOf makes its train steps
// (bench/webgpu-peers.ts's, which run on any backend, on the workload's loss)
// and its forward passes (the output read back to the host).

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import type { Forward } from "./cpu-workload.ts";
import type { HostBatch } from "./webgpu-data.ts";
import type { Init } from "./webgpu-dlg.ts";
import {
  jaxParams,
  jaxPeer,
  tfjsPeer,
  tfVariables,
  type JaxTree,
  type OptimizerSpec,
} from "./webgpu-peers.ts";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";
import type { Peer } from "./webgpu-workload.ts";

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

/** A workload's network as the peers compute it: its output from a batch, in TF.js and in jax-js. */
export interface PeerNet {
  /** TF.js variables from dlg's init (default tfVariables; LeNet transposes its filters). */
  tfVars?(tf: Tf, init: Record<string, Init>): Record<string, TF.Variable>;
  tfjs(tf: Tf, v: Record<string, TF.Variable>, b: HostBatch): TF.Tensor;
  /** The output from `p` (consumed, jax-js's ownership rules) and the uploaded input. */
  jax(jax: JaxJs, p: JaxTree, x: Jax.Array): Jax.Array;
  /** b.x as the array `jax` takes. */
  x(jax: JaxJs, b: HostBatch): Jax.Array;
  /** What the loss compares the output with: labels (softmax cross-entropy) or a target of `shape` (MSE). */
  target: { classes: number } | { shape: number[] };
}

/** The train steps (loss, then `opt`) and forward passes of `net` in TF.js and jax-js. */
export function peersOf(net: PeerNet, opt: OptimizerSpec) {
  const t = net.target;
  const tfVars = (tf: Tf, init: Record<string, Init>) => (net.tfVars ?? tfVariables)(tf, init);
  return {
    train: {
      tfjs(tf: Tf, init: Record<string, Init>): Peer {
        const v = tfVars(tf, init);
        return tfjsPeer(tf, v, opt, (b) => {
          const out = net.tfjs(tf, v, b);
          if ("classes" in t) {
            const y = tf.oneHot(tf.tensor1d(b.y!, "int32"), t.classes);
            return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(out), y), -1))) as TF.Scalar;
          }
          return tf.mean(tf.square(tf.sub(out, tf.tensor(b.y!, t.shape)))) as TF.Scalar;
        });
      },
      jax(jax: JaxJs, init: Record<string, Init>): Peer {
        const { numpy: np, nn } = jax;
        type B = { x: Jax.Array; y: Jax.Array };
        const loss = (p: JaxTree, b: B) => {
          const out = net.jax(jax, p, b.x);
          return "classes" in t
            ? nn.logSoftmax(out).mul(nn.oneHot(b.y, t.classes)).sum(-1).mean().neg()
            : np.square(out.sub(b.y)).mean();
        };
        return jaxPeer(jax, jaxParams(jax, init), opt, loss, (b) => ({
          x: net.x(jax, b),
          y: "classes" in t ? np.array(b.y!, { dtype: np.int32 }) : np.array(b.y!).reshape(t.shape),
        }));
      },
    },
    forward: {
      tfjs(tf: Tf, init: Record<string, Init>): Forward {
        const v = tfVars(tf, init);
        return tfjsForward(tf, v, (b) => net.tfjs(tf, v, b));
      },
      jax(jax: JaxJs, init: Record<string, Init>): Forward {
        type B = { x: Jax.Array };
        return jaxForward(
          jax,
          jaxParams(jax, init),
          (p, b: B) => net.jax(jax, p, b.x),
          (b) => ({ x: net.x(jax, b) }),
        );
      },
    },
  };
}
