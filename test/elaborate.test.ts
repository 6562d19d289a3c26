// Elaboration: LANGUAGE.md's examples, the semantics of the surface language
// (promotion, lowering, blocks, params, std), and numbers checked with the
// reference interpreter where a shape alone would not catch a wrong formula.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import { shapeToString } from "../compiler/dims.ts";
import { elaborate, resolveImport, stdPath, type ElaborateResult } from "../compiler/elaborate.ts";
import { editDistance, nearest } from "../compiler/elaborate/suggest.ts";
import { interpret, scalar, tensor, type Tensor } from "../compiler/interpret.ts";
import type { ModelIR, TensorType } from "../compiler/ir.ts";
import { verify } from "../compiler/ir-verify.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const fixture = (name: string) => readFileSync(join(root, "test/fixtures/language", name), "utf8");

/** In-memory files; std still comes from disk. */
function host(files: Record<string, string>, reads: string[] = []) {
  return {
    readFile: (p: string) => {
      reads.push(p);
      return files[p];
    },
    readStd: (name: string) => readFileSync(stdPath(name), "utf8"),
  };
}

function run(src: string, extra: Record<string, string> = {}): ElaborateResult {
  return elaborate("main.dlg", host({ "main.dlg": src, ...extra }));
}

/** Elaborate and insist on no diagnostics (printing them if there are). */
function ok(src: string, extra: Record<string, string> = {}): ElaborateResult {
  const r = run(src, extra);
  expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
  return r;
}

function model(r: ElaborateResult, name?: string): ModelIR {
  const m = name ? r.models.get(name) : [...r.models.values()][0];
  if (!m) throw new Error(`no model ${name ?? ""}`);
  return m;
}

const ty = (t: TensorType) => `${t.dtype}${shapeToString(t.shape)}`;
const codes = (r: ElaborateResult) => r.diagnostics.map((d) => d.code);
const ops = (m: ModelIR) => m.forward.eqns.map((e) => e.op);

/** A model whose single output is `expr` over `x: [B, 4]`-style inputs, for quick shape checks. */
function outType(inputs: string, expr: string, pre = ""): string {
  const r = ok(`dim B, T\n${pre}\nmodel m {\n${inputs}\n  output o = ${expr}\n}`);
  return ty(model(r).outputs[0]!.var.type);
}

/** Run the forward graph with inputs by name; params from the init graph (seed 1); training off. */
function forward(
  m: ModelIR,
  inputs: Record<string, Tensor>,
  training = false,
  seed = 7,
  dims: Record<string, number> = {},
): Tensor[] {
  // Data dims that size params (linreg's F) must be given to the init graph.
  const params = interpret(m.init, [scalar(1, "i32")], dims);
  const ins = [
    ...m.inputs.map((i) => inputs[i.name]!),
    ...params,
    scalar(seed, "i32"),
    scalar(training ? 1 : 0, "bool"),
  ];
  return interpret(m.forward, ins);
}

const rand = (n: number, k = 1) =>
  Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 * k) * 2);

