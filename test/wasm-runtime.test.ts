// The WASM runtime (runtime/wasm/): a small hand-written plan and module
// (W1a's encoder) for what the runtime itself does (dims that change between
// calls and grow the memory, scans forward and reverse with table-swapped
// carries, splitting a kernel across threads, dispose), then the samples
// compiled for wasm: 1, 2 and 3 threads and createModelSync give the same
// bits (params after steps, losses, predictions), a checkpoint round-trips,
// and a wrong input fails as on the JS backend.

import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it, vi } from "vitest";
import { compile } from "../cli/node-host.ts";
import { loadModule } from "../cli/module.ts";
import { encodeModule } from "../compiler/codegen-wasm/encode.ts";
import type { Instr, WasmFunction } from "../compiler/codegen-wasm/instr.ts";
import type { Model } from "../runtime/model.ts";
import type { SyncModel } from "../runtime/model-sync.ts";
import type { ProgramPlan, SizeExpr, WasmKernel, WasmProgram } from "../runtime/program.ts";
import { createModel, createModelSync } from "../runtime/wasm/index.ts";
import { WORK_PER_THREAD } from "../runtime/wasm/executor.ts";
import { SPLIT, SplitChoice, TIMED } from "../runtime/wasm/split-choice.ts";
import { Threads } from "../runtime/wasm/threads.ts";
import { lcg, type Arr } from "./entry-inputs.ts";
import { sampleBatch, samples as sampleTable } from "./sample-compare.ts";

// ---------------------------------------------------------------- a hand-written module

const get = (i: number): Instr => ["local.get", i];
const set = (i: number): Instr => ["local.set", i];
const i32 = (n: number): Instr => ["i32.const", n];
/** Buffer b's address from the table. */
const addr = (b: number): Instr[] => [i32(0), ["i32.load", 256 + 4 * b]];
/** `for (local i = lo; i < hi; i++) body` over the kernel's params 0 (lo) and 1 (hi). */
const items = (i: number, body: Instr[]): Instr[] => [
  get(0),
  set(i),
  ["block"],
  ["loop"],
  get(i),
  get(1),
  ["i32.ge_u"],
  ["br_if", 1],
  ...body,
  get(i),
  i32(1),
  ["i32.add"],
  set(i),
  ["br", 0],
  ["end"],
  ["end"],
];
/** Element i of buffer b's address (locals: `base` holds b's address). */
const at = (base: number, i: Instr[]): Instr[] => [
  get(base),
  ...i,
  i32(4),
  ["i32.mul"],
  ["i32.add"],
];
const kernelFn = (name: string, locals: WasmFunction["locals"], body: Instr[]): WasmFunction => ({
  name,
  params: ["i32", "i32", "i32"],
  results: [],
  locals,
  body,
});

// fill: buffer 0 [4] = 1, 2, 3, 4 (init's param w). Locals: 3 i, 4 base.
const fill = kernelFn(
  "fill",
  ["i32", "i32"],
  [
    ...addr(0),
    set(4),
    ...items(3, [
      ...at(4, [get(3)]),
      get(3),
      i32(1),
      ["i32.add"],
      ["f32.convert_i32_s"],
      ["f32.store"],
    ]),
  ],
);
// zero: buffer 2 [4] = 0 (the carry's init). Locals: 3 i, 4 base.
const zero = kernelFn(
  "zero",
  ["i32", "i32"],
  [...addr(2), set(4), ...items(3, [...at(4, [get(3)]), ["f32.const", 0], ["f32.store"]])],
);
// rec: next[j] = cur[j] * w[j % 4] * 0.5 + x[t * H + j] for items j < H (buffers 0 x, 1 w,
// 3 cur, 4 next; H = D[1], t = T[0]). Locals: 3 j, 4 x, 5 w, 6 cur, 7 next, 8 H, 9 t.
const rec = kernelFn(
  "rec",
  ["i32", "i32", "i32", "i32", "i32", "i32", "i32"],
  [
    ...addr(0),
    set(4),
    ...addr(1),
    set(5),
    ...addr(3),
    set(6),
    ...addr(4),
    set(7),
    i32(0),
    ["i32.load", 4],
    set(8),
    i32(0),
    ["i32.load", 128],
    set(9),
    ...items(3, [
      ...at(7, [get(3)]),
      ...at(6, [get(3)]),
      ["f32.load"],
      ...at(5, [get(3), i32(3), ["i32.and"]]),
      ["f32.load"],
      ["f32.mul"],
      ["f32.const", 0.5],
      ["f32.mul"],
      ...at(4, [get(9), get(8), ["i32.mul"], get(3), ["i32.add"]]),
      ["f32.load"],
      ["f32.add"],
      ["f32.store"],
    ]),
  ],
);
// trap: zero (buffer 2) like `zero` from item 0, but traps on any range that starts later
// (a worker's chunk). Locals: 3 i, 4 base.
const trap = kernelFn(
  "trap",
  ["i32", "i32"],
  [get(0), ["if"], ["unreachable"], ["end"], ...zero.body],
);
// boom: traps on every range (every chunk, the caller's too).
const boom = kernelFn("boom", [], [["unreachable"]]);
// hang: zero (buffer 2) like `zero` from item 0, but never returns from a range that starts
// later (a worker's chunk, until the worker is terminated). Locals: 3 i, 4 base.
const hang = kernelFn(
  "hang",
  ["i32", "i32"],
  [get(0), ["if"], ["loop"], ["br", 0], ["end"], ["end"], ...zero.body],
);
const encoded = encodeModule({
  functions: [fill, zero, rec, trap, boom, hang],
  exports: ["fill", "zero", "rec", "trap", "boom", "hang"],
  memory: { min: 1, max: 65536 },
});
const wasm: WasmProgram = {
  binaries: [
    {
      base64: Buffer.from(encoded.bytes).toString("base64"),
      relaxed: false,
      memoryFlagAt: encoded.memoryFlagAt,
    },
  ],
  maxPages: 65536,
};

