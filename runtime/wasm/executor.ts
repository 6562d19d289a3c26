// The WASM executor: runs an entry's plan on one linear memory (layout in
// memory.ts). Params and optimizer state live at fixed addresses for the
// model's life, double-buffered: an entry reads the fronts and writes the
// backs, and a call that succeeds makes the backs current by exchanging the
// two addresses (no copy). Each thread's scratch area follows them; the
// pools and the other buffers of a call are placed after that at the call's
// dims (the memory grows when they need more). A call writes the dims and
// the buffer table into page 0, copies its inputs in, runs the compiled
// schedule (each kernel over its items, split across threads when its work
// pays for the synchronisation) and hands back views of its outputs.

import type { Executor } from "../executor.ts";
import {
  WASM_DATA_AT,
  type Buffer,
  type EntryName,
  type EntryPlan,
  type ProgramPlan,
  type WasmKernel,
} from "../program.ts";
import { evalSize } from "../sizes.ts";
import { align64, MAX_BUFFERS, MAX_DIMS, WasmMemory } from "./memory.ts";
import { compileSchedule, control, type WasmOp } from "./schedule.ts";
import { ALWAYS_WORK, SplitChoice, SPLIT, TIMED } from "./split-choice.ts";
import type { Threads } from "./threads.ts";

type KernelFn = (lo: number, hi: number, scratch: number) => void;

/**
 * Work (WasmKernel.work, ~scalar operations) each extra thread must get
 * before a kernel is split: below it the synchronisation costs more than
 * the thread saves. Measured with a scalar elementwise kernel on 2 cores
 * (~6 operations per item, 400 calls): 2 threads lost at 25k work per call
 * (13.5 us alone) and won at 98k (147 -> 99 us); the threshold sits between.
 */
export const WORK_PER_THREAD = 1 << 15;

/** How many dims bindings (batch sizes) of one entry keep their layout, as on the other backends. */
const MAX_BINDINGS = 4;

/** A param or state tensor: two areas, `front` current, `back` written by an update. */
class Resident {
  private side = 0;
  constructor(
    readonly n: number,
    private readonly at: [number, number],
  ) {}
  get front(): number {
    return this.at[this.side]!;
  }
  get back(): number {
    return this.at[1 - this.side]!;
  }
  flip(): void {
    this.side = 1 - this.side;
  }
}

interface WasmEntry {
  plan: EntryPlan<WasmKernel>;
  /** Per kernel: this thread's export, and its id among the workers' exports. */
  fns: KernelFn[];
  ids: number[];
  /** Per plan buffer: the resident it is (the front read or the back written), if any. */
  resident: ({ r: Resident; back: boolean } | undefined)[];
  /** The plan buffers that are residents (their table entries change as residents flip). */
  residents: number[];
  /** The in-slots the caller's arrays fill (not params or state). */
  copyIns: number[];
  /** Residents that become current when a call succeeds (param and state out-slots). */
  commits: Resident[];
  /** Out-slots handed back to the caller (loss, metrics, outputs). */
  reads: number[];
  bindings: Map<string, Binding>;
  /** The binding the last call used, and its dims (most calls repeat them: no key to build). */
  last: Binding | null;
  lastD: number[];
}

/** One dims binding of an entry: where each buffer lives, and what the call does. */
interface Binding {
  /** Per plan buffer: its byte address, or -1 for a resident. */
  at: number[];
  /** The buffer table's image at this binding (residents' entries are patched per call). */
  table: Uint32Array;
  /** Per plan buffer: its element count. */
  sizes: number[];
  /** One past the last byte the call uses. */
  end: number;
  ops: WasmOp[];
  /** Per op: a running scan's completed steps (at its begin op). */
  steps: number[];
  items: number[];
  /** Per kernel: how many threads share its items when it is split. */
  chunks: number[];
  /** Per kernel that may split (chunks > 1): whether splitting it pays now. */
  choices: (SplitChoice | null)[];
}

