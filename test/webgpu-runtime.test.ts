// The WebGPU runtime on Dawn (SwiftShader without a GPU), with small
// hand-written plans and WGSL kernels: scans (carries, stacked outputs,
// reverse, nesting), pools cached per dims binding, params and state
// double-buffered on the GPU, one submit per call, readback of only what the
// caller gets, pipelines built once, and the errors without WebGPU.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Buffer, InSlot, OutSlot } from "../runtime/program.ts";
import { acquireDevice } from "../runtime/webgpu/device.ts";
import { createModel } from "../runtime/webgpu/index.ts";
import { WebGpuExecutor, type GpuProgram } from "../runtime/webgpu/executor.ts";
import type { EntryPlan, GpuKernel, ProgramPlan, SizeExpr, Step } from "../runtime/program.ts";
import { runGpuKernel } from "../runtime/webgpu/run-kernel.ts";
import { testGpu } from "./webgpu-env.ts";

const gpu = await testGpu();

// ---------------------------------------------------------------- plan building

type Dt = "f32" | "i32";
/** A kernel binding: its WGSL name, plan buffer, element type, and whether it is written. */
type Bind = [name: string, buf: number, dtype: Dt, write: boolean];

const N: SizeExpr = { d: 0 };
/** Workgroups of 64 over `n` threads. */
const over = (n: SizeExpr): [SizeExpr, SizeExpr, SizeExpr] => [
  { div: [{ add: [n, 63] }, 64] },
  1,
  1,
];

/** A kernel per the contract's layout; `body` sees `i` (the thread), `dim(s)` and `iter(s)`. */
function kernel(
  name: string,
  binds: Bind[],
  body: string,
  grid = over(N),
  workgroup = 64,
): GpuKernel {
  const decls = binds.map(
    ([v, , dt, w], j) =>
      `@group(0) @binding(${1 + j}) var<storage, ${w ? "read_write" : "read"}> ${v}: array<${dt}>;`,
  );
  const wgsl = [
    "@group(0) @binding(0) var<uniform> u: array<vec4<i32>, 16>;",
    ...decls,
    "fn dim(s: u32) -> i32 { return u[s >> 2u][s & 3u]; }",
    "fn iter(s: u32) -> i32 { return u[(32u + s) >> 2u][(32u + s) & 3u]; }",
    `@compute @workgroup_size(${workgroup}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {`,
    "  let i = i32(gid.x);",
    body,
    "}",
  ].join("\n");
  return { name, wgsl, bindings: binds.map(([, buf, , write]) => ({ buf, write })), grid };
}

interface Buf {
  dtype: "f32" | "i32" | "bool";
  size: SizeExpr;
  pool?: number;
}

function entry(
  buffers: Buf[],
  io: { in: [InSlot, number][]; out: [OutSlot, number][]; pools?: EntryPlan<GpuKernel>["pools"] },
  kernels: GpuKernel[],
  schedule: Step[] = kernels.map((_, k) => ({ kernel: k })),
): EntryPlan<GpuKernel> {
  return {
    buffers: buffers.map((b) => ({ dtype: b.dtype, size: b.size, pool: b.pool ?? -1 })),
    pools: io.pools ?? [],
    inSlots: io.in.map(([s]) => s),
    inBufs: io.in.map(([, b]) => b),
    outSlots: io.out.map(([s]) => s),
    outBufs: io.out.map(([, b]) => b),
    dims: [0],
    kernels,
    schedule,
  };
}

const program = (
  entries: GpuProgram["entries"],
  params: SizeExpr[] = [],
  state: SizeExpr[] = [],
): GpuProgram => ({
  dims: ["N"],
  params: params.map((numel, i) => ({ name: `p${i}`, numel })),
  state: state.map((numel, i) => ({ name: `s${i}`, numel })),
  entries,
});

const input = (name: string): InSlot => ({ kind: "input", name });
const output = (name: string): OutSlot => ({ kind: "output", name });
const f32s = (n: number, f: (i: number) => number) =>
  Float32Array.from({ length: n }, (_, i) => f(i));