const T: SizeExpr = { d: 0 };
const H: SizeExpr = { d: 1 };
const TH: SizeExpr = { mul: [T, H] };

/**
 * predict(x: [T, H]) -> y: [H], a scan over T (reversed when `reverse`) of
 * h <- h * w * 0.5 + x[t] from h = 0. `work` is rec's declared work: large
 * makes the runtime split it across threads.
 */
function scanPlan(reverse: boolean, work: SizeExpr): ProgramPlan<WasmKernel> {
  const kernel = (name: string, n: SizeExpr, w: SizeExpr = n): WasmKernel => ({
    name,
    items: n,
    scratch: 64,
    work: w,
  });
  return {
    model: "handScan",
    dims: ["T", "H"],
    inputs: [
      { name: "x", dtype: "f32", shape: ["T", "H"], numel: TH, sizes: [T, H], dims: [0, 1] },
    ],
    outputs: [{ name: "y", dtype: "f32", shape: ["H"] }],
    metrics: [],
    hasLoss: false,
    params: [{ name: "w", dtype: "f32", shape: [4], numel: 4, sizes: [4], dims: [] }],
    state: [],
    entries: {
      init: {
        buffers: [{ dtype: "f32", size: 4, pool: -1 }],
        pools: [],
        inSlots: [],
        inBufs: [],
        outSlots: [{ kind: "param", index: 0 }],
        outBufs: [0],
        dims: [],
        kernels: [kernel("fill", 4)],
        schedule: [{ kernel: 0 }],
      },
      predict: {
        buffers: [
          { dtype: "f32", size: TH, pool: -1 },
          { dtype: "f32", size: 4, pool: -1 },
          { dtype: "f32", size: H, pool: -1 },
          { dtype: "f32", size: H, pool: 0 },
          { dtype: "f32", size: H, pool: 1 },
          { dtype: "f32", size: H, pool: -1 },
        ],
        pools: [
          { dtype: "f32", size: H },
          { dtype: "f32", size: H },
        ],
        inSlots: [
          { kind: "input", name: "x" },
          { kind: "param", index: 0 },
        ],
        inBufs: [0, 1],
        outSlots: [{ kind: "output", name: "y" }],
        outBufs: [5],
        dims: [0, 1],
        kernels: [kernel("zero", H), kernel("rec", H, work)],
        schedule: [
          { kernel: 0 },
          {
            scan: 0,
            length: T,
            reverse,
            carries: [{ init: 2, cur: 3, next: 4, final: 5 }],
            body: [{ kernel: 1 }],
          },
        ],
      },
    },
  };
}

