// The engines of the CPU bench: dlg on each CPU target and every peer, each
// opened (in its own process, bench/cpu-engine.ts) on one workload as a
// train step and a forward pass, from dlg's initial parameters.

import { join } from "node:path";
import { readSafetensors } from "../cli/safetensors.ts";
import type { CpuWorkload, Forward } from "./cpu-workload.ts";
import type { HostBatch } from "./webgpu-data.ts";
import type { Init } from "./webgpu-dlg.ts";
import type { Peer } from "./webgpu-workload.ts";

export const engineKeys = [
  "dlg-js",
  "dlg-wasm-1",
  "dlg-wasm-2",
  "dlg-wasm-2-relaxed",
  "jax-wasm",
  "jax-wasm-2w",
  "tfjs-wasm",
  "tfjs-cpu",
  "ort-web-1",
  "ort-web-2",
  "ort-node-1",
  "ort-node-2",
] as const;
export type EngineKey = (typeof engineKeys)[number];

type Kind = "dlg" | "jax" | "tfjs" | "ort";

export interface EngineInfo {
  label: string;
  kind: Kind;
  /** Threads (or workers) it computes on. */
  threads: number;
  /** Whether it trains (onnxruntime runs forward passes only). */
  trains: boolean;
  /** Node flags of its process. */
  nodeFlags?: string[];
}

export const engineInfo: { [E in EngineKey]: EngineInfo } = {
  "dlg-js": { label: "dlg js", kind: "dlg", threads: 1, trains: true },
  "dlg-wasm-1": { label: "dlg wasm, 1 thread", kind: "dlg", threads: 1, trains: true },
  "dlg-wasm-2": { label: "dlg wasm, 2 threads", kind: "dlg", threads: 2, trains: true },
  // Node 20 runs relaxed SIMD (f32x4.relaxed_madd: one FMA) only behind a flag; Chromium has it
  // on, so this row is what a browser's page gets. dlg's module picks its relaxed binary here.
  "dlg-wasm-2-relaxed": {
    label: "dlg wasm, 2 threads, relaxed SIMD",
    kind: "dlg",
    threads: 2,
    trains: true,
    nodeFlags: ["--experimental-wasm-relaxed-simd"],
  },
  "jax-wasm": { label: "jax-js wasm", kind: "jax", threads: 1, trains: true },
  "jax-wasm-2w": { label: "jax-js wasm, 2 workers", kind: "jax", threads: 2, trains: true },
  "tfjs-wasm": { label: "tfjs-wasm", kind: "tfjs", threads: 1, trains: true },
  "tfjs-cpu": { label: "tfjs-cpu", kind: "tfjs", threads: 1, trains: true },
  "ort-web-1": { label: "onnxruntime-web, 1 thread", kind: "ort", threads: 1, trains: false },
  "ort-web-2": { label: "onnxruntime-web, 2 threads", kind: "ort", threads: 2, trains: false },
  "ort-node-1": { label: "onnxruntime-node, 1 thread", kind: "ort", threads: 1, trains: false },
  "ort-node-2": { label: "onnxruntime-node, 2 threads", kind: "ort", threads: 2, trains: false },
};

/** An engine opened on a workload: its train step (loss back) and its forward pass (output back). */
export interface Opened {
  train?: Peer;
  forward: Forward;
}

export const seed = 1;

/** dlg's module of `w` for `target`, its parameters replaced by the checkpoint every engine starts from. */
async function openDlg(
  w: CpuWorkload,
  target: "js" | "wasm",
  threads: number,
  initBytes: Uint8Array | null,
): Promise<Opened> {
  // Imported here, not at the top: a peer's process loads nothing of dlg but its checkpoint reader.
  const { compile } = await import("../cli/node-host.ts");
  const { loadModule } = await import("../cli/module.ts");
  const file = join(import.meta.dirname, "cpu-models", `${w.key}.dlg`);
  // `target` is typed by the compiler as the targets it has: "wasm" fails at compile time until it exists.
  const r = compile(file, { target: target as "js" });
  if (!r.ok || !r.js) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const mod = await loadModule(r.js);
  const model = await mod.createModel({ seed, threads } as Parameters<typeof mod.createModel>[0]);
  if (initBytes) await model.load(initBytes);
  const inputs = (b: HostBatch) =>
    Object.fromEntries(Object.keys(w.forwardInputs).map((k) => [k, b[k]!]));
  return {
    train: w.train && {
      step: async (b) => (await model.step(b)).loss,
      dispose: () => model.dispose(),
    },
    forward: {
      async run(b) {
        const out = (await model.predict(inputs(b))) as Record<string, Float32Array>;
        return out[w.output]!;
      },
      dispose: () => model.dispose(),
    },
  };
}

async function openOrt(
  w: CpuWorkload,
  where: "web" | "node",
  threads: number,
  init: Record<string, Init>,
): Promise<Opened> {
  const bytes = w.forward.onnx(init);
  type Ort = typeof import("onnxruntime-node");
  let session: import("onnxruntime-node").InferenceSession;
  let ort: Ort;
  if (where === "node") {
    ort = await import("onnxruntime-node");
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
  } else {
    const web = await import("onnxruntime-web");
    web.env.wasm.numThreads = threads;
    ort = web as unknown as Ort;
    session = (await web.InferenceSession.create(bytes, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    })) as unknown as typeof session;
  }
  return {
    forward: {
      async run(b) {
        const feeds = Object.fromEntries(
          Object.entries(w.forwardInputs).map(([k, shape]) => [
            k,
            new ort.Tensor("float32", b[k] as Float32Array, shape),
          ]),
        );
        const out = await session.run(feeds);
        return (Object.values(out)[0]!.data as Float32Array).slice();
      },
      dispose: () => void session.release(),
    },
  };
}

/** Open engine `e` on workload `w`; `initBytes` is dlg's checkpoint (null: the workload has no params). */
export async function openEngine(
  e: EngineKey,
  w: CpuWorkload,
  initBytes: Uint8Array | null,
): Promise<Opened> {
  const init: Record<string, Init> = {};
  for (const [name, t] of initBytes ? readSafetensors(initBytes) : []) {
    if (!name.startsWith("__")) init[name] = { data: Float32Array.from(t.data), shape: t.shape };
  }
  const { kind, threads } = engineInfo[e];
  const opens: { [K in Kind]: () => Promise<Opened> } = {
    dlg: () => openDlg(w, e === "dlg-js" ? "js" : "wasm", threads, initBytes),
    jax: async () => {
      const { loadJaxWasm } = await import("./cpu-jax.ts");
      const jax = await loadJaxWasm(e === "jax-wasm" ? 0 : threads);
      return { train: w.train?.jax(jax, init), forward: w.forward.jax(jax, init) };
    },
    tfjs: async () => {
      const { loadTfjs } = await import("./tfjs.ts");
      const tf = await loadTfjs(e === "tfjs-wasm" ? "wasm" : "cpu");
      return { train: w.train?.tfjs(tf, init), forward: w.forward.tfjs(tf, init) };
    },
    ort: () => openOrt(w, e.startsWith("ort-web") ? "web" : "node", threads, init),
  };
  return opens[kind]();
}
