// The peer programs' common parts: parameters copied from dlg's init, the
// optimizer of the sample's train block, and a train step that resolves only
// once the engine has read the loss back (so the GPU has finished the step).
//
// TF.js differentiates with optimizer.minimize (its tape) and applies its own
// SGD-momentum or Adam (Adam there folds the bias correction into the step
// size and adds eps to sqrt(v) unscaled: a difference far below what the
// sanity losses show). jax-js runs one jit-compiled function per step:
// valueAndGrad of the loss, then the update written out below in dlg's form
// (compiler/entries.ts), so forward, backward and update fuse together.

import type * as TF from "@tensorflow/tfjs-core";
import type * as Jax from "@jax-js/jax";
import type { HostBatch } from "./webgpu-data.ts";
import type { Init } from "./webgpu-dlg.ts";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";
import type { Peer } from "./webgpu-workload.ts";

export type OptimizerSpec =
  | { kind: "sgd"; lr: number; momentum: number }
  | { kind: "adam"; lr: number; beta1: number; beta2: number; eps: number };

/** Adam as a train block writes `adam(lr: …)`: the remaining settings are dlg's defaults. */
export const adam = (lr: number): OptimizerSpec => ({
  kind: "adam",
  lr,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
});

// ------------------------------------------------------------------ TF.js

/** TF.js variables holding dlg's initial value of every parameter, by dlg's name. */
export function tfVariables(tf: Tf, init: Record<string, Init>): Record<string, TF.Variable> {
  const out: Record<string, TF.Variable> = {};
  for (const [name, p] of Object.entries(init)) {
    out[name] = tf.tidy(() => tf.variable(tf.tensor(p.data, p.shape)));
  }
  return out;
}

/** A TF.js train step: `loss` builds the scalar loss from the host batch (inside minimize's tape). */
export function tfjsPeer(
  tf: Tf,
  vars: Record<string, TF.Variable>,
  spec: OptimizerSpec,
  loss: (batch: HostBatch) => TF.Scalar,
): Peer {
  const opt =
    spec.kind === "sgd"
      ? tf.train.momentum(spec.lr, spec.momentum)
      : tf.train.adam(spec.lr, spec.beta1, spec.beta2, spec.eps);
  const list = Object.values(vars);
  return {
    async step(batch) {
      const cost = tf.tidy(() => opt.minimize(() => loss(batch), true, list)!);
      const value = (await cost.data())[0]!;
      cost.dispose();
      return value;
    },
    dispose() {
      tf.dispose(list);
      opt.dispose();
    },
  };
}

// ------------------------------------------------------------------ jax-js

type Arr = Jax.Array;
export type JaxTree = Record<string, Arr>;

/** jax-js arrays (on the default device, WebGPU) holding dlg's initial parameters, by name. */
export function jaxParams(jax: JaxJs, init: Record<string, Init>): JaxTree {
  const out: JaxTree = {};
  for (const [name, p] of Object.entries(init))
    out[name] = jax.numpy.array(p.data).reshape(p.shape);
  return out;
}

/**
 * A jax-js train step. `loss(params, batch)` follows jax-js's ownership rules
 * (it consumes both; `.ref` where a value is used twice); `upload(batch, i)`
 * makes the step's arrays (a dropout key too, where the model draws one).
 */
export function jaxPeer<P extends JaxTree, B extends JaxTree>(
  jax: JaxJs,
  params: P,
  spec: OptimizerSpec,
  loss: (p: P, b: B) => Arr,
  upload: (batch: HostBatch, i: number) => B,
): Peer {
  const { numpy: np, tree } = jax;
  const zeros = () => tree.map((p: Arr) => np.zerosLike(p), tree.ref(params)) as P;
  // Optimizer state: SGD's velocity, or Adam's two moments.
  let state: P[] = spec.kind === "sgd" ? [zeros()] : [zeros(), zeros()];
  let p = params;
  // jax-js's mapped tree types do not resolve for a generic P: its own signatures, stated.
  const grad = jax.valueAndGrad(loss) as unknown as (p: P, b: B) => [Arr, P];
  // `c` carries Adam's bias corrections 1 / (1 - beta^t), computed on the host per step.
  type Step = (p: P, state: P[], b: B, c: Arr[]) => [Arr, P, P[]];
  const step = jax.jit((p: P, state: P[], b: B, c: Arr[]): [Arr, P, P[]] => {
    const [value, g] = grad(tree.ref(p), b);
    if (spec.kind === "sgd") {
      const v1 = tree.map((v: Arr, gi: Arr) => v.mul(spec.momentum).add(gi), state[0]!, g) as P;
      const p1 = tree.map((w: Arr, v: Arr) => w.sub(v.mul(spec.lr)), p, tree.ref(v1)) as P;
      tree.dispose(c);
      return [value, p1, [v1]];
    }
    const [c1, c2] = c as [Arr, Arr];
    const gRef = tree.ref(g);
    const m1 = tree.map(
      (m: Arr, gi: Arr) => m.mul(spec.beta1).add(gi.mul(1 - spec.beta1)),
      state[0]!,
      g,
    ) as P;
    const v1 = tree.map(
      (v: Arr, gi: Arr) => v.mul(spec.beta2).add(gi.ref.mul(gi).mul(1 - spec.beta2)),
      state[1]!,
      gRef,
    ) as P;
    const p1 = tree.map(
      (w: Arr, m: Arr, v: Arr) =>
        w.sub(
          m
            .mul(c1.ref)
            .div(np.sqrt(v.mul(c2.ref)).add(spec.eps))
            .mul(spec.lr),
        ),
      p,
      tree.ref(m1),
      tree.ref(v1),
    ) as P;
    c1.dispose();
    c2.dispose();
    return [value, p1, [m1, v1]];
  }) as unknown as Step & { dispose(): void };
  return {
    async step(batch, i) {
      const t = i + 1;
      const c =
        spec.kind === "adam"
          ? [np.array(1 / (1 - spec.beta1 ** t)), np.array(1 / (1 - spec.beta2 ** t))]
          : [];
      const [value, p1, s1] = step(p, state, upload(batch, i), c);
      p = p1;
      state = s1;
      await jax.blockUntilReady([p, state]);
      return (await value.data())[0]!;
    },
    dispose() {
      tree.dispose([p, state]);
      step.dispose();
    },
  };
}