describe("LANGUAGE.md examples", () => {
  it("linreg elaborates with its three train configs", () => {
    const r = ok(fixture("linreg.dlg"));
    const m = model(r, "linreg");
    expect(m.dims).toEqual(["B", "F"]);
    expect(m.inputs.map((i) => `${i.name}: ${ty(i.var.type)}`)).toEqual([
      "x: f32[B, F]",
      "y: f32[B]",
    ]);
    // F is a data dim (not the batch), so it may size a param; the runtime binds it once.
    expect(m.params.map((p) => `${p.path}: ${ty(p.var.type)}`)).toEqual(["theta: f32[F]"]);
    expect(m.outputs.map((o) => `${o.name}: ${ty(o.var.type)}`)).toEqual(["pred: f32[B]"]);
    expect(ty(m.loss!.type)).toBe("f32[]");
    expect(
      r.trains.map((t) => [t.name, t.optimizer.kind, t.optimizer.lr, t.batch, t.epochs]),
    ).toEqual([
      ["batch_gd", "gd", 0.01, "full", 200],
      ["sgd", "sgd", 0.01, 1, 5],
      ["minibatch", "sgd", 0.01, 32, 20],
    ]);
  });

  it("linreg computes x @ theta and the mean squared error", () => {
    const m = model(ok(fixture("linreg.dlg")));
    // theta starts at zeros, so pred is 0 and the loss is mean(y^2); F = 2 comes from x's shape.
    const [pred, loss] = forward(
      m,
      {
        x: tensor("f32", [3, 2], [1, 2, 3, 4, 5, 6]),
        y: tensor("f32", [3], [1, 2, 3]),
      },
      false,
      7,
      { F: 2 },
    );
    expect([...pred!.data]).toEqual([0, 0, 0]);
    expect(loss!.data[0]).toBeCloseTo(14 / 3, 12);
  });

  it("mlp elaborates with keras-like param paths and a scalar f32 loss", () => {
    const r = ok(fixture("mlp.dlg"));
    const m = model(r, "mlp");
    expect(m.params.map((p) => `${p.path}: ${shapeToString(p.var.type.shape)}`)).toEqual([
      "dense_1.w: [784, 256]",
      "dense_1.b: [256]",
      "dense_2.w: [256, 10]",
      "dense_2.b: [10]",
    ]);
    expect(m.inputs.map((i) => ty(i.var.type))).toEqual(["f32[B, 784]", "i32[B]"]);
    expect(m.outputs.map((o) => `${o.name}: ${ty(o.var.type)}`)).toEqual(["probs: f32[B, 10]"]);
    expect(m.metrics.map((o) => `${o.name}: ${ty(o.var.type)}`)).toEqual(["accuracy: f32[]"]);
    expect(ty(m.loss!.type)).toBe("f32[]");
    expect(ops(m)).toContain("matmul");
    expect(ops(m)).toContain("random"); // dropout's mask
    const t = r.trains[0]!;
    expect([t.optimizer.kind, t.optimizer.lr, t.optimizer.momentum, t.batch, t.epochs]).toEqual([
      "sgd",
      0.1,
      0.9,
      64,
      5,
    ]);
  });

  it("builds graphs in the documented layout that pass the IR verifier", () => {
    const m = model(ok(fixture("mlp.dlg")));
    expect(m.forward.inputs).toEqual([
      ...m.inputs.map((i) => i.var),
      ...m.params.map((p) => p.var),
      m.seed,
      m.training,
    ]);
    expect(m.forward.outputs).toEqual([
      ...m.outputs.map((o) => o.var),
      ...m.metrics.map((x) => x.var),
      m.loss,
    ]);
    expect(m.init.inputs).toHaveLength(1);
    expect(m.init.outputs.map((v) => ty(v.type))).toEqual(m.params.map((p) => ty(p.var.type)));
    expect(() => verify(m.forward)).not.toThrow();
    expect(() => verify(m.init)).not.toThrow();
    expect(m.forward.eqns.every((e) => e.span !== undefined && e.file !== undefined)).toBe(true);
  });

  // conv2d, pooling and scan all compile now: nothing is "not supported yet" any more.
  it.each(["lenet.dlg", "my_lstm.dlg", "tagger.dlg", "snippets.dlg"])(
    "%s elaborates without diagnostics",
    (file) => expect(codes(run(fixture(file)))).toEqual([]),
  );
});

describe("operators and promotion", () => {
  it("lowers vector matmuls to rank-2 matmuls and back", () => {
    expect(outType("  input x: [B, 4]\n  input v: [4]", "x @ v")).toBe("f32[B]");
    expect(outType("  input v: [4]\n  input w: [4, 3]", "v @ w")).toBe("f32[3]");
    expect(outType("  input u: [4]\n  input v: [4]", "u @ v")).toBe("f32[]");
    expect(outType("  input x: [B, T, 4]\n  input w: [4, 3]", "x @ w")).toBe("f32[B, T, 3]");
  });

  it("promotes ints and bools next to floats, and keeps comparisons bool", () => {
    expect(outType("  input i: int[B]\n  input x: [B]", "i + x")).toBe("f32[B]");
    expect(outType("  input i: int[B]", "i * 2")).toBe("i32[B]");
    expect(outType("  input i: int[B]", "i * 0.5")).toBe("f32[B]");
    expect(outType("  input i: int[B]", "i / 2")).toBe("f32[B]");
    expect(outType("  input i: int[B]", "i div 2")).toBe("i32[B]");
    expect(outType("  input x: [B]", "x > 0")).toBe("bool[B]");
    expect(outType("  input x: [B]", "mean(x > 0)")).toBe("f32[]");
    expect(outType("  input x: [B]", "sum(x > 0)")).toBe("i32[]");
  });

  it("folds compile-time arithmetic, and dims stay symbolic", () => {
    expect(outType("  input x: [B, 12]", "reshape(x, [B, 3, 12 / 3])")).toBe("f32[B, 3, 4]");
    expect(outType("  input x: [B, 12]", "reshape(x, [B * 12])")).toBe("f32[12 * B]");
    expect(outType("  input x: [B, 12]", "reshape(x, [-1, 6])")).toBe("f32[2 * B, 6]");
    expect(outType("  input x: [B, 10]", "zeros([B, (10 - 3) div 2 + 1])")).toBe("f32[B, 4]");
    expect(outType("  input x: [B, 8]", "x * (if k > 2 then 2.0 else 0.5)", "const k = 3")).toBe(
      "f32[B, 8]",
    );
  });

  it("computes floor division and mod like Python on tensors", () => {
    const m = model(
      ok("dim B\nmodel m {\n  input x: [B]\n  output q = x div 2.0\n  output r = x mod 2.0\n}"),
    );
    const [q, r] = forward(m, { x: tensor("f32", [4], [-3, -0.5, 3, 4.5]) });
    expect([...q!.data]).toEqual([-2, -1, 1, 2]);
    expect([...r!.data]).toEqual([1, 1.5, 1, 0.5]);
  });

  it("turns a run-time dim used as a value into dimval", () => {
    const m = model(ok("dim B\nmodel m {\n  input x: [B, 3]\n  output s = sum(x) / B\n}"));
    expect(ops(m)).toContain("dimval");
    const d = model(ok("dim B\nmodel m {\n  input x: [B, 16]\n  output s = x / sqrt(16)\n}"));
    expect(ops(d)).not.toContain("dimval");
  });
});

