// How compile time grows with program size:
//   npx tsx bench/compile-scaling.ts [--sizes 1000,2000,4000,8000,16000] [--kinds chain,wide,matmul]
//
// Each kind is a generated model of N flat statements with a loss and an
// Adam train block, so the step entry (autodiff + optimizer) is included:
//   chain   x{i} = relu(x{i-1}) * w            (one long elementwise chain)
//   wide    b{i} = relu(x * w + i), summed into the loss one add at a time
//           (N independent branches)
//   matmul  x{i} = x{i-1} @ w                   (a long chain of matmuls)
// relu is written out as the prelude defines it, `maximum(x, 0.0)`: the same
// graph, but no block call, as a model may inline at most 10,000 (E2011).
//
// Per phase it prints wall ms: elaborate (parse, names, shapes), grad
// (autodiff of the forward graph alone), simplify and verify (of that
// gradient graph alone), entries (buildProgram: all four entries, so grad,
// simplify and verify again), then for every entry fuse (lowerGraph), plan
// (planMemory) and codegen (entryText with the JS backend), and emit (the
// whole of emitProgram: fuse, plan and codegen again, and the module text). `compile` is elaborate +
// entries + emit, what `dlg compile` spends. The last column of each block
// is the ratio of each phase's time at N to its time at N/2: about 2 means
// linear, about 4 quadratic. Nothing here is asserted; the structural
// guarantees live in test/memory-plan.test.ts.

import { parseArgs } from "node:util";
import { grad } from "../compiler/autodiff.ts";
import { jsBackend } from "../compiler/backends/js.ts";
import { entryText } from "../compiler/emit/entry-plan.ts";
import { buildProgram, emitProgram } from "../cli/node-host.ts";
import { elaborate } from "../compiler/elaborate.ts";
import { lowerGraph } from "../compiler/fuse.ts";
import { verify } from "../compiler/ir-verify.ts";
import { largestId, VarGen } from "../compiler/ir.ts";
import { defaultLimits } from "../compiler/limits.ts";
import { planMemory } from "../compiler/memory.ts";
import { simplify } from "../compiler/simplify.ts";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

type Kind = "chain" | "wide" | "matmul";

const bodies: Record<Kind, (n: number) => string[]> = {
  chain: (n) => [
    "  input x0: [B, 8]",
    "  param w: [8] init ones",
    ...Array.from({ length: n }, (_, k) => `  x${k + 1} = maximum(x${k}, 0.0) * w`),
    `  loss mean(x${n})`,
  ],
  wide: (n) => [
    "  input x: [B, 8]",
    "  param w: [8] init ones",
    ...Array.from({ length: n }, (_, k) => `  b${k + 1} = maximum(x * w + ${k + 1}.0, 0.0)`),
    "  s1 = b1",
    ...Array.from({ length: n - 1 }, (_, k) => `  s${k + 2} = s${k + 1} + b${k + 2}`),
    `  loss mean(s${n})`,
  ],
  matmul: (n) => [
    "  input x0: [B, 8]",
    "  param w: [8, 8] init ones",
    ...Array.from({ length: n }, (_, k) => `  x${k + 1} = x${k} @ w`),
    `  loss mean(x${n})`,
  ],
};

function source(kind: Kind, n: number): string {
  return [
    "dim B",
    "model m {",
    ...bodies[kind](n),
    "}",
    "train t for m { optimizer adam(lr: 0.01) batch 4 epochs 1 }",
    "",
  ].join("\n");
}

const stdDir = fileURLToPath(new URL("../std/", import.meta.url));

function time<T>(f: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = f();
  return { value, ms: performance.now() - t0 };
}

function measure(kind: Kind, n: number): Record<string, number> {
  const text = source(kind, n);
  const file = `/bench/${kind}-${n}.dlg`;
  const host = {
    readFile: (p: string) => (p === file ? text : undefined),
    readStd: (name: string) => readFileSync(stdDir + name, "utf8"),
  };
  const el = time(() => elaborate(file, host, { limits: defaultLimits }));
  const errors = el.value.diagnostics.filter((d) => d.severity === "error");
  if (errors.length) throw new Error(`${kind} ${n}: ${errors[0]!.message}`);
  const model = el.value.models.get("m")!;
  const train = el.value.trains[0]!;
  const ms: Record<string, number> = { elaborate: el.ms };

  const params = model.params.map((p) => p.var);
  const g = time(() =>
    grad(model.forward, model.loss!, params, new VarGen(largestId(model.forward, model.init) + 1)),
  );
  ms.grad = g.ms;
  const s = time(() => simplify(g.value.graph));
  ms.simplify = s.ms;
  ms.verify = time(() => verify(s.value)).ms;

  const be = time(() => buildProgram(model, train));
  ms.entries = be.ms;
  const program = be.value;
  const { entries } = program;
  let [fuse, plan, codegen, kernels] = [0, 0, 0, 0];
  entries.forEach((e, k) => {
    const lowered = time(() => lowerGraph(e.graph));
    const mem = time(() => planMemory(lowered.value));
    const js = time(() => entryText(jsBackend, lowered.value, mem.value, model.dims, `e${k}`, e));
    fuse += lowered.ms;
    plan += mem.ms;
    codegen += js.ms;
    kernels += lowered.value.kernels.length;
  });
  const emitted = time(() => emitProgram(program, jsBackend, { modelName: model.name })).ms;
  return {
    ...ms,
    fuse,
    plan,
    codegen,
    emit: emitted,
    compile: el.ms + be.ms + emitted,
    kernels,
    kb: text.length / 1024,
  };
}

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,2000,4000,8000,16000" },
    kinds: { type: "string", default: "chain,wide,matmul" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const kinds = values.kinds.split(",") as Kind[];
for (const k of kinds) if (!(k in bodies)) throw new Error(`unknown kind ${k}`);

const phases = [
  "elaborate",
  "grad",
  "simplify",
  "verify",
  "entries",
  "fuse",
  "plan",
  "codegen",
  "emit",
  "compile",
];
for (const kind of kinds) {
  // A small warm-up so the first size does not pay for JIT and module loading.
  measure(kind, 100);
  const rows = sizes.map((n) => ({ n, ms: measure(kind, n) }));
  console.log(`\n${kind}`);
  console.log(
    [
      "N".padStart(6),
      "KiB".padStart(6),
      "kernels".padStart(10),
      ...phases.map((p) => p.padStart(10)),
    ].join(""),
  );
  rows.forEach(({ n, ms }, i) => {
    const prev = rows[i - 1];
    console.log(
      [
        String(n).padStart(6),
        ms.kb!.toFixed(0).padStart(6),
        String(ms.kernels).padStart(10),
        ...phases.map((p) => ms[p]!.toFixed(0).padStart(10)),
      ].join(""),
    );
    if (prev && prev.n * 2 === n)
      console.log(
        [
          "ratio".padStart(22),
          ...phases.map((p) => {
            const r = ms[p]! / Math.max(prev.ms[p]!, 1);
            return `x${r.toFixed(1)}`.padStart(10);
          }),
        ].join(""),
      );
  });
}