// ---------------------------------------------------------------- instrumentation

/** Counts what a device is asked to do, by wrapping its methods (Dawn's objects take new properties). */
function instrument(device: GPUDevice) {
  const counts = { submits: 0, buffers: 0, pipelines: 0, staging: [] as number[] };
  const queue = device.queue;
  const submit = queue.submit.bind(queue);
  queue.submit = (cbs) => {
    counts.submits++;
    return submit(cbs);
  };
  const createBuffer = device.createBuffer.bind(device);
  device.createBuffer = (d) => {
    counts.buffers++;
    // MAP_READ: a staging buffer, whose size is what a call reads back.
    if (d.usage & 0x1) counts.staging.push(d.size);
    return createBuffer(d);
  };
  const createPipeline = device.createComputePipeline.bind(device);
  device.createComputePipeline = (d) => {
    counts.pipelines++;
    return createPipeline(d);
  };
  return counts;
}

// ---------------------------------------------------------------- plans

/**
 * h ← init; for each step t (or L-1-t): h ← h * 0.5 + x[t]; ys[t] = 2 h;
 * outputs ys (stacked, [L, N]) and the final h. Scan id 1, so the body reads
 * iteration slot 33. Buffers: 0 x [L*N], 1 h0 [N], 2 cur, 3 next (pooled),
 * 4 ys, 5 final h.
 */
function scanPlan(L: number, reverse: boolean): EntryPlan<GpuKernel> {
  const LN: SizeExpr = { mul: [L, N] };
  return entry(
    [
      { dtype: "f32", size: LN },
      { dtype: "f32", size: N },
      { dtype: "f32", size: N, pool: 0 },
      { dtype: "f32", size: N, pool: 1 },
      { dtype: "f32", size: LN },
      { dtype: "f32", size: N },
    ],
    {
      in: [
        [input("x"), 0],
        [input("h0"), 1],
      ],
      out: [
        [output("ys"), 4],
        [output("h"), 5],
      ],
      pools: [
        { dtype: "f32", size: N },
        { dtype: "f32", size: N },
      ],
    },
    [
      kernel(
        "step",
        [
          ["cur", 2, "f32", false],
          ["x", 0, "f32", false],
          ["nx", 3, "f32", true],
        ],
        "  if (i >= dim(0u)) { return; }\n  nx[i] = cur[i] * 0.5 + x[iter(1u) * dim(0u) + i];",
      ),
      kernel(
        "stack",
        [
          ["nx", 3, "f32", false],
          ["ys", 4, "f32", true],
        ],
        "  if (i >= dim(0u)) { return; }\n  ys[iter(1u) * dim(0u) + i] = 2.0 * nx[i];",
      ),
    ],
    [
      {
        scan: 1,
        length: L,
        reverse,
        carries: [{ init: 1, cur: 2, next: 3, final: 5 }],
        body: [{ kernel: 0 }, { kernel: 1 }],
      },
    ],
  );
}

function scanOnHost(x: Float32Array, h0: Float32Array, L: number, reverse: boolean) {
  const n = h0.length;
  const h = Float32Array.from(h0);
  const ys = new Float32Array(L * n);
  for (let s = 0; s < L; s++) {
    const t = reverse ? L - 1 - s : s;
    for (let i = 0; i < n; i++) {
      h[i] = Math.fround(Math.fround(h[i]! * 0.5) + x[t * n + i]!);
      ys[t * n + i] = 2 * h[i]!;
    }
  }
  return { ys, h };
}

/**
 * SGD with momentum on w [N] (param 0) and m [N] (state 0): m' = 0.5 m + g,
 * w' = w - m'; loss = sum(w * w) of the OLD w (so reading the front while the
 * back is written shows), metric "gsum" = sum(g). init: w[i] = seed + i.
 * Buffers: 0 w, 1 m, 2 g, 3 m', 4 w', 5 loss, 6 gsum.
 */
