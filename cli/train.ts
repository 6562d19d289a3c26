// The training loop: epochs of shuffled mini-batches drawn from a seeded
// PRNG (so a run is reproducible from its seed), per-epoch validation, final
// test metrics. It knows nothing of terminals or files: progress goes to a
// `Reporter`, results come back as a `TrainReport` (for printing and plots).
//
// A run can stop after a number of steps and continue later from the
// `Position` it reports: the shuffles of the epochs before it are replayed
// from the seed and the epoch's loss sum carried over, so a resumed run
// cuts the same batches and reports the same curve as one never stopped.
//
// `keep best METRIC` keeps the params of the epoch with the best validation
// value (in memory, as safetensors bytes) and puts them back into the model
// when the run ends, so the test split and `--save` see the kept epoch;
// `patience N` ends the run after N epochs without a better one. The best
// so far travels in the Position (and so in checkpoints): a resumed run
// decides the same.

import { setOwn } from "../runtime/records.ts";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors.ts";
import { UserError } from "./errors.ts";
import { asBatch, gather, rows, type Dataset } from "./data.ts";
import type { Batch, CompiledModel, Dims, RunResult } from "./module.ts";

export interface TrainSettings {
  epochs: number;
  /** Examples per step; "full" (or anything >= the set's size) = the whole training set every step. */
  batch: number | "full";
  seed: number;
  /** Examples per evaluate() call, to bound memory on large splits. */
  evalChunk?: number;
  /** Where to start (a resumed run); default the first batch of epoch 1. */
  start?: Position;
  /** Stop after this many steps of this run (the rest of the run can resume from `TrainReport.position`). */
  maxSteps?: number;
  /**
   * Called every `every` steps with the position after that step (and the
   * losses so far), to save a checkpoint a crash cannot take away. At an
   * epoch's last step it is called once the epoch is evaluated and reported.
   */
  checkpoint?: {
    every: number;
    write: (at: Position, losses: StepRecord[]) => unknown;
  };
  /** `keep best METRIC`: judge each epoch by its validation `metric` ("loss": lower is better, else higher). */
  keepBest?: { metric: string; mode: "min" | "max" } | null;
  /** `patience N`: end the run after N epochs without a better `keepBest` value. */
  patience?: number | null;
}

/** The best epoch so far under `keep best`: its validation value and its params (safetensors, no optimizer state). */
export interface Best {
  epoch: number;
  metric: string;
  value: number;
  params: Uint8Array;
}

/** A point in a run: `batch` steps of epoch `epoch` (1-based) are done. */
export interface Position {
  epoch: number;
  batch: number;
  /** Sum of step loss × batch rows over those `batch` steps (for the epoch's mean train loss). */
  lossSum: number;
  /** Under `keep best`: the best epoch before this point. */
  best?: Best;
}

export interface StepRecord {
  /** Steps of this run so far, this one included. */
  step: number;
  epoch: number;
  /** 1-based index of the batch within its epoch. */
  batch: number;
  loss: number;
}

export interface Evaluation {
  loss: number;
  metrics: Record<string, number>;
}

export interface EpochRecord {
  epoch: number;
  /** Mean of the step losses over the epoch, weighted by batch size. */
  trainLoss: number;
  valid: Evaluation | null;
  steps: number;
  seconds: number;
  samplesPerSec: number;
  /** Under `keep best`: the epoch kept so far (this one's number when it is the new best). */
  kept?: number;
}

export interface TrainReport {
  epochs: EpochRecord[];
  test: Evaluation | null;
  steps: number;
  seconds: number;
  /** Where the run stopped: the next batch to train. */
  position: Position;
  /** Every step's loss, in order (the loss curve, bit for bit). */
  losses: StepRecord[];
  /** Under `keep best`, once the run is over: the epoch whose params the model now holds. */
  kept: { epoch: number; metric: string; value: number } | null;
  /** `patience`: the last epoch trained, when the run ended before its epochs were done. */
  stoppedEarly: number | null;
}