/** What the executor needs of a program (the plan's descriptions and entries). */
export type WasmPlan = ProgramPlan<WasmKernel>;

export interface Opened {
  instance: WebAssembly.Instance;
  memory: WasmMemory;
  /** Workers, when the model runs threaded. */
  threads: Threads | null;
  /** The residents and scratch areas at the model's dims (residentLayout), one scratch area per thread. */
  layout: ResidentLayout;
}

/** The scratch bytes a thread needs: the most any kernel of the plan declares. */
function scratchBytes(plan: WasmPlan): number {
  let most = 0;
  for (const e of Object.values(plan.entries))
    for (const k of e?.kernels ?? []) most = Math.max(most, k.scratch);
  return align64(most);
}

/** The distinct kernel exports of a plan, in first-seen order (the workers' kernel ids). */
export function kernelNames(plan: WasmPlan): string[] {
  const names = new Set<string>();
  for (const e of Object.values(plan.entries)) for (const k of e?.kernels ?? []) names.add(k.name);
  return [...names];
}

export interface ResidentLayout {
  params: Resident[];
  state: Resident[];
  /** Scratch area addresses, the calling thread's first. */
  scratch: number[];
  /** Where a call's own buffers start. */
  callAt: number;
}

/**
 * Where the residents (params then state, two areas each) and the scratch
 * areas (`threads` of them) go, and where a call's own buffers start.
 */
export function residentLayout(
  plan: WasmPlan,
  D: readonly number[],
  threads: number,
): ResidentLayout {
  let at = WASM_DATA_AT;
  const place = (n: number) => {
    const a = at;
    at += align64(4 * n);
    return a;
  };
  const residents = (ts: WasmPlan["params"]) =>
    ts.map((t) => {
      const n = evalSize(t.numel, D);
      return new Resident(n, [place(n), place(n)]);
    });
  const params = residents(plan.params);
  const state = residents(plan.state);
  const scratchSize = scratchBytes(plan);
  const scratch = Array.from({ length: threads }, () => place(scratchSize / 4));
  return { params, state, scratch, callAt: at };
}

const sameDims = (a: readonly number[], b: readonly number[]): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

export class WasmExecutor implements Executor {
  private readonly entries = new Map<EntryName, WasmEntry>();
  private readonly mem: WasmMemory;
  private readonly threads: Threads | null;
  private readonly params: Resident[];
  private readonly state: Resident[];
  private readonly scratch: number[];
  private readonly callAt: number;
  /** The binding whose table page 0 holds as a completed call left it (then only residents change). */
  private tableOf: Binding | null = null;
  /** The running call's position in its binding's program (calls run one at a time). */
  private pc = 0;

  constructor(
    private readonly plan: WasmPlan,
    opened: Opened,
  ) {
    if (plan.dims.length > MAX_DIMS)
      throw new Error(`WASM kernels read at most ${MAX_DIMS} dims (model has ${plan.dims.length})`);
    this.mem = opened.memory;
    this.threads = opened.threads;
    const { layout } = opened;
    this.params = layout.params;
    this.state = layout.state;
    this.scratch = layout.scratch;
    this.callAt = layout.callAt;
    const ids = new Map(kernelNames(plan).map((n, i) => [n, i]));
    const exports = opened.instance.exports;
    for (const [name, e] of Object.entries(plan.entries) as [EntryName, EntryPlan<WasmKernel>][]) {
      if (!e) continue;
      if (e.buffers.length > MAX_BUFFERS)
        throw new Error(
          `internal: ${name} has ${e.buffers.length} buffers, more than ${MAX_BUFFERS}`,
        );
      const fns = e.kernels.map((k) => {
        const f = exports[k.name];
        if (typeof f !== "function")
          throw new Error(`internal: the WebAssembly module has no export ${k.name}`);
        return f as KernelFn;
      });
      this.entries.set(
        name,
        this.entry(
          e,
          fns,
          e.kernels.map((k) => ids.get(k.name)!),
        ),
      );
    }
  }