describe("intrinsics", () => {
  const x3 = "  input x: [B, T, 6]";
  it("reduces over axes with keepdims", () => {
    expect(outType(x3, "sum(x)")).toBe("f32[]");
    expect(outType(x3, "sum(x, axis: 1)")).toBe("f32[B, 6]");
    expect(outType(x3, "mean(x, axis: [0, -1], keepdims: true)")).toBe("f32[1, T, 1]");
    expect(outType(x3, "max(x, axis: -1)")).toBe("f32[B, T]");
    expect(outType(x3, "argmax(x)")).toBe("i32[B, T]");
  });

  it("moves data: transpose, flatten, concat, stack, split", () => {
    expect(outType(x3, "transpose(x)")).toBe("f32[B, 6, T]");
    expect(outType(x3, "transpose(x, perm: [2, 0, 1])")).toBe("f32[6, B, T]");
    expect(outType(x3, "flatten(x)")).toBe("f32[B, 6 * T]");
    expect(outType(x3, "concat([x, x], axis: -1)")).toBe("f32[B, T, 12]");
    expect(outType(x3, "stack([x, x, x], axis: 1)")).toBe("f32[B, 3, T, 6]");
    const r = ok(
      `dim B\nmodel m {\n  input x: [B, 6]\n  a, b, c = split(x, 3)\n  output o = concat([c, a], axis: 1)\n}`,
    );
    expect(ty(model(r).outputs[0]!.var.type)).toBe("f32[B, 4]");
  });

  it("indexes and slices with ints, negatives, steps and dims", () => {
    expect(outType(x3, "x[0]")).toBe("f32[T, 6]");
    expect(outType(x3, "x[:, -1]")).toBe("f32[B, 6]");
    expect(outType(x3, "x[:, :, 1:5:2]")).toBe("f32[B, T, 2]");
    expect(outType(x3, "x[:, 1:]")).toBe("f32[B, T - 1, 6]");
    expect(outType(x3, "x[:, :, -2:]")).toBe("f32[B, T, 2]");
    const m = model(
      ok("dim B\nmodel m {\n  input x: [B, 5]\n  output o = x[:, 1:4:2]\n  output p = x[1, -1]\n}"),
    );
    const [o, p] = forward(m, { x: tensor("f32", [2, 5], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) });
    expect([...o!.data]).toEqual([1, 3, 6, 8]);
    expect([...p!.data]).toEqual([9]);
  });

  it("where, one_hot, zeros, ones and stop_gradient", () => {
    expect(outType("  input x: [B, 3]", "where(x > 0, x, 0)")).toBe("f32[B, 3]");
    expect(outType("  input y: int[B]", "one_hot(y, 5)")).toBe("f32[B, 5]");
    expect(outType("  input x: [B, 3]", "zeros([B, 3]) + ones([3])")).toBe("f32[B, 3]");
    expect(outType("  input x: [B, 3]", "stop_gradient(x)")).toBe("f32[B, 3]");
    const m = model(ok("dim B\nmodel m {\n  input y: int[B]\n  output o = one_hot(y, 3)\n}"));
    expect([...forward(m, { y: tensor("i32", [2], [2, 0]) })[0]!.data]).toEqual([0, 0, 1, 1, 0, 0]);
  });
});

