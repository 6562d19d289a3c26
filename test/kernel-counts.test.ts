// Structure, pinned: how many kernels each sample's predict and step run on
// each backend (scan bodies counted once: a scan runs its body kernels at
// every step). A fusion change that adds or removes kernels shows up here as
// a deliberate edit, never as a silent slowdown. WebGPU may differ from JS
// where its binding limit splits a kernel or a scatter gathers.

import { describe, expect, it } from "vitest";
import { backends, compile } from "../cli/node-host.ts";
import type { Target } from "../compiler/backend.ts";
import { lowerEntry } from "../compiler/emit.ts";
import type { Kernel } from "../compiler/kernel.ts";

const count = (ks: readonly Kernel[]): number =>
  ks.reduce((n, k) => n + (k.kind === "scan" ? count(k.body) : 1), 0);

/** sample -> [predict, step] kernels, per target. */
const pinned: Record<string, Record<Target, [number, number]>> = {
  // v2: 784-512-512-10 (one more dense layer and dropout), its cosine lr an input of step().
  mlp: { js: [7, 50], webgpu: [7, 50], wasm: [7, 50] },
  linreg: { js: [2, 7], webgpu: [2, 7], wasm: [2, 7] },
  lenet: { js: [15, 85], webgpu: [15, 85], wasm: [15, 85] },
  // The step's forward scan stores the gates, which its reverse scan reads (no h @ u recomputed).
  // One more on WebGPU: a kernel of the LSTM's backward pass binds more than 8 buffers and is split.
  lstm_adding: { js: [10, 52], webgpu: [10, 53], wasm: [10, 52] },
  reverse_attention: { js: [38, 192], webgpu: [38, 192], wasm: [38, 192] },
  composed: { js: [40, 205], webgpu: [40, 205], wasm: [40, 205] },
};

describe("kernels per call", () => {
  for (const [sample, want] of Object.entries(pinned))
    it(sample, () => {
      const r = compile(`samples/${sample}.dlg`);
      expect(r.diagnostics).toEqual([]);
      for (const target of ["js", "webgpu", "wasm"] as const) {
        const got = (["predict", "step"] as const).map((name) => {
          const e = r.program!.entries.find((x) => x.name === name)!;
          return count(lowerEntry(e.graph, backends[target].lower).kernels.kernels);
        });
        expect(got, `${sample} on ${target}`).toEqual(want[target]);
      }
    });
});
