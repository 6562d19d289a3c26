// Times the three engines' train steps in rounds that rotate which engine
// goes first, so load from neighbours on a shared machine (and SwiftShader's
// worker threads warming up) falls on all three alike.

export const engines = ["dlg", "tfjs", "jax"] as const;
export type Engine = (typeof engines)[number];

export type StepFn = (i: number) => Promise<number>;

export interface EngineTimes {
  /** Wall ms per step over all timed steps. */
  msPerStep: number;
  /** Wall ms per step of each round. */
  rounds: number[];
  /** The loss of the last timed step. */
  last: number;
}

async function timeSteps(step: StepFn, from: number, n: number): Promise<[number, number]> {
  let last = NaN;
  const t0 = performance.now();
  for (let i = from; i < from + n; i++) {
    last = await step(i);
    if (!Number.isFinite(last)) throw new Error(`non-finite loss ${last} at step ${i}`);
  }
  return [(performance.now() - t0) / n, last];
}

/**
 * Steps from..from+steps-1 in each engine, split into `rounds` rounds; round
 * r starts with engine r mod 3. Every engine trains on the same step indices
 * (the caller has run the warm-up steps before `from`).
 */
export async function timeEngines(
  fns: { [E in Engine]: StepFn },
  from: number,
  steps: number,
  rounds: number,
): Promise<{ [E in Engine]: EngineTimes }> {
  const out = {} as { [E in Engine]: EngineTimes };
  for (const e of engines) out[e] = { msPerStep: 0, rounds: [], last: NaN };
  const per = Math.ceil(steps / rounds);
  let total = 0;
  for (let r = 0, at = from; at < from + steps; r++, at += per) {
    const n = Math.min(per, from + steps - at);
    for (let k = 0; k < engines.length; k++) {
      const e = engines[(r + k) % engines.length]!;
      const [ms, last] = await timeSteps(fns[e], at, n);
      out[e].rounds.push(ms);
      out[e].msPerStep += ms * n;
      out[e].last = last;
    }
    total += n;
  }
  for (const e of engines) out[e].msPerStep /= total;
  return out;
}
