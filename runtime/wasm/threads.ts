// Worker threads for the WASM backend: N - 1 workers instantiate the same
// WebAssembly.Module on the same shared memory and each runs one contiguous
// chunk of a kernel's work items while the calling thread runs the first.
// A kernel's result does not depend on how its items are split (the WASM
// target's contract), so any thread count gives the same bits.
//
// Synchronisation is through a small control SharedArrayBuffer: the caller
// writes the job (kernel, items, chunk count), bumps the generation word of
// each worker it needs and notifies it; each worker runs its chunk and
// decrements PENDING, the last one notifying the caller. Both sides spin
// briefly before sleeping in Atomics.wait, since most kernels finish within
// a few microseconds of each other. A browser's main thread may not block:
// it spins, then awaits Atomics.waitAsync (or polls where that is missing).
// Workers are Node worker_threads (the module has no static imports, so the
// worker_threads module is imported dynamically) or Web Workers from a Blob
// URL; their code is the worker() function's text.
//
// A worker that dies (terminated, out of memory) is noticed through its
// `exit`/`error` event, which only the caller's event loop delivers, so a
// blocking caller never sleeps untimed: after a short timed wait it goes on
// waiting asynchronously. The death settles the dead worker's chunk (each
// handed-out chunk has an `owe` word, cleared exactly once, by the worker
// when it finishes or by the death), the call in flight rejects, the other
// workers are terminated, and later calls run every kernel on the caller
// alone (the same bits: any split does).

/**
 * Control words (Int32Array indices). Each worker has a 64-byte line of its
 * own: its generation word, then its `owe` word (1 while it owes the caller
 * the chunk it was handed).
 */
const FN = 0;
const ITEMS = 1;
const CHUNKS = 2;
const PENDING = 3;
const FAILED = 4;
const QUIT = 5;
const genAt = (w: number) => 16 * (w + 1);
const oweAt = (w: number) => genAt(w) + 1;

/**
 * How long a blocking caller sleeps in Atomics.wait before it waits
 * asynchronously instead (ms), and how long each asynchronous wait lasts
 * before it looks again: long enough that a kernel rarely pays the switch,
 * short enough that a dead worker's event is seen soon.
 */
const BLOCK_MS = 20;
const ASYNC_WAIT_MS = 1000;

/**
 * Spin iterations (Atomics.load, 10-30 ns each) before sleeping, on both
 * sides: a wake from Atomics.wait costs ~10 us (measured: an empty kernel on
 * 2 threads, 9.5 us without spinning, 0.2 us when the other side spins), but
 * a long spin starves a machine with fewer free cores than threads.
 */
const SPIN = 2000;

/** What a worker is started with (structured-cloned: the module and memory are shared, not copied). */
interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer;
  /** Export names by kernel id (the id the caller writes at FN). */
  names: string[];
  /** This worker's number (it runs chunk w + 1) and scratch address. */
  w: number;
  scratch: number;
  spin: number;
}

/**
 * A worker's whole program. Its text runs in the worker, so it may use
 * nothing from outside itself; the words of the control layout are repeated
 * as literals (FN 0, ITEMS 1, CHUNKS 2, PENDING 3, FAILED 4, QUIT 5,
 * generation at 16 (w + 1), owe one after it).
 */
