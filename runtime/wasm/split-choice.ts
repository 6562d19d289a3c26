// Whether a kernel that may be split across threads should be. The static
// threshold (WORK_PER_THREAD) says when splitting can pay; whether it does
// depends on the machine at the time: on idle cores a split costs about a
// microsecond, on a loaded machine a worker may wait milliseconds for a
// core. A kernel gives the same bits split or not, so the choice can follow
// measurements: every PERIOD calls, PROBES calls alternate between split and
// alone, timed, and the faster way runs until the next probe. (On a
// browser's main thread, or past a blocking caller's short sleep, a split
// that waits asynchronously also pays the microtask's latency, which biases
// the choice towards running alone there: acceptable, it is what splitting
// costs that thread.)

const PERIOD = 512;
const PROBES = 8;

/** next()'s answer, as bits (no object per call): run split, and time it (a probe). */
export const SPLIT = 1;
export const TIMED = 2;

export class SplitChoice {
  private calls = 0;
  private splitMs = 0;
  private aloneMs = 0;
  private splitting = true;

  /** How to run the next call: SPLIT or not, TIMED (report it to timed()) or not. */
  next(): number {
    const phase = this.calls++ % PERIOD;
    if (phase < PROBES) {
      if (phase === 0) this.splitMs = this.aloneMs = 0;
      return TIMED | (phase % 2 === 0 ? SPLIT : 0);
    }
    if (phase === PROBES) this.splitting = this.splitMs <= this.aloneMs;
    return this.splitting ? SPLIT : 0;
  }

  /** A probe's time (ms); `how` is what next() said. */
  timed(how: number, ms: number): void {
    if (how & SPLIT) this.splitMs += ms;
    else this.aloneMs += ms;
  }
}