  private entry(plan: EntryPlan<WasmKernel>, fns: KernelFn[], ids: number[]): WasmEntry {
    const resident: WasmEntry["resident"] = plan.buffers.map(() => undefined);
    const commits: Resident[] = [];
    const reads: number[] = [];
    const tensors = (kind: "param" | "state") => (kind === "param" ? this.params : this.state);
    plan.inSlots.forEach((s, k) => {
      if (s.kind === "param" || s.kind === "state")
        resident[plan.inBufs[k]!] = { r: tensors(s.kind)[s.index]!, back: false };
    });
    plan.outSlots.forEach((s, k) => {
      if (s.kind !== "param" && s.kind !== "state") return reads.push(k);
      const r = tensors(s.kind)[s.index]!;
      resident[plan.outBufs[k]!] = { r, back: true };
      commits.push(r);
    });
    const residents = resident.flatMap((r, i) => (r ? [i] : []));
    const copyIns = plan.inSlots.flatMap((s, k) =>
      s.kind === "param" || s.kind === "state" ? [] : [k],
    );
    return {
      plan,
      fns,
      ids,
      resident,
      residents,
      copyIns,
      commits,
      reads,
      bindings: new Map(),
      last: null,
      lastD: [],
    };
  }

  /** Addresses, the compiled schedule and the thread split of one dims binding. */
  private bind(e: WasmEntry, D: readonly number[]): Binding {
    if (e.last && sameDims(e.lastD, D)) return e.last;
    const key = D.join(",");
    const hit = e.bindings.get(key);
    const b = hit ?? this.newBinding(e, D);
    // Least recently used first: the one evicted.
    e.bindings.delete(key);
    if (e.bindings.size >= MAX_BINDINGS) e.bindings.delete(e.bindings.keys().next().value!);
    e.bindings.set(key, b);
    e.last = b;
    e.lastD = D.slice();
    return b;
  }

  private newBinding(e: WasmEntry, D: readonly number[]): Binding {
    const { plan } = e;
    let at = this.callAt;
    const place = (bytes: number) => {
      const a = at;
      at += align64(bytes);
      return a;
    };
    const sizes = plan.buffers.map((b) => evalSize(b.size, D));
    const pools = plan.pools.map((p) => place(4 * evalSize(p.size, D)));
    const addrs = plan.buffers.map((b, i) =>
      e.resident[i] ? -1 : b.pool >= 0 ? pools[b.pool]! : place(4 * sizes[i]!),
    );
    const items = plan.kernels.map((k) => evalSize(k.items, D));
    const n = this.threads?.count ?? 1;
    const chunks = plan.kernels.map((k, i) =>
      Math.max(1, Math.min(n, items[i]!, Math.floor(evalSize(k.work, D) / WORK_PER_THREAD))),
    );
    const ops = compileSchedule(plan, D);
    const choices = chunks.map((c, i) =>
      c > 1 ? new SplitChoice(evalSize(plan.kernels[i]!.work, D) / c >= ALWAYS_WORK) : null,
    );
    return {
      at: addrs,
      table: Uint32Array.from(addrs, (a) => Math.max(a, 0)),
      sizes,
      end: at,
      ops,
      steps: ops.map(() => 0),
      items,
      chunks,
      choices,
    };
  }