function worker(inNode: boolean): void {
  const start = (d: WorkerInit, post: (m: unknown) => void) => {
    let fns: ((lo: number, hi: number, scratch: number) => void)[];
    try {
      const instance = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
      fns = d.names.map((n) => instance.exports[n] as (lo: number, hi: number, s: number) => void);
    } catch (e) {
      post({ error: String(e) });
      return;
    }
    post({ ready: true });
    const ctrl = new Int32Array(d.ctrl);
    const me = 16 * (d.w + 1);
    const chunk = d.w + 1;
    let gen = 0;
    for (;;) {
      let spins = 0;
      while (Atomics.load(ctrl, me) === gen) if (spins++ >= d.spin) Atomics.wait(ctrl, me, gen);
      gen = Atomics.load(ctrl, me);
      if (Atomics.load(ctrl, 5) !== 0) return;
      const items = ctrl[1]!;
      const chunks = ctrl[2]!;
      try {
        fns[ctrl[0]!]!(
          Math.floor((items * chunk) / chunks),
          Math.floor((items * (chunk + 1)) / chunks),
          d.scratch,
        );
      } catch {
        Atomics.store(ctrl, 4, 1);
      }
      // The chunk is settled once: here, or by the caller when this worker died first.
      if (Atomics.exchange(ctrl, me + 1, 0) === 1 && Atomics.sub(ctrl, 3, 1) === 1)
        Atomics.notify(ctrl, 3);
    }
  };
  if (inNode) {
    // eval'd worker_threads code is a CommonJS script: require is there.
    const { parentPort } = (
      globalThis as unknown as {
        require: (m: string) => typeof import("node:worker_threads");
      }
    ).require("node:worker_threads");
    parentPort!.once("message", (d: WorkerInit) => start(d, (m) => parentPort!.postMessage(m)));
  } else {
    const scope = globalThis as unknown as {
      onmessage: (e: MessageEvent<WorkerInit>) => void;
      postMessage: (m: unknown) => void;
    };
    scope.onmessage = (e) => start(e.data, (m) => scope.postMessage(m));
  }
}

const inNode =
  typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node ===
  "string";

// A built-in module by a computed name: bundlers leave the import to run time
// (no static import; webpack would otherwise make it a context module and
// fail on the node: scheme).
const nodeModule = <T>(name: string): Promise<T> =>
  import(/* webpackIgnore: true */ /* @vite-ignore */ `node:${name}`) as Promise<T>;

