// Showing a training run to a person: a live progress bar (cli-progress) on
// an interactive stderr, one plain line per epoch everywhere (stdout), so
// logs in CI and pipes stay readable and greppable.

import { Presets, SingleBar } from "cli-progress";
import type { EpochRecord, Evaluation, Reporter } from "./train.ts";

/** Fixed-point for ordinary magnitudes, exponent form for tiny or huge ones. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return v.toFixed(4);
}

export function fmtEval(e: Evaluation | null): string {
  if (!e) return "(no examples)";
  return [
    `loss ${fmt(e.loss)}`,
    ...Object.entries(e.metrics).map(([k, v]) => `${k} ${fmt(v)}`),
  ].join("  ");
}

export function fmtEpoch(r: EpochRecord, epochs: number): string {
  const w = String(epochs).length;
  return (
    `epoch ${String(r.epoch).padStart(w)}/${epochs}  train loss ${fmt(r.trainLoss)}` +
    (r.valid ? `  |  val ${fmtEval(r.valid)}` : "") +
    (r.kept === undefined
      ? ""
      : `  |  best: ${r.kept === r.epoch ? "this epoch" : `epoch ${r.kept}`}`) +
    `  |  ${r.seconds.toFixed(1)}s  ${Math.round(r.samplesPerSec)} samples/s`
  );
}

/** True when a live bar makes sense: an interactive stderr outside CI. */
export function wantsBar(stream: NodeJS.WriteStream = process.stderr, env = process.env): boolean {
  const ci = env.CI !== undefined && env.CI !== "" && env.CI !== "false" && env.CI !== "0";
  return Boolean(stream.isTTY) && !ci;
}

/** `--log-every`'s line: where in the epoch, the epoch's running loss so far, the throughput. */
export function fmtStep(
  epoch: number,
  epochs: number,
  done: number,
  steps: number,
  loss: number,
  speed: number,
): string {
  const w = String(steps).length;
  return (
    `epoch ${epoch}/${epochs}  step ${String(done).padStart(w)}/${steps}  ` +
    `train loss ${fmt(loss)}  |  ${Math.round(speed)} samples/s`
  );
}

/**
 * The terminal's reporter: a live bar when `bar`, else (`logEvery`) a plain
 * line every N steps of an epoch, for logs; one line per epoch either way.
 */
export function consoleReporter(opts: {
  bar: boolean;
  out?: (line: string) => void;
  logEvery?: number;
}): Reporter {
  const out = opts.out ?? ((l: string) => process.stdout.write(l + "\n"));
  let bar: SingleBar | null = null;
  let at = { epoch: 0, epochs: 0, steps: 0 };
  return {
    epochStart(epoch, epochs, steps) {
      at = { epoch, epochs, steps };
      if (!opts.bar) return;
      bar = new SingleBar(
        {
          format: `epoch ${epoch}/${epochs} {bar} {value}/{total} steps | loss {loss} | {speed} samples/s | eta {eta_formatted}`,
          clearOnComplete: true,
          // Leave the cursor alone: a hidden one would outlive a run stopped by an error.
          hideCursor: false,
          stream: process.stderr,
          fps: 10,
        },
        Presets.shades_classic,
      );
      bar.start(steps, 0, { loss: "-", speed: "-" });
    },
    step(done, loss, speed) {
      bar?.update(done, { loss: fmt(loss), speed: Math.round(speed) });
      if (!bar && opts.logEvery !== undefined && done % opts.logEvery === 0)
        out(fmtStep(at.epoch, at.epochs, done, at.steps, loss, speed));
    },
    epochEnd(rec, epochs) {
      // Stop (and clear) the bar before printing, or the two interleave.
      bar?.stop();
      bar = null;
      out(fmtEpoch(rec, epochs));
    },
    close() {
      bar?.stop();
      bar = null;
    },
  };
}
