// Whether a kernel that may be split across threads should be. The static
// threshold (WORK_PER_THREAD) says when splitting can pay; whether it does
// depends on the machine at the time: on idle cores a split costs about a
// microsecond, on a loaded machine a worker may wait milliseconds for a
// core. A kernel gives the same bits split or not, so the choice can follow
// measurements: every PERIOD calls, PROBES calls alternate between split and
// alone, timed, and the faster way runs until the next probe.

const PERIOD = 512;
const PROBES = 8;

const now = () => performance.now();

export class SplitChoice {
  private calls = 0;
  private splitMs = 0;
  private aloneMs = 0;
  private splitting = true;

  /** How to run the next call, and whether to time it. */
  private next(): { split: boolean; probe: boolean } {
    const phase = this.calls++ % PERIOD;
    if (phase < PROBES) {
      if (phase === 0) this.splitMs = this.aloneMs = 0;
      return { split: phase % 2 === 0, probe: true };
    }
    if (phase === PROBES) this.splitting = this.splitMs <= this.aloneMs;
    return { split: this.splitting, probe: false };
  }

  /** A probe's time (ms). */
  private timed(split: boolean, ms: number): void {
    if (split) this.splitMs += ms;
    else this.aloneMs += ms;
  }

  /** Run `f` (split or not, as next() chose), timing it when probing. */
  run(f: (split: boolean) => void | Promise<void>): void | Promise<void> {
    const { split, probe } = this.next();
    if (!probe) return f(split);
    const t0 = now();
    const pending = f(split);
    if (!pending) return this.timed(split, now() - t0);
    return pending.then(() => this.timed(split, now() - t0));
  }
}
