/// <reference types="@webgpu/types" />
// The WebGPU executor: runs an entry's plan on a device. Params and optimizer
// state live on the GPU for the model's lifetime, double-buffered (an entry
// reads the fronts and writes the backs, which become the fronts when the
// call succeeds). Everything that depends only on the dims (pool buffers,
// the unrolled schedule, the uniform records, the staging buffer) is made
// once per dims binding and cached; pipelines once per model. A call writes
// its inputs, encodes the whole schedule into ONE command buffer, submits it
// once, and maps back only what the caller gets (loss, metrics, outputs).

import type { Executor } from "../executor.ts";
import type {
  Buffer,
  EntryName,
  EntryPlan,
  GpuKernel,
  InSlot,
  OutSlot,
  ProgramPlan,
  SizedPlan,
} from "../program.ts";
import {
  COPY_DST,
  UNIFORM,
  checkLimit,
  createStorage,
  Staging,
  type Readback,
  writeHost,
} from "./buffers.ts";
import { DeviceWatch } from "./device.ts";
import { PipelineCache, type Pipeline } from "./pipelines.ts";
import { evalSize } from "../sizes.ts";
import { unroll, type Unrolled } from "./schedule.ts";
import { RECORD_BYTES, RecordTable } from "./uniforms.ts";

/** What the executor reads of a program: its entries and the sizes of its params and state. */
export type GpuProgram = Pick<ProgramPlan<GpuKernel>, "dims" | "entries"> & {
  params: readonly Pick<SizedPlan, "name" | "numel">[];
  state: readonly Pick<SizedPlan, "name" | "numel">[];
};

/**
 * Waiting for a readback polls: Dawn in Node ticks the device from
 * setImmediate for as long as a mapAsync is pending, a busy main thread
 * that, on a CPU adapter (SwiftShader), takes cores from the kernels it
 * waits for. So a call whose GPU work is known to be long first sleeps
 * through most of it and only then maps: the map is still requested before
 * the work ends (a sleep of POLL_LATE of the recent fastest), so no latency is
 * added while the time is steady. Short calls (real GPUs) map at once, and
 * so does every call in a browser, which does not poll (and throttles the
 * timers of a background tab).
 */
const POLLS_WHILE_MAPPING =
  typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node ===
  "string";
const POLL_AFTER_MS = 4;
const POLL_LATE = 0.75;
const RECENT_CALLS = 8;

const slotName = (s: InSlot | OutSlot): string =>
  s.kind === "input" || s.kind === "output" || s.kind === "metric"
    ? `${s.kind} "${s.name}"`
    : s.kind === "param" || s.kind === "state"
      ? `${s.kind} ${s.index}`
      : `the ${s.kind}`;

/** How many dims bindings (batch sizes) of one entry keep their buffers, as on the JS backend. */
const MAX_BINDINGS = 4;

/** A param or state tensor: two GPU buffers, `front` current, `back` written by an update. */
class Resident {
  private parity = 0;
  readonly bufs: [GPUBuffer, GPUBuffer];
  constructor(
    device: GPUDevice,
    readonly n: number,
    label: string,
  ) {
    // Too large at the model's own dims: no batch size helps.
    const hint = "the model's parameters and optimizer state must fit WebGPU's default limits";
    this.bufs = [createStorage(device, n, label, hint), createStorage(device, n, label, hint)];
  }
  get front(): GPUBuffer {
    return this.bufs[this.parity]!;
  }
  get back(): GPUBuffer {
    return this.bufs[1 - this.parity]!;
  }
  /** Which of the two is the front: part of the key of every bind group that binds it. */
  get side(): number {
    return this.parity;
  }
  swap(): void {
    this.parity = 1 - this.parity;
  }
  destroy(): void {
    for (const b of this.bufs) b.destroy();
  }
}

/** A plan buffer that is a param or state slot: the front read, or the back written. */
interface ResidentRef {
  r: Resident;
  back: boolean;
}

