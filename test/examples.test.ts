// Every example of LANGUAGE.md, as written: v1's (test/fixtures/language/*.dlg)
// and v2's (test/fixtures/v2/*.dlg, beside syntax.dlg and layers.dlg, the
// parser's own v2 forms). Each checks, compiles to a standalone JS module with
// its train block, and the module's step() lowers the loss over a few training
// steps on a small fixed random batch of the right shapes (memorising one
// batch: a loss that does not go down means a wrong gradient or update
// somewhere on the way). Where ../shared/LANGUAGE.md (the syntax contract,
// outside the repository) is present, the v2 fixtures are checked to be its
// examples verbatim.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadModule, type Batch } from "../cli/module.ts";
import { compile } from "../cli/node-host.ts";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import { elaborate, stdPath } from "../compiler/elaborate.ts";
import { uniform } from "./graph-helpers.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dirs = ["test/fixtures/language", "test/fixtures/v2"];
/** v2 fixtures that are not LANGUAGE.md examples: the parser's tour of every form, and the library it imports. */
const notExamples = new Set(["test/fixtures/v2/syntax.dlg", "test/fixtures/v2/layers.dlg"]);

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
  "batch_norm.dlg": `
dim B
model uses_my_batch_norm {
  input x: [B, 5]
  input y: int[B]
  logits = x |> dense(8) |> my_batch_norm |> relu |> dense(3)
  loss cross_entropy(logits, y)
}
train fast for uses_my_batch_norm { optimizer adam(lr: 0.01)  batch 8  epochs 1 }
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
/** Int inputs (labels, token ids) draw from [0, 3): valid for every example's classes (bigru has 3) and vocab. */
const INT_RANGE = 3;
const STEPS = 12;

const files = dirs.flatMap((d) =>
  readdirSync(join(root, d))
    .filter((f) => f.endsWith(".dlg"))
    .sort()
    .map((f) => `${d}/${f}`)
    .filter((f) => !notExamples.has(f)),
);
const base = (f: string) => f.split("/").pop()!;

/** The fenced examples of LANGUAGE.md's "v2 examples" section. */
function v2Examples(doc: string): string[] {
  const section = doc.slice(doc.indexOf("### v2 examples"));
  return [...section.matchAll(/^```\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}
const contract = join(root, "../shared/LANGUAGE.md");

describe("LANGUAGE.md examples check, compile and train", () => {
  it("covers every example file", () => {
    expect(files.map(base)).toEqual(
      expect.arrayContaining([
        ...["linreg.dlg", "mlp.dlg", "lenet.dlg", "my_lstm.dlg", "tagger.dlg"],
        ...["siamese.dlg", "encoder.dlg", "batch_norm.dlg", "vgg.dlg", "bigru.dlg"],
        "autoencoder.dlg",
      ]),
    );
  });

  it.runIf(existsSync(contract))("v2 fixtures are LANGUAGE.md's v2 examples verbatim", () => {
    const examples = v2Examples(readFileSync(contract, "utf8"));
    const v2 = files.filter((f) => f.startsWith("test/fixtures/v2/"));
    expect(examples).toHaveLength(v2.length);
    for (const f of v2) expect(examples).toContain(readFileSync(join(root, f), "utf8"));
  });

  for (const file of files) {
    const f = base(file);
    const text = readFileSync(join(root, file), "utf8") + (harness[f] ?? "");
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
        // A schedule over the run needs its length: encoder warms up over 100 of 120 steps.
        const m = await mod.createModel({ seed: 3, dims: fixed, stepsPerEpoch: 40, epochs: 3 });
        const losses: number[] = [];
        for (let s = 0; s < STEPS; s++) losses.push((await m.step(batch, dims)).loss);
        expect(losses.every(Number.isFinite), `losses ${losses.join(", ")}`).toBe(true);
        expect(losses[STEPS - 1]!, `losses ${losses.join(", ")}`).toBeLessThan(losses[0]!);
      });
  }
});
