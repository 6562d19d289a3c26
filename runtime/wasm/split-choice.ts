// Whether a kernel that may be split across threads should be. The static
// threshold (WORK_PER_THREAD) says when splitting can pay; whether it does
// depends on the machine at the time: on idle cores a split costs about a
// microsecond, on a loaded machine a worker may wait milliseconds for a
// core. A kernel gives the same bits split or not, so the choice can follow
// measurements: every PERIOD calls, PROBES calls alternate between split and
// alone, timed, and the faster way by its best probe (a minimum: the first
// calls also pay for cold caches and the engine's tier-up) runs until the
// next probe. A kernel with at least ALWAYS_WORK per thread always splits:
// no wait for a core costs what half of it saves (1024^3's matmul had run
// alone after probes its first, cold calls lost). (On a
// browser's main thread, or past a blocking caller's short sleep, a split
// that waits asynchronously also pays the microtask's latency, which biases
// the choice towards running alone there: acceptable, it is what splitting
// costs that thread.)

const PERIOD = 512;
const PROBES = 8;
/** Work (WasmKernel.work) per thread past which a kernel splits without probing (~1 ms). */
export const ALWAYS_WORK = 1 << 22;

/** next()'s answer, as bits (no object per call): run split, and time it (a probe). */
export const SPLIT = 1;
export const TIMED = 2;

export class SplitChoice {
  private calls = 0;
  private splitMs = Infinity;
  private aloneMs = Infinity;
  private splitting = true;

  /** `always`: the kernel's work per thread is past ALWAYS_WORK. */
  constructor(private readonly always = false) {}

  /** How to run the next call: SPLIT or not, TIMED (report it to timed()) or not. */
  next(): number {
    if (this.always) return SPLIT;
    const phase = this.calls++ % PERIOD;
    if (phase < PROBES) {
      if (phase === 0) this.splitMs = this.aloneMs = Infinity;
      return TIMED | (phase % 2 === 0 ? SPLIT : 0);
    }
    if (phase === PROBES) this.splitting = this.splitMs <= this.aloneMs;
    return this.splitting ? SPLIT : 0;
  }

  /** A probe's time (ms); `how` is what next() said. */
  timed(how: number, ms: number): void {
    if (how & SPLIT) this.splitMs = Math.min(this.splitMs, ms);
    else this.aloneMs = Math.min(this.aloneMs, ms);
  }
}