/** An entry and what does not depend on the dims. */
interface GpuEntry {
  name: EntryName;
  plan: EntryPlan<GpuKernel>;
  pipelines: Pipeline[];
  /** Per plan buffer: the resident tensor it is, if any. */
  resident: (ResidentRef | undefined)[];
  /** Per plan buffer: what it is, for errors (`input "x"`, `the loss`). */
  names: string[];
  /** Residents that become current after a successful call (param and state out-slots). */
  commits: Resident[];
  bindings: Map<string, Binding>;
}

/** What one dims binding of an entry holds. */
interface Binding {
  /** Per plan buffer: its GPU buffer, unless it is a resident. */
  fixed: (GPUBuffer | undefined)[];
  /** Every buffer made for this binding, destroyed when it is evicted. */
  owned: GPUBuffer[];
  /** In-slot index → the buffer its host array is written to each call. */
  uploads: Map<number, GPUBuffer>;
  uniform: GPUBuffer;
  schedule: Unrolled;
  /** The out-slots read back, their readbacks, and where each lands in `staging`. */
  readSlots: number[];
  staging: Staging;
  /** Per kernel: bind groups by view and the sides of the residents they bind. */
  groups: Map<string, GPUBindGroup>[];
  /** How long this binding's last calls took from submit to readback (ms), newest last. */
  recent: number[];
}