describe("blocks", () => {
  it("binds signature dims by unification and checks the result type", () => {
    const r = ok(`
block head(x: [b, t, d], h: int) -> [b, t, h, d / h] {
  return reshape(x, [b, t, h, d / h])
}
dim B, T
model m {
  input x: [B, T, 32]
  output o = head(x, 4)
}`);
    expect(ty(model(r).outputs[0]!.var.type)).toBe("f32[B, T, 4, 8]");
  });

  it("names params by call path, keras-style, nesting included", () => {
    const r = ok(`
block attend(x: [b, t, d]) -> [b, t, d] {
  q = x |> dense(d)
  k = x |> dense(d)
  v = x |> dense(d)
  return softmax(q @ transpose(k) / sqrt(d), axis: -1) @ v
}
dim B, T
model m {
  input x: [B, T, 16]
  param scale: [16] init ones
  h = x |> attend |> attend
  output o = h * scale |> dense(3)
}`);
    const paths = model(r).params.map((p) => p.path);
    expect(paths).toContain("attend_1.dense_3.w");
    expect(paths).toContain("attend_2.dense_1.b");
    expect(paths).toContain("dense_1.w");
    expect(paths[0]).toBe("scale");
    expect(paths).toHaveLength(1 + 2 * 3 * 2 + 2);
  });

  it("applies pipes as leading arguments and supports defaults and named args", () => {
    const r = ok(
      `dim B\nmodel m {\n  input x: [B, 4]\n  output o = x |> dense(3, bias: false) |> leaky_relu(alpha: 0.1)\n}`,
    );
    const m = model(r);
    // bias: false skips the add, and a param nothing reads does not exist (nor its init).
    expect(m.params.map((p) => p.path)).toEqual(["dense_1.w"]);
    expect(ops(m).filter((o) => o === "add")).toHaveLength(0);
    expect(m.init.outputs).toHaveLength(1);
    expect(m.init.eqns.every((e) => e.outs.every((o) => o.type.shape.length !== 1))).toBe(true);
    verify(m.init);
  });

  it("evaluates a scalar default after the tensor arguments bind its dims", () => {
    const r = ok(`
block wide(x: [..., n], hidden: int = 2 * n) -> [..., hidden] {
  return x |> dense(hidden)
}
dim B
model m {
  input x: [B, 8]
  output y = wide(x)
  output z = wide(x, hidden: 3)
}`);
    expect(model(r).outputs.map((o) => ty(o.var.type))).toEqual(["f32[B, 16]", "f32[B, 3]"]);
  });

  it("checks blocks that no model calls: names, placement, shapes", () => {
    const r = run(`
dim B
block unused(x: [..., n], units: int) -> [..., units] {
  input z: [B, 3]
  h = x |> dense(units) |> rellu
  return h + undefined_thing
}
block shapes(x: [b, n], y: [b, m]) -> [b, n] {
  return x @ y
}
block fine(x: [b, t, d], heads: int) -> [b, t, d] {
  parts = split(x |> dense(d), heads, axis: -1)
  return concat(parts, axis: -1) |> layer_norm
}
block called(x: [..., n], k: int) -> [..., k] {
  return x |> dense(k) |> rellu
}
model m {
  input x: [B, 8]
  output y = called(x, 3)
}`);
    expect(codes(r)).toEqual(["E2009", "E2003", "E2001", "E3002", "E2003"]);
    const text = renderDiagnostics(r.diagnostics, r.sources);
    expect(text).toContain("did you mean `relu`?");
    // The called block's mistake is reported once, from its call.
    expect(text.match(/rellu/g)).toHaveLength(4);
    expect(
      r.diagnostics.every((d) => d.notes.every((n) => !n.includes("in the call at main.dlg:3"))),
    );
  });

  it("reports recursion instead of looping", () => {
    const r = run(
      `block f(x: [n]) -> [n] {\n  return f(x)\n}\ndim B\nmodel m {\n  input x: [B]\n  output o = f(x)\n}`,
    );
    expect(codes(r)).toEqual(["E2008"]);
  });

  it("reports an error inside std at the user's call site", () => {
    const r = run("dim B\nmodel m {\n  input x: [B, 3]\n  output o = softmax(x, axis: 2)\n}");
    expect(codes(r)).toEqual(["E3005"]);
    expect(r.diagnostics[0]!.file).toBe("main.dlg");
    expect(r.diagnostics[0]!.notes.join()).toContain("std's `softmax`");
  });
});