/** The scan in float32, as the kernels compute it. */
function scanRef(x: Float32Array, t: number, h: number, reverse: boolean): Float32Array {
  const y = new Float32Array(h);
  for (let s = 0; s < t; s++) {
    const step = reverse ? t - 1 - s : s;
    for (let j = 0; j < h; j++)
      y[j] = Math.fround(Math.fround(Math.fround(y[j]! * ((j % 4) + 1)) * 0.5) + x[step * h + j]!);
  }
  return y;
}

const xs = (t: number, h: number) => {
  const r = lcg(3 + t + h);
  return Float32Array.from({ length: t * h }, () => r() * 2 - 1);
};

/** Where two arrays' bits first differ, or -1 (toEqual takes seconds on arrays this long). */
function firstDifference(a: Float32Array | Int32Array | Uint8Array, b: typeof a): number {
  const bytes = (v: typeof a) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const [x, y] = [bytes(a), bytes(b)];
  if (x.length !== y.length) return Math.min(x.length, y.length);
  if (Buffer.compare(x, y) === 0) return -1;
  return x.findIndex((v, i) => v !== y[i]);
}

/** Each named array's first difference (all -1 when the two records hold the same bits). */
function differences(a: Record<string, Arr>, b: Record<string, Arr>): Record<string, number> {
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  return Object.fromEntries(Object.keys(a).map((k) => [k, firstDifference(a[k]!, b[k]!)]));
}
const same = (a: Record<string, Arr>) => Object.fromEntries(Object.keys(a).map((k) => [k, -1]));

const open: Model[] = [];
afterEach(() => {
  for (const m of open.splice(0)) m.dispose();
  vi.restoreAllMocks();
});
async function model(plan: ProgramPlan<WasmKernel>, threads: number): Promise<Model> {
  const m = await createModel(plan, wasm, { threads });
  open.push(m);
  return m;
}