function sgdProgram(): ProgramPlan<GpuKernel> {
  const serial = (out: string, expr: string) =>
    `  if (i != 0) { return; }\n  var s = 0.0;\n  for (var j = 0; j < dim(0u); j++) { s += ${expr}; }\n  ${out}[0] = s;`;
  const sums = [
    kernel(
      "loss",
      [
        ["w", 0, "f32", false],
        ["loss", 5, "f32", true],
      ],
      serial("loss", "w[j] * w[j]"),
      [1, 1, 1],
      1,
    ),
    kernel(
      "gsum",
      [
        ["g", 2, "f32", false],
        ["gs", 6, "f32", true],
      ],
      serial("gs", "g[j]"),
      [1, 1, 1],
      1,
    ),
  ];
  const bufs: Buf[] = [
    { dtype: "f32", size: N },
    { dtype: "f32", size: N },
    { dtype: "f32", size: N },
    { dtype: "f32", size: N },
    { dtype: "f32", size: N },
    { dtype: "f32", size: 1 },
    { dtype: "f32", size: 1 },
  ];
  const step = entry(
    bufs,
    {
      in: [
        [{ kind: "param", index: 0 }, 0],
        [{ kind: "state", index: 0 }, 1],
        [input("g"), 2],
      ],
      out: [
        [{ kind: "loss" }, 5],
        [{ kind: "metric", name: "gsum" }, 6],
        [{ kind: "state", index: 0 }, 3],
        [{ kind: "param", index: 0 }, 4],
      ],
    },
    [
      kernel(
        "momentum",
        [
          ["m", 1, "f32", false],
          ["g", 2, "f32", false],
          ["m2", 3, "f32", true],
        ],
        "  if (i >= dim(0u)) { return; }\n  m2[i] = 0.5 * m[i] + g[i];",
      ),
      kernel(
        "update",
        [
          ["w", 0, "f32", false],
          ["m2", 3, "f32", false],
          ["w2", 4, "f32", true],
        ],
        "  if (i >= dim(0u)) { return; }\n  w2[i] = w[i] - m2[i];",
      ),
      ...sums,
    ],
  );
  const evaluate = entry(
    bufs,
    {
      in: [
        [{ kind: "param", index: 0 }, 0],
        [input("g"), 2],
      ],
      out: [
        [{ kind: "loss" }, 5],
        [{ kind: "metric", name: "gsum" }, 6],
      ],
    },
    sums,
  );
  const init = entry(
    [
      { dtype: "i32", size: 1 },
      { dtype: "f32", size: N },
    ],
    { in: [[{ kind: "seed" }, 0]], out: [[{ kind: "param", index: 0 }, 1]] },
    [
      kernel(
        "init",
        [
          ["seed", 0, "i32", false],
          ["w", 1, "f32", true],
        ],
        "  if (i >= dim(0u)) { return; }\n  w[i] = f32(seed[0] + i);",
      ),
    ],
  );
  const vector = (name: string) => ({
    name,
    dtype: "f32" as const,
    shape: ["N"],
    numel: N,
    sizes: [N],
    dims: [0],
  });
  return {
    model: "sgd",
    dims: ["N"],
    inputs: [vector("g")],
    outputs: [],
    metrics: ["gsum"],
    hasLoss: true,
    params: [vector("w")],
    state: [vector("m")],
    entries: { init, step, evaluate },
  };
}

/** Host arrays for a call, by in-slot index. */
const slots = (...arrays: [number, Buffer][]) => new Map(arrays);

// ---------------------------------------------------------------- tests

