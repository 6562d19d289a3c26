// The ONNX export (compiler/export/onnx*.ts): every sample and every
// LANGUAGE.md example with an output exports; ONNX Runtime runs the file and
// its outputs equal the JS module's predict() on the same weights and a
// seeded batch, at two batch sizes on one file (the batch dim is symbolic);
// ONNX's own checker accepts the file; what has no ONNX rule, or nothing to
// export, is a diagnostic at the source, never a file.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto, { type onnx as Onnx } from "onnx-proto";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { compile, exportModel, nodeHost, type ExportOptions } from "../cli/node-host.ts";
import { encodeOnnx } from "../cli/onnx-encode.ts";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import { run } from "../cli/main.ts";
import { exportCases, expectClose } from "./export-cases.ts";
import { modelPair, runOrt } from "./onnx-helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "dlg-onnx-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cases = exportCases();
const withOutputs = cases.filter((c) => c.outputs > 0);

/** Debian's python3-onnx (not the pyenv python3 on PATH); under CI=true it must be there. */
const python = "/usr/bin/python3";
const hasChecker = spawnSync(python, ["-c", "import onnx"]).status === 0;
const ci = process.env.CI === "true";
/** The files exported below, for the checker. */
const exported: string[] = [];

function exportOnnx(file: string, opts: Partial<ExportOptions> = {}) {
  return exportModel(file, {
    host: nodeHost,
    target: "onnx",
    encoders: { onnx: encodeOnnx },
    ...opts,
  });
}

const { onnx } = onnxProto;
const graphOf = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph as Onnx.GraphProto;
const opsOf = (bytes: Uint8Array) => graphOf(bytes).node.map((n) => n.opType);
const dimsOf = (v: Onnx.IValueInfoProto) =>
  v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));

describe("every sample and LANGUAGE.md example exports to ONNX and runs in ONNX Runtime", () => {
  it("finds the samples and examples", () => {
    expect(cases.map((c) => c.model)).toEqual(
      expect.arrayContaining(["mlp", "lenet", "linreg", "adding", "tagger"]),
    );
  });

  for (const c of withOutputs)
    it(`${c.file}: ${c.model} equals the JS module's predict at two batch sizes`, async () => {
      const pair = await modelPair(c.file, c.model);
      const session = await ort.InferenceSession.create(pair.bytes);
      for (const [n, seed] of [
        [5, 100],
        [2, 200],
      ] as const) {
        const b = pair.batch(n, seed);
        const want = await pair.model.predict(b.batch, b.dims);
        const got = await runOrt(session, b);
        expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
        for (const [name, w] of Object.entries(want))
          expectClose(got[name]!, w, `${name} at batch ${n}`);
      }
      await session.release();
      const path = join(tmp, `${exported.length}-${c.model}.onnx`);
      writeFileSync(path, pair.bytes);
      exported.push(path);
    });

  // After the exports above (a file's tests run in order): one python3 for every file.
  if (hasChecker || ci)
    it("every exported file passes python3-onnx's checker (full_check: types and shapes)", () => {
      expect(exported).toHaveLength(withOutputs.length);
      const code =
        "import onnx, sys\nfor p in sys.argv[1:]: onnx.checker.check_model(onnx.load(p), full_check=True)";
      execFileSync(python, ["-c", code, ...exported], { stdio: "pipe" });
    });
  else it.skip("python3-onnx's checker: /usr/bin/python3 has no onnx (apt python3-onnx)", () => {});

  for (const c of cases.filter((c) => c.outputs === 0))
    it(`${c.file}: ${c.model} declares no output, so it is E4021, not a file`, () => {
      const r = exportOnnx(c.file, { model: c.model });
      expect(r.ok).toBe(false);
      expect(r.bytes).toBeUndefined();
      expect(r.diagnostics.map((d) => d.code)).toEqual(["E4021"]);
    });
});

