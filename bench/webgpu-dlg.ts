// dlg's side of the WebGPU bench: the sample compiled for a target, loaded as
// `dlg train` loads it, and its initial parameters, which the peers copy.

import { join } from "node:path";
import { loadModule, type CompiledModel } from "../cli/module.ts";
import { readSafetensors } from "../cli/safetensors.ts";
import { compile } from "../cli/node-host.ts";
import type { HostBatch } from "./webgpu-data.ts";

export type DlgTarget = "js" | "webgpu";

/** A parameter as dlg initialised it: row-major data and its shape. */
export interface Init {
  data: Float32Array;
  shape: number[];
}

export interface DlgSide {
  model: CompiledModel;
  /** What the model says it runs on ("webgpu", "js"); "js" for a module that predates backends. */
  backend: string;
  /** Parameters by dlg's name (`dense_1.w`), without optimizer state. */
  init: Record<string, Init>;
  step(batch: HostBatch): Promise<number>;
}

export async function dlgSide(
  sample: string,
  config: string | undefined,
  target: DlgTarget,
  seed: number,
  gpu: GPU,
): Promise<DlgSide> {
  const r = compile(join(import.meta.dirname, "../samples", sample), { config, target });
  if (!r.ok || !r.js) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const mod = await loadModule(r.js);
  const create: { seed: number; gpu?: GPU } = { seed, gpu };
  const model = await mod.createModel(create);
  const init: Record<string, Init> = {};
  for (const [name, t] of readSafetensors(await model.save())) {
    if (!name.startsWith("__")) init[name] = { data: Float32Array.from(t.data), shape: t.shape };
  }
  const backend = (model as { backend?: unknown }).backend;
  return {
    model,
    backend: typeof backend === "string" ? backend : "js",
    init,
    step: async (batch) => (await model.step(batch)).loss,
  };
}

/** Parameter `name` of a tree keyed by dlg's names, or an error naming the ones it has. */
export function need<T>(tree: Record<string, T>, name: string): T {
  const p = tree[name];
  if (p === undefined) {
    throw new Error(`dlg has no parameter ${name} (it has ${Object.keys(tree).join(", ")})`);
  }
  return p;
}