describe.skipIf(gpu === null)("WebGPU executor (Dawn)", () => {
  let device: GPUDevice;
  let counts: ReturnType<typeof instrument>;
  beforeAll(async () => {
    device = (await acquireDevice({ gpu: gpu! })).device;
    counts = instrument(device);
  });
  afterAll(() => device?.destroy());

  it.each([
    [3, false],
    [4, false],
    [3, true],
    [4, true],
  ])(
    "a scan of length %i (reverse: %s) threads its carry and stacks each step at its iteration",
    async (L, reverse) => {
      const ex = await WebGpuExecutor.open(device, program({ predict: scanPlan(L, reverse) }), [
        NaN,
      ]);
      for (const n of [5, 70]) {
        const x = f32s(L * n, (i) => (i % 7) - 3 + i / 100);
        const h0 = f32s(n, (i) => i / 4);
        const submits = counts.submits;
        const out = await ex.run("predict", [n], slots([0, x], [1, h0]));
        expect(counts.submits - submits).toBe(1);
        const want = scanOnHost(x, h0, L, reverse);
        expect(out.get(0)).toEqual(want.ys);
        expect(out.get(1)).toEqual(want.h);
      }
      ex.dispose();
    },
  );

  it("a zero-length scan copies its init to its final, and an empty grid dispatches nothing", async () => {
    const ex = await WebGpuExecutor.open(device, program({ predict: scanPlan(0, false) }), [NaN]);
    const h0 = f32s(3, (i) => i + 1);
    const out = await ex.run("predict", [3], slots([0, new Float32Array(0)], [1, h0]));
    expect(out.get(0)).toEqual(new Float32Array(0));
    expect(out.get(1)).toEqual(h0);
    ex.dispose();
  });

  it("nested scans see both iterations, each record written before the one submit", async () => {
    // out[t0 * 3 + t1] = 10 t0 + t1 for an outer scan 0 (length N) around an inner reverse scan 2 (length 3).
    const k = kernel(
      "cell",
      [["out", 0, "i32", true]],
      "  if (i != 0) { return; }\n  out[iter(0u) * 3 + iter(2u)] = 10 * iter(0u) + iter(2u) + 100 * dim(0u);",
      [1, 1, 1],
      1,
    );
    const plan = entry(
      [{ dtype: "i32", size: { mul: [N, 3] } }],
      { in: [], out: [[output("cells"), 0]] },
      [k],
      [
        {
          scan: 0,
          length: N,
          reverse: false,
          carries: [],
          body: [{ scan: 2, length: 3, reverse: true, carries: [], body: [{ kernel: 0 }] }],
        },
      ],
    );
    const ex = await WebGpuExecutor.open(device, program({ predict: plan }), [NaN]);
    const submits = counts.submits;
    const out = await ex.run("predict", [4], new Map());
    expect(counts.submits - submits).toBe(1);
    expect(out.get(0)).toEqual(
      Int32Array.from({ length: 12 }, (_, j) => 10 * Math.floor(j / 3) + (j % 3) + 400),
    );
    ex.dispose();
  });

  it.each([
    [3, 2],
    [2, 3],
    [3, 3],
  ])(
    "nested scans (%i outer x %i inner steps) carry through each other, the inner final being the outer next",
    async (L0, L1) => {
      // Buffers: 0 x [L0 * N], 1 h0, 2 outer cur, 3 outer next, 4 outer final,
      // 5 inner cur, 6 inner next, 7 ys [L0 * L1 * N] (inner step's value, stacked).
      const plan = entry(
        [
          { dtype: "f32", size: { mul: [L0, N] } },
          { dtype: "f32", size: N },
          { dtype: "f32", size: N, pool: 0 },
          { dtype: "f32", size: N, pool: 1 },
          { dtype: "f32", size: N },
          { dtype: "f32", size: N, pool: 2 },
          { dtype: "f32", size: N, pool: 3 },
          { dtype: "f32", size: { mul: [L0, L1, N] } },
        ],
        {
          in: [
            [input("x"), 0],
            [input("h0"), 1],
          ],
          out: [
            [output("h"), 4],
            [output("ys"), 7],
          ],
          pools: [0, 1, 2, 3].map(() => ({ dtype: "f32" as const, size: N })),
        },
        [
          kernel(
            "inner",
            [
              ["cur", 5, "f32", false],
              ["x", 0, "f32", false],
              ["nx", 6, "f32", true],
            ],
            "  if (i >= dim(0u)) { return; }\n  nx[i] = cur[i] * 0.5 + x[iter(0u) * dim(0u) + i] + f32(iter(1u));",
          ),
          kernel(
            "stack",
            [
              ["nx", 6, "f32", false],
              ["ys", 7, "f32", true],
            ],
            `  if (i >= dim(0u)) { return; }\n  ys[(iter(0u) * ${L1} + iter(1u)) * dim(0u) + i] = nx[i];`,
          ),
        ],
        [
          {
            scan: 0,
            length: L0,
            reverse: false,
            carries: [{ init: 1, cur: 2, next: 3, final: 4 }],
            body: [
              {
                scan: 1,
                length: L1,
                reverse: true,
                carries: [{ init: 2, cur: 5, next: 6, final: 3 }],
                body: [{ kernel: 0 }, { kernel: 1 }],
              },
            ],
          },
        ],
      );
      const ex = await WebGpuExecutor.open(device, program({ predict: plan }), [NaN]);
      const n = 3;
      const x = f32s(L0 * n, (i) => i - 2);
      const h0 = f32s(n, (i) => 4 * i);
      const out = await ex.run("predict", [n], slots([0, x], [1, h0]));
      const h = Float32Array.from(h0);
      const ys = new Float32Array(L0 * L1 * n);
      for (let t0 = 0; t0 < L0; t0++)
        for (let s = 0; s < L1; s++) {
          const t1 = L1 - 1 - s;
          for (let i = 0; i < n; i++) {
            h[i] = Math.fround(Math.fround(Math.fround(h[i]! * 0.5) + x[t0 * n + i]!) + t1);
            ys[(t0 * L1 + t1) * n + i] = h[i]!;
          }
        }
      expect(out.get(0)).toEqual(h);
      expect(out.get(1)).toEqual(ys);
      ex.dispose();
    },
  );

  it("keeps each dims binding's buffers: a second call at the same dims allocates nothing", async () => {
    const ex = await WebGpuExecutor.open(device, program({ predict: scanPlan(2, false) }), [NaN]);
    const call = async (n: number) => {
      const x = f32s(2 * n, (i) => i);
      const h0 = f32s(n, () => 1);
      const before = counts.buffers;
      const out = await ex.run("predict", [n], slots([0, x], [1, h0]));
      expect(out.get(1)).toEqual(scanOnHost(x, h0, 2, false).h);
      return counts.buffers - before;
    };
    const first = await call(3);
    expect(first).toBeGreaterThan(0);
    expect(await call(9)).toBe(first);
    expect(await call(3)).toBe(0);
    expect(await call(9)).toBe(0);
    // A few bindings are kept (least recently used goes first): 3 and 9, then 10, 11 fill the cache.
    for (const n of [10, 11]) expect(await call(n)).toBe(first);
    expect(await call(3)).toBe(0);
    expect(await call(12)).toBe(first);
    expect(await call(3)).toBe(0);
    expect(await call(9)).toBe(first);
    ex.dispose();
  });

  it("params and state stay on the GPU, double-buffered: a step reads the old values and the next step sees the new", async () => {
    const ex = await WebGpuExecutor.open(device, sgdProgram(), [4]);
    await ex.run("init", [4], slots([0, Int32Array.of(3)]));
    let w = f32s(4, (i) => 3 + i);
    let m = new Float32Array(4);
    expect(await ex.read()).toEqual({ params: [w], state: [m] });
    const staging = counts.staging.length;
    for (let s = 0; s < 3; s++) {
      const g = f32s(4, (i) => (i - s) / 2);
      const submits = counts.submits;
      const out = await ex.run("step", [4], slots([2, g]));
      expect(counts.submits - submits).toBe(1);
      // The loss is of the weights before this step's update.
      expect(out.get(0)).toEqual(Float32Array.of(w.reduce((a, v) => a + v * v, 0)));
      expect(out.get(1)).toEqual(Float32Array.of(g.reduce((a, v) => a + v, 0)));
      expect([...out.keys()]).toEqual([0, 1]);
      m = m.map((v, i) => 0.5 * v + g[i]!);
      w = w.map((v, i) => v - m[i]!);
    }
    expect(await ex.read()).toEqual({ params: [w], state: [m] });
    // Only the loss and the metric came back from the steps: one staging buffer of 8 bytes, made once.
    expect(counts.staging.slice(staging, staging + 1)).toEqual([8]);
    const ev = await ex.run("evaluate", [4], slots([1, f32s(4, () => 1)]));
    expect(ev.get(0)).toEqual(Float32Array.of(w.reduce((a, v) => a + v * v, 0)));
    expect(ev.get(1)).toEqual(Float32Array.of(4));
    ex.dispose();
  });

  it("long calls (which sleep before mapping their readback) return the same results", async () => {
    // One thread counting to N * 2^16: long enough on SwiftShader to take the sleeping path.
    const slow = kernel(
      "slow",
      [
        ["x", 0, "f32", false],
        ["o", 1, "f32", true],
      ],
      "  if (i != 0) { return; }\n  var s = 0.0;\n  for (var j = 0; j < dim(0u) * 65536; j++) { s = s * 0.5 + x[j % dim(0u)]; }\n  o[0] = s;",
      [1, 1, 1],
      1,
    );
    const p = program({
      predict: entry(
        [
          { dtype: "f32", size: N },
          { dtype: "f32", size: 1 },
        ],
        { in: [[input("x"), 0]], out: [[output("o"), 1]] },
        [slow],
      ),
    });
    const ex = await WebGpuExecutor.open(device, p, [NaN]);
    const setTimeouts = { n: 0 };
    const real = globalThis.setTimeout;
    globalThis.setTimeout = ((f: () => void, ms?: number) => {
      setTimeouts.n++;
      return real(f, ms);
    }) as typeof setTimeout;
    try {
      for (let c = 1; c <= 4; c++) {
        // Each period of 4 ends s = s / 16 + c: s converges to 16 c / 15.
        const out = await ex.run("predict", [4], slots([0, Float32Array.of(0, 0, 0, c)]));
        expect(out.get(0)![0]).toBeCloseTo((16 * c) / 15, 5);
      }
    } finally {
      globalThis.setTimeout = real;
    }
    const t0 = performance.now();
    await ex.run("predict", [4], slots([0, Float32Array.of(0, 0, 0, 1)]));
    // Only calls measured longer than a few ms sleep first.
    if (performance.now() - t0 > 8) expect(setTimeouts.n).toBeGreaterThan(0);
    ex.dispose();
  });

  it("write() replaces params and state (load), checking sizes before writing anything", async () => {
    const ex = await WebGpuExecutor.open(device, sgdProgram(), [2]);
    await ex.write([Float32Array.of(1, 2)], [Float32Array.of(3, 4)]);
    await expect(ex.write([Float32Array.of(5, 6)], [Float32Array.of(7)])).rejects.toThrow(
      /tensor 1 has 1 elements, expected 2/,
    );
    expect(await ex.read()).toEqual({
      params: [Float32Array.of(1, 2)],
      state: [Float32Array.of(3, 4)],
    });
    const out = await ex.run("step", [2], slots([2, Float32Array.of(1, 1)]));
    expect(out.get(0)).toEqual(Float32Array.of(5));
    expect(await ex.read()).toEqual({
      params: [Float32Array.of(-1.5, -1)],
      state: [Float32Array.of(2.5, 3)],
    });
    ex.dispose();
  });

  it("builds each distinct WGSL module once per model, shared by the entries that use it", async () => {
    const before = counts.pipelines;
    const ex = await WebGpuExecutor.open(device, sgdProgram(), [2]);
    // init, momentum, update, loss and gsum: evaluate reuses step's loss and gsum kernels.
    expect(counts.pipelines - before).toBe(5);
    await ex.run("step", [2], slots([2, Float32Array.of(1, 1)]));
    await ex.run("evaluate", [2], slots([1, Float32Array.of(1, 1)]));
    expect(counts.pipelines - before).toBe(5);
    ex.dispose();
  });

  it("names the kernel whose WGSL does not compile", async () => {
    const bad = kernel("broken_kernel", [["o", 0, "f32", true]], "  o[i] = nope;");
    const p = program({
      predict: entry([{ dtype: "f32", size: N }], { in: [], out: [[output("o"), 0]] }, [bad]),
    });
    await expect(WebGpuExecutor.open(device, p, [NaN])).rejects.toThrow(/broken_kernel[\s\S]*nope/);
  });

  it("a disposed executor refuses calls", async () => {
    const ex = await WebGpuExecutor.open(device, sgdProgram(), [2]);
    ex.dispose();
    await expect(ex.read()).rejects.toThrow(/disposed/);
  });

  it("runGpuKernel runs one kernel over host arrays, with dims and iterations", async () => {
    const k = kernel(
      "axpy",
      [
        ["x", 0, "f32", false],
        ["y", 2, "f32", true],
        ["c", 1, "i32", true],
      ],
      "  if (i >= dim(0u)) { return; }\n  y[i] = x[i] * f32(iter(3u)) + y[i];\n  c[i] = i + dim(1u);",
    );
    const x = f32s(100, (i) => i);
    const y = f32s(100, () => 1);
    const c = new Int32Array(100);
    const out = await runGpuKernel(device, k, [x, c, y], { dims: [100, 7], iters: [0, 0, 0, 3] });
    expect(out[0]).toBe(x);
    expect(out[2]).toEqual(f32s(100, (i) => 3 * i + 1));
    expect(out[1]).toEqual(Int32Array.from({ length: 100 }, (_, i) => i + 7));
  });
});

