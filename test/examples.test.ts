// Every example of LANGUAGE.md (test/fixtures/language/*.dlg), as written:
// it checks, compiles to a standalone JS module, and the module's step()
// lowers the loss over a few training steps on a small fixed random batch of
// the right shapes (memorising one batch: a loss that does not go down means
// a wrong gradient or update somewhere on the way).

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadModule, type Batch } from "../cli/module.ts";
import { compile } from "../cli/node-host.ts";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import { elaborate, stdPath } from "../compiler/elaborate.ts";
import { uniform } from "./graph-helpers.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = join(root, "test/fixtures/language");

/**
 * Examples that define a block but no model get a small model that calls it,
 * so they are trained like the others.
 */
const harness: Record<string, string> = {
  "my_lstm.dlg": `
dim B, T
model uses_my_lstm {
  input x: [B, T, 3]
  input y: [B, T, 4]
  loss mse(x |> my_lstm(4), y)
}
train fast for uses_my_lstm { optimizer adam(lr: 0.01)  batch 8  epochs 1 }
`,
};

function host(file: string, text: string) {
  return {
    readFile: (p: string) => (p === file ? text : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
}

/** Sizes for named dimensions: the batch, and anything else the data would fix. */
const BATCH = 6;
const OTHER = 4;
/** Int inputs (labels, token ids) draw from [0, 10): valid for every example's classes and vocab. */
const INT_RANGE = 10;
const STEPS = 12;

const files = readdirSync(dir)
  .filter((f) => f.endsWith(".dlg"))
  .sort();

describe("LANGUAGE.md examples check, compile and train", () => {
  it("covers every example file", () => {
    expect(files).toEqual(
      expect.arrayContaining(["linreg.dlg", "mlp.dlg", "lenet.dlg", "my_lstm.dlg", "tagger.dlg"]),
    );
  });

  for (const f of files) {
    const text = readFileSync(join(dir, f), "utf8") + (harness[f] ?? "");
    const file = `test/fixtures/language/${f}`;
    const models = [...elaborate(file, host(file, text)).models.keys()];
    const names = models.length > 0 ? models : ["(none)"];
    for (const model of names)
      it(`${f}: ${model}`, { timeout: 60_000 }, async () => {
        const r = compile(file, { host: host(file, text), model });
        expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
        expect(r.ok).toBe(true);
        const mod = await loadModule(r.js!);
        const spec = mod.spec;
        const dims: Record<string, number> = {};
        const size = (d: string | number) => (typeof d === "number" ? d : (dims[d] ??= OTHER));
        // The batch dim is each input's first; every other named dim is data-sized.
        for (const i of spec.inputs) if (typeof i.shape[0] === "string") dims[i.shape[0]] = BATCH;
        const batch: Batch = {};
        spec.inputs.forEach((input, k) => {
          const n = input.shape.map(size).reduce((p, d) => p * d, 1);
          const u = uniform(n, 100 + k);
          batch[input.name] =
            input.dtype === "f32"
              ? Float32Array.from(u)
              : Int32Array.from(u, (v) => Math.floor(((v + 1) / 2) * INT_RANGE));
        });
        const batchDims = new Set(spec.inputs.map((i) => i.shape[0]));
        const fixed = Object.fromEntries(Object.entries(dims).filter(([k]) => !batchDims.has(k)));
        const m = await mod.createModel({ seed: 3, dims: fixed });
        const losses: number[] = [];
        for (let s = 0; s < STEPS; s++) losses.push((await m.step(batch, dims)).loss);
        expect(losses.every(Number.isFinite), `losses ${losses.join(", ")}`).toBe(true);
        expect(losses[STEPS - 1]!, `losses ${losses.join(", ")}`).toBeLessThan(losses[0]!);
      });
  }
});
