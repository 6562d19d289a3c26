// The dlg executable as a user meets it: spawned with node, checked for exit
// codes, where output goes, and that no JavaScript stack trace ever reaches
// the user for their own mistakes. Each spawn pays for tsx and the compiler's
// start-up (seconds on a busy machine), hence the generous timeouts.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readSafetensors } from "../cli/safetensors.ts";
import { dlgProcess as dlg } from "./dlg-process.ts";
import { testGpu } from "./webgpu-env.ts";

/** A JavaScript stack frame ("    at f (file.ts:1:2)") in the output. */
const stackFrame = /^\s+at .+[(:]\d+/m;

const tmp = mkdtempSync(join(tmpdir(), "dlg-cli-"));

function dlgFile(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

// `Bt` is not a declared dimension (line 4).
const badText = `dim B
model bad {
  input x: [B, 784]
  input y: [Bt]
  output z = x
}
`;

describe("dlg: usage and help", { timeout: 180_000 }, () => {
  it("prints help for the tool and for each command", async () => {
    const top = await dlg("--help");
    expect(top.code).toBe(0);
    for (const cmd of ["check", "compile", "train", "dump", "bench"])
      expect(top.stdout).toContain(cmd);
    const cmds = ["check", "compile", "train", "dump", "bench"];
    const runs = await Promise.all(cmds.map((cmd) => dlg(cmd, "--help")));
    runs.forEach((r, i) => {
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: dlg ${cmds[i]}`);
    });
    expect(runs[2]!.stdout).toContain("--limit N");
  });

  it("rejects unknown commands, flags and bad flag values with exit 2 and no stack", async () => {
    const cases = [
      ["frobnicate"],
      ["check", "--frob", "samples/mlp.dlg"],
      ["train", "samples/linreg.dlg", "--epochs", "many"],
      ["train", "samples/linreg.dlg", "--limit", "0"],
      ["dump", "samples/linreg.dlg", "--stage", "bytecode"],
      ["dump", "samples/linreg.dlg"],
      ["compile", "samples/mlp.dlg", "--target", "cuda"],
      ["train", "samples/linreg.dlg", "--backend", "cuda"],
    ];
    const runs = await Promise.all(cases.map((args) => dlg(...args)));
    runs.forEach((r, i) => {
      expect(r.code, cases[i]!.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^error: /);
      expect(r.stderr).not.toMatch(stackFrame);
    });
    expect(runs[2]!.stderr).toContain("--epochs expects an integer >= 1, got `many`");
    expect(runs[6]!.stderr).toContain("unknown --target `cuda`; expected one of js, wasm, webgpu");
    expect(runs[7]!.stderr).toContain("unknown --backend `cuda`; expected one of js, wasm, webgpu");
  });

  it("reports a missing file plainly", async () => {
    const r = await dlg("check", "no/such/model.dlg");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error[E2006]: cannot read `no/such/model.dlg`: no such file");
    const c = await dlg("compile", "no/such/model.dlg");
    expect(c.code).toBe(1);
    expect(c.stderr).toContain("error: cannot read no/such/model.dlg: no such file");
    expect(r.stderr).not.toMatch(stackFrame);
  });
});

describe("dlg check", { timeout: 180_000 }, () => {
  it("exits 0 on the samples", async () => {
    const r = await dlg("check", "samples/linreg.dlg", "samples/mlp.dlg");
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
  });

  it("exits 1 with rustc-style diagnostics at file:line:col, and no stack", async () => {
    const file = dlgFile("bad.dlg", badText);
    const r = await dlg("check", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[E\d{4}\]: /);
    expect(r.stderr).toContain(`--> ${file}:4:`);
    expect(r.stderr).toContain("Bt");
    expect(r.stderr).not.toMatch(stackFrame);
    expect(r.stdout).toBe("");
  });

  it("--json prints the diagnostics as JSON on stdout", async () => {
    const file = dlgFile("bad-json.dlg", badText);
    const r = await dlg("check", "--json", file);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as {
      ok: boolean;
      diagnostics: { code: string; file: string; span: { start: { line: number } } }[];
    };
    expect(j.ok).toBe(false);
    expect(j.diagnostics.length).toBeGreaterThan(0);
    expect(j.diagnostics[0]!.code).toMatch(/^E\d{4}$/);
    expect(j.diagnostics[0]!.file).toBe(file);
    expect(j.diagnostics[0]!.span.start.line).toBe(4);
    const clean = await dlg("check", "--json", "samples/mlp.dlg");
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toEqual({ ok: true, diagnostics: [] });
  });
});

describe("dlg compile", { timeout: 180_000 }, () => {
  it("writes a standalone module and its declarations", async () => {
    const out = join(tmp, "out", "mlp.js");
    const r = await dlg("compile", "samples/mlp.dlg", "--target", "js", "-o", out);
    expect(r.stderr).not.toMatch(stackFrame);
    expect(r.code).toBe(0);
    const js = readFileSync(out, "utf8");
    expect(js).toMatch(/export\s+(async\s+)?function\s+createModel|export\s*\{[^}]*createModel/);
    // Standalone: no static import, no dynamic import, no require.
    expect(js).not.toMatch(/^\s*import[\s{*]/m);
    expect(js).not.toMatch(/\bimport\s*\(|\brequire\s*\(/);
    // The JS target's synchronous path beside the async API every backend has.
    expect(js).toMatch(/export\s+function\s+createModelSync|export\s*\{[^}]*createModelSync/);
    const dts = readFileSync(join(tmp, "out", "mlp.d.ts"), "utf8");
    expect(dts).toContain(
      "export declare function createModel<const Fixed extends Dims = Dims>(opts?: ModelOptions<Fixed>): Promise<Model<Fixed>>;",
    );
    expect(dts).toContain(
      "export declare function createModelSync<const Fixed extends Dims = Dims>(opts?: ModelOptions<Fixed>): SyncModel<Fixed>;",
    );
    expect(r.stderr).toContain("for js ->");
  });

  it("--target webgpu writes a standalone WebGPU module whose .d.ts has only the async API", async () => {
    const out = join(tmp, "out", "mlp-gpu.js");
    const r = await dlg("compile", "samples/mlp.dlg", "--target", "webgpu", "-o", out);
    expect(r.stderr).not.toMatch(stackFrame);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("for webgpu ->");
    const js = readFileSync(out, "utf8");
    expect(js).not.toMatch(/^\s*import[\s{*]/m);
    expect(js).not.toMatch(/\bimport\s*\(|\brequire\s*\(/);
    expect(js).toContain("@compute");
    expect(js).not.toMatch(/createModelSync/);
    const dts = readFileSync(join(tmp, "out", "mlp-gpu.d.ts"), "utf8");
    expect(dts).toContain(
      "export declare function createModel<const Fixed extends Dims = Dims>(opts?: ModelOptions<Fixed>): Promise<Model<Fixed>>;",
    );
    expect(dts).toContain('backend?: "webgpu";');
    expect(dts).toContain("gpu?: { requestAdapter(options?: object): Promise<unknown> };");
    expect(dts).not.toContain("createModelSync");
  });

  it("fails with diagnostics on a bad file", async () => {
    const r = await dlg(
      "compile",
      dlgFile("bad-compile.dlg", badText),
      "-o",
      join(tmp, "never.js"),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[E\d{4}\]/);
    expect(existsSync(join(tmp, "never.js"))).toBe(false);
  });
});

describe("dlg dump", { timeout: 180_000 }, () => {
  for (const stage of ["ast", "ir", "grad", "kernels"]) {
    it(`prints the ${stage} stage`, async () => {
      const r = await dlg("dump", "samples/mlp.dlg", "--stage", stage);
      expect(r.stderr).not.toMatch(stackFrame);
      expect(r.code).toBe(0);
      expect(r.stdout.trim().length).toBeGreaterThan(20);
      if (stage === "ast") expect(r.stdout).toContain("model mlp");
    });
  }

  it("--target webgpu and wasm show each kernel's WGSL module or WAT function under its kernel IR", async () => {
    const [js, gpu, wasm] = await Promise.all([
      dlg("dump", "samples/linreg.dlg", "--stage", "kernels", "--target", "js"),
      dlg("dump", "samples/linreg.dlg", "--stage", "kernels", "--target", "webgpu"),
      dlg("dump", "samples/linreg.dlg", "--stage", "kernels", "--target", "wasm"),
    ]);
    expect(gpu.stderr).not.toMatch(stackFrame);
    expect(gpu.code).toBe(0);
    expect(gpu.stdout).toContain("// entry predict");
    expect(gpu.stdout).toMatch(/\/\/ kernel e1_0: b\d+ = matmul/);
    expect(gpu.stdout).toContain("@compute @workgroup_size(");
    expect(js.stdout).not.toContain("@compute");
    expect(wasm.stderr).not.toMatch(stackFrame);
    expect(wasm.code).toBe(0);
    expect(wasm.stdout).toMatch(/\/\/ kernel e1_0: b\d+ = matmul/);
    expect(wasm.stdout).toContain("(func $");
    expect(js.stdout).not.toContain("(func $");
  });
});

describe("dlg train", { timeout: 180_000 }, () => {
  it("trains linreg from its CSV and prints per-epoch and test metrics, plot and checkpoint", async () => {
    const plot = join(tmp, "plots", "linreg.svg");
    const save = join(tmp, "linreg.safetensors");
    const r = await dlg(
      "train",
      "samples/linreg.dlg",
      "--config",
      "minibatch",
      "--epochs",
      "3",
      "--plot",
      plot,
      "--save",
      save,
    );
    expect(r.stderr).not.toMatch(stackFrame);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("train block `minibatch`: sgd(lr: 0.01), batch 32, 3 epochs");
    expect(r.stdout).toContain("samples/linreg.csv: 360 train, 40 validation, 100 test; F = 3");
    for (const e of [1, 2, 3])
      expect(r.stdout).toMatch(new RegExp(`epoch ${e}/3  train loss \\S+  \\|  val loss \\S+`));
    expect(r.stdout).toMatch(/test: loss \S+/);
    expect(r.stdout).toMatch(/trained 3 epochs \(36 steps\) in \d+\.\ds/);
    expect(readFileSync(plot, "utf8")).toMatch(/^<svg[^>]*>[\s\S]*train loss[\s\S]*<\/svg>\n$/);
    const ckpt = readSafetensors(readFileSync(save));
    expect([...ckpt.values()].some((t) => t.shape.length === 1 && t.shape[0] === 3)).toBe(true);
  });

  /** `dlg train samples/linreg.dlg` for 3 epochs on `backend` (extra flags after), and its checkpoint. */
  const linregRun = (backend: string, ...flags: string[]) => {
    const save = join(tmp, `linreg-${backend}.safetensors`);
    return dlg(
      "train",
      "samples/linreg.dlg",
      "--epochs",
      "3",
      "--backend",
      backend,
      ...flags,
      "--save",
      save,
    ).then((r) => ({ r, ckpt: readSafetensors(readFileSync(save)) }));
  };

  /** A checkpoint's tensors equal another's within float32 rounding of the same computation. */
  const expectSameParams = (
    got: ReturnType<typeof readSafetensors>,
    want: ReturnType<typeof readSafetensors>,
  ) => {
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [name, t] of want) {
      const g = got.get(name)!;
      expect(g.shape).toEqual(t.shape);
      t.data.forEach((v, i) =>
        expect(Math.abs(g.data[i]! - v), `${name}[${i}]`).toBeLessThanOrEqual(
          1e-4 * Math.max(1, Math.abs(v)),
        ),
      );
    }
  };

  it("--backend webgpu trains to the parameters the js backend reaches", async () => {
    const gpu = await testGpu();
    if (gpu === null) return; // no adapter outside CI: testGpu printed why
    const [js, gpuRun] = [await linregRun("js"), await linregRun("webgpu")];
    expect(gpuRun.r.stderr).not.toMatch(stackFrame);
    expect(gpuRun.r.code).toBe(0);
    expect(gpuRun.r.stdout).toMatch(/seed 0; on webgpu/);
    expectSameParams(gpuRun.ckpt, js.ckpt);
  });

  it("--backend wasm --threads 2 trains to the parameters the js backend reaches", async () => {
    const [js, wasm] = await Promise.all([linregRun("js"), linregRun("wasm", "--threads", "2")]);
    expect(wasm.r.stderr).not.toMatch(stackFrame);
    expect(wasm.r.code).toBe(0);
    expect(wasm.r.stdout).toMatch(/seed 0; on wasm/);
    expectSameParams(wasm.ckpt, js.ckpt);
  });

  it("--limit trims the training split", async () => {
    const r = await dlg(
      "train",
      "samples/linreg.dlg",
      "--config",
      "sgd",
      "--epochs",
      "1",
      "--limit",
      "50",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("50 train (--limit, of 360)");
    expect(r.stdout).toContain("50 steps per epoch of 1 example");
  });

  it("says plainly when the data does not fit the model", async () => {
    const r = await dlg(
      "train",
      "samples/mlp.dlg",
      "--data",
      "samples/linreg.csv",
      "--epochs",
      "1",
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[E4003\]: data does not fit input `x`.*\[B, 784\]/m);
    expect(r.stderr).not.toMatch(stackFrame);
  });

  it("reports diagnostics instead of training a broken model", async () => {
    const r = await dlg("train", dlgFile("bad-train.dlg", badText), "--epochs", "1");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[E\d{4}\]/);
    expect(r.stdout).not.toContain("epoch");
  });
});