describe.skipIf(gpu === null)("WebGPU createModel (the shared model core on the executor)", () => {
  it("initialises, steps, evaluates, saves and loads with params on the GPU", async () => {
    const plan = sgdProgram();
    const model = await createModel(plan, { gpu: gpu!, seed: 3, dims: { N: 4 } });
    expect(model.backend).toBe("webgpu");
    expect(await model.params()).toEqual({ w: Float32Array.of(3, 4, 5, 6) });
    const g = Float32Array.of(1, 0, -1, 2);
    expect(await model.step({ g })).toEqual({ loss: 86, metrics: { gsum: 2 } });
    expect(model.steps).toBe(1);
    expect(await model.params()).toEqual({ w: Float32Array.of(2, 4, 6, 4) });
    expect(await model.evaluate({ g })).toEqual({ loss: 72, metrics: { gsum: 2 } });
    await expect(model.predict({})).rejects.toThrow(/declares no outputs/);
    const bytes = await model.save();
    model.dispose();
    await expect(model.params()).rejects.toThrow(/disposed/);

    // A caller's device: the model runs on it, and dispose() leaves it alive.
    const { device } = await acquireDevice({ gpu: gpu! });
    const counts = instrument(device);
    const again = await createModel(plan, { device, dims: { N: 4 } });
    expect(await again.load(bytes)).toMatchObject({ step: "1", seed: "3" });
    expect(await again.params()).toEqual({ w: Float32Array.of(2, 4, 6, 4) });
    const submits = counts.submits;
    // m was [1, 0, -1, 2] after the first step: m' = 0.5 m + g.
    expect(await again.step({ g })).toEqual({ loss: 72, metrics: { gsum: 2 } });
    expect(counts.submits - submits).toBe(1);
    expect(await again.params()).toEqual({ w: Float32Array.of(0.5, 4, 7.5, 1) });
    again.dispose();
    expect(device.createBuffer({ size: 16, usage: 0x8 })).toBeDefined();
    device.destroy();
  });

  it("says what a bad gpu option is", async () => {
    await expect(createModel(sgdProgram(), { gpu: {}, dims: { N: 1 } })).rejects.toThrow(
      /`gpu` must be a GPU/,
    );
  });
});

