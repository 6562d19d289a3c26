// What the checker could not prove about run-time dims, the emitted module
// checks when it binds them, before allocating or running anything: indices
// and slices inside their axis, no empty axis, every buffer and the
// parameters within the byte limits. Each error names the condition, the
// source and the dims with where they came from.

import { describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { compile, nodeHost, type CompileOptions } from "../cli/node-host.ts";

async function build(src: string, opts: CompileOptions = {}) {
  const host = { readFile: (p: string) => (p === "m.dlg" ? src : nodeHost.readFile(p)) };
  const r = compile("m.dlg", { ...opts, host });
  expect(r.diagnostics.map((d) => d.message)).toEqual([]);
  return loadModule(r.js!);
}

const f32 = (n: number) => new Float32Array(n).map((_, i) => i + 1);

type Outputs = Record<string, Float32Array>;

describe("run-time dimension checks", () => {
  it("refuses an index past a run-time axis instead of reading NaN", async () => {
    const mod = await build("dim B\nmodel m {\n  input x: [B]\n  output last = x[3]\n}\n");
    const model = await mod.createModel({ seed: 1 });
    await expect(model.predict({ x: f32(2) })).rejects.toThrow(
      'B must be at least 4 for `x[3]` at m.dlg:4:17; got B = 2 (from input "x")',
    );
    expect(Array.from(((await model.predict({ x: f32(4) })) as Outputs).last!)).toEqual([4]);
  });

  it("refuses a slice that would be empty or end past its axis", async () => {
    const src =
      "dim B\nmodel m {\n  input x: [B, 2]\n  output y = x[1:, :] * 2.0\n  output z = x[:3]\n}\n";
    const model = await (await build(src)).createModel({ seed: 1 });
    await expect(model.predict({ x: f32(2) })).rejects.toThrow(
      /^B must be at least 2 for `x\[1:, :\]`/,
    );
    await expect(model.predict({ x: f32(4) })).rejects.toThrow(
      /^B must be at least 3 for `x\[:3\]`/,
    );
    const out = (await model.predict({ x: f32(6) })) as Outputs;
    expect(Array.from(out.y!)).toEqual([6, 8, 10, 12]);
  });

  it("sizes `[B, B mod 3, 4]` right and refuses the B that empties an axis", async () => {
    // The element count was printed as `4 * (B % 3 + 3) % 3 * B` and rejected correct input.
    const src = "dim B\nmodel m {\n  input x: [B, B mod 3, 4]\n  output y = x * 2.0\n}\n";
    const model = await (await build(src)).createModel({ seed: 1 });
    const y = (await model.predict({ x: f32(16) }, { B: 4 })) as Outputs;
    expect(y.y!.length).toBe(16);
    await expect(model.predict({ x: f32(0) }, { B: 3 })).rejects.toThrow(/B mod 3|empty/);
  });

  it("refuses a buffer past the byte limit before allocating it", async () => {
    const src =
      "dim B\nmodel m {\n  input x: [B, 10]\n  param w: [10, 1000]\n  output y = x @ w\n}\n";
    const model = await (await build(src, { maxTensorBytes: 40000 })).createModel({ seed: 1 });
    await expect(model.predict({ x: f32(200) })).rejects.toThrow(
      "the f32[B, 1000] tensor `x @ w` at m.dlg:5:14 may take at most 40000 bytes " +
        '(the limit set by --max-tensor-bytes); got B = 20 (from input "x"), which makes 80000 bytes',
    );
    expect(((await model.predict({ x: f32(100) })) as Outputs).y!.length).toBe(10000);
  });

  it("checks parameters sized at createModel against the limits before allocating them", async () => {
    const src =
      "dim B, F\nmodel m {\n  input x: [B, F]\n  param theta: [F]\n  output y = x @ theta\n}\n";
    const mod = await build(src, { maxTensorBytes: 4000, maxParamBytes: 4000 });
    await expect(mod.createModel({ seed: 1, dims: { F: 2000 } })).rejects.toThrow(
      "parameter `theta` (f32[F], at m.dlg:4:16) may take at most 4000 bytes (the limit set by --max-tensor-bytes); " +
        "got F = 2000 (given to createModel), which makes 8000 bytes",
    );
    await expect(mod.createModel({ seed: 1, dims: { F: 10 } })).resolves.toMatchObject({
      steps: 0,
    });
    const total = await build(src, { maxParamBytes: 4000 });
    await expect(total.createModel({ seed: 1, dims: { F: 2000 } })).rejects.toThrow(
      "the parameters of `m` may take at most 4000 bytes in total (the limit set by --max-param-bytes); " +
        "got F = 2000 (given to createModel), which makes 8000 bytes",
    );
  });
});
