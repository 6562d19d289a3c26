// `dlg compile FILE --target onnx|pytorch [-o OUT] [--load CKPT]`: the model
// as a file another engine runs (compiler/compile.ts exportModel), with the
// weights of a dlg checkpoint or, without --load, the seeded initial ones.

import { readFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import type { ExportTarget } from "../compiler/exporter.ts";
import { str, oneFile, type Parsed } from "./args.ts";
import { printDiagnostics, requireFile, writeOutput, type Io } from "./commands.ts";
import { exitCode, UserError } from "./errors.ts";
import { exportModel, nodeHost } from "./node-host.ts";
import { encodeOnnx } from "./onnx-encode.ts";
import { readSafetensors } from "./safetensors.ts";
import { exportTargets, sizeLimits } from "./usage.ts";

/** `--target`'s value when it names an export target (compile's other targets are backends). */
export function exportTargetFlag(p: Parsed): ExportTarget | undefined {
  const v = str(p, "target");
  return exportTargets.includes(v ?? "") ? (v as ExportTarget) : undefined;
}

/**
 * A checkpoint's params by path. Optimizer state (`__state__.*`, what a
 * resumed run needs) is not part of the model and is left out.
 */
function readWeights(path: string): Map<string, Float32Array> {
  requireFile(path);
  const out = new Map<string, Float32Array>();
  for (const [name, t] of readSafetensors(readFileSync(path), path)) {
    if (name.startsWith("__state__.")) continue;
    if (!(t.data instanceof Float32Array))
      throw new UserError(`${path}: tensor "${name}" is ${t.dtype}, a dlg param is F32`);
    out.set(name, t.data);
  }
  return out;
}

export async function runExport(p: Parsed, io: Io, target: ExportTarget): Promise<number> {
  const file = oneFile("compile", p);
  requireFile(file);
  const load = str(p, "load");
  const r = exportModel(file, {
    host: nodeHost,
    target,
    encoders: { onnx: encodeOnnx },
    model: str(p, "model"),
    config: str(p, "config"),
    ...sizeLimits(p),
    ...(load !== undefined && { weights: readWeights(load) }),
  });
  printDiagnostics(r, io);
  if (!r.ok || r.bytes === undefined) return exitCode.error;
  const name = r.model ?? basename(file, extname(file));
  const out = str(p, "out") ?? join(".", `${name}${r.extension ?? ""}`);
  writeOutput(out, r.bytes);
  const kb = (r.bytes.length / 1024).toFixed(1);
  const weights = load === undefined ? "seeded initial weights" : `weights from ${load}`;
  io.err(`exported model ${name} for ${target} -> ${out} (${kb} KiB, ${weights})`);
  return exitCode.ok;
}
