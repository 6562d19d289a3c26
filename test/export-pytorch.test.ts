// The PyTorch export (compiler/export/pytorch*.ts), run by Debian's
// python3-torch (1.13; .ci/run installs it): every sample and LANGUAGE.md
// example exports, and the script's initialisation and eval-mode forward
// equal the JS module's (same seed: dlg's RNG is ported bit for bit); one
// training step from the same weights gives the JS module's loss, params,
// states and optimizer buffers; a checkpoint goes JS -> PyTorch -> JS and
// training continues as if it never left; and torchrun with two processes
// (DistributedDataParallel over gloo on loopback) ends where one process on
// the same global batches ends. test/pytorch-driver.py drives the scripts.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { compile, exportModel, nodeHost } from "../cli/node-host.ts";
import { encodeOnnx } from "../cli/onnx-encode.ts";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors.ts";
import type { Model } from "../runtime/model.ts";
import { dimConst, dimFloorDiv, dimMod, dimVar, shapeOf } from "../compiler/dims.ts";
import { pyFunction } from "../compiler/export/pytorch-graph.ts";
import { pythonHelpers } from "../compiler/export/pytorch-runtime.ts";
import { interpret, type Tensor } from "../compiler/interpret.ts";
import type { Var } from "../compiler/ir.ts";
import { build, f32, t, uniform, type Emit } from "./graph-helpers.ts";
import { exportCases, expectClose } from "./export-cases.ts";
import { fixedDims, seededBatches, type Seeded } from "./onnx-helpers.ts";

/** Debian's python3 (the pyenv python3 on this machine's PATH has no torch); DLG_PYTHON overrides. */
const python = process.env.DLG_PYTHON ?? "/usr/bin/python3";
const hasTorch = spawnSync(python, ["-c", "import torch"]).status === 0;
const ci = process.env.CI === "true";
const driver = join(import.meta.dirname, "pytorch-driver.py");