describe("WebGPU device errors", () => {
  it("says what to do when there is no WebGPU or no adapter", async () => {
    await expect(acquireDevice({})).rejects.toThrow(
      /WebGPU is not available[\s\S]*VK_ICD_FILENAMES/,
    );
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    await expect(acquireDevice({ gpu: noAdapter })).rejects.toThrow(
      /no GPU adapter[\s\S]*chromium[\s\S]*vk_swiftshader_icd\.json/,
    );
  });
});

describe.skipIf(gpu === null)("WebGPU device limits", () => {
  let device: GPUDevice;
  let counts: ReturnType<typeof instrument>;
  beforeAll(async () => {
    device = (await acquireDevice({ gpu: gpu! })).device;
    counts = instrument(device);
    // A device with tiny limits: 1 KiB a storage binding, 1 KiB a buffer (the runtime reads only these two).
    Object.defineProperty(device, "limits", {
      value: { maxStorageBufferBindingSize: 1024, maxBufferSize: 1024 },
    });
  });
  afterAll(() => device?.destroy());

  it("names the buffer, the dims and the limit when a batch outgrows the device, and runs smaller batches after", async () => {
    const p = program({ predict: scanPlan(2, false) });
    const ex = await WebGpuExecutor.open(device, p, [NaN]);
    const n = 200;
    await expect(
      ex.run("predict", [n], slots([0, new Float32Array(2 * n)], [1, new Float32Array(n)])),
    ).rejects.toThrow(
      /WebGPU cannot hold predict\(\)'s input "x" at N = 200: it needs 1600 bytes, over this device's maxStorageBufferBindingSize of 1024 bytes; use a smaller batch/,
    );
    const x = f32s(2 * 3, (i) => i);
    const h0 = f32s(3, () => 1);
    const out = await ex.run("predict", [3], slots([0, x], [1, h0]));
    expect(out.get(1)).toEqual(scanOnHost(x, h0, 2, false).h);
    ex.dispose();
  });

  it("params too large for the device are an error at creation", async () => {
    await expect(WebGpuExecutor.open(device, sgdProgram(), [300])).rejects.toThrow(
      /WebGPU cannot hold param "w": it needs 1200 bytes, .* must fit WebGPU's default limits/,
    );
  });

  it("reads params and state back through as many staging buffers as maxBufferSize needs", async () => {
    // w and m are 800 bytes each: two staging buffers of at most 1 KiB.
    const ex = await WebGpuExecutor.open(device, sgdProgram(), [200]);
    const w = f32s(200, (i) => i / 8);
    const m = f32s(200, (i) => -i);
    await ex.write([w], [m]);
    const before = counts.staging.length;
    expect(await ex.read()).toEqual({ params: [w], state: [m] });
    expect(counts.staging.slice(before)).toEqual([800, 800]);
    ex.dispose();
  });
});

describe.skipIf(gpu === null)("WebGPU device failures", () => {
  it("an error no scope caught makes the next call reject with it", async () => {
    const { device } = await acquireDevice({ gpu: gpu! });
    const ex = await WebGpuExecutor.open(device, sgdProgram(), [2]);
    // MAP_READ with STORAGE is invalid: a validation error outside any scope.
    device.createBuffer({ size: 16, usage: 0x1 | 0x80 });
    await device.queue.onSubmittedWorkDone();
    await expect(ex.read()).rejects.toThrow(/WebGPU error: .*usage/i);
    ex.dispose();
    device.destroy();
  });

  it("a lost device makes the next call reject, saying so", async () => {
    const { device } = await acquireDevice({ gpu: gpu! });
    const ex = await WebGpuExecutor.open(device, sgdProgram(), [2]);
    device.destroy();
    await device.lost;
    await expect(ex.run("evaluate", [2], slots([1, Float32Array.of(1, 1)]))).rejects.toThrow(
      /WebGPU device was lost \(destroyed\)/,
    );
    ex.dispose();
  });
});
