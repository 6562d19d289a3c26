// `dlg train`: compile the model with its train block, load the emitted
// module, fit the data to the model's inputs, run the loop, and report
// (progress, per-epoch and test metrics, optional plot, step log and
// checkpoint). `--resume` continues from a checkpoint's params, optimizer
// state, random stream and data position (cli/checkpoint.ts).

import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { compile } from "./node-host.ts";
import { withLr } from "../compiler/elaborate/train-config.ts";
import { dependsOnLength, describeSchedule } from "../runtime/schedule.ts";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import type { OptimizerConfig, TrainConfig } from "../compiler/ir.ts";
import { intFlag, oneFile, positiveFlag, str, type Parsed } from "./args.ts";
import {
  positionMetadata,
  readCheckpoint,
  resumeRun,
  settingsFrom,
  settingsMetadata,
  writeAtomic,
  type Resumed,
  type RunSettings,
} from "./checkpoint.ts";
import { printDiagnostics, requireFile, writeOutput, type Io } from "./commands.ts";
import { chooseSource, loadSplits, rows } from "./data.ts";
import { parseSplit } from "./split.ts";
import { exitCode, UsageError, UserError } from "./errors.ts";
import { loadModule } from "./module.ts";
import type { Model } from "../runtime/model.ts";
import { numericsFailure } from "./numerics.ts";
import { trainingPlot } from "./plot.ts";
import { consoleReporter, fmt, fmtEval, wantsBar } from "./progress.ts";
import { batchSize, train, type Position, type StepRecord } from "./train.ts";
import { backendFlag, sizeLimits, threadsFlag } from "./usage.ts";
import { probeNodeGpu } from "./webgpu-node.ts";