/** The cores this machine offers (navigator.hardwareConcurrency in a browser). */
export async function availableCores(): Promise<number> {
  if (inNode) return (await nodeModule<typeof import("node:os")>("os")).availableParallelism();
  return (
    (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
      ?.hardwareConcurrency ?? 1
  );
}

/**
 * Whether this environment can run workers on a shared memory: Node, or a
 * cross-origin-isolated page or worker (COOP/COEP headers; elsewhere a
 * browser has no SharedArrayBuffer, and the model runs on the calling thread).
 */
export function canThread(): boolean {
  if (typeof SharedArrayBuffer === "undefined") return false;
  if (inNode) return true;
  return (
    (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true &&
    typeof Worker === "function"
  );
}

/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
function mayBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

interface Handle {
  terminate(): void;
}

/** A worker just made: its handle, and its readiness (rejects if it fails to start). */
interface Spawned {
  handle: Handle;
  ready: Promise<void>;
}

/** Makes a worker; `gone` is called (maybe more than once) when it dies. */
type Spawn = (code: string, init: WorkerInit, gone: (why: string) => void) => Spawned;

type AsyncWait = (
  a: Int32Array,
  i: number,
  v: number,
  ms: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

export class Threads {
  private readonly ctrl: Int32Array;
  /** Whether run() waits by blocking (else it returns a Promise to await). */
  readonly blocking = mayBlock();
  private readonly waitAsync = (Atomics as unknown as { waitAsync?: AsyncWait }).waitAsync;
  private disposed = false;
  /** Why a worker died, once one has: later kernels run on the caller alone. */
  private dead: string | null = null;

  private constructor(
    ctrl: SharedArrayBuffer,
    private readonly workers: Handle[],
  ) {
    this.ctrl = new Int32Array(ctrl);
  }

  /** How many threads run a kernel: the workers and the caller. */
  get count(): number {
    return this.workers.length + 1;
  }

  /**
   * `count - 1` workers on `memory`, each instantiating `module` with its own
   * scratch area (`scratch[w]`); resolves once all are ready. When any fails
   * to start, every worker started is terminated and it rejects.
   */
  static async start(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    names: string[],
    scratch: readonly number[],
  ): Promise<Threads> {
    const ctrl = new SharedArrayBuffer(4 * genAt(scratch.length));
    // A transform that keeps function names (tsx, esbuild's keepNames) wraps
    // the inner functions in __name(), a helper the worker's text lacks.
    const code = `var __name = (f) => f;\n(${worker.toString()})(${inNode});`;
    const inits = scratch.map((at, w): WorkerInit => ({
      module,
      memory,
      ctrl,
      names,
      w,
      scratch: at,
      spin: SPIN,
    }));
    const spawn: Spawn = inNode ? await nodeSpawner() : webWorker;
    let pool: Threads | null = null;
    // A death before the pool exists fails the start (the readiness already rejected, or it follows).
    let diedEarly: string | null = null;
    const spawned = inits.map((init) => {
      try {
        return spawn(code, init, (why) => (pool ? pool.died(init.w, why) : (diedEarly ??= why)));
      } catch (e) {
        return e instanceof Error ? e : new Error(String(e));
      }
    });
    const handles = spawned.flatMap((s) => (s instanceof Error ? [] : [s.handle]));
    const readies = await Promise.allSettled(
      spawned.map((s) => (s instanceof Error ? Promise.reject(s) : s.ready)),
    );
    const failed = readies.find((r) => r.status === "rejected");
    if (failed || diedEarly !== null) {
      for (const h of handles) h.terminate();
      throw failed
        ? (failed as PromiseRejectedResult).reason
        : new Error(`a WASM worker died at start: ${diedEarly}`);
    }
    pool = new Threads(ctrl, handles);
    return pool;
  }

  /**
   * Run `fn` (this thread's export) and kernel `id` on the workers over
   * [0, items) in `chunks` contiguous chunks (2..count); this thread takes the
   * first, with scratch `scratch`. Blocks when `blocking`, else the Promise
   * resolves when every chunk is done.
   */
  run(
    id: number,
    fn: (lo: number, hi: number, scratch: number) => void,
    items: number,
    chunks: number,
    scratch: number,
  ): void | Promise<void> {
    if (this.dead !== null) return fn(0, items, scratch);
    const c = this.ctrl;
    c[FN] = id;
    c[ITEMS] = items;
    c[CHUNKS] = chunks;
    Atomics.store(c, PENDING, chunks - 1);
    for (let w = 0; w < chunks - 1; w++) {
      Atomics.store(c, oweAt(w), 1);
      Atomics.add(c, genAt(w), 1);
      Atomics.notify(c, genAt(w), 1);
    }
    let thrown: unknown;
    try {
      fn(0, Math.floor(items / chunks), scratch);
    } catch (e) {
      thrown = e;
    }
    // The workers are waited for even when this chunk failed: nothing may run while they write.
    let spins = 0;
    let v: number;
    while ((v = Atomics.load(c, PENDING)) !== 0) {
      if (spins++ < SPIN) continue;
      // Past a short sleep the event loop must run, to deliver a dead worker's event.
      if (!this.blocking || Atomics.wait(c, PENDING, v, BLOCK_MS) === "timed-out")
        return this.settle(thrown);
    }
    this.check(thrown);
  }

  /** The rest of a run that did not finish quickly: await PENDING reaching 0, in timed waits. */
  private async settle(thrown: unknown): Promise<void> {
    const c = this.ctrl;
    // Node's event loop is not held by a pending Atomics.waitAsync, nor by
    // the (unref'd) workers: without a timer of its own the process could
    // exit mid-call (exit code 13, an unsettled top-level await).
    const hold = setInterval(() => undefined, ASYNC_WAIT_MS);
    try {
      let v: number;
      while ((v = Atomics.load(c, PENDING)) !== 0) {
        if (!this.waitAsync) await new Promise((ok) => setTimeout(ok, 1));
        else {
          const r = this.waitAsync(c, PENDING, v, ASYNC_WAIT_MS);
          if (r.async) await r.value;
        }
      }
    } finally {
      clearInterval(hold);
    }
    this.check(thrown);
  }

  /** Throws what failed in the call just waited for (clearing the workers' flag first). */
  private check(thrown: unknown): void {
    const workerFailed = Atomics.exchange(this.ctrl, FAILED, 0) !== 0;
    if (thrown !== undefined) throw thrown;
    if (this.dead !== null)
      throw new Error(
        `a WASM worker thread died during this call (${this.dead}); later calls run on the calling thread alone`,
      );
    if (workerFailed) throw new Error("a WebAssembly kernel failed on a worker thread");
  }

  /**
   * Worker w died: settle the chunk it owed, and retire the pool (the other
   * workers are terminated; their deaths settle their chunks the same way).
   */
  private died(w: number, why: string): void {
    const c = this.ctrl;
    if (Atomics.exchange(c, oweAt(w), 0) === 1 && Atomics.sub(c, PENDING, 1) === 1)
      Atomics.notify(c, PENDING);
    if (this.disposed || this.dead !== null) return;
    this.dead = `worker ${w + 1}: ${why}`;
    this.workers.forEach((h, i) => i !== w && h.terminate());
  }

  /** Stop the workers (each leaves its wait loop, then is terminated). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ctrl, QUIT, 1);
    this.workers.forEach((h, w) => {
      Atomics.add(this.ctrl, genAt(w), 1);
      Atomics.notify(this.ctrl, genAt(w));
      h.terminate();
    });
  }
}

/**
 * Resolves at the worker's first message (ready, or the error it hit
 * instantiating); rejects if it dies first. `gone` hears of every death,
 * before or after.
 */
function readiness(
  on: (f: (m: { ready?: boolean; error?: string }) => void) => void,
  onGone: (f: (why: string) => void) => void,
  gone: (why: string) => void,
): Promise<void> {
  return new Promise((ok, fail) => {
    on((m) =>
      m.ready
        ? ok()
        : fail(new Error(`a WASM worker could not start: ${m.error ?? "unknown error"}`)),
    );
    onGone((why) => {
      fail(new Error(`a WASM worker failed to start: ${why}`));
      gone(why);
    });
  });
}

/** Posts `init` to a worker just made; terminates it if that throws (nothing may leak). */
function post(w: { postMessage(m: unknown): void }, handle: Handle, init: WorkerInit): void {
  try {
    w.postMessage(init);
  } catch (e) {
    handle.terminate();
    throw e;
  }
}

async function nodeSpawner(): Promise<Spawn> {
  const { Worker } = await nodeModule<typeof import("node:worker_threads")>("worker_threads");
  return (code, init, gone) => {
    const w = new Worker(code, { eval: true });
    // A model the caller never disposes must not keep the process alive.
    w.unref();
    const ready = readiness(
      (f) => w.once("message", f),
      (f) => {
        w.on("error", (e) => f(String(e)));
        w.on("exit", (code) => f(`exited with code ${code}`));
      },
      gone,
    );
    // Its failure to start is reported through ready (or the throw below), never unhandled.
    ready.catch(() => undefined);
    const handle = { terminate: () => void w.terminate() };
    post(w, handle, init);
    return { handle, ready };
  };
}

function webWorker(code: string, init: WorkerInit, gone: (why: string) => void): Spawned {
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  let w: Worker;
  try {
    w = new Worker(url);
  } catch (e) {
    URL.revokeObjectURL(url);
    throw e;
  }
  const handle = { terminate: () => w.terminate() };
  const ready = readiness(
    (f) => w.addEventListener("message", (e: MessageEvent) => f(e.data), { once: true }),
    // A Web Worker has no exit event; an uncaught error leaves it without its loop.
    (f) => w.addEventListener("error", (e) => (handle.terminate(), f(e.message))),
    gone,
  );
  ready.catch(() => undefined);
  post(w, handle, init);
  // Revoked once the worker has loaded its script (or failed to).
  void ready.finally(() => URL.revokeObjectURL(url)).catch(() => undefined);
  return { handle, ready };
}