/** Where progress goes; every hook is optional. */
export interface Reporter {
  epochStart?(epoch: number, epochs: number, steps: number): void;
  step?(done: number, runningLoss: number, samplesPerSec: number): void;
  epochEnd?(rec: EpochRecord, epochs: number): void;
  /** Called once when training ends, normally or not (to release the terminal). */
  close?(): void;
}

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1); plenty for shuffling. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function shuffled(n: number, rand: () => number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

export function batchSize(batch: number | "full", n: number): number {
  return batch === "full" ? n : Math.min(batch, n);
}

/** Loss and metrics over a whole split, in chunks, weighted by chunk size (they are means). */
export async function evaluateAll(
  model: CompiledModel,
  ds: Dataset,
  chunk = 1000,
  dims: Dims = {},
): Promise<Evaluation | null> {
  if (ds.size === 0) return null;
  let loss = 0;
  const metrics: Record<string, number> = {};
  for (let start = 0; start < ds.size; start += chunk) {
    const part = rows(ds, start, start + chunk);
    const r = await model.evaluate(asBatch(part), dims);
    const w = part.size / ds.size;
    loss += r.loss * w;
    for (const [k, v] of Object.entries(r.metrics ?? {}))
      setOwn(metrics, k, (Object.hasOwn(metrics, k) ? metrics[k]! : 0) + v * w);
  }
  return { loss, metrics };
}

/** The validation value `keep best` judges an epoch by. */
function judged(valid: Evaluation, metric: string): number {
  if (metric === "loss") return valid.loss;
  if (!Object.hasOwn(valid.metrics, metric))
    throw new UserError(`\`keep best ${metric}\`: the model has no metric \`${metric}\``);
  return valid.metrics[metric]!;
}

/** Whether `v` beats `best` (a NaN never does; anything beats a NaN). */
function better(v: number, best: number, mode: "min" | "max"): boolean {
  if (Number.isNaN(v)) return false;
  return Number.isNaN(best) || (mode === "min" ? v < best : v > best);
}

/** The model's params (everything save() writes but the optimizer state), as safetensors. */
async function paramsOf(model: CompiledModel): Promise<Uint8Array> {
  const st = decodeSafetensors(await model.save());
  const params = [...st.tensors.values()].filter((t) => !t.name.startsWith(OPTIMIZER_STATE));
  return encodeSafetensors(params, {});
}

/** Put `params` (from paramsOf) back into the model; its optimizer state, step count and seed stay. */
async function restoreParams(model: CompiledModel, params: Uint8Array): Promise<void> {
  const now = decodeSafetensors(await model.save());
  const kept = decodeSafetensors(params).tensors;
  const tensors = [...now.tensors.values()].map((t) => kept.get(t.name) ?? t);
  await model.load(encodeSafetensors(tensors, now.metadata));
}

/** Where save() keeps optimizer state (momentum, Adam moments): runtime/model-core.ts's STATE_PREFIX. */
export const OPTIMIZER_STATE = "__state__.";

function checkFinite(r: RunResult, epoch: number, step: number): void {
  if (!Number.isFinite(r.loss)) {
    throw new UserError(
      `training diverged: the loss became ${r.loss} at epoch ${epoch}, step ${step}; ` +
        `try a smaller learning rate (optimizer ...(lr: ...)) or check the data's scale ` +
        `(--check-numerics names the first operation that produced it)`,
    );
  }
}

export async function train(
  model: CompiledModel,
  /** `dims`: named dimensions the data fixed (not the batch), passed to every call. */
  data: { train: Dataset; valid: Dataset; test: Dataset; dims?: Dims },
  s: TrainSettings,
  reporter: Reporter = {},
): Promise<TrainReport> {
  const n = data.train.size;
  if (n === 0) throw new UserError("the training split is empty: there is nothing to train on");
  const size = batchSize(s.batch, n);
  const stepsPerEpoch = Math.ceil(n / size);
  const chunk = s.evalChunk ?? 1000;
  const rand = prng(s.seed);
  const dims = data.dims ?? {};
  const whole: Batch | null = size === n ? asBatch(data.train) : null;
  const records: EpochRecord[] = [];
  const t0 = performance.now();
  const start = s.start ?? { epoch: 1, batch: 0, lossSum: 0 };
  if (start.batch >= stepsPerEpoch)
    throw new UserError(
      `cannot resume at batch ${start.batch + 1} of epoch ${start.epoch}: an epoch has ${stepsPerEpoch} steps`,
    );
  const keep = s.keepBest ?? null;
  if (keep && data.valid.size === 0)
    throw new UserError(
      `\`keep best ${keep.metric}\` judges each epoch on the validation split, but it is empty`,
    );
  let best: Best | null = keep ? (start.best ?? null) : null;
  if (keep && best && best.metric !== keep.metric)
    throw new UserError(
      `the run being resumed kept its best epoch by ${best.metric}, this train block by ${keep.metric}; resume with the same train block`,
    );
  if (keep && !best && start.epoch > 1)
    throw new UserError(
      `the run being resumed did not keep its best epoch (no \`keep best\` then): resume with the same train block`,
    );
  /** The position `at` with the best so far (checkpoints carry it). */
  const withBest = (at: Omit<Position, "best">): Position => (best ? { ...at, best } : at);
  /** `patience` is spent: `epoch` is the patience-th epoch without a better value. */
  const stale = (epoch: number) =>
    s.patience != null && best !== null && epoch - best.epoch >= s.patience;
  let stoppedEarly: number | null = null;
  const losses: StepRecord[] = [];
  let position = start;
  let steps = 0;
  try {
    // Replay the shuffles of the epochs already done, so this run's orders continue the same stream.
    if (!whole) for (let e = 1; e < start.epoch; e++) shuffled(n, rand);
    const budgetSpent = () => s.maxSteps !== undefined && steps >= s.maxSteps;
    epochs: for (let epoch = start.epoch; epoch <= s.epochs; epoch++) {
      const first = epoch === start.epoch ? start.batch : 0;
      let lossSum = epoch === start.epoch ? start.lossSum : 0;
      if (first === 0 && stale(epoch - 1)) {
        stoppedEarly = epoch - 1;
        position = withBest({ epoch, batch: 0, lossSum: 0 });
        break;
      }
      if (budgetSpent()) {
        position = withBest({ epoch, batch: first, lossSum });
        break;
      }
      reporter.epochStart?.(epoch, s.epochs, stepsPerEpoch);
      const e0 = performance.now();
      // A full batch needs no shuffle: the mean gradient does not depend on order.
      const order = whole ? null : shuffled(n, rand);
      let due = false;
      for (let k = first; k < stepsPerEpoch; k++) {
        if (budgetSpent()) {
          position = withBest({ epoch, batch: k, lossSum });
          break epochs;
        }
        const from = k * size;
        const to = Math.min(n, from + size);
        const batch = whole ?? gather(data.train, order!, from, to);
        const r = await model.step(batch, dims);
        steps++;
        checkFinite(r, epoch, k + 1);
        losses.push({ step: steps, epoch, batch: k + 1, loss: r.loss });
        lossSum += r.loss * (to - from);
        const secs = (performance.now() - e0) / 1000;
        reporter.step?.(k + 1, lossSum / to, secs > 0 ? (to - first * size) / secs : 0);
        due = s.checkpoint !== undefined && steps % s.checkpoint.every === 0;
        if (due && k + 1 < stepsPerEpoch) {
          await s.checkpoint!.write(withBest({ epoch, batch: k + 1, lossSum }), losses);
          due = false;
        }
      }
      const seconds = (performance.now() - e0) / 1000;
      const trained = n - first * size;
      const rec: EpochRecord = {
        epoch,
        trainLoss: lossSum / n,
        valid: await evaluateAll(model, data.valid, chunk, dims),
        steps: stepsPerEpoch - first,
        seconds,
        samplesPerSec: seconds > 0 ? trained / seconds : 0,
      };
      if (keep) {
        const value = judged(rec.valid!, keep.metric);
        if (best === null || better(value, best.value, keep.mode))
          best = { epoch, metric: keep.metric, value, params: await paramsOf(model) };
        rec.kept = best.epoch;
      }
      records.push(rec);
      reporter.epochEnd?.(rec, s.epochs);
      position = withBest({ epoch: epoch + 1, batch: 0, lossSum: 0 });
      if (due) await s.checkpoint!.write(position, losses);
    }
  } finally {
    reporter.close?.();
  }
  // A finished run (not one --steps cut, which continues later) ends on the kept epoch's params.
  const over = stoppedEarly !== null || position.epoch > s.epochs;
  const kept = over && best ? { epoch: best.epoch, metric: best.metric, value: best.value } : null;
  if (kept) await restoreParams(model, best!.params);
  const test = await evaluateAll(model, data.test, chunk, dims);
  return {
    epochs: records,
    test,
    steps,
    seconds: (performance.now() - t0) / 1000,
    position,
    losses,
    kept,
    stoppedEarly,
  };
}

/** Checkpoint metadata for the best epoch so far (none without `keep best`); numbers round-trip exactly. */
export function bestMetadata(best: Best | undefined): Record<string, string> {
  if (!best) return {};
  return {
    "train.best_epoch": String(best.epoch),
    "train.best_metric": best.metric,
    "train.best_value": String(best.value),
    "train.best_params": Buffer.from(best.params).toString("base64"),
  };
}

/** The best epoch a checkpoint's metadata records (bestMetadata's), or undefined when it has none. */
export function bestFrom(meta: Record<string, string>, file: string): Best | undefined {
  const get = (k: string) => (Object.hasOwn(meta, k) ? meta[k] : undefined);
  const epochText = get("train.best_epoch");
  if (epochText === undefined) return undefined;
  const epoch = Number(epochText);
  const metric = get("train.best_metric");
  const value = Number(get("train.best_value"));
  const params = new Uint8Array(Buffer.from(get("train.best_params") ?? "", "base64"));
  if (!(Number.isSafeInteger(epoch) && epoch >= 1) || metric === undefined || params.length === 0)
    throw new UserError(`${file}: its best-epoch metadata (train.best_*) is incomplete or invalid`);
  try {
    decodeSafetensors(params);
  } catch (e) {
    throw new UserError(`${file}: train.best_params is not valid: ${(e as Error).message}`);
  }
  return { epoch, metric, value, params };
}