describe("the ONNX graph", () => {
  it("is opset 17 with the dlg names: inputs, outputs, params as initializers, B symbolic", () => {
    const r = exportOnnx("samples/mlp.dlg");
    expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
    const m = onnx.ModelProto.decode(r.bytes!);
    expect(m.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([["", 17]]);
    const g = graphOf(r.bytes!);
    expect(g.input.map((i) => i.name)).toEqual(["x"]);
    expect(dimsOf(g.input[0]!)).toEqual(["B", 784]);
    expect(g.output.map((o) => o.name)).toEqual(["probs"]);
    expect(dimsOf(g.output[0]!)).toEqual(["B", 10]);
    expect(g.initializer.map((t) => t.name)).toEqual(
      expect.arrayContaining(["dense_1.w", "dense_1.b", "dense_2.w", "dense_2.b"]),
    );
  });

  it("fuses x @ w + b into Gemm and std's softmax into Softmax (no dropout: inference mode)", () => {
    const r = exportOnnx("samples/mlp.dlg");
    const ops = opsOf(r.bytes!);
    const dense = graphOf(r.bytes!).initializer.filter((t) => /^dense_\d+\.w$/.test(t.name ?? ""));
    expect(dense.length).toBeGreaterThan(1);
    expect(ops.filter((o) => o === "Gemm")).toHaveLength(dense.length);
    expect(ops).toContain("Softmax");
    expect(ops).not.toContain("MatMul");
    expect(ops).not.toContain("ReduceMax");
    expect(ops).not.toContain("Where");
  });

  it("writes conv and pooling as Conv and MaxPool, and a recurrence as Scan", () => {
    const lenet = opsOf(exportOnnx("samples/lenet.dlg").bytes!);
    expect(lenet.filter((o) => o === "Conv")).toHaveLength(2);
    expect(lenet.filter((o) => o === "MaxPool")).toHaveLength(2);
    expect(opsOf(exportOnnx("samples/lstm_adding.dlg").bytes!)).toContain("Scan");
  });

  it("holds the seeded initial params when no weights are given: the module's own (train block seed)", async () => {
    const g = graphOf(exportOnnx("samples/lenet.dlg").bytes!);
    const inits = new Map(g.initializer.map((t) => [t.name, t]));
    const mod = await loadModule(compile("samples/lenet.dlg").js!);
    // lenet's train block says seed 1; the interpreter's float32 rounding is within an ulp of the module's.
    const seeded = await (await mod.createModel({ seed: 1 })).params();
    const other = await (await mod.createModel({ seed: 2 })).params();
    expect(Object.keys(seeded).length).toBeGreaterThan(0);
    for (const [name, want] of Object.entries(seeded)) {
      const got = new Float32Array(Uint8Array.from(inits.get(name)!.rawData!).buffer);
      expectClose(got, want, name, 1e-6);
      if (name.endsWith(".w")) expect(got, name).not.toEqual(other[name]);
    }
  });
});

describe("inference mode", () => {
  it("batch norm reads its running averages (trained), layer_norm is LayerNormalization", async () => {
    const file = join(tmp, "norms.dlg");
    writeFileSync(
      file,
      `dim B
model norms {
  input x: [B, 6]
  input t: [B, 4]
  output y = x |> dense(4) |> batch_norm |> relu |> layer_norm
  loss mse(y, t)
}
train default for norms { optimizer sgd(lr: 0.1)  batch 8  epochs 1 }
`,
    );
    const pair = await modelPair(file);
    const b = pair.batch(8, 500);
    for (let i = 0; i < 4; i++) await pair.model.step(b.batch, b.dims);
    const weights = new Map(Object.entries(await pair.model.params()));
    // The running averages moved off their initial zeros and ones.
    expect(weights.get("batch_norm_1.mean_avg")!.some((v) => v !== 0)).toBe(true);
    const r = exportOnnx(file, { weights });
    expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
    const ops = opsOf(r.bytes!);
    expect(ops).toContain("LayerNormalization");
    expect(ops).toContain("Gemm");
    // No statistics of the batch: the one sum left would be a batch mean.
    expect(ops).not.toContain("ReduceSum");
    const session = await ort.InferenceSession.create(r.bytes!);
    for (const n of [3, 7]) {
      const test = pair.batch(n, 600 + n);
      const want = await pair.model.predict(test.batch, test.dims);
      expectClose((await runOrt(session, test)).y!, want.y!, `y at batch ${n}`);
    }
  });
});

describe("what cannot be exported is a diagnostic, never a file", () => {
  it("E4020: an op without an ONNX rule (random numbers in predict), at its span", () => {
    const text = `dim B
model noisy {
  input x: [B, 3]
  output y = x + uniform([B, 3])
}
`;
    const host: ExportOptions["host"] = {
      readFile: (p) => (p === "m.dlg" ? text : nodeHost.readFile(p)),
    };
    const r = exportOnnx("m.dlg", { host });
    expect(r.ok).toBe(false);
    expect(r.bytes).toBeUndefined();
    expect(r.diagnostics.map((d) => d.code)).toEqual(["E4020"]);
    const d = r.diagnostics[0]!;
    expect(d.message).toContain("`random`");
    expect(text.slice(d.span.start, d.span.end)).toBe("uniform([B, 3])");
  });

  it("E4023: a param shaped by a dim only data fixes (linreg's [F]) without weights; with them it exports", () => {
    expect(exportOnnx("samples/linreg.dlg").diagnostics.map((d) => d.code)).toEqual(["E4023"]);
    const ok = exportOnnx("samples/linreg.dlg", {
      weights: new Map([["theta", new Float32Array(3)]]),
    });
    expect(ok.ok).toBe(true);
    expect(dimsOf(graphOf(ok.bytes!).input[0]!)).toEqual(["B", 3]);
  });

  it("E4022: weights that lack a param, or have the wrong size", () => {
    const text = `dim B
model small {
  input x: [B, 3]
  output y = x |> dense(2)
}
`;
    const host: ExportOptions["host"] = {
      readFile: (p) => (p === "m.dlg" ? text : nodeHost.readFile(p)),
    };
    const w = new Map([["dense_1.w", new Float32Array(6)]]);
    const r = exportOnnx("m.dlg", { host, weights: w });
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ["E4022", "the checkpoint has no tensor `dense_1.b`"],
    ]);
    w.set("dense_1.b", new Float32Array(3));
    const bad = exportOnnx("m.dlg", { host, weights: w });
    expect(bad.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ["E4022", "the checkpoint's tensor `dense_1.b` has 3 elements; the param is [2]"],
    ]);
    w.set("dense_1.b", new Float32Array(2));
    expect(exportOnnx("m.dlg", { host, weights: w }).ok).toBe(true);
  });
});