const tmp = mkdtempSync(join(tmpdir(), "dlg-pytorch-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;
const tmpFile = (name: string) => join(tmp, `${files++}-${name}`);

/** `file`'s model exported as a PyTorch script (its path); `weights` fix dims the data would (linreg's F). */
function exportPy(file: string, model?: string, weights?: Map<string, Float32Array>): string {
  const r = exportModel(file, {
    host: nodeHost,
    target: "pytorch",
    encoders: { onnx: encodeOnnx },
    ...(model !== undefined && { model }),
    ...(weights !== undefined && { weights }),
  });
  if (!r.ok) throw new Error(renderDiagnostics(r.diagnostics, r.sources));
  const path = tmpFile(`${r.model}.py`);
  writeFileSync(path, r.bytes!);
  return path;
}

interface Js {
  model: Model;
  /** A seeded batch of n examples, its dims, and each input's shape. */
  batch(n: number, seed: number): Seeded;
}

/** The run the schedules see: the step tests' 10 steps, or (no steps taken) one long enough for any warm-up. */
const stepRun = { stepsPerEpoch: 10, epochs: 1 };
const longRun = { stepsPerEpoch: 10_000, epochs: 10 };

async function jsModel(file: string, name?: string, run = stepRun): Promise<Js> {
  const r = compile(file, name === undefined ? {} : { model: name });
  if (!r.ok) throw new Error(renderDiagnostics(r.diagnostics, r.sources));
  const { spec, createModel } = await loadModule(r.js!);
  const fixed = fixedDims(spec);
  const model = await createModel({ seed: 3, dims: fixed, ...run });
  const batch = seededBatches(spec, fixed);
  return { model, batch };
}

/** A batch as a safetensors file the driver reads. */
function batchFile(b: Seeded): string {
  const path = tmpFile("batch.safetensors");
  const tensors = Object.entries(b.batch).map(([name, data]) => ({
    name,
    dtype: data instanceof Int32Array ? ("I32" as const) : ("F32" as const),
    shape: b.shapes[name]!,
    data,
  }));
  writeFileSync(path, encodeSafetensors(tensors, {}));
  return path;
}

interface Job {
  script: string;
  load?: string | null;
  seed?: number;
  batches?: string[];
  epoch_steps?: number;
  epochs?: number;
  save?: string | null;
  eval?: string | null;
  eval_out?: string | null;
}

function drive(jobs: Job[]): { losses: number[]; loss: number | null }[] {
  const path = tmpFile("jobs.json");
  writeFileSync(path, JSON.stringify(jobs));
  const out = execFileSync(python, [driver, path], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

/** Every tensor of checkpoint `want` (params, states, optimizer buffers) against `got`'s. */
function expectSameCheckpoint(got: Uint8Array, want: Uint8Array, rel = 1e-4) {
  const g = decodeSafetensors(got);
  const w = decodeSafetensors(want);
  expect([...g.tensors.keys()].sort()).toEqual([...w.tensors.keys()].sort());
  for (const [name, t] of w.tensors) {
    const o = g.tensors.get(name)!;
    expect(o.shape, name).toEqual(t.shape);
    expectClose(o.data, t.data, name, rel);
  }
  expect(g.metadata.step).toBe(w.metadata.step);
  expect(g.metadata.seed).toBe(w.metadata.seed);
}

function source(name: string, text: string): string {
  const path = tmpFile(`${name}.dlg`);
  writeFileSync(path, text);
  return path;
}

/** Small models covering dropout (dlg's RNG), conv/pool/batch norm, a scan, repeat, and every optimizer. */
const stepModels: Record<string, string> = {
  mlp_dropout_adam: `dim B
model m {
  input x: [B, 6]
  input y: int[B]
  logits = x |> dense(16) |> relu |> dropout(0.25) |> dense(3)
  metric accuracy = mean(argmax(logits, axis: -1) == y)
  loss cross_entropy(logits, y) + 1e-3 * l2(params)
}
train default for m { optimizer adam(lr: 0.01)  clip_norm 0.5  batch 6  epochs 1 }
`,
  cnn_bn_nesterov: `dim B
model m {
  input x: [B, 1, 6, 6]
  input y: int[B]
  logits = x |> conv2d(3, kernel: 3, padding: "same") |> batch_norm |> relu |> maxpool(2) |> flatten |> dense(3)
  loss cross_entropy(logits, y)
}
train default for m { optimizer sgd(lr: 0.05, momentum: 0.9, nesterov: true)  batch 6  epochs 1 }
`,
  gru_adamw_cosine: `dim B, T
model m {
  input x: [B, T, 3]
  input y: int[B]
  logits = mean(x |> gru(5), axis: 1) |> dense(3)
  loss cross_entropy(logits, y)
}
train default for m {
  optimizer adamw(lr: cosine(0.02, warmup: 2), weight_decay: 0.01)
  clip_norm 1.0
  batch 6
  epochs 1
}
`,
  repeat_sgd: `block res(x: [b, d]) -> [b, d] {
  return x + (x |> layer_norm |> dense(d) |> gelu)
}
dim B
model m {
  input x: [B, 5]
  input t: [B, 5]
  loss mse(x |> repeat(res, 3), t)
}
train default for m { optimizer sgd(lr: 0.1, momentum: 0.5)  batch 6  epochs 1 }
`,
};

/** One op rule's edge cases: a graph over inputs, run by the interpreter (float32) and by pyFunction's Python. */
interface OpCase {
  name: string;
  inputs: Tensor[];
  dims?: Record<string, number>;
  types?: ReturnType<typeof f32>[];
  body: (e: Emit, ...xs: Var[]) => Var | Var[];
}

const nan = Number.NaN;
const c = dimConst;
const B = dimVar("B");
const opCases: OpCase[] = [
  {
    name: "pad: interior, negative lo and hi crop",
    inputs: [t("f32", [3, 4], uniform(12, 1))],
    body: (e, x) => e("pad", { lo: [c(1), c(-1)], hi: [c(-2), c(2)], interior: [1, 2] }, x),
  },
  {
    name: "gather / scatter_add: out-of-range indices read 0 / are dropped, repeats add",
    inputs: [t("f32", [3, 4], uniform(12, 2)), t("i32", [2, 3], [-1, 0, 3, 4, 2, 0])],
    body: (e, x, idx) => [
      e("gather", { axis: 1 }, x, idx),
      e("gather", { axis: 0 }, x, idx),
      e("scatter_add", { axis: 1, shape: shapeOf(3, 4) }, e("gather", { axis: 1 }, x, idx), idx),
    ],
  },
  {
    name: "slice with steps and dims",
    inputs: [t("f32", [7, 9], uniform(63, 3))],
    body: (e, x) => e("slice", { start: [c(1), c(0)], stop: [c(7), c(8)], step: [2, 3] }, x),
  },
  {
    name: "casts: NaN is false, float -> int truncates, wraps, NaN/inf read 0",
    inputs: [t("f32", [9], [0, -0, nan, 2.7, -2.7, 3e9, Infinity, 0.5, -1e10])],
    body: (e, x) => [
      e("cast", { dtype: "bool" }, x),
      e("cast", { dtype: "i32" }, x),
      e("cast", { dtype: "f32" }, e("cast", { dtype: "bool" }, x)),
      e("sign", {}, x),
    ],
  },
  {
    name: "int arithmetic: truncating division (x / 0 is 0), reductions keep i32",
    inputs: [
      t("i32", [2, 4], [7, -7, 7, -7, 5, 0, 9, -1]),
      t("i32", [2, 4], [2, 2, -2, -2, 0, 3, 4, 5]),
    ],
    body: (e, a, b) => [
      e("div", {}, a, b),
      e("reduce_sum", { axes: [1] }, a),
      e("reduce_max", { axes: [0, 1] }, b),
      e("argmax", { axis: 1 }, a),
    ],
  },
  {
    name: "argmax: the first of ties, 0 for a slice with a NaN",
    inputs: [
      t("f32", [3, 4], [1, 3, 3, 0, nan, 1, 2, 0, -Infinity, -Infinity, -Infinity, -Infinity]),
    ],
    body: (e, x) => [e("argmax", { axis: 1 }, x), e("argmax", { axis: 0 }, x)],
  },
  {
    name: "iota in each dtype; dims with div and mod",
    inputs: [t("f32", [5, 2], uniform(10, 4))],
    types: [f32("B", 2)],
    dims: { B: 5 },
    body: (e, x) => [
      e("iota", { shape: shapeOf(2, 3), axis: 1, dtype: "i32" }),
      e("iota", { shape: shapeOf(3, 2), axis: 0, dtype: "f32" }),
      e("iota", { shape: shapeOf(3), axis: 0, dtype: "bool" }),
      e("slice", { start: [c(0), c(0)], stop: [dimFloorDiv(B, c(2)), c(2)], step: [1, 1] }, x),
      e("const", { value: 1.5, dtype: "f32", shape: [dimMod(B, c(3)), c(2)] }),
      e("dimval", { dim: dimFloorDiv(B, c(2)), dtype: "i32" }),
    ],
  },
  {
    name: "scan: reverse, with a const, a carry and ys",
    inputs: [t("f32", [2], [0.5, -1]), t("f32", [2], [1, 2]), t("f32", [3, 2], uniform(6, 6))],
    body: (e, k, h, xs) => {
      const step = build([f32(2), f32(2), f32(2)], (b, k1, h1, x1) => {
        const next = b("add", {}, b("mul", {}, h1, k1), x1);
        return [next, b("mul", {}, next, x1)];
      }).graph;
      const p = { body: step, length: c(3), axis: 0, reverse: true, nConsts: 1, nCarry: 1, nXs: 1 };
      return e.multi!("scan", p, k, h, xs);
    },
  },
  {
    name: "avg_pool and max_pool with padding (zeros in the average, -inf in the max)",
    inputs: [t("f32", [1, 2, 5, 5], uniform(50, 5))],
    body: (e, x) => [
      e("avg_pool", { window: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1] }, x),
      e("max_pool", { window: [2, 2], stride: [2, 2], padding: [0, 1, 0, 1] }, e("neg", {}, x)),
    ],
  },
];

/** Equal elements, NaN where the other has NaN, floats within relative 1e-5. */
function expectSameTensor(got: ArrayLike<number>, want: Tensor, what: string) {
  expect(got.length, what).toBe(want.data.length);
  want.data.forEach((w, i) => {
    const g = got[i]!;
    if (Number.isNaN(w)) expect(g, `${what}[${i}]`).toBeNaN();
    else if (want.dtype === "f32")
      expect(Math.abs(g - w), `${what}[${i}]: ${g} vs ${w}`).toBeLessThanOrEqual(
        1e-5 * Math.max(1, Math.abs(w)),
      );
    else expect(g, `${what}[${i}]`).toBe(w);
  });
}

const cases = exportCases();

describe.runIf(hasTorch || ci)("the PyTorch export, run by python3-torch", () => {
  it(`${python} has torch (apt python3-torch)`, () => {
    expect(hasTorch).toBe(true);
  });

  it(
    "every sample and LANGUAGE.md example: dlg's initialisation and predict/evaluate, as the JS module computes them",
    { timeout: 600_000 },
    async () => {
      expect(cases.map((c) => c.model)).toEqual(expect.arrayContaining(["mlp", "lenet", "linreg"]));
      const runs = [];
      for (const c of cases) {
        const js = await jsModel(c.file, c.model, longRun);
        const b = js.batch(5, 100);
        const want = await js.model.predict(b.batch, b.dims);
        const scores = (await js.model.evaluate(b.batch, b.dims).catch(() => null)) as {
          loss: number;
        } | null;
        const out = tmpFile("outputs.safetensors");
        runs.push({
          c,
          want,
          scores,
          out,
          job: {
            script: exportPy(c.file, c.model, new Map(Object.entries(await js.model.params()))),
            seed: 3,
            eval: batchFile(b),
            eval_out: out,
          },
        });
      }
      const results = drive(runs.map((r) => r.job));
      runs.forEach((r, k) => {
        const got = decodeSafetensors(readFileSync(r.out)).tensors;
        for (const [name, w] of Object.entries(r.want))
          expectClose(got.get(name)!.data, w, `${r.c.file} ${r.c.model}: ${name}`);
        if (r.scores) expectClose([results[k]!.loss!], [r.scores.loss], `${r.c.file}: loss`);
      });
    },
  );

  it("each op rule's edge cases equal the interpreter's", { timeout: 120_000 }, () => {
    const fns: string[] = [];
    const runs = opCases.map((oc, k) => {
      const built = build(
        oc.types ?? oc.inputs.map((x) => ({ dtype: x.dtype, shape: shapeOf(...x.shape) })),
        oc.body,
      );
      const names = new Map(built.inputs.map((v, j) => [v.id, `inp["x${j}"]`]));
      fns.push(
        pyFunction(built.graph, {
          name: `g${k}`,
          params: "inp, D",
          inputs: names,
          sources: new Map(),
          doc: oc.name,
          result: (o) => `(${o.join(", ")},)`,
        }),
      );
      const inputs = tmpFile("inputs.safetensors");
      const tensors = oc.inputs.map((x, j) => ({
        name: `x${j}`,
        dtype: x.dtype === "f32" ? ("F32" as const) : ("I32" as const),
        shape: x.shape,
        data: x.dtype === "f32" ? Float32Array.from(x.data) : Int32Array.from(x.data),
      }));
      writeFileSync(inputs, encodeSafetensors(tensors, {}));
      const want = interpret(built.graph, oc.inputs, oc.dims ?? {}, true);
      return {
        oc,
        want,
        job: {
          graph: "",
          fn: `g${k}`,
          inputs,
          dims: oc.dims ?? {},
          out: tmpFile("out.safetensors"),
        },
      };
    });
    const module = tmpFile("graphs.py");
    const imports =
      "import argparse, csv, json, math, os, struct\nimport torch\nimport torch.nn.functional as F\n";
    writeFileSync(module, [imports, pythonHelpers, ...fns].join("\n"));
    drive(runs.map((r) => ({ ...r.job, graph: module })) as never);
    for (const r of runs) {
      const got = decodeSafetensors(readFileSync(r.job.out)).tensors;
      r.want.forEach((w, j) => {
        const o = got.get(`o${j}`)!;
        expect(o.shape, `${r.oc.name}: output ${j}`).toEqual(w.shape);
        expectSameTensor(o.data, w, `${r.oc.name}: output ${j}`);
      });
    }
  });

  for (const [name, text] of Object.entries(stepModels))
    it(
      `${name}: one training step equals the JS module's (loss, params, states, optimizer buffers)`,
      { timeout: 120_000 },
      async () => {
        const file = source(name, text);
        const js = await jsModel(file);
        const init = tmpFile("init.safetensors");
        writeFileSync(init, await js.model.save());
        const b = js.batch(6, 300);
        const { loss } = await js.model.step(b.batch, b.dims);
        const after = tmpFile("after.safetensors");
        const [r] = drive([
          {
            script: exportPy(file),
            load: init,
            batches: [batchFile(b)],
            epoch_steps: 10,
            epochs: 1,
            save: after,
          },
        ]);
        expectClose(r!.losses, [loss], "loss");
        expectSameCheckpoint(readFileSync(after), await js.model.save());
      },
    );

  it(
    "a checkpoint goes JS -> PyTorch -> JS: training continues as if it never left",
    { timeout: 120_000 },
    async () => {
      const file = source("roundtrip", stepModels.mlp_dropout_adam!);
      const a = await jsModel(file);
      const ref = await jsModel(file);
      const batches = [1, 2, 3, 4].map((k) => a.batch(6, 400 + k));
      const last = a.batch(6, 500);
      for (const b of batches) await ref.model.step(b.batch, b.dims);
      for (const b of batches.slice(0, 2)) await a.model.step(b.batch, b.dims);
      const mid = tmpFile("mid.safetensors");
      writeFileSync(mid, await a.model.save());
      const back = tmpFile("back.safetensors");
      drive([
        {
          script: exportPy(file),
          load: mid,
          batches: batches.slice(2).map((b) => batchFile(b)),
          epoch_steps: 10,
          epochs: 1,
          save: back,
        },
      ]);
      const c = await jsModel(file);
      await c.model.load(readFileSync(back));
      expect(c.model.steps).toBe(4);
      expectSameCheckpoint(readFileSync(back), await ref.model.save());
      const got = await c.model.predict(last.batch, last.dims);
      const want = await ref.model.predict(last.batch, last.dims);
      for (const [n, w] of Object.entries(want)) expectClose(got[n]!, w, n);
    },
  );

  it(
    "torchrun with 2 processes (DDP, gloo on loopback) ends where 1 process on the same global batches ends, with uneven and empty shards; a resumed run ends where an unbroken one does",
    { timeout: 300_000 },
    async () => {
      const file = source(
        "ddp",
        `dim B
model ddp {
  input x: [B, 6]
  input y: int[B]
  logits = x |> dense(8) |> relu |> dense(3)
  metric accuracy = mean(argmax(logits, axis: -1) == y)
  loss cross_entropy(logits, y)
}
train default for ddp { optimizer sgd(lr: 0.1, momentum: 0.9)  batch 31  epochs 1  seed 5 }
`,
      );
      const rows = ["x1,x2,x3,x4,x5,x6,y"];
      const u = uniform(7 * 200, 77);
      for (let r = 0; r < 200; r++) {
        const x = u.slice(r * 7, r * 7 + 6);
        rows.push(
          [...x.map((v) => v.toFixed(5)), String(Math.floor(((u[r * 7 + 6]! + 1) / 2) * 3))].join(
            ",",
          ),
        );
      }
      const csv = tmpFile("ddp.csv");
      writeFileSync(csv, rows.join("\n") + "\n");
      const script = exportPy(file);
      const one = tmpFile("one.safetensors");
      const two = tmpFile("two.safetensors");
      // 125 rows in batches of 31: four batches split 16/15 (uneven shards), then one row (rank 1 has none).
      const common = [script, "--data", csv, "--limit", "125", "--epochs", "2"];
      execFileSync(python, [...common, "--save", one], { stdio: "pipe" });
      const port = await freePort();
      // `--redirects 1 --tee 1`: Debian's torch 1.13 on Python 3.11 cannot parse the defaults ("0":
      // Python 3.11's Flag iteration skips the zero member, so Std.from_str returns None); teeing
      // stdout is the nearest working setting (docs/export.md).
      const log = execFileSync(
        python,
        [
          "-m",
          "torch.distributed.run",
          "--nnodes",
          "1",
          "--nproc_per_node",
          "2",
          "--master_addr",
          "127.0.0.1",
          "--master_port",
          String(port),
          ...["--redirects", "1", "--tee", "1"],
          ...common,
          "--save",
          two,
        ],
        {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, OMP_NUM_THREADS: "1" },
        },
      );
      expect(log).toContain("2 processes");
      expectSameCheckpoint(readFileSync(two), readFileSync(one), 1e-5);
      // And the JS module loads what the two processes trained.
      const js = await jsModel(file);
      await js.model.load(readFileSync(two));
      expect(js.model.steps).toBe(10);
      // Resuming from a checkpoint two steps into epoch 2 continues that epoch's order and schedule.
      const part = tmpFile("part.safetensors");
      const rest = tmpFile("rest.safetensors");
      execFileSync(python, [...common, "--steps", "7", "--save", part], { stdio: "pipe" });
      execFileSync(python, [...common, "--load", part, "--save", rest], { stdio: "pipe" });
      expectSameCheckpoint(readFileSync(rest), readFileSync(one), 1e-6);
    },
  );
});

if (!hasTorch && !ci)
  it.skip(`the PyTorch export tests need ${python} with torch (apt install python3-torch)`, () => {});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}
