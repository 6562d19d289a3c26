// `checkNumerics` builds (`dlg train --check-numerics`): the first NaN or
// infinity a kernel stores throws, naming the operation and its .dlg span,
// gradients and fused kernels included; results are bit-identical to the
// plain build until then, and the plain build is untouched by the option.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../cli/main.ts";
import { jsRuntime } from "../compiler/backends/runtime.generated.ts";
import { compile } from "../cli/node-host.ts";
import { stdPath } from "../compiler/elaborate.ts";
import type { Model } from "../runtime/model.ts";

const dir = mkdtempSync(join(tmpdir(), "dlg-numerics-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

function build(src: string, checkNumerics: boolean): string {
  const host = {
    readFile: (p: string) => (p === "main.dlg" ? src : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
  const r = compile("main.dlg", { host, checkNumerics });
  expect(r.diagnostics).toEqual([]);
  return r.js!;
}

async function load(js: string): Promise<Model> {
  const file = join(dir, `m${counter++}.js`);
  writeFileSync(file, js);
  const mod = (await import(pathToFileURL(file).href)) as {
    createModel(o: { seed: number }): Promise<Model>;
  };
  return mod.createModel({ seed: 3 });
}

/**
 * sgd with lr 1 takes w from 1 to 0 in the first step (the tiny term's
 * gradient vanishes in float32), so `OP(w)` sees 0 in the second step.
 */
const zeroAfterOneStep = (op: string) => `dim B
model m {
  input x: [B, 1]
  param w: [1] init ones
  loss sum(w) + 1e-30 * mean(${op} * x)
}
train t for m {
  optimizer sgd(lr: 1.0)
  batch 2
  epochs 3
}
`;
const x = Float32Array.of(1, 2);

/** The error the second step throws, and the column of `needle` on line 5 of the source. */
async function secondStep(op: string): Promise<{ error: Error & Record<string, unknown> }> {
  const m = await load(build(zeroAfterOneStep(op), true));
  expect((await m.step({ x })).loss).toBe(1);
  let error: unknown = null;
  try {
    await m.step({ x });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(Error);
  return { error: error as Error & Record<string, unknown> };
}

const col = (src: string, needle: string) => src.split("\n")[4]!.indexOf(needle) + 1;

describe("checkNumerics builds", () => {
  it("name log(0) in the forward pass, with its span, after a step", async () => {
    const { error } = await secondStep("log(w)");
    const c = col(zeroAfterOneStep("log(w)"), "log(w)");
    expect(error.name).toBe("NumericsError");
    expect(error.message).toBe(`\`log\` at main.dlg:5:${c} produced -Infinity (in step)`);
    expect(error.entry).toBe("step");
    expect(error.source).toMatchObject({ op: "log", file: "main.dlg", line: 5, col: c });
  });

  it("name a division by zero", async () => {
    const { error } = await secondStep("(1.0 / w)");
    const c = col(zeroAfterOneStep("(1.0 / w)"), "1.0 / w");
    expect(error.message).toBe(`\`div\` at main.dlg:5:${c} produced Infinity (in step)`);
  });

  it("name the primitive whose gradient divided by zero", async () => {
    // sqrt(0) = 0 is finite; its derivative 1 / (2 sqrt(w)) is not.
    const { error } = await secondStep("sqrt(w)");
    expect(error.source).toMatchObject({ vjpOf: "sqrt", line: 5 });
    expect(error.message).toMatch(/^`\w+` in the gradient of `sqrt` at main\.dlg:5:\d+ produced/);
  });

  it("name the first operation of a fused kernel that went non-finite, not the kernel's last", async () => {
    // One fused map kernel: log(0) = -Infinity, then sqrt makes it NaN; log is named.
    const src = `model m {
  param w: [3] init zeros
  output y = sqrt(log(w) + 1.0) * 2.0
}
`;
    const m = await load(build(src, true));
    const c = src.split("\n")[2]!.indexOf("log(w)") + 1;
    await expect(m.predict({})).rejects.toThrow(
      `\`log\` at main.dlg:3:${c} produced NaN (in predict)`,
    );
  });

  it("say nothing of an infinity that a later operation of the same kernel turns finite", async () => {
    // exp(log(0)) = exp(-Infinity) = 0: what is stored is finite, so nothing went wrong.
    const src = `model m {
  param w: [3] init zeros
  output y = exp(log(w)) + 1.0
}
`;
    const m = await load(build(src, true));
    expect([...(await m.predict({})).y!]).toEqual([1, 1, 1]);
  });

  it("name an optimizer update that overflows float32 on its store, though it has no span", async () => {
    // w falls by 1e38 a step: -4e38 is finite in float64 but -Infinity once stored as float32.
    const src = `model m {
  param w: [1] init zeros
  loss sum(w)
}
train t for m {
  optimizer sgd(lr: 1e38)
}
`;
    const m = await load(build(src, true));
    for (let s = 0; s < 3; s++) await m.step({});
    await expect(m.step({})).rejects.toThrow(
      "`sub` computing `new w` (no source location) produced -Infinity (in step)",
    );
  });

  it("compute bit for bit what the plain build does until then", async () => {
    const src = `dim B
model m {
  input x: [B, 3]
  input y: [B, 2]
  loss mse(x |> dense(4) |> tanh |> dense(2), y)
}
train t for m {
  optimizer adam(lr: 0.01)
}
`;
    const [plain, checked] = [await load(build(src, false)), await load(build(src, true))];
    const xb = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i));
    const yb = Float32Array.from({ length: 8 }, (_, i) => Math.cos(i));
    for (let s = 0; s < 5; s++)
      expect((await checked.step({ x: xb, y: yb })).loss).toBe(
        (await plain.step({ x: xb, y: yb })).loss,
      );
    expect(await checked.save()).toEqual(await plain.save());
  });

  it("leave the plain build as it was: no checks, NaN flows through", async () => {
    const src = zeroAfterOneStep("log(w)");
    const js = build(src, false);
    expect(js).toBe(compile("main.dlg", { host: { readFile: () => src } }).js);
    // The bundled runtime always carries the helpers; the program after it never calls them.
    expect(js).toContain(jsRuntime);
    const program = js.slice(js.indexOf(jsRuntime) + jsRuntime.length);
    for (const call of ["checkStored(", "noteNonFinite(", "NumericsError"])
      expect(program).not.toContain(call);
    expect(build(src, true).slice(js.indexOf(jsRuntime) + jsRuntime.length)).toContain(
      "checkStored(",
    );
    const m = await load(js);
    await m.step({ x });
    expect((await m.step({ x })).loss).toBe(-Infinity);
  });
});

describe("dlg train --check-numerics", () => {
  it("prints E4010 at the operation and exits 1", async () => {
    const file = join(dir, "nan.dlg");
    writeFileSync(file, zeroAfterOneStep("log(w)"));
    writeFileSync(join(dir, "nan.csv"), "x\n1\n2\n");
    const err: string[] = [];
    const io = { out: () => {}, err: (t: string) => void err.push(t) };
    expect(await run(["train", file, "--check-numerics"], io)).toBe(1);
    const text = err.join("\n");
    expect(text).toContain("error[E4010]: `log` produced -Infinity in training step 2");
    expect(text).toContain(`--> ${file}:5:`);
    // Without the flag the loop's own check stops it one line later, pointing at the flag.
    err.length = 0;
    expect(await run(["train", file], io)).toBe(1);
    expect(err.join("\n")).toMatch(/training diverged.*--check-numerics/);
  });
});