describe("dlg compile --target onnx", () => {
  it("--load CKPT exports a trained checkpoint's weights: ONNX Runtime predicts as the trained module", async () => {
    const pair = await modelPair("samples/mlp.dlg");
    const b = pair.batch(8, 300);
    for (let i = 0; i < 3; i++) await pair.model.step(b.batch, b.dims);
    const ckpt = join(tmp, "trained.safetensors");
    writeFileSync(ckpt, await pair.model.save());
    const out = join(tmp, "cli", "mlp.onnx");
    const r = await dlg(
      "compile",
      "samples/mlp.dlg",
      "--target",
      "onnx",
      "--load",
      ckpt,
      "-o",
      out,
    );
    expect(r.stderr).toContain(`exported model mlp for onnx -> ${out}`);
    expect(r.code).toBe(0);
    const session = await ort.InferenceSession.create(readFileSync(out));
    const test = pair.batch(4, 400);
    const want = await pair.model.predict(test.batch, test.dims);
    expectClose((await runOrt(session, test)).probs!, want.probs!, "probs after 3 steps");
  });

  it("a diagnostic instead of a file, exit status 1", async () => {
    const out = join(tmp, "cli", "linreg.onnx");
    const r = await dlg("compile", "samples/linreg.dlg", "--target", "onnx", "-o", out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error[E4023]");
    expect(existsSync(out)).toBe(false);
  });
});

/** `dlg ARGS` in this process (cli/main.ts run), its output captured. */
async function dlg(...args: string[]) {
  let stderr = "";
  const code = await run(args, { out: () => {}, err: (t) => (stderr += t + "\n") });
  return { code, stderr };
}