describe("the WASM runtime on a hand-written module", () => {
  it.each([false, true])("runs a scan (reverse: %s) as float32 does", async (reverse) => {
    const m = await model(scanPlan(reverse, 1), 1);
    const x = xs(5, 6);
    expect((await m.predict({ x }, { T: 5, H: 6 })).y).toEqual(scanRef(x, 5, 6, reverse));
    // An even length leaves the carries where they started; the odd one above swapped them back.
    const x2 = xs(4, 6);
    expect((await m.predict({ x: x2 }, { T: 4, H: 6 })).y).toEqual(scanRef(x2, 4, 6, reverse));
  });

  it("places each call's buffers at its dims, growing the memory between calls", async () => {
    const m = await model(scanPlan(false, 1), 1);
    // 3 x 4, then 2 x 100000 (800 KB of x: the memory grows past its first page), then small again.
    for (const [t, h] of [
      [3, 4],
      [2, 100_000],
      [3, 5],
    ] as const) {
      const x = xs(t, h);
      const y = (await m.predict({ x }, { T: t, H: h })).y as Float32Array;
      expect(firstDifference(y, scanRef(x, t, h, false)), `T ${t}, H ${h}`).toBe(-1);
    }
    expect((await m.params()).w).toEqual(Float32Array.of(1, 2, 3, 4));
  });

  it("splits a kernel whose work pays for it across threads, with the same bits", async () => {
    const h = 1000;
    const x = xs(7, h);
    // Declared work large enough for 3 chunks: each thread computes a third of the items.
    const plan = scanPlan(true, 3 * WORK_PER_THREAD);
    const want = scanRef(x, 7, h, true);
    // The caller wakes a worker with Atomics.notify for each chunk it hands out.
    const wakes = vi.spyOn(Atomics, "notify");
    for (const threads of [1, 2, 3]) {
      const m = await model(plan, threads);
      wakes.mockClear();
      expect((await m.predict({ x }, { T: 7, H: h })).y, `threads ${threads}`).toEqual(want);
      // rec runs 7 times; the probes split every other call: 4 split calls wake threads - 1 workers.
      expect(wakes.mock.calls.length, `threads ${threads}`).toBe(4 * (threads - 1));
    }
  });

  it("terminates its workers on dispose, and later calls reject", async () => {
    const terminate = vi.spyOn(Worker.prototype, "terminate");
    const m = await createModel(scanPlan(false, 1), wasm, { threads: 3 });
    const x = xs(2, 3);
    await m.predict({ x }, { T: 2, H: 3 });
    m.dispose();
    await expect(m.predict({ x }, { T: 2, H: 3 })).rejects.toThrow(/disposed/);
    await vi.waitFor(() => expect(terminate).toHaveBeenCalledTimes(2));
  });

  it("runs synchronously on the calling thread with createModelSync, as createModel does", async () => {
    const plan = scanPlan(true, 3 * WORK_PER_THREAD);
    const x = xs(3, 9);
    const m = createModelSync(plan, wasm, { seed: 2 });
    expect(m.backend).toBe("wasm");
    const y = m.predict({ x }, { T: 3, H: 9 }).y;
    expect(y).toEqual(scanRef(x, 3, 9, true));
    expect(m.params.w).toEqual(Float32Array.of(1, 2, 3, 4));
    const a = await model(plan, 2);
    expect((await a.predict({ x }, { T: 3, H: 9 })).y).toEqual(y);
    m.dispose();
    expect(() => m.predict({ x }, { T: 3, H: 9 })).toThrow(/disposed/);
    expect(() => createModelSync(plan, wasm, { threads: 2 })).toThrow(/calling thread only/);
  });

  it("splits a kernel only while splitting is measured to be faster", () => {
    // Splitting takes 0.3 ms, alone 0.1 ms: after the probes, the kernel runs alone.
    const choice = new SplitChoice();
    const ways: boolean[] = [];
    for (let i = 0; i < 600; i++) {
      const how = choice.next();
      const split = (how & SPLIT) !== 0;
      ways.push(split);
      if (how & TIMED) choice.timed(how, split ? 0.3 : 0.1);
      expect(how & TIMED, `call ${i}`).toBe(i % 512 < 8 ? TIMED : 0);
    }
    expect(ways.slice(0, 4)).toEqual([true, false, true, false]);
    expect(ways.slice(8, 512).every((s) => !s)).toBe(true);
    // Every 512 calls it probes again, alternating.
    expect(ways.slice(512, 516)).toEqual([true, false, true, false]);
  });

  it("judges a split by its best probe (a cold first call does not decide), and splits a big kernel always", () => {
    // The first (split) probe is cold: 5 ms; later splits 0.05 ms, alone 0.1 ms.
    const choice = new SplitChoice();
    for (let i = 0; i < 8; i++) {
      const how = choice.next();
      choice.timed(how, how & SPLIT ? (i === 0 ? 5 : 0.05) : 0.1);
    }
    expect(choice.next() & SPLIT).toBe(SPLIT);
    const big = new SplitChoice(true);
    for (let i = 0; i < 600; i++) expect(big.next()).toBe(SPLIT);
  });

  it("rejects a call whose kernel traps on a worker, and runs the next", async () => {
    const plan = scanPlan(false, 1);
    // The carry's init is zeroed by `trap`, which may split (its declared work
    // is large, but not so large that it splits without probing).
    plan.entries.predict!.kernels[0] = { name: "trap", items: H, scratch: 0, work: 1e6 };
    const m = await model(plan, 2);
    const x = xs(3, 8);
    // Its first call runs split (the first probe): the worker's chunk traps.
    await expect(m.predict({ x }, { T: 3, H: 8 })).rejects.toThrow(/failed on a worker thread/);
    // The second probe runs it alone, on this thread, from item 0.
    expect((await m.predict({ x }, { T: 3, H: 8 })).y).toEqual(scanRef(x, 3, 8, false));
  });

  it("clears a worker's failure with its call: after a kernel trapped on every chunk, the next runs", async () => {
    const module = new WebAssembly.Module(encoded.bytes);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
    const ex = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<
      string,
      (lo: number, hi: number, scratch: number) => void
    >;
    const pool = await Threads.start(module, memory, ["boom", "zero"], [1024]);
    try {
      expect(() => pool.run(0, ex.boom!, 2, 2, 0)).toThrow(/unreachable/);
      // zero writes buffer 2 of a table of zeros: items 0 and 1 of page 0's dims, harmlessly.
      expect(pool.run(1, ex.zero!, 2, 2, 0)).toBeUndefined();
    } finally {
      pool.dispose();
    }
  });

  it("leaves params and steps as they were when a step's kernel traps", async () => {
    const plan = scanPlan(false, 1);
    // step: w <- 0 (zero, then trap: both write the back area of w, buffer 2); trap splits.
    const k = (name: string, work: number): WasmKernel => ({ name, items: 4, scratch: 0, work });
    plan.entries.step = {
      buffers: [0, 1, 2].map(() => ({ dtype: "f32" as const, size: 4, pool: -1 })),
      pools: [],
      inSlots: [{ kind: "param", index: 0 }],
      inBufs: [0],
      outSlots: [{ kind: "param", index: 0 }],
      outBufs: [2],
      dims: [],
      // Large enough to split, small enough to be probed (not always split).
      kernels: [k("zero", 4), k("trap", 1e6)],
      schedule: [{ kernel: 0 }, { kernel: 1 }],
    };
    const m = await model(plan, 2);
    const x = xs(1, 4);
    // The first call splits (the first probe): the worker's chunk traps.
    await expect(m.step({ x }, { T: 1, H: 4 })).rejects.toThrow(/failed on a worker thread/);
    expect(m.steps).toBe(0);
    expect((await m.params()).w).toEqual(Float32Array.of(1, 2, 3, 4));
    // The next step (the second probe: alone) does what a fresh model's first step does.
    await m.step({ x }, { T: 1, H: 4 });
    const fresh = await model(plan, 1);
    await fresh.step({ x }, { T: 1, H: 4 });
    expect(m.steps).toBe(1);
    expect((await m.params()).w).toEqual((await fresh.params()).w);
    expect((await m.params()).w).toEqual(new Float32Array(4));
  });

  it("rejects the call a worker dies in, then runs on the calling thread alone", async () => {
    const made = vi.spyOn(Worker.prototype, "unref");
    const plan = scanPlan(false, 3 * WORK_PER_THREAD);
    // The carry's init is zeroed by `hang`, which splits: the worker's chunk never returns.
    plan.entries.predict!.kernels[0] = { name: "hang", items: H, scratch: 0, work: 1e9 };
    const m = await model(plan, 2);
    const [worker] = made.mock.contexts as Worker[];
    const x = xs(3, 8);
    const hold = vi.spyOn(globalThis, "setInterval");
    const release = vi.spyOn(globalThis, "clearInterval");
    const call = m.predict({ x }, { T: 3, H: 8 });
    await new Promise((ok) => setTimeout(ok, 100));
    // The caller now waits asynchronously, holding a ref'd timer: the workers are unref'd and a
    // pending Atomics.waitAsync holds nothing, so without it the process could exit mid-call.
    expect(hold).toHaveBeenCalledTimes(1);
    const timer = hold.mock.results[0]!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(true);
    expect(release).not.toHaveBeenCalled();
    void worker!.terminate();
    await expect(call).rejects.toThrow(/worker thread died during this call .*exited/);
    expect(release).toHaveBeenCalledWith(timer);
    // Later calls (split or not) run every chunk here: the same bits.
    const wakes = vi.spyOn(Atomics, "notify");
    for (let i = 0; i < 3; i++)
      expect((await m.predict({ x }, { T: 3, H: 8 })).y).toEqual(scanRef(x, 3, 8, false));
    expect(wakes).not.toHaveBeenCalled();
  }, 10_000);

  it("runs on the calling thread alone after a worker died between calls", async () => {
    const made = vi.spyOn(Worker.prototype, "unref");
    const m = await model(scanPlan(false, 3 * WORK_PER_THREAD), 3);
    const x = xs(3, 8);
    const want = scanRef(x, 3, 8, false);
    expect((await m.predict({ x }, { T: 3, H: 8 })).y).toEqual(want);
    await (made.mock.contexts[1] as Worker).terminate();
    for (let i = 0; i < 3; i++) expect((await m.predict({ x }, { T: 3, H: 8 })).y).toEqual(want);
  }, 10_000);

  it("runs on the calling thread when its workers fail to start, terminating those made", async () => {
    const terminate = vi.spyOn(Worker.prototype, "terminate");
    const send = Worker.prototype.postMessage;
    // The first worker starts; the second cannot be sent its start message.
    vi.spyOn(Worker.prototype, "postMessage")
      .mockImplementationOnce(function (this: Worker, m: unknown) {
        send.call(this, m);
      })
      .mockImplementationOnce(() => {
        throw new Error("no more workers");
      });
    const m = await model(scanPlan(true, 3 * WORK_PER_THREAD), 3);
    expect(terminate).toHaveBeenCalledTimes(2);
    const wakes = vi.spyOn(Atomics, "notify");
    const x = xs(3, 9);
    expect((await m.predict({ x }, { T: 3, H: 9 })).y).toEqual(scanRef(x, 3, 9, true));
    expect(wakes).not.toHaveBeenCalled();
  });

  it("keeps the memory below 65536 pages (the kernels' memory.size << 16 wraps there)", async () => {
    const plan = scanPlan(false, 1);
    // predict gains a buffer of N floats (dim 2) that nothing reads: 4 N bytes past the others.
    plan.dims.push("N");
    const predict = plan.entries.predict!;
    predict.buffers.push({ dtype: "f32", size: { d: 2 }, pool: -1 });
    predict.dims.push(2);
    const m = await model(plan, 1);
    // Page 0, the residents, the scratch area, 320 bytes of small buffers and 4 N: past 65535
    // pages, within 65536.
    const N = 1_073_717_120;
    await expect(m.predict({ x: xs(1, 4) }, { T: 1, H: 4, N })).rejects.toThrow(
      /more than its maximum 4095\.9 MiB/,
    );
  });

  it("takes a smaller memory maximum where the engine cannot reserve the largest", async () => {
    const Memory = WebAssembly.Memory;
    const asked: number[] = [];
    vi.spyOn(WebAssembly, "Memory").mockImplementation(function (d: WebAssembly.MemoryDescriptor) {
      asked.push(d.maximum!);
      if (d.maximum! > 1024)
        throw new RangeError("WebAssembly.Memory(): could not allocate memory");
      return new Memory(d);
    } as unknown as typeof WebAssembly.Memory);
    const plan = scanPlan(false, 3 * WORK_PER_THREAD);
    plan.dims.push("N");
    const predict = plan.entries.predict!;
    predict.buffers.push({ dtype: "f32", size: { d: 2 }, pool: -1 });
    predict.dims.push(2);
    const m = await model(plan, 2);
    expect(asked).toEqual([65535, 32767, 16383, 8191, 4095, 2047, 1023]);
    const x = xs(3, 8);
    expect((await m.predict({ x }, { T: 3, H: 8, N: 1 })).y).toEqual(scanRef(x, 3, 8, false));
    // 1023 pages: 64 MiB of N floats do not fit.
    await expect(m.predict({ x }, { T: 3, H: 8, N: 1 << 24 })).rejects.toThrow(
      /more than its maximum 63\.9 MiB/,
    );
  });

  it("says a binary that does not compile on an engine with SIMD is a compiler bug", async () => {
    // `bad` adds with one operand on the stack: invalid on every engine.
    const bad = kernelFn("bad", [], [i32(1), ["i32.add"], ["drop"]]);
    const e = encodeModule({ functions: [bad], exports: ["bad"], memory: { min: 1, max: 16 } });
    const binary = {
      base64: Buffer.from(e.bytes).toString("base64"),
      relaxed: false,
      memoryFlagAt: e.memoryFlagAt,
    };
    await expect(
      createModel(scanPlan(false, 1), { binaries: [binary], maxPages: 16 }, { threads: 1 }),
    ).rejects.toThrow(/does not compile \(a compiler bug.*\): .*bad/);
  });

  it("refuses a thread count that is not a positive integer", async () => {
    for (const threads of [0, 1.5, -1]) {
      await expect(createModel(scanPlan(false, 1), wasm, { threads })).rejects.toThrow(
        /^createModel\(\): `threads` must be an integer >= 1/,
      );
      // The message names the function called.
      expect(() => createModelSync(scanPlan(false, 1), wasm, { threads })).toThrow(
        /^createModelSync\(\): `threads` must be an integer >= 1/,
      );
    }
  });
});