describe("models", () => {
  it("keeps the batch dim out of params but allows data dims", () => {
    const bad = run(
      "dim B\nmodel m {\n  input x: [B, 4]\n  param w: [4, B]\n  output o = x @ w\n}",
    );
    expect(codes(bad)).toEqual(["E3007"]);
    expect(bad.diagnostics[0]!.notes.join(" ")).toContain("first axis of input `x`");
    const unbound = run(
      "dim B, H\nmodel m {\n  input x: [B, 4]\n  param w: [4, H]\n  output o = x @ w\n}",
    );
    expect(codes(unbound)).toEqual(["E3007"]);
  });

  it("specialises dims the caller knows (the CLI, from the data)", () => {
    const r = elaborate("l.dlg", host({ "l.dlg": fixture("linreg.dlg") }), { dims: { F: 13 } });
    expect(r.diagnostics).toEqual([]);
    expect(shapeToString(model(r).params[0]!.var.type.shape)).toBe("[13]");
  });

  it("collects independent errors from several statements", () => {
    const r = run(
      "dim B\nmodel m {\n  input x: [B, 4]\n  a = x @ zeros([3, 2])\n  b = foo(x)\n  c = a + 1\n  output o = x + zeros([5])\n}",
    );
    // `c` depends on the failed `a`: no cascade.
    expect(codes(r)).toEqual(["E3002", "E2003", "E3001"]);
  });

  it("reports a second loss and misplaced statements", () => {
    const r = run(
      "dim B\nmodel m {\n  input x: [B]\n  loss mean(x)\n  loss sum(x)\n  return x\n}\nblock f(x: [n]) -> [n] {\n  input y: [n]\n  return x\n}",
    );
    // The block is checked though no model calls it.
    expect(codes(r)).toEqual(["E2005", "E2009", "E2009"]);
  });

  it("keeps an int output int, and a number output of a float f32", () => {
    const r = ok(
      "dim B\nmodel m {\n  input x: [B]\n  output n = 3\n  output h = 0.5\n  output b = B\n}",
    );
    expect(model(r).outputs.map((o) => ty(o.var.type))).toEqual(["i32[]", "f32[]", "i32[]"]);
  });

  it("records the types of names and calls", () => {
    const r = ok(fixture("mlp.dlg"));
    const texts = r.types.filter((t) => t.file === "main.dlg").flatMap((t) => t.texts);
    expect(texts).toContain("logits: f32[B, 10]");
    expect(texts).toContain("x: f32[B, 784]");
    expect(r.types.some((t) => t.texts.includes("param dense_1.w: f32[784, 256]"))).toBe(true);
    const dense = r.types.flatMap((t) => t.texts).find((t) => t.startsWith("dense(x: [..., n]"));
    expect(dense).toContain("Fully connected layer");
  });
});

describe("imports", () => {
  it("reads each file once, relative to the importer", () => {
    const reads: string[] = [];
    const files: Record<string, string> = {
      "app/main.dlg":
        'import "lib/a.dlg"\nimport "lib/b.dlg"\ndim B\nmodel m {\n  input x: [B, 4]\n  output o = x |> twice\n}',
      "app/lib/a.dlg":
        'import "b.dlg"\nblock twice(x: [...]) -> [...] {\n  return double(double(x))\n}',
      "app/lib/b.dlg": "block double(x: [...]) -> [...] {\n  return x * 2\n}",
    };
    const r = elaborate("app/main.dlg", host(files, reads));
    expect(r.diagnostics).toEqual([]);
    expect(reads.sort()).toEqual(["app/lib/a.dlg", "app/lib/b.dlg", "app/main.dlg"]);
    expect([...r.sources.keys()]).toContain("std/prelude.dlg");
  });

  it("skips an unterminated import path: one syntax error, no follow-on read", () => {
    const reads: string[] = [];
    const r = elaborate("main.dlg", host({ "main.dlg": 'import "layers.dl\ndim B\n' }, reads));
    expect(codes(r)).toEqual(["E1002"]);
    expect(reads).toEqual(["main.dlg"]);
  });

  it("resolves paths", () => {
    expect(resolveImport("a/b/c.dlg", "../d.dlg")).toBe("a/d.dlg");
    expect(resolveImport("c.dlg", "./x/y.dlg")).toBe("x/y.dlg");
    expect(resolveImport("/abs/c.dlg", "y.dlg")).toBe("/abs/y.dlg");
  });
});