export class WebGpuExecutor implements Executor {
  private readonly entries = new Map<EntryName, GpuEntry>();
  private readonly watch: DeviceWatch;
  /** Calls run one at a time: a call's staging buffer and residents are in use until it resolves. */
  private tail: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    private readonly device: GPUDevice,
    private readonly owned: boolean,
    /** The program's dim names, for errors. */
    private readonly dims: readonly string[],
    private readonly params: Resident[],
    private readonly state: Resident[],
  ) {
    this.watch = new DeviceWatch(device);
  }

  /**
   * An executor for `program` with params and state sized at the model's
   * dims `D`, zeroed; every kernel's pipeline is built before it returns.
   * `owned`: dispose() destroys the device too.
   */
  static async open(
    device: GPUDevice,
    program: GpuProgram,
    D: readonly number[],
    owned = false,
  ): Promise<WebGpuExecutor> {
    const made: Resident[] = [];
    const residents = (ts: GpuProgram["params"], what: string) =>
      ts.map((t) => {
        const r = new Resident(device, evalSize(t.numel, D), `${what} "${t.name}"`);
        made.push(r);
        return r;
      });
    let ex: WebGpuExecutor | undefined;
    try {
      ex = new WebGpuExecutor(
        device,
        owned,
        program.dims,
        residents(program.params, "param"),
        residents(program.state, "state"),
      );
      const named = Object.entries(program.entries).flatMap(([name, plan]) =>
        plan ? [{ name: name as EntryName, plan }] : [],
      );
      const pipelines = await new PipelineCache(device).build(named.flatMap((n) => n.plan.kernels));
      let at = 0;
      for (const n of named) {
        ex.addEntry(n.name, n.plan, pipelines.slice(at, at + n.plan.kernels.length));
        at += n.plan.kernels.length;
      }
      return ex;
    } catch (e) {
      // A caller's device outlives this failure: leave no listener or buffer on it.
      ex?.watch.dispose();
      for (const r of made) r.destroy();
      throw e;
    }
  }

  private addEntry(name: EntryName, plan: EntryPlan<GpuKernel>, pipelines: Pipeline[]): void {
    const resident: (ResidentRef | undefined)[] = plan.buffers.map(() => undefined);
    const commits: Resident[] = [];
    const tensors = (kind: string) => (kind === "param" ? this.params : this.state);
    plan.inSlots.forEach((s, k) => {
      if (s.kind === "param" || s.kind === "state")
        resident[plan.inBufs[k]!] = { r: tensors(s.kind)[s.index]!, back: false };
    });
    plan.outSlots.forEach((s, k) => {
      if (s.kind !== "param" && s.kind !== "state") return;
      const r = tensors(s.kind)[s.index]!;
      resident[plan.outBufs[k]!] = { r, back: true };
      commits.push(r);
    });
    const names = plan.buffers.map((_, i) => `buffer ${i}`);
    plan.inSlots.forEach((s, k) => (names[plan.inBufs[k]!] = slotName(s)));
    plan.outSlots.forEach((s, k) => (names[plan.outBufs[k]!] = slotName(s)));
    this.entries.set(name, {
      name,
      plan,
      pipelines,
      resident,
      names,
      commits,
      bindings: new Map(),
    });
  }

  /** Run calls one after another; a failed call does not stop the next. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      if (this.disposed) throw new Error("this model was disposed");
      this.watch.check();
      return f();
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Buffers, records and the unrolled schedule of one dims binding. */
  private async bind(e: GpuEntry, D: readonly number[]): Promise<Binding> {
    const key = D.join(",");
    const hit = e.bindings.get(key);
    if (hit) {
      // Most recently used last, so eviction drops the least recently used.
      e.bindings.delete(key);
      e.bindings.set(key, hit);
      return hit;
    }
    const device = this.device;
    const owned: GPUBuffer[] = [];
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    let binding: Binding | undefined;
    let thrown: unknown;
    try {
      binding = this.allocate(e, D, owned);
    } catch (x) {
      thrown = x;
    }
    // The scopes are popped whatever happened, so none is left on the device's stack.
    // Both pops at once: another model on a shared device must not push its scopes between them.
    const [invalid, oom] = await Promise.all([device.popErrorScope(), device.popErrorScope()]);
    const err = oom ?? invalid;
    if (thrown !== undefined || err || !binding) {
      for (const b of owned) b.destroy();
      throw thrown ?? new Error(`WebGPU could not allocate ${e.name}()'s buffers: ${err?.message}`);
    }
    // dispose() ran while the scopes were popped: nothing would free this binding later.
    if (this.disposed) {
      for (const b of owned) b.destroy();
      throw new Error("this model was disposed");
    }
    if (e.bindings.size >= MAX_BINDINGS) {
      const [oldKey, old] = e.bindings.entries().next().value!;
      e.bindings.delete(oldKey);
      for (const b of old.owned) b.destroy();
    }
    e.bindings.set(key, binding);
    return binding;
  }

  /** The buffers of one dims binding (each pushed on `owned` as it is made), its records and schedule. */
  private allocate(e: GpuEntry, D: readonly number[], owned: GPUBuffer[]): Binding {
    const { plan } = e;
    const device = this.device;
    const at = plan.dims.map((d) => `${this.dims[d]} = ${D[d]}`).join(", ");
    const whose = (what: string) => `${e.name}()'s ${what}${at ? ` at ${at}` : ""}`;
    const make = (n: number, what: string) => {
      const b = createStorage(device, n, whose(what));
      owned.push(b);
      return b;
    };
    const size = (i: number) => evalSize(plan.buffers[i]!.size, D);
    const pools = plan.pools.map((p, i) =>
      make(evalSize(p.size, D), `temporaries (pool slot ${i})`),
    );
    const fixed = plan.buffers.map((b, i) =>
      e.resident[i] ? undefined : b.pool >= 0 ? pools[b.pool]! : make(size(i), e.names[i]!),
    );
    const uploads = new Map<number, GPUBuffer>();
    plan.inSlots.forEach((s, k) => {
      if (s.kind !== "param" && s.kind !== "state") uploads.set(k, fixed[plan.inBufs[k]!]!);
    });
    const records = new RecordTable(D);
    // Record 0: no scan running (also keeps the uniform buffer non-empty).
    records.of([]);
    const schedule = unroll(plan, D, records);
    const recordBytes = records.bytes();
    const hint = "use a smaller batch or shorter sequences";
    checkLimit(
      device,
      recordBytes.byteLength,
      "maxBufferSize",
      whose("scan steps' uniforms"),
      hint,
    );
    const uniform = device.createBuffer({
      label: whose("uniforms"),
      size: recordBytes.byteLength,
      usage: UNIFORM | COPY_DST,
    });
    owned.push(uniform);
    device.queue.writeBuffer(uniform, 0, recordBytes);
    const readSlots: number[] = [];
    const reads: Readback[] = [];
    plan.outSlots.forEach((s, k) => {
      if (s.kind === "param" || s.kind === "state") return;
      const i = plan.outBufs[k]!;
      readSlots.push(k);
      reads.push({ src: fixed[i]!, n: size(i), dtype: plan.buffers[i]!.dtype });
    });
    const staging = new Staging(device, reads, whose("readback"));
    owned.push(...staging.buffers);
    return {
      fixed,
      owned,
      uploads,
      uniform,
      schedule,
      readSlots,
      staging,
      groups: plan.kernels.map(() => new Map()),
      recent: [],
    };
  }

  private gpuBuffer(e: GpuEntry, b: Binding, i: number): GPUBuffer {
    const r = e.resident[i];
    return r ? (r.back ? r.r.back : r.r.front) : b.fixed[i]!;
  }

  /** Kernel k's bind group under view v, for the residents' current sides. */
  private group(e: GpuEntry, b: Binding, k: number, v: number): GPUBindGroup {
    const kernel = e.plan.kernels[k]!;
    const view = b.schedule.views[v]!;
    const bufs = kernel.bindings.map((x) => view[x.buf]!);
    const key = `${v}:${bufs.map((i) => e.resident[i]?.r.side ?? "").join("")}`;
    const cache = b.groups[k]!;
    const hit = cache.get(key);
    if (hit) return hit;
    const group = this.device.createBindGroup({
      label: kernel.name,
      layout: e.pipelines[k]!.layout,
      entries: [
        { binding: 0, resource: { buffer: b.uniform, offset: 0, size: RECORD_BYTES } },
        ...bufs.map((i, j) => ({ binding: 1 + j, resource: { buffer: this.gpuBuffer(e, b, i) } })),
      ],
    });
    cache.set(key, group);
    return group;
  }

  private encode(e: GpuEntry, b: Binding, encoder: GPUCommandEncoder): void {
    const { ops, views } = b.schedule;
    /** This call's bind groups by view and kernel (residents' sides are fixed during a call). */
    const groups = views.map((): (GPUBindGroup | undefined)[] => []);
    let pass: GPUComputePassEncoder | null = null;
    let pipeline = -1;
    const offsets = new Uint32Array(1);
    for (const op of ops) {
      if (op.op === "copy") {
        pass?.end();
        pass = null;
        encoder.copyBufferToBuffer(
          this.gpuBuffer(e, b, op.src),
          0,
          this.gpuBuffer(e, b, op.dst),
          0,
          op.bytes,
        );
        continue;
      }
      if (!pass) {
        pass = encoder.beginComputePass();
        pipeline = -1;
      }
      const k = op.kernel;
      if (pipeline !== k) {
        pass.setPipeline(e.pipelines[k]!.pipeline);
        pipeline = k;
      }
      offsets[0] = op.record * RECORD_BYTES;
      const g = (groups[op.view]![k] ??= this.group(e, b, k, op.view));
      // The (data, start, length) form: Dawn takes no bare Uint32Array, and an array per dispatch would allocate.
      pass.setBindGroup(0, g, offsets, 0, 1);
      pass.dispatchWorkgroups(op.grid[0], op.grid[1], op.grid[2]);
    }
    pass?.end();
  }

  run(
    name: EntryName,
    D: readonly number[],
    inputs: ReadonlyMap<number, Buffer>,
  ): Promise<Map<number, Buffer>> {
    return this.serial(async () => {
      const e = this.entries.get(name);
      if (!e) throw new Error(`this model has no ${name} entry`);
      const b = await this.bind(e, D);
      const { device } = this;
      for (const k of b.uploads.keys())
        if (!inputs.has(k)) throw new Error(`${name}: no host array for in-slot ${k}`);
      // Everything from the uploads to the submit is one error scope (no JS throws inside it).
      device.pushErrorScope("validation");
      for (const [k, buf] of b.uploads) {
        const data = inputs.get(k)!;
        if (data.length > 0) writeHost(device, buf, data);
      }
      const encoder = device.createCommandEncoder({ label: `dlg ${name}` });
      this.encode(e, b, encoder);
      b.staging.encode(encoder);
      const submitted = performance.now();
      device.queue.submit([encoder.finish()]);
      const results = await this.finish(name, b, submitted, device.popErrorScope());
      this.watch.check();
      for (const r of e.commits) r.swap();
      const out = new Map<number, Buffer>();
      b.readSlots.forEach((k, j) => out.set(k, results[j]!));
      return out;
    });
  }

  /**
   * After a call's submit: its validation errors, then its outputs from the
   * staging buffer. A call whose GPU work is known to be long sleeps through
   * most of it before mapping (see POLL_LATE); a short one maps at once.
   */
  private async finish(
    name: EntryName,
    b: Binding,
    submitted: number,
    scope: Promise<GPUError | null>,
  ): Promise<Buffer[]> {
    if (b.readSlots.length === 0) {
      const err = await scope;
      if (err) throw new Error(`WebGPU rejected ${name}: ${err.message}`);
      return [];
    }
    // The fastest of the recent calls: a slow outlier (a busy machine) must not make the next call sleep too long.
    const expected = b.recent.length > 0 ? Math.min(...b.recent) : 0;
    const late = POLLS_WHILE_MAPPING && expected > POLL_AFTER_MS;
    const early = late ? null : b.staging.read();
    const err = await scope;
    if (err) {
      await early?.catch(() => undefined);
      throw new Error(`WebGPU rejected ${name}: ${err.message}`);
    }
    if (late) {
      const wait = submitted + POLL_LATE * expected - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
    const results = await (early ?? b.staging.read());
    const took = performance.now() - submitted;
    b.recent.push(took);
    if (b.recent.length > RECENT_CALLS) b.recent.shift();
    return results;
  }

  read(): Promise<{ params: Float32Array[]; state: Float32Array[] }> {
    return this.serial(async () => {
      const all = [...this.params, ...this.state];
      const reads: Readback[] = all.map((r) => ({ src: r.front, n: r.n, dtype: "f32" }));
      const staging = new Staging(this.device, reads, "params and state readback");
      try {
        const encoder = this.device.createCommandEncoder({ label: "dlg read" });
        staging.encode(encoder);
        this.device.queue.submit([encoder.finish()]);
        const host = (await staging.read()) as Float32Array[];
        return { params: host.slice(0, this.params.length), state: host.slice(this.params.length) };
      } finally {
        staging.destroy();
      }
    });
  }

  write(params: readonly Float32Array[], state: readonly Float32Array[]): Promise<void> {
    return this.serial(async () => {
      const pairs = [
        ...this.params.map((r, i) => [r, params[i]] as const),
        ...this.state.map((r, i) => [r, state[i]] as const),
      ];
      // Check all before writing any, so a bad call leaves the model as it was.
      pairs.forEach(([r, h], i) => {
        if (h?.length !== r.n)
          throw new Error(
            `write(): tensor ${i} has ${h?.length ?? "no"} elements, expected ${r.n}`,
          );
      });
      for (const [r, h] of pairs) if (h!.length > 0) writeHost(this.device, r.front, h!);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.watch.dispose();
    for (const e of this.entries.values())
      for (const b of e.bindings.values()) for (const buf of b.owned) buf.destroy();
    for (const r of [...this.params, ...this.state]) r.destroy();
    if (this.owned) this.device.destroy();
  }
}