// ---------------------------------------------------------------- the samples compiled for wasm

/**
 * The samples at small batches (fixed: dims given at createModel), linreg's
 * large enough that its kernels split across threads.
 */
const samples = sampleTable.map((s) =>
  s.file === "samples/linreg.dlg" ? { ...s, dims: { ...s.dims, B: 40_000 } } : s,
);

type Module = Awaited<ReturnType<typeof loadModule>>;
const compiled = new Map<string, Module>();
async function wasmModule(file: string): Promise<Module> {
  const hit = compiled.get(file);
  if (hit) return hit;
  const r = compile(file, { target: "wasm" });
  expect(r.diagnostics).toEqual([]);
  const mod = await loadModule(r.js!);
  compiled.set(file, mod);
  return mod;
}

const programs = new Map<string, NonNullable<ReturnType<typeof compile>["program"]>>();
const programOf = (file: string) => {
  if (!programs.has(file)) programs.set(file, compile(file, { target: "js" }).program!);
  return programs.get(file)!;
};

/** A batch of the sample's inputs at `dims` (ints 0/1: valid labels and ids everywhere). */
const batchOf = (file: string, dims: Record<string, number>, seed: number) =>
  sampleBatch(programOf(file), dims, seed);

describe.each(samples)("$file on wasm", ({ file, dims, fixed }) => {
  it("gives the same bits on 1, 2 and 3 threads and createModelSync (losses, params, predictions)", async () => {
    const mod = await wasmModule(file);
    const batch = batchOf(file, dims, 11);
    const predicts = programOf(file).outputs.length > 0;
    const runs: {
      label: string;
      losses: number[];
      params: Record<string, Arr>;
      predicted: Record<string, Arr> | null;
      checkpoint: Uint8Array;
    }[] = [];
    // The caller wakes a worker with Atomics.notify for each chunk it hands out.
    const wakes = vi.spyOn(Atomics, "notify");
    for (const threads of [1, 2, 3]) {
      wakes.mockClear();
      // stepsPerEpoch: mlp's and lenet's cosine lr needs the run's shape (a constant lr ignores it).
      const m = await mod.createModel({
        seed: 5,
        dims: fixed ?? {},
        threads,
        stepsPerEpoch: 100,
      } as {
        seed: number;
      });
      open.push(m);
      const losses = [(await m.step(batch)).loss, (await m.step(batch)).loss];
      // At these dims the largest kernels pay for threads: some ran split.
      if (threads > 1) expect(wakes.mock.calls.length, `threads ${threads}`).toBeGreaterThan(0);
      const params = await m.params();
      const predicted = predicts ? await m.predict(batch) : null;
      runs.push({
        label: `threads ${threads}`,
        losses,
        params,
        predicted,
        checkpoint: await m.save(),
      });
    }
    const sync = (
      mod as unknown as { createModelSync(o: object): SyncModel<"wasm"> }
    ).createModelSync({
      seed: 5,
      dims: fixed ?? {},
      stepsPerEpoch: 100,
    });
    const losses = [sync.step(batch).loss, sync.step(batch).loss];
    const predicted = predicts ? sync.predict(batch) : null;
    runs.push({ label: "sync", losses, params: sync.params, predicted, checkpoint: sync.save() });
    sync.dispose();
    const [one, ...more] = runs;
    for (const r of more) {
      expect(r.losses, r.label).toEqual(one!.losses);
      expect(differences(one!.params, r.params), r.label).toEqual(same(one!.params));
      if (one!.predicted)
        expect(differences(one!.predicted, r.predicted!), r.label).toEqual(same(one!.predicted));
      expect(firstDifference(r.checkpoint, one!.checkpoint), r.label).toBe(-1);
    }
  });

  it("round-trips a checkpoint: a loaded model steps as the saved one does", async () => {
    const mod = await wasmModule(file);
    const batch = batchOf(file, dims, 12);
    const opts = { seed: 7, dims: fixed ?? {}, threads: 2, stepsPerEpoch: 100 } as { seed: number };
    const a = await mod.createModel(opts);
    const b = await mod.createModel({ ...opts, seed: 99 });
    open.push(a, b);
    await a.step(batch);
    const saved = await a.save();
    await b.load(saved);
    const pa = await a.params();
    expect(differences(pa, await b.params())).toEqual(same(pa));
    expect(b.steps).toBe(a.steps);
    expect((await b.step(batch)).loss).toBe((await a.step(batch)).loss);
    expect(firstDifference(await b.save(), await a.save())).toBe(-1);
  });
});

describe("a wrong input on wasm", () => {
  it("fails as on the JS backend, leaving the model as it was", async () => {
    const file = "samples/mlp.dlg";
    const js = await loadModule(compile(file, { target: "js" }).js!);
    const mod = await wasmModule(file);
    const a = await js.createModel({ seed: 1 });
    const b = await mod.createModel({ seed: 1 });
    open.push(a, b);
    const good = batchOf(file, { B: 4 }, 2);
    const bad = { ...good, x: good.x!.subarray(1) };
    const why = await a.step(bad).then(
      () => "no error",
      (e: Error) => e.message,
    );
    expect(why).not.toBe("no error");
    await expect(b.step(bad)).rejects.toThrow(why);
    expect(b.steps).toBe(0);
    const fresh = await mod.createModel({ seed: 1 });
    open.push(fresh);
    const pf = await fresh.params();
    expect(differences(pf, await b.params())).toEqual(same(pf));
  });
});