describe("train settings", () => {
  it("fills defaults: adam's hyperparameters, gd's full batch", () => {
    const r = ok(
      `${fixture("linreg.dlg")}\ntrain a for linreg { optimizer adam  seed 3 }\ntrain g for linreg { optimizer gd }\ntrain n for linreg { }`,
    );
    const [a, g, n] = r.trains.slice(3);
    expect(a!.optimizer).toMatchObject({
      kind: "adam",
      lr: 0.001,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
    });
    expect([a!.batch, a!.epochs, a!.seed]).toEqual([32, 1, 3]);
    expect(g!.batch).toBe("full");
    expect([n!.optimizer.kind, n!.optimizer.momentum, n!.batch]).toEqual(["sgd", 0, 32]);
  });

  it("accepts consts in settings", () => {
    const r = ok(
      `${fixture("linreg.dlg")}\nconst bs = 16\ntrain c for linreg { optimizer sgd(0.5, nesterov: true, momentum: 0.9)  batch bs }`,
    );
    expect(r.trains[3]).toMatchObject({ batch: 16, optimizer: { lr: 0.5, nesterov: true } });
  });
});

describe("std numerics (reference interpreter)", () => {
  const B = 3;
  const logits = rand(B * 4);
  const src = `dim B
model m {
  input x: [B, 4]
  input y: int[B]
  output sm = softmax(x)
  output lsm = log_softmax(x)
  output g = gelu(x)
  output d = dropout(x, 0.5)
  metric ce = cross_entropy(x, y)
  metric bce = binary_cross_entropy(sigmoid(x), x > 0)
  metric bcel = binary_cross_entropy_with_logits(x, x > 0)
}`;
  const m = model(ok(src));
  const inputs = { x: tensor("f32", [B, 4], logits), y: tensor("i32", [B], [0, 3, 1]) };
  const [sm, lsm, g, d, ce, bce, bcel] = forward(m, inputs);

  it("softmax rows sum to one and log_softmax is its log", () => {
    for (let b = 0; b < B; b++) {
      const row = [...sm!.data.slice(b * 4, b * 4 + 4)];
      expect(row.reduce((p, q) => p + q)).toBeCloseTo(1, 12);
      row.forEach((v, i) => expect(Math.log(v)).toBeCloseTo(lsm!.data[b * 4 + i]!, 12));
    }
  });

  it("cross_entropy is the mean negative log-probability of the label", () => {
    const want = -[0, 3, 1].reduce((s, label, b) => s + lsm!.data[b * 4 + label]!, 0) / B;
    expect(ce!.data[0]).toBeCloseTo(want, 12);
  });

  it("gelu matches the tanh approximation", () => {
    const want = (v: number) =>
      0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    logits.forEach((v, i) => expect(g!.data[i]).toBeCloseTo(want(v), 12));
  });

  it("binary cross-entropy agrees on probabilities and on logits", () => {
    expect(bce!.data[0]).toBeCloseTo(bcel!.data[0]!, 6);
  });

  it("dropout is the identity outside training and inverted dropout in it", () => {
    expect([...d!.data]).toEqual(logits);
    const on = forward(m, inputs, true)[3]!;
    let kept = 0;
    on.data.forEach((v, i) => {
      if (v !== 0) {
        kept++;
        expect(v).toBeCloseTo(logits[i]! * 2, 12);
      }
    });
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(logits.length);
  });

  it("initialisers draw from the documented distributions", () => {
    const r = ok(`dim B
model m {
  input x: [B, 200]
  param g: [200, 300] init glorot_uniform
  param n: [100, 100] init normal(0.5, mean: 1.0)
  param h: [200, 50] init he_normal
  param u: [1000] init uniform(-2, 3)
  param o: [7] init ones
  output y = x @ g
  // Params nothing reads would not exist: read them.
  output rn = n
  output rh = h
  output ru = u
  output ro = o
}`);
    const [g, n, h, u, o] = interpret(model(r).init, [scalar(5, "i32")]);
    const stats = (t: Tensor) => {
      const xs = [...t.data];
      const mean = xs.reduce((a, b) => a + b) / xs.length;
      const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
      return { mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
    };
    const limit = Math.sqrt(6 / 500);
    expect(stats(g!).max).toBeLessThanOrEqual(limit);
    expect(stats(g!).min).toBeGreaterThanOrEqual(-limit);
    expect(stats(g!).sd).toBeCloseTo(limit / Math.sqrt(3), 2);
    expect(stats(n!).mean).toBeCloseTo(1, 1);
    expect(stats(n!).sd).toBeCloseTo(0.5, 1);
    expect(stats(h!).sd).toBeCloseTo(Math.sqrt(2 / 200), 2);
    expect(stats(u!).min).toBeGreaterThanOrEqual(-2);
    expect(stats(u!).max).toBeLessThan(3);
    expect([...o!.data]).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });

  it("counts fans of channels-first filters as [out, in, k, k]", () => {
    const r = ok(`dim B
model m {
  input x: [B, 3]
  param f: [64, 12, 5, 5] init he_normal
  param g: [40, 10, 3, 3] init glorot_uniform
  output rf = f
  output rg = g
}`);
    const [f, g] = interpret(model(r).init, [scalar(5, "i32")]);
    const sd = (t: Tensor) => Math.sqrt([...t.data].reduce((a, b) => a + b * b, 0) / t.data.length);
    // fan_in = 12 * 5 * 5 = 300; glorot: fan_in 90, fan_out 360.
    expect(sd(f!)).toBeCloseTo(Math.sqrt(2 / 300), 2);
    expect(Math.max(...g!.data)).toBeLessThanOrEqual(Math.sqrt(6 / 450));
    expect(sd(g!)).toBeCloseTo(Math.sqrt(6 / 450) / Math.sqrt(3), 2);
  });
});

describe("suggestions", () => {
  it("counts a swap as one edit and prefers case-only differences", () => {
    expect(editDistance("adma", "adam")).toBe(1);
    expect(nearest("b", ["T", "B"])).toBe("B");
    expect(nearest("dens", ["relu", "dense"])).toBe("dense");
    expect(nearest("xyz", ["dense"])).toBeUndefined();
  });
});

describe("robustness", () => {
  it("never throws on a broken program: every prefix of the examples", () => {
    for (const file of ["mlp.dlg", "linreg.dlg", "tagger.dlg", "snippets.dlg"]) {
      const text = fixture(file);
      for (let cut = 0; cut < text.length; cut += 5) {
        const r = run(text.slice(0, cut));
        // Internal errors would be E9001: a prefix is a user error, never a compiler bug.
        expect(
          codes(r).filter((c) => c === "E9001"),
          `${file} cut at ${cut}`,
        ).toEqual([]);
      }
    }
  });
});

describe("dimensions: positive, in range, exact, within the size limits", () => {
  const first = (r: ElaborateResult) => r.diagnostics[0]!;
  const checks = (r: ElaborateResult, kind: "min" | "max" = "min") =>
    (model(r).checks ?? [])
      .filter((c) => (kind === "max") === (c.max !== undefined))
      .map((c) => c.message);

  it("refuses an empty or negative axis where it is written (E3013)", () => {
    const neg = run("dim B\nmodel m {\n  input x: [B, -1]\n  output y = x * 2.0\n}");
    expect(first(neg).code).toBe("E3013");
    expect(first(neg).message).toMatch(/input `x` would be \[B, -1\]: axis 1 is -1/);
    expect(neg.sources.get("main.dlg")!.slice(first(neg).span.start, first(neg).span.end)).toBe(
      "-1",
    );
    // dense(-2) declares `param w: [n, -2]` inside std: reported at the user's call.
    const dense = run("dim B\nmodel m {\n  input x: [B, 3]\n  output y = x |> dense(-2)\n}");
    expect(first(dense).code).toBe("E3013");
    expect(first(dense).file).toBe("main.dlg");
    // The concat VJP never sees a zero-size param: the checker refuses it.
    const zero = run(
      "dim B\nmodel m {\n  input x: [B, 3]\n  param w: [3, 0]\n  loss mean(concat([x, x @ w], axis: -1))\n}",
    );
    expect(codes(zero)).toEqual(["E3013"]);
    // An op result: a reshape to an empty axis.
    expect(codes(run("model m {\n  output y = zeros([2, 0])\n}"))).toEqual(["E3013"]);
  });

  it("leaves what run-time dims decide to a run-time check, and drops what it proves", () => {
    const r = ok(
      "dim B\nmodel m {\n  input x: [B]\n  output last = x[3]\n  output tail = x[1:]\n  output end = x[-1]\n}",
    );
    expect(checks(r)).toEqual([
      "B must be at least 4 for `x[3]` at main.dlg:4:17",
      "B must be at least 2 for `x[1:]` at main.dlg:5:17",
    ]);
    // 2 * B + 1 >= 3 and B mod 3 + 1 >= 1 are proved: no check.
    expect(
      checks(ok("dim B\nmodel m {\n  input x: [B, 2 * B + 1, B mod 3 + 1]\n  output y = x\n}")),
    ).toEqual([]);
    expect(checks(ok("dim B\nmodel m {\n  input x: [B, B mod 3]\n  output y = x\n}"))).toEqual([
      "B mod 3 must be at least 1 (axis 1 of input `x` `[B, B mod 3]` at main.dlg:3:12)",
    ]);
    // Known sizes are checked now: E3011, as before.
    expect(codes(run("model m {\n  input x: [3]\n  output y = x[3]\n}"))).toEqual(["E3011"]);
  });

  it("reports dimension arithmetic beyond 2^53 at its span (E3014)", () => {
    const pow = run("dim B\nmodel m {\n  input x: [B, 2 ^ 1024]\n  output y = x * 2.0\n}");
    expect(codes(pow)).toEqual(["E3014"]);
    expect(first(pow).message).toBe("dimension arithmetic overflows in 2 ^ 1024");
    const viaConst = run(
      "dim B\nconst n = 2 ^ 1024\nmodel m {\n  input x: [B, n]\n  output y = x\n}",
    );
    expect(codes(viaConst)).toEqual(["E3014"]);
    expect(codes(run("dim B\nmodel m {\n  input x: [B, B ^ 1000]\n  output y = x\n}"))).toEqual([
      "E3014",
    ]);
    const product = run("dim B\nmodel m {\n  input x: [B, 3 * 2 ^ 52]\n  output y = x\n}");
    expect(codes(product)).toEqual(["E3014"]);
    expect(first(product).message).toBe(`dimension arithmetic overflows in 3 * ${2 ** 52}`);
    // Ints outside types are exact too, at the literal or the operation that made them.
    const literal = run(
      "dim B\nmodel m {\n  input x: [B]\n  output y = x * 99999999999999999999\n}",
    );
    expect(codes(literal)).toEqual(["E3014"]);
    expect(first(literal).message).toBe("the integer 99999999999999999999 is too large");
    const unused = run("const n = 2 ^ 1024\nmodel m {\n  input x: [3]\n  output y = x\n}");
    expect(first(unused).message).toBe("integer arithmetic overflows in 2 ^ 1024");
    expect(first(unused).span).toEqual({ start: 10, end: 18 });
    // Floats may be that large.
    ok("dim B\nmodel m {\n  input x: [B]\n  output y = x * 2.0 ^ 100 * 1e20\n}");
  });

  it("refuses a tensor or parameters past the byte limits (E3015, E3016)", () => {
    const huge = run(
      "dim B\nmodel m {\n  input x: [B, 100000]\n  param w: [100000, 100000000]\n  output y = x @ w\n}",
    );
    expect(codes(huge)).toEqual(["E3015"]);
    expect(first(huge).message).toMatch(
      /parameter `w` is f32\[100000, 100000000\], 40000000000000 bytes/,
    );
    // An intermediate: [B, 10^9] floats are at least 4e9 bytes for any B.
    const wide = run(
      "dim B\nmodel m {\n  input x: [B, 1]\n  output y = x * zeros([B, 2000000000])\n}",
    );
    expect(codes(wide)).toEqual(["E3015"]);
    const host1 = host({
      "main.dlg":
        "model m {\n  param a: [1000]\n  param b: [2000]\n  output y = sum(a) + sum(b)\n}",
    });
    const small = { maxTensorBytes: 2 ** 32, maxParamBytes: 10000 };
    const total = elaborate("main.dlg", host1, { limits: small });
    expect(codes(total)).toEqual(["E3016"]);
    expect(first(total).notes).toEqual(["`b` takes 8000 bytes", "`a` takes 4000 bytes"]);
    // A size that depends on run-time dims becomes a run-time check.
    const r = ok(
      "dim B\nmodel m {\n  input x: [B, 10]\n  param w: [10, 1000000]\n  output y = x @ w\n}",
    );
    expect(checks(r, "max")).toEqual([
      "the f32[B, 1000000] tensor `x @ w` at main.dlg:5:14 may take at most 4294967296 bytes (the limit set by --max-tensor-bytes)",
    ]);
  });
});
