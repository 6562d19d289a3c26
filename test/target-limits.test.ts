// A model past what a target's runtime holds (compiler/backend.ts's
// TargetLimits: the dims and scans' step slots of WebGPU's uniform record and
// WASM's header page, WASM's buffer table) is E4012 at the model, before any
// code is printed, not an internal error or a module that fails when run.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile, type Host } from "../cli/node-host.ts";
import { backends } from "../compiler/compile.ts";

function hostFor(text: string): Host {
  return { readFile: (p) => (p === "main.dlg" ? text : readFileSync(p, "utf8")) };
}

/** A model of `n` recurrent layers in a row (a scan stacks its steps on axis 0): each a scan forward and, in the step, one reverse. */
function deepRecurrent(n: number): string {
  const layers = Array.from(
    { length: n },
    (_, i) =>
      `  h${i + 1} = scan xt in h${i} along ${i === 0 ? 1 : 0} carry (c = zeros([B, 4])) {\n    c = tanh(xt @ w${i} + c)\n  }`,
  );
  return [
    "dim B",
    "dim T",
    "model deep {",
    "  input h0: [B, T, 4]",
    ...Array.from({ length: n }, (_, i) => `  param w${i}: [4, 4] init glorot_uniform`),
    ...layers,
    `  loss sum(h${n})`,
    "}",
    "train t for deep { optimizer sgd(lr: 0.1) }",
    "",
  ].join("\n");
}

describe("target limits", () => {
  const scans = backends.wasm.limits.scans;
  // Each layer is one scan in predict and two in the step (forward, reverse).
  const over = deepRecurrent(Math.floor(scans / 2) + 1);

  for (const target of ["wasm", "webgpu"] as const)
    it(`refuses more scans than the ${target} runtime holds with E4012 at the model`, () => {
      const r = compile("main.dlg", { host: hostFor(over), target });
      expect(r.ok).toBe(false);
      const d = r.diagnostics.find((x) => x.severity === "error")!;
      expect(d.code).toBe("E4012");
      expect(d.message).toMatch(
        new RegExp(
          `model \`deep\` is too big for the ${target} target: its step entry needs ${scans + 2} scans; the ${target} runtime holds at most ${scans}`,
        ),
      );
      expect(over.slice(d.span.start, d.span.end)).toBe("deep");
    });

  it("compiles the same model for js, which has no such limit, and one layer fewer everywhere", () => {
    expect(compile("main.dlg", { host: hostFor(over), target: "js" }).ok).toBe(true);
    const fits = deepRecurrent(Math.floor(scans / 2));
    for (const target of ["wasm", "webgpu"] as const)
      expect(compile("main.dlg", { host: hostFor(fits), target }).ok, target).toBe(true);
  });
});