/** `sgd(lr: 0.1, momentum: 0.9)`: the optimizer as the train block would spell it. */
export function describeOptimizer(o: OptimizerConfig): string {
  const args = [`lr: ${describeSchedule(o.schedule)}`];
  const adam = o.kind === "adam" || o.kind === "adamw";
  if (!adam && o.momentum !== 0) args.push(`momentum: ${o.momentum}`);
  if (!adam && o.nesterov) args.push("nesterov: true");
  if (adam) args.push(`beta1: ${o.beta1}`, `beta2: ${o.beta2}`, `eps: ${o.eps}`);
  if (o.weightDecay !== 0) args.push(`weight_decay: ${o.weightDecay}`);
  return `${o.kind}(${args.join(", ")})`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function describeTrain(t: TrainConfig): string {
  return (
    `${describeOptimizer(t.optimizer)}, batch ${t.batch}, ${plural(t.epochs, "epoch")}, seed ${t.seed}` +
    (t.clipNorm !== null ? `, clip_norm ${t.clipNorm}` : "") +
    (t.keepBest !== null ? `, keep best ${t.keepBest.metric}` : "") +
    (t.patience !== null ? `, patience ${t.patience}` : "")
  );
}

/**
 * What a resumed run continues with: the checkpoint's learning rate, batch
 * size and split unless a flag names them, and a flag that names another
 * value is refused (the rest of the run would not be the run it continues).
 */
function resumedSetting<T>(
  what: string,
  flag: T | undefined,
  recorded: T | undefined,
  file: string,
  why = "a resumed run keeps its settings",
): T | undefined {
  if (flag !== undefined && recorded !== undefined && flag !== recorded)
    throw new UserError(
      `${file} continues a run with ${what} ${recorded}; drop --${what} ${flag} (${why})`,
    );
  return flag ?? recorded;
}

/** Node's WebGPU for `flag` (`--backend webgpu`), or a UserError saying why there is no adapter. */
export async function gpuFor(flag: string): Promise<GPU> {
  const probe = await probeNodeGpu();
  if (probe.gpu === null) throw new UserError(`${flag}: ${probe.reason}`);
  return probe.gpu;
}

export async function runTrain(p: Parsed, io: Io): Promise<number> {
  const file = oneFile("train", p);
  const epochs = intFlag(p, "epochs", 1);
  const seed = intFlag(p, "seed", 0, 2 ** 31 - 1);
  const limit = intFlag(p, "limit", 1);
  const plot = str(p, "plot");
  const save = str(p, "save");
  const resume = str(p, "resume");
  const maxSteps = intFlag(p, "steps", 1);
  const log = str(p, "log");
  const saveEvery = intFlag(p, "save-every", 1);
  const logEvery = intFlag(p, "log-every", 1);
  const quiet = p.values.quiet === true;
  const backend = backendFlag(p, "train");
  const threads = threadsFlag(p, "train");
  if (saveEvery !== undefined && save === undefined)
    throw new UsageError("dlg train: --save-every N needs --save FILE to write to");
  if (quiet && logEvery !== undefined)
    throw new UsageError("dlg train: --quiet prints no progress, so --log-every has nothing to do");
  requireFile(file);
  if (resume !== undefined) requireFile(resume);
  // A resumed run takes the checkpoint's --lr, --batch and --split unless the flags repeat them.
  const recorded =
    resume === undefined ? {} : settingsFrom(readCheckpoint(resume, "resume from").st.metadata);
  const ckpt = resume ?? "";
  const lr = resumedSetting("lr", positiveFlag(p, "lr"), recorded.lr, ckpt);
  const batchFlag = resumedSetting("batch", intFlag(p, "batch", 1), recorded.batch, ckpt);
  const splitText = resumedSetting("split", str(p, "split"), recorded.split, ckpt);
  const split = splitText === undefined ? undefined : parseSplit(splitText);
  /** Lines for a person; --quiet keeps only the test line and errors. */
  const say = quiet ? () => {} : (line: string) => io.out(line);
  // Decide the data source before compiling so a bad --data fails fast.
  const source = chooseSource(file, str(p, "data"));

  const r = compile(file, {
    target: backend,
    model: str(p, "model"),
    config: str(p, "config"),
    checkNumerics: p.values["check-numerics"] === true,
    ...(lr !== undefined && { train: (t: TrainConfig) => withLr(t, lr) }),
    ...sizeLimits(p),
  });
  printDiagnostics(r, io);
  if (!r.ok || r.js === undefined || r.train === undefined) return exitCode.error;
  if (r.program && !r.program.hasLoss) {
    throw new UserError(
      `model \`${r.program.model}\` declares no \`loss\`, so there is nothing to train`,
    );
  }
  const block = lr === undefined ? r.train : withLr(r.train, lr);
  // Under cosine every step's lr reads the run's length: a resumed run keeps the checkpoint's epochs.
  const runEpochs = dependsOnLength(block.optimizer.schedule)
    ? resumedSetting(
        "epochs",
        epochs,
        recorded.epochs,
        ckpt,
        `its lr, ${describeSchedule(block.optimizer.schedule)}, decays over the run's length`,
      )
    : epochs;
  let cfg: TrainConfig = {
    ...block,
    epochs: runEpochs ?? block.epochs,
    seed: seed ?? block.seed,
    batch: batchFlag ?? block.batch,
  };
  const settings: RunSettings = {
    lr: cfg.optimizer.lr,
    ...(split !== undefined && { split: split.text }),
    epochs: cfg.epochs,
  };

  const mod = await loadModule(r.js);
  const splits = loadSplits(source, mod.spec, { split });
  const fullTrain = splits.train.size;
  if (limit !== undefined) splits.train = rows(splits.train, 0, limit);
  const dims = Object.entries(splits.dims).map(([k, v]) => `${k} = ${v}`);
  const size = batchSize(cfg.batch, splits.train.size);
  const shape = { examples: splits.train.size, batchSize: size };
  const steps = Math.ceil(splits.train.size / size);
  let model: Model;
  try {
    model = await mod.createModel({
      seed: cfg.seed,
      dims: splits.dims,
      backend,
      ...(backend === "webgpu" && { gpu: await gpuFor("--backend webgpu") }),
      // The wasm runtime's worker count (its default: the cores, at most 4).
      ...(threads !== undefined && { threads }),
      // A schedule that changes per epoch, or cosine, counts the run's steps.
      stepsPerEpoch: steps,
      epochs: cfg.epochs,
    });
  } catch (e) {
    // The run's length does not fit the schedule (a warm-up longer than the run).
    const m = /^createModel\(\): (.*)$/s.exec((e as Error).message);
    if (m === null) throw e;
    throw new UserError(`${m[1]}; change the warm-up, --epochs or --batch`);
  }
  let resumed: Resumed | undefined;
  if (resume !== undefined) {
    resumed = await resumeRun(model, resume, shape, seed);
    cfg = { ...cfg, seed: resumed.seed };
  }
  /** Steps already in the log file: each persist appends only the newer ones. */
  let logged = 0;
  /** Bring the step log up to `at` and write the checkpoint (atomically); the checkpoint's size. */
  const persist = async (at: Position, losses: StepRecord[]): Promise<number> => {
    if (log !== undefined) {
      // One JSON object per step; JSON prints each loss so that it reads back bit for bit.
      const first = resumed?.steps ?? 0;
      const lines = losses
        .slice(logged)
        .map(
          (r) =>
            JSON.stringify({ step: first + r.step, epoch: r.epoch, batch: r.batch, loss: r.loss }) +
            "\n",
        );
      try {
        if (logged === 0) mkdirSync(dirname(log), { recursive: true });
        (logged === 0 ? writeFileSync : appendFileSync)(log, lines.join(""));
      } catch (e) {
        throw new UserError(
          `cannot write ${log}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        );
      }
      logged = losses.length;
    }
    if (save === undefined) return 0;
    const bytes = await model.save({
      ...positionMetadata(at, shape),
      ...settingsMetadata(settings),
    });
    writeAtomic(save, bytes);
    return bytes.length;
  };

  say(
    `model ${mod.spec.model}, train block \`${cfg.name}\`: ${describeTrain(cfg)}` +
      (backend === "js" ? "" : `; on ${backend}`) +
      (threads === undefined ? "" : `, ${plural(threads, "thread")}`),
  );
  say(
    `data: ${splits.source}: ${splits.train.size} train` +
      (limit !== undefined && limit < fullTrain ? ` (--limit, of ${fullTrain})` : "") +
      `, ${splits.valid.size} validation, ${splits.test.size} test` +
      (dims.length ? `; ${dims.join(", ")}` : ""),
  );
  say(`${plural(steps, "step")} per epoch of ${plural(size, "example")}`);
  if (resumed)
    say(
      `resumed from ${resume} after ${plural(resumed.steps, "step")}: epoch ${resumed.position.epoch}, batch ${resumed.position.batch + 1}`,
    );
  let report: Awaited<ReturnType<typeof train>>;
  try {
    report = await train(
      model,
      splits,
      {
        epochs: cfg.epochs,
        batch: cfg.batch,
        seed: cfg.seed,
        ...(resumed && { start: resumed.position }),
        ...(maxSteps !== undefined && { maxSteps }),
        keepBest: cfg.keepBest,
        patience: cfg.patience,
        ...(saveEvery !== undefined && { checkpoint: { every: saveEvery, write: persist } }),
      },
      consoleReporter({
        bar: !quiet && wantsBar(),
        out: say,
        ...(logEvery !== undefined && { logEvery }),
      }),
    );
  } catch (e) {
    // --check-numerics: the first NaN or infinity, at the operation that made it.
    const failure = numericsFailure(e, model.steps + 1);
    if (failure === null) throw e;
    io.err(typeof failure === "string" ? failure : renderDiagnostics([failure], r.sources) + "\n");
    return exitCode.error;
  }
  io.out(`test: ${fmtEval(report.test)}`);
  const last = report.epochs[report.epochs.length - 1];
  say(
    `trained ${plural(report.epochs.length, "epoch")} (${plural(report.steps, "step")}) in ${report.seconds.toFixed(1)}s` +
      (last ? `; final train loss ${fmt(last.trainLoss)}` : ""),
  );
  const at = report.position;
  if (report.stoppedEarly !== null)
    say(
      `stopped early after epoch ${report.stoppedEarly}: no better validation ${cfg.keepBest!.metric} ` +
        `for ${plural(cfg.patience!, "epoch")} (patience ${cfg.patience})`,
    );
  if (report.kept)
    say(
      `kept epoch ${report.kept.epoch} (best validation ${report.kept.metric} ${fmt(report.kept.value)}): ` +
        `the test split${save !== undefined ? " and --save use" : " uses"} its parameters`,
    );
  if (at.epoch <= cfg.epochs && report.stoppedEarly === null)
    say(
      `stopped by --steps before epoch ${at.epoch}, batch ${at.batch + 1}` +
        (save !== undefined ? `; continue with --resume ${save}` : ""),
    );

  if (plot !== undefined) {
    writeOutput(
      plot,
      trainingPlot(report, `${mod.spec.model} — ${cfg.name} (${describeTrain(cfg)})`),
    );
    say(`wrote ${plot}`);
  }
  const saved = await persist(report.position, report.losses);
  if (log !== undefined) say(`wrote ${log}`);
  if (save !== undefined) say(`saved parameters to ${save} (safetensors, ${saved} bytes)`);
  model.dispose();
  return exitCode.ok;
}
