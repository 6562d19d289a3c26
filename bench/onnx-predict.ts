// ONNX Runtime (onnxruntime-node, CPU) vs the dlg module's predict() on the
// same model and weights: samples/mlp.dlg and samples/lenet.dlg, exported by
// `dlg compile --target onnx`'s exporter, at batch 128 on a seeded batch.
// Prints the median of the timed runs after warm-up, and the largest
// relative difference of the outputs (the export is checked before it is timed).
//   npx tsx bench/onnx-predict.ts [--runs N] [--ort-threads N]

import * as ort from "onnxruntime-node";
import { loadModule } from "../cli/module.ts";
import { compile, exportModel, nodeHost } from "../cli/node-host.ts";
import { encodeOnnx } from "../cli/onnx-encode.ts";
import type { Target } from "../compiler/backend.ts";
import { uniform } from "../test/graph-helpers.ts";

const runsAt = process.argv.indexOf("--runs");
const runs = runsAt > 0 ? Number(process.argv[runsAt + 1]) : 30;
const batch = 128;
/** `--ort-threads N`: ONNX Runtime's intra-op threads (default: its own, one per core). */
const threadsAt = process.argv.indexOf("--ort-threads");
const threads = threadsAt > 0 ? Number(process.argv[threadsAt + 1]) : undefined;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function time(f: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await f();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

for (const [file, shape] of [
  ["samples/mlp.dlg", [batch, 784]],
  ["samples/lenet.dlg", [batch, 1, 28, 28]],
] as const) {
  const size = (shape as readonly number[]).reduce((a, b) => a * b, 1);
  const x = Float32Array.from(uniform(size, 7, 0, 1));
  const rows: string[] = [];
  let weights: Map<string, Float32Array> | undefined;
  let want: Float32Array | undefined;
  for (const target of ["js", "wasm"] as Target[]) {
    const mod = await loadModule(compile(file, { target }).js!);
    const model = await mod.createModel({ seed: 1 });
    weights ??= new Map(Object.entries(await model.params()));
    const ms = await time(() => model.predict({ x }));
    want ??= (await model.predict({ x })).probs as Float32Array;
    rows.push(`dlg ${target} module ${ms.toFixed(2)} ms`);
    model.dispose();
  }
  const r = exportModel(file, {
    host: nodeHost,
    target: "onnx",
    encoders: { onnx: encodeOnnx },
    weights: weights!,
  });
  const session = await ort.InferenceSession.create(
    r.bytes!,
    threads ? { intraOpNumThreads: threads } : {},
  );
  const feeds = { x: new ort.Tensor("float32", x, [...shape]) };
  const got = (await session.run(feeds)).probs!.data as Float32Array;
  let worst = 0;
  got.forEach((v, i) => {
    const w = want![i]!;
    worst = Math.max(worst, Math.abs(v - w) / Math.max(Math.abs(w), 1e-6));
  });
  const ms = await time(() => session.run(feeds));
  rows.push(`onnxruntime ${ms.toFixed(2)} ms (outputs within ${worst.toExponential(1)} relative)`);
  console.log(`${file} predict, batch ${batch}, median of ${runs}: ${rows.join("; ")}`);
}
