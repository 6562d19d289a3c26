// The seam for targets that are not kernel backends: an exporter reads the
// same IR the backends lower (the model's forward graph and its simplified
// entries) and writes a file another engine runs: an ONNX model for
// inference, a PyTorch script for training at scale. Like a Backend it
// knows nothing of files or the CLI; compile.ts's exportModel composes it.

import type { Span } from "../grammar/index.ts";
import type { ModelIR, Op, ProgramIR, TrainConfig } from "./ir.ts";

export type ExportTarget = "onnx" | "pytorch";

export interface ExportInput {
  /** The elaborated model: its forward graph (inputs, params, seed, training), init graph, loss, metrics, state updates. */
  model: ModelIR;
  /** Its entries, simplified and verified (predict is the inference graph). */
  program: ProgramIR;
  /** The train block the export uses (optimizer, schedule, batch, epochs, seed). */
  train: TrainConfig;
  /** Every param's value, by path in `model.params` order: trained (`--load`) or the seeded initial ones. */
  weights: Float32Array[];
  /** The entry .dlg file (the model's). */
  file: string;
  /** The .dlg sources, by file, for comments naming where each op came from. */
  sources: ReadonlyMap<string, string>;
}

/** What an exporter writes: the bytes of one file (ONNX's protobuf, PyTorch's script as UTF-8). */
export interface ExportOutput {
  bytes: Uint8Array;
}

export interface Exporter {
  readonly target: ExportTarget;
  /** The output file's extension, `-o`'s default (`.onnx`, `.py`). */
  readonly extension: string;
  export(input: ExportInput): ExportOutput;
}

/**
 * An op (or an op's parameters) the target has no rule for: compile.ts turns
 * it into a diagnostic at the equation's source span, never a broken file.
 */
export class NoExportRule extends Error {
  constructor(
    readonly target: ExportTarget,
    readonly op: Op,
    readonly span: Span | undefined,
    readonly file: string | undefined,
    readonly why: string,
  ) {
    super(`the ${target} exporter has no rule for \`${op}\`: ${why}`);
  }
}
