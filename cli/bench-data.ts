// `dlg bench`'s inputs: the run-time dims (the batch from --batch or the
// train block, the others from --dim) and one seeded batch of synthetic data
// of every input's shape and dtype. Int inputs that index something (class
// labels, token ids) are drawn inside the ranges they index, as the emitted
// module checks on every call; other ints and bools are 0 or 1.

import { dimEval, type Dim } from "../compiler/dims.ts";
import { programIndexUses } from "../compiler/emit/index-ranges.ts";
import type { ProgramIR } from "../compiler/ir.ts";
import { trainDims } from "../compiler/train-dims.ts";
import { UsageError } from "./errors.ts";
import type { Batch, Dims } from "./module.ts";
import { prng } from "./train.ts";

/** The batch when neither --batch nor the train block fixes a number (`batch full`, no block). */
export const DEFAULT_BATCH = 32;

export interface BenchDims {
  dims: Dims;
  /** The batch dimension and its size, when the inputs have one (samples/s counts it). */
  batch: { name: string; size: number; from: string } | null;
}

/** `--dim T=32` flags as a record, each name a dim of the program. */
function dimFlags(flags: readonly string[], program: ProgramIR): Dims {
  const out: Dims = {};
  for (const f of flags) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(\d+)$/.exec(f.trim());
    if (!m) throw new UsageError(`--dim expects NAME=N (e.g. --dim T=32), got \`${f}\``);
    const [, name, value] = m as unknown as [string, string, string];
    if (!program.dims.includes(name))
      throw new UsageError(
        `--dim ${name}: model ${program.model} has no dimension ${name}` +
          (program.dims.length ? ` (its dims: ${program.dims.join(", ")})` : ""),
      );
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new UsageError(`--dim ${name} expects an integer >= 1, got \`${value}\``);
    out[name] = n;
  }
  return out;
}

/** Every run-time dim of the program bound: the batch, the --dim flags; a missing one is a usage error. */
export function benchDims(
  program: ProgramIR,
  train: { name: string; batch: number | "full" },
  flags: { batch?: number; dims: readonly string[] },
): BenchDims {
  const dims = dimFlags(flags.dims, program);
  const fromTrain = trainDims(program.inputs, train.batch);
  // The batch dim is the one trainDims finds; with `batch full` it finds none, so look again.
  const name = Object.keys(trainDims(program.inputs, DEFAULT_BATCH))[0];
  let batch: BenchDims["batch"] = null;
  if (name !== undefined) {
    if (dims[name] !== undefined && flags.batch !== undefined && dims[name] !== flags.batch)
      throw new UsageError(`--batch ${flags.batch} and --dim ${name}=${dims[name]} disagree`);
    const size = flags.batch ?? dims[name] ?? fromTrain[name] ?? DEFAULT_BATCH;
    const from =
      flags.batch !== undefined || dims[name] !== undefined
        ? "the command line"
        : fromTrain[name] !== undefined
          ? `train block \`${train.name}\``
          : `dlg bench's default`;
    dims[name] = size;
    batch = { name, size, from };
  } else if (flags.batch !== undefined) {
    throw new UsageError(
      `--batch: the inputs of model ${program.model} share no named batch dimension; size its dims with --dim`,
    );
  }
  const missing = program.dims.filter((d) => dims[d] === undefined);
  if (missing.length > 0)
    throw new UsageError(
      `model ${program.model} needs a size for ${missing.join(", ")}: pass ${missing.map((d) => `--dim ${d}=N`).join(" ")}`,
    );
  return { dims, batch };
}

/**
 * The range each int input must lie in: the smallest of its index uses'
 * sizes (the uses the module checks on every call), at `dims`.
 */
function indexBounds(program: ProgramIR, dims: Dims): Map<string, number> {
  const uses = programIndexUses(program);
  const bounds = new Map<string, number>();
  for (const [name, list] of uses)
    bounds.set(name, Math.min(...list.map((u) => dimEval(u.size, dims))));
  return bounds;
}

const size = (shape: readonly Dim[], dims: Dims) => shape.reduce((n, d) => n * dimEval(d, dims), 1);

/** One batch of every input, from `seed`: floats uniform in [0, 1), ints in their index range. */
export function syntheticBatch(program: ProgramIR, dims: Dims, seed: number): Batch {
  const bounds = indexBounds(program, dims);
  const rand = prng(seed);
  const batch: Batch = {};
  for (const input of program.inputs) {
    const n = size(input.type.shape, dims);
    if (input.type.dtype === "f32") {
      batch[input.name] = Float32Array.from({ length: n }, rand);
      continue;
    }
    const bound = input.type.dtype === "i32" ? (bounds.get(input.name) ?? 2) : 2;
    if (bound < 1)
      throw new UsageError(
        `input ${input.name} indexes an axis of size ${bound} at these dims; no index is valid`,
      );
    batch[input.name] = Int32Array.from({ length: n }, () => Math.floor(rand() * bound));
  }
  return batch;
}