  run(
    name: EntryName,
    D: readonly number[],
    inputs: ReadonlyMap<number, Buffer>,
  ): Map<number, Buffer> | Promise<Map<number, Buffer>> {
    const e = this.entries.get(name);
    if (!e) throw new Error(`internal: the plan has no ${name} entry`);
    const b = this.bind(e, D);
    const { mem } = this;
    if (!mem.holds(b.end))
      mem.ensure(b.end, () => {
        const at = e.plan.dims.map((d) => `${this.plan.dims[d]} = ${D[d]}`).join(", ");
        return `${name}()'s buffers${at ? ` at ${at}` : ""}`;
      });
    mem.setDims(D);
    // The whole table unless the last completed call left this binding's there (scans swap back).
    if (this.tableOf !== b) mem.setTable(b.table);
    this.tableOf = null;
    for (const i of e.residents) {
      const r = e.resident[i]!;
      mem.setAddress(i, r.back ? r.r.back : r.r.front);
    }
    for (const k of e.copyIns) {
      const data = inputs.get(k);
      if (!data) throw new Error(`internal: ${name}: no host array for in-slot ${k}`);
      mem.write(b.at[e.plan.inBufs[k]!]!, data);
    }
    this.pc = 0;
    const pending = this.advance(e, b);
    // A browser's main thread cannot block on the workers: the rest of the call awaits.
    return pending ? this.rest(e, b, pending) : this.finish(e, b);
  }

  /**
   * Runs the binding's program from `this.pc` until it ends (undefined) or
   * a kernel is still running on the workers asynchronously (its promise;
   * `this.pc` is then the op after it).
   */
  private advance(e: WasmEntry, b: Binding): Promise<void> | undefined {
    const { ops } = b;
    while (this.pc < ops.length) {
      const op = ops[this.pc]!;
      if (op.op !== "kernel") {
        this.pc = control(ops, this.pc, b.steps, this.mem);
        continue;
      }
      const pending = this.kernel(e, b, op.kernel);
      this.pc++;
      if (pending) return pending;
    }
    return undefined;
  }

  private async rest(e: WasmEntry, b: Binding, first: Promise<void>): Promise<Map<number, Buffer>> {
    for (let pending: Promise<void> | undefined = first; pending; pending = this.advance(e, b))
      await pending;
    return this.finish(e, b);
  }

  /** Kernel k over all its items: on this thread, or split across the threads. */
  private kernel(e: WasmEntry, b: Binding, k: number): void | Promise<void> {
    const fn = e.fns[k]!;
    const items = b.items[k]!;
    const scratch = this.scratch[0]!;
    const choice = b.choices[k];
    if (!choice) return fn(0, items, scratch);
    const how = choice.next();
    const t0 = how & TIMED ? performance.now() : 0;
    const pending =
      how & SPLIT
        ? this.threads!.run(e.ids[k]!, fn, items, b.chunks[k]!, scratch)
        : fn(0, items, scratch);
    if (!(how & TIMED)) return pending;
    if (!pending) return choice.timed(how, performance.now() - t0);
    return pending.then(() => choice.timed(how, performance.now() - t0));
  }

  /** After the schedule ran: the updated residents become current; views of the other outputs. */
  private finish(e: WasmEntry, b: Binding): Map<number, Buffer> {
    this.tableOf = b;
    for (const r of e.commits) r.flip();
    const out = new Map<number, Buffer>();
    for (const k of e.reads) {
      const i = e.plan.outBufs[k]!;
      const dtype = e.plan.buffers[i]!.dtype === "f32" ? "f32" : "i32";
      out.set(k, this.mem.view(this.mem.address(i), b.sizes[i]!, dtype));
    }
    return out;
  }

  read(): { params: Float32Array[]; state: Float32Array[] } {
    return { params: this.readParams(), state: this.state.map((r) => this.copy(r)) };
  }

  /** Copies of the params alone (createModelSync's `params`, read at every access). */
  readParams(): Float32Array[] {
    return this.params.map((r) => this.copy(r));
  }

  private copy(r: Resident): Float32Array {
    return this.mem.view(r.front, r.n, "f32").slice() as Float32Array;
  }

  write(params: readonly Float32Array[], state: readonly Float32Array[]): void {
    params.forEach((p, i) => this.mem.write(this.params[i]!.front, p));
    state.forEach((s, i) => this.mem.write(this.state[i]!.front, s));
  }

  dispose(): void {
    this.threads?.dispose();
    this.entries.clear();
  }
}
