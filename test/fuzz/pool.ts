// Runs fuzz cases in a child process, one at a time, each with a time box.
// The compiler is synchronous, so a hang (or a runaway allocation) cannot be
// stopped from inside; a case that overruns or kills the child is reported
// as a failure and a fresh child takes the next case. The child is also
// recycled every so often, since each imported module stays in its memory.

import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { JS_ONLY, type FuzzCase, type Outcome, type RunOptions } from "./oracle.ts";

const worker = fileURLToPath(new URL("./worker.ts", import.meta.url));
const root = fileURLToPath(new URL("../..", import.meta.url));

export interface PoolOptions {
  /** Milliseconds one case may take. */
  timeoutMs: number;
  /** Cases per child before it is replaced. */
  recycleAfter?: number;
  /** The targets each case runs on, and whether wasm is checked on threads (default: js only). */
  run?: RunOptions;
}

/** What the pool sends its child: the case and how to run it. */
export interface CaseRequest {
  c: FuzzCase;
  run: RunOptions;
}

export class CasePool {
  private child: ChildProcess | null = null;
  private used = 0;
  constructor(private readonly opts: PoolOptions) {}

  private spawn(): ChildProcess {
    const child = fork(worker, [], {
      cwd: root,
      execArgv: ["--import", "tsx", "--max-old-space-size=2048"],
      stdio: ["ignore", "ignore", "ignore", "ipc"],
    });
    this.used = 0;
    return child;
  }

  /** Run one case; `timeoutMs` and `run` override the pool's time box and run options for this case. */
  run(
    c: FuzzCase,
    timeoutMs = this.opts.timeoutMs,
    run: RunOptions = this.opts.run ?? JS_ONLY,
  ): Promise<Outcome> {
    if (this.child && this.used >= (this.opts.recycleAfter ?? 200)) this.close();
    const child = (this.child ??= this.spawn());
    this.used++;
    return new Promise((resolve) => {
      const done = (o: Outcome, dead: boolean) => {
        clearTimeout(timer);
        child.off("message", onMessage);
        child.off("exit", onExit);
        if (dead) {
          child.kill("SIGKILL");
          if (this.child === child) this.child = null;
        }
        resolve(o);
      };
      const onMessage = (o: Outcome) => done(o, false);
      const onExit = (code: number | null, signal: string | null) =>
        done(
          {
            stage: "rejected",
            failure: {
              kind: "crash",
              message: `the case killed its process (${signal ?? `exit ${code}`})`,
            },
          },
          true,
        );
      const timer = setTimeout(
        () =>
          done(
            {
              stage: "rejected",
              failure: { kind: "hang", message: `no answer in ${timeoutMs} ms` },
            },
            true,
          ),
        timeoutMs,
      );
      child.on("message", onMessage);
      child.on("exit", onExit);
      child.send({ c, run } satisfies CaseRequest);
    });
  }

  close(): void {
    this.child?.kill("SIGKILL");
    this.child = null;
  }
}
