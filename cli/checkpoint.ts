// Checkpoints on disk for `dlg train`: written atomically (a temp file in the
// same directory, then a rename, so a crash or a full disk mid-write leaves
// the previous checkpoint whole), and carrying the training position in
// their metadata so `--resume` continues the run exactly: the model's own
// entries (params, optimizer state, step count, seed) plus the epoch and
// batch reached, the epoch's loss sum so far, and the data's size and batch
// size it refers to.

import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { decodeSafetensors, encodeSafetensors, type StFile } from "../runtime/safetensors.ts";
import { UserError } from "./errors.ts";
import type { CompiledModel } from "./module.ts";
import { bestFrom, bestMetadata, OPTIMIZER_STATE, type Position } from "./train.ts";

/** Write `bytes` to `path` so that readers see the old file or the new one, never a part. */
export function writeAtomic(path: string, bytes: Uint8Array): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(tmp, "w");
    try {
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UserError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** What a run's position refers to: a resumed run must cut the same batches from the same data. */
export interface RunShape {
  examples: number;
  batchSize: number;
}

const keys = {
  epoch: "train.epoch",
  batch: "train.batch",
  lossSum: "train.loss_sum",
  examples: "train.examples",
  batchSize: "train.batch_size",
  lr: "train.lr",
  split: "train.split",
  epochs: "train.epochs",
} as const;

/**
 * The settings a run's flags chose that the checkpoint alone does not
 * show: the base learning rate (`--lr`, else the train block's), a CSV's
 * `--split` and the run's epochs. `--resume` continues with them (the
 * epochs only under a schedule that reads the run's length), and evaluate
 * and predict re-read the same split.
 */
export interface RunSettings {
  lr: number;
  split?: string;
  epochs: number;
}

export function settingsMetadata(s: RunSettings): Record<string, string> {
  return {
    [keys.lr]: String(s.lr),
    ...(s.split !== undefined && { [keys.split]: s.split }),
    [keys.epochs]: String(s.epochs),
  };
}

/**
 * The settings a checkpoint records, with its batch size (absent in one
 * `save()` wrote outside dlg train; positionFrom refuses those for --resume).
 */
export function settingsFrom(
  meta: Record<string, string>,
): Partial<RunSettings> & { batch?: number } {
  const own = (k: string) => (Object.hasOwn(meta, k) ? meta[k] : undefined);
  const num = (k: string) => {
    const v = Number(own(k) ?? NaN);
    return Number.isFinite(v) && v > 0 ? v : undefined;
  };
  const lr = num(keys.lr);
  const batch = num(keys.batchSize);
  const split = own(keys.split);
  const epochs = num(keys.epochs);
  return {
    ...(lr !== undefined && { lr }),
    ...(epochs !== undefined && Number.isSafeInteger(epochs) && { epochs }),
    ...(batch !== undefined && Number.isSafeInteger(batch) && { batch }),
    ...(split !== undefined && { split }),
  };
}

/** A checkpoint file, decoded (a UserError saying why not: `cannot VERB FILE: ...`). */
export function readCheckpoint(file: string, verb: string): { bytes: Uint8Array; st: StFile } {
  const bytes = new Uint8Array(readFileSync(file));
  try {
    return { bytes, st: decodeSafetensors(bytes) };
  } catch (e) {
    throw new UserError(`cannot ${verb} ${file}: ${(e as Error).message}`);
  }
}

/**
 * Load a checkpoint's parameters (and v2 state) into `model` for predict or
 * evaluate. The optimizer state is the run's business, not the model's
 * outputs, so the model keeps its own: a checkpoint trained with another
 * train block (sgd vs adam) still loads. A tensor the model lacks, one it
 * misses, or a wrong shape is a UserError naming it.
 */
export async function loadWeights(
  model: CompiledModel,
  file: string,
): Promise<Record<string, string>> {
  const { st } = readCheckpoint(file, "load");
  const own = decodeSafetensors(await model.save());
  const optState = (name: string) => name.startsWith(OPTIMIZER_STATE);
  const tensors = [
    ...[...st.tensors.values()].filter((t) => !optState(t.name)),
    ...[...own.tensors.values()].filter((t) => optState(t.name)),
  ];
  try {
    return await model.load(encodeSafetensors(tensors, st.metadata));
  } catch (e) {
    throw new UserError(`cannot load ${file}: ${(e as Error).message}`);
  }
}

/** The position as checkpoint metadata (numbers as JS prints them, which round-trip exactly). */
export function positionMetadata(p: Position, shape: RunShape): Record<string, string> {
  return {
    [keys.epoch]: String(p.epoch),
    [keys.batch]: String(p.batch),
    [keys.lossSum]: String(p.lossSum),
    [keys.examples]: String(shape.examples),
    [keys.batchSize]: String(shape.batchSize),
    ...bestMetadata(p.best),
  };
}

/** The position a checkpoint's metadata records, checked against this run's data and batch size. */
export function positionFrom(
  meta: Record<string, string>,
  shape: RunShape,
  file: string,
): Position {
  const num = (key: string, integer: boolean): number => {
    const text = Object.prototype.hasOwnProperty.call(meta, key) ? meta[key] : undefined;
    if (text === undefined)
      throw new UserError(
        `${file} records no training position (${key}): resume from a checkpoint that dlg train --save wrote`,
      );
    const v = Number(text);
    if (
      text.trim() === "" ||
      !Number.isFinite(v) ||
      (integer && !(Number.isSafeInteger(v) && v >= 0))
    )
      throw new UserError(
        `${file}: metadata ${key} = ${JSON.stringify(text)} is not a valid value`,
      );
    return v;
  };
  const examples = num(keys.examples, true);
  const batchSize = num(keys.batchSize, true);
  if (examples !== shape.examples || batchSize !== shape.batchSize)
    throw new UserError(
      `${file} was trained on ${examples} examples in batches of ${batchSize}, but this run has ` +
        `${shape.examples} in batches of ${shape.batchSize}; resume with the same data, --limit and train block`,
    );
  const epoch = num(keys.epoch, true);
  if (epoch < 1) throw new UserError(`${file}: metadata ${keys.epoch} must be at least 1`);
  const best = bestFrom(meta, file);
  return {
    epoch,
    batch: num(keys.batch, true),
    lossSum: num(keys.lossSum, false),
    ...(best && { best }),
  };
}

export interface Resumed {
  position: Position;
  /** The run's seed (shuffles, dropout): the checkpoint's. */
  seed: number;
  /** Steps the checkpoint's model had taken. */
  steps: number;
}

/**
 * Load `file` into `model` (params, optimizer state, step count, seed) and
 * read the position to continue from. `seedFlag` (an explicit --seed) must
 * agree with the checkpoint's: a resumed run cannot change its random stream.
 */
export async function resumeRun(
  model: CompiledModel,
  file: string,
  shape: RunShape,
  seedFlag: number | undefined,
): Promise<Resumed> {
  let meta: Record<string, string>;
  try {
    meta = await model.load(new Uint8Array(readFileSync(file)));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot resume from ${file}: ${(e as Error).message}`);
  }
  const position = positionFrom(meta, shape, file);
  const seed = Number(meta.seed);
  const steps = Number(meta.step);
  if (seedFlag !== undefined && seedFlag !== seed)
    throw new UserError(
      `${file} continues a run with seed ${seed}; drop --seed ${seedFlag} (a resumed run keeps its random stream)`,
    );
  return { position, seed, steps };
}
