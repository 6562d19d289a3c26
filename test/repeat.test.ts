// `repeat(f, n)`: f applied n times, each copy with its own params, lowered
// to one scan over params stacked [n, ...shape] (compiler/elaborate/repeat.ts).
// Checked here: the params' names and stacks, each copy's own
// initialisation, gradients against central differences in float64 and
// against TensorFlow.js running the same layers in a plain loop, nesting,
// dropout masks per copy, the diagnostics, and that the emitted module and
// its kernel count do not grow with n.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { dimToString } from "../compiler/dims.ts";
import { stdPath } from "../compiler/elaborate.ts";
import { interpret, scalar, tensor } from "../compiler/interpret.ts";
import { loadModule } from "../cli/module.ts";
import { backends, check, compile } from "../cli/node-host.ts";
import { lowerEntry } from "../compiler/emit.ts";
import type { Kernel } from "../compiler/kernel.ts";
import { decodeSafetensors } from "../runtime/safetensors.ts";
import {
  dlgModel,
  fdGradientError,
  prepareDlg,
  randomParams,
  randomValues,
  relativeError,
  tf,
  tfGrads,
} from "./tfjs-helpers.ts";

const host = (src: string) => ({
  readFile: (p: string) => (p === "m.dlg" ? src : undefined),
  readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
});

const [batch, width] = [2, 4];

/** A residual tanh block: its output has its input's type, as `repeat` needs. */
const residual = `block res(x: [b, d]) -> [b, d] {
  return x + (x |> dense(d) |> tanh)
}`;

const model = (body: string, extra = "") => `${residual}
${extra}
dim B
model m {
  input x: [B, ${width}]
  input r: [B, ${width}]
  ${body}
}`;

const shapes = (src: string) =>
  Object.fromEntries(
    dlgModel(src).params.map((p) => [
      p.path,
      { shape: p.var.type.shape.map(dimToString), stack: p.stack },
    ]),
  );

describe("repeat: params", () => {
  it("stacks each param of the block over the copies, named after the repeat", () => {
    const got = shapes(model("output o = x |> repeat(res, 3)\n  loss sum(o * r)"));
    const stack = [{ prefix: "repeat_1.", n: 3 }];
    expect(got).toEqual({
      "repeat_1.dense_1.w": { shape: ["3", "4", "4"], stack },
      "repeat_1.dense_1.b": { shape: ["3", "4"], stack },
    });
  });

  it("numbers repeats like calls, and a std layer keeps its own name", () => {
    const src = model(
      "h = x |> repeat(res, 2)\n  output o = h |> repeat(dense(4), 5)\n  loss sum(o * r)",
    );
    expect(Object.keys(shapes(src))).toEqual([
      "repeat_1.dense_1.w",
      "repeat_1.dense_1.b",
      "repeat_2.w",
      "repeat_2.b",
    ]);
    expect(shapes(src)["repeat_2.w"]!.shape).toEqual(["5", "4", "4"]);
  });

  it("nests: a repeat inside a repeated block stacks on two axes", () => {
    const src = model(
      "output o = x |> repeat(twice, 2)\n  loss sum(o * r)",
      "block twice(x: [b, d]) -> [b, d] {\n  return x |> repeat(res, 3) |> dense(d)\n}",
    );
    expect(shapes(src)).toEqual({
      "repeat_1.repeat_1.dense_1.w": {
        shape: ["2", "3", "4", "4"],
        stack: [
          { prefix: "repeat_1.", n: 2 },
          { prefix: "repeat_1.repeat_1.", n: 3 },
        ],
      },
      "repeat_1.repeat_1.dense_1.b": {
        shape: ["2", "3", "4"],
        stack: [
          { prefix: "repeat_1.", n: 2 },
          { prefix: "repeat_1.repeat_1.", n: 3 },
        ],
      },
      "repeat_1.dense_1.w": { shape: ["2", "4", "4"], stack: [{ prefix: "repeat_1.", n: 2 }] },
      "repeat_1.dense_1.b": { shape: ["2", "4"], stack: [{ prefix: "repeat_1.", n: 2 }] },
    });
  });

  it("a shared binding keeps its one param set in every copy; a block's own binding is per copy", () => {
    const tied = model("enc = res\n  output o = x |> repeat(enc, 3)\n  loss sum(o * r)");
    expect(shapes(tied)).toEqual({
      "enc.dense_1.w": { shape: ["4", "4"], stack: undefined },
      "enc.dense_1.b": { shape: ["4"], stack: undefined },
    });
    const own = model(
      "output o = x |> repeat(twice, 3)\n  loss sum(o * r)",
      "block twice(x: [b, d]) -> [b, d] {\n  e = dense(d)\n  return x |> e |> tanh |> e\n}",
    );
    expect(Object.keys(shapes(own))).toEqual(["repeat_1.e.w", "repeat_1.e.b"]);
    expect(shapes(own)["repeat_1.e.w"]!.shape).toEqual(["3", "4", "4"]);
    // A shared binding holding a repeat, applied twice: one stacked set.
    const twiceShared = model(
      "enc = deep\n  output o = (x |> enc) + (r |> enc)\n  loss sum(o)",
      "block deep(x: [b, d]) -> [b, d] {\n  return x |> repeat(res, 3)\n}",
    );
    expect(shapes(twiceShared)).toEqual({
      "enc.repeat_1.dense_1.w": {
        shape: ["3", "4", "4"],
        stack: [{ prefix: "enc.repeat_1.", n: 3 }],
      },
      "enc.repeat_1.dense_1.b": { shape: ["3", "4"], stack: [{ prefix: "enc.repeat_1.", n: 3 }] },
    });
    expect(worstFdError(twiceShared, 23)).toBeLessThan(1e-6);
  });

  it("a function without params, and a count of 1", () => {
    const src = model("output o = x |> repeat(relu, 3) |> repeat(res, 1)\n  loss sum(o * r)");
    expect(shapes(src)).toEqual({
      "repeat_2.dense_1.w": { shape: ["1", "4", "4"], stack: [{ prefix: "repeat_2.", n: 1 }] },
      "repeat_2.dense_1.b": { shape: ["1", "4"], stack: [{ prefix: "repeat_2.", n: 1 }] },
    });
    expect(worstFdError(src, 21)).toBeLessThan(1e-6);
  });

  it("initialises every copy on its own, from the slice's fans", () => {
    const n = 6;
    const src = `dim B
model m {
  input x: [B, 32]
  output o = x |> repeat(dense(32), ${n})
}`;
    const m = dlgModel(src);
    const [w] = interpret(m.init, [scalar(3, "i32")]);
    const limit = Math.sqrt(6 / (32 + 32)); // glorot_uniform of one [32, 32] copy
    const size = 32 * 32;
    const copies = Array.from({ length: n }, (_, i) => [
      ...w!.data.slice(i * size, (i + 1) * size),
    ]);
    for (const c of copies) {
      const max = Math.max(...c.map(Math.abs));
      expect(max).toBeLessThanOrEqual(limit);
      expect(max).toBeGreaterThan(0.95 * limit);
      // Uniform on [-limit, limit]: variance limit^2 / 3, within sampling error.
      const variance = c.reduce((s, v) => s + v * v, 0) / size;
      expect(Math.abs(variance / ((limit * limit) / 3) - 1)).toBeLessThan(0.15);
    }
    for (let i = 1; i < n; i++) expect(copies[i]).not.toEqual(copies[0]);
  });
});

/** Central differences of `loss` wrt every param element and x, against the gradients. */
function worstFdError(src: string, salt: number, shape = [batch, width]): number {
  const params = randomParams(src, salt);
  const inputs = {
    x: randomValues(shape, salt + 1, -1, 1),
    r: randomValues(shape, salt + 2),
  };
  return fdGradientError(src, inputs, params);
}

describe("repeat: random draws", () => {
  it("dropout in the repeated block draws a different mask in each copy", () => {
    // From zeros, two copies of h -> 2h + 2 * mask give 4 * m1 + 2 * m2: all of 0, 2, 4, 6
    // appear only if the copies' masks differ (the same mask would give just 0 and 6).
    const src = `block drop(x: [b, d]) -> [b, d] {
  return x * 2.0 + dropout(ones(shape(x)), 0.5)
}
dim B
model m {
  input x: [B, 64]
  output o = x |> repeat(drop, 2)
}`;
    const m = dlgModel(src);
    const x = tensor("f32", [2, 64], new Array(128).fill(0));
    const [o] = interpret(m.forward, [x, scalar(5, "i32"), scalar(1, "bool")]);
    expect(new Set(o!.data)).toEqual(new Set([0, 2, 4, 6]));
    const [again] = interpret(m.forward, [x, scalar(6, "i32"), scalar(1, "bool")]);
    expect([...again!.data]).not.toEqual([...o!.data]);
  });
});

describe("repeat: gradients match central differences in float64", () => {
  it("a repeated residual block", () => {
    expect(
      worstFdError(model("output o = x |> repeat(res, 3)\n  loss sum(o * r)"), 5),
    ).toBeLessThan(1e-6);
  });
  it("nested repeats", () => {
    const src = model(
      "output o = x |> repeat(twice, 2)\n  loss sum(o * r)",
      "block twice(x: [b, d]) -> [b, d] {\n  return x |> repeat(res, 2) |> dense(d) |> tanh\n}",
    );
    expect(worstFdError(src, 9)).toBeLessThan(1e-6);
  });
  it("a repeated block holding a scan (rnn), and a repeat inside a scan's body", () => {
    const rnn = `block rnnblock(x: [b, t, d]) -> [b, t, d] {
  return x + (x |> rnn(d))
}
dim B
model m {
  input x: [B, 3, ${width}]
  input r: [B, 3, ${width}]
  output o = x |> repeat(rnnblock, 2)
  loss sum(o * r)
}`;
    expect(worstFdError(rnn, 13, [batch, 3, width])).toBeLessThan(1e-6);
    const inScan = `dim B
model m {
  input x: [B, 3, ${width}]
  input r: [B, 3, ${width}]
  output o = scan xt in x along 1 carry (h = zeros([B, ${width}])) {
    h = tanh((h |> repeat(dense(${width}), 2)) + xt)
    yield h
  }
  loss sum(o * r)
}`;
    expect(worstFdError(inScan, 17, [batch, 3, width])).toBeLessThan(1e-6);
  });
});

describe("repeat: TensorFlow.js agrees", () => {
  it("outputs, loss and every gradient of a loop of the same layers", () => {
    const n = 3;
    const src = model(`output o = x |> repeat(res, ${n})\n  loss sum(o * r)`);
    const params = randomParams(src, 7);
    const x = randomValues([batch, width], 1, -2, 2);
    const r = randomValues([batch, width], 2);
    const dlg = prepareDlg(src).run({ x, r }, params);
    let o: number[] = [];
    const run = tfGrads({ ...params, x, r }, (v) => {
      let h = v.x!;
      for (let i = 0; i < n; i++) {
        const w = tf.squeeze(tf.slice(v["repeat_1.dense_1.w"]!, [i, 0, 0], [1, width, width]), [0]);
        const b = tf.squeeze(tf.slice(v["repeat_1.dense_1.b"]!, [i, 0], [1, width]), [0]);
        h = tf.add(h, tf.tanh(tf.add(tf.matMul(h, w), b)));
      }
      o = [...h.dataSync()];
      return tf.sum(tf.mul(h, v.r!));
    });
    const TOL = 1e-4;
    expect(relativeError(dlg.outputs.o!, o)).toBeLessThan(TOL);
    expect(Math.abs(dlg.loss - run.loss) / Math.abs(run.loss)).toBeLessThan(TOL);
    for (const [path, g] of Object.entries(dlg.paramGrads))
      expect(relativeError(g, run.grads[path]!), `d loss / d ${path}`).toBeLessThan(TOL);
    expect(relativeError(dlg.inputGrads.x!, run.grads.x!), "d loss / d x").toBeLessThan(TOL);
  });
});

describe("repeat: diagnostics", () => {
  const codes = (src: string) => check("m.dlg", { host: host(src) }).diagnostics;

  it("E3040: the function must return its input's type, naming both", () => {
    const [d, ...rest] = codes(model("output o = x |> repeat(dense(8), 2)\n  loss sum(o)"));
    expect(rest).toEqual([]);
    expect(d!.code).toBe("E3040");
    expect(d!.message).toContain("f32[B, 4]");
    expect(d!.message).toContain("f32[B, 8]");
  });

  it("E3041: a count below 1; E2007: a count only known at run time, or f not a function", () => {
    expect(
      codes(model("output o = x |> repeat(res, 0)\n  loss sum(o)")).map((d) => d.code),
    ).toEqual(["E3041"]);
    expect(
      codes(model("output o = x |> repeat(res, B)\n  loss sum(o)")).map((d) => d.code),
    ).toEqual(["E2007"]);
    expect(
      codes(model("output o = x |> repeat(3, res)\n  loss sum(o)")).map((d) => d.code),
    ).toEqual(["E2007"]);
  });
});

/** A transformer encoder layer, as LANGUAGE.md's example repeats it. */
const encoderSrc = (n: number) => `block encoder_block(x: [b, t, d], heads: int) -> [b, t, d] {
  h = x + (x |> layer_norm |> multi_head_attention(heads))
  return h + (h |> layer_norm |> dense(4 * d) |> relu |> dense(d))
}
dim B
model encoder {
  input tokens: int[B, 8]
  input y: int[B, 8]
  output logits = tokens |> embedding(32, 16) |> repeat(encoder_block(heads: 4), ${n}) |> dense(32)
  loss cross_entropy(logits, y)
}
train t for encoder { optimizer adam(lr: 0.001)  batch 4  epochs 1 }`;

const count = (ks: readonly Kernel[]): number =>
  ks.reduce((k, x) => k + (x.kind === "scan" ? count(x.body) : 1), 0);

describe("repeat: the module does not grow with n", () => {
  for (const target of ["js", "wasm"] as const)
    it(`${target}: repeat(f, 12) compiles to a module under 1.5x repeat(f, 2), with the same kernels`, () => {
      const built = [2, 12].map((n) => {
        const r = compile("m.dlg", { host: host(encoderSrc(n)), target });
        expect(r.diagnostics).toEqual([]);
        const kernels = (["init", "predict", "step"] as const).map((name) => {
          const e = r.program!.entries.find((x) => x.name === name)!;
          return count(lowerEntry(e.graph, backends[target].lower).kernels.kernels);
        });
        return { n, bytes: r.js!.length, kernels };
      });
      const [two, twelve] = built as [(typeof built)[0], (typeof built)[0]];
      console.log(
        `encoder module (${target}): repeat(f, 2) ${two.bytes} bytes, repeat(f, 12) ${twelve.bytes} bytes, ratio ${(twelve.bytes / two.bytes).toFixed(4)}; kernels init/predict/step ${two.kernels.join("/")}`,
      );
      expect(twelve.bytes / two.bytes).toBeLessThanOrEqual(1.5);
      // Pinned: the copies share the body's kernels, whatever n.
      expect(two.kernels).toEqual([22, 28, 163]);
      expect(twelve.kernels).toEqual(two.kernels);
    });
});

describe("repeat: the runtime names each copy", () => {
  it("params(), spec, the .d.ts and a checkpoint round trip use repeat_1.<i>.*", async () => {
    const src =
      model("output o = x |> repeat(res, 3)\n  loss sum(o * r)") +
      "\ntrain t for m { optimizer sgd(lr: 0.1)  batch 2  epochs 1 }";
    const r = compile("m.dlg", { host: host(src) });
    expect(r.diagnostics).toEqual([]);
    const names = [0, 1, 2].flatMap((i) => [`repeat_1.${i}.dense_1.w`, `repeat_1.${i}.dense_1.b`]);
    const mod = await loadModule(r.js!);
    const spec = mod.spec.params as { name: string; shape: number[] }[];
    expect(spec.map((p) => p.name).sort()).toEqual([...names].sort());
    expect(spec.find((p) => p.name === "repeat_1.2.dense_1.w")!.shape).toEqual([4, 4]);
    for (const name of names) expect(r.dts).toContain(JSON.stringify(name));
    const a = await mod.createModel({ seed: 1 });
    const batch = {
      x: Float32Array.from({ length: 8 }, (_, i) => Math.sin(i)),
      r: Float32Array.from({ length: 8 }, (_, i) => Math.cos(i)),
    };
    await a.step(batch);
    const pa = await a.params();
    expect(Object.keys(pa).sort()).toEqual([...names].sort());
    expect(pa["repeat_1.1.dense_1.w"]!.length).toBe(16);
    expect([...pa["repeat_1.0.dense_1.w"]!]).not.toEqual([...pa["repeat_1.1.dense_1.w"]!]);
    const bytes = await a.save();
    const file = decodeSafetensors(bytes);
    expect([...file.tensors.keys()].filter((k) => !k.startsWith("__")).sort()).toEqual(
      [...names].sort(),
    );
    expect(file.tensors.get("repeat_1.2.dense_1.w")!.shape).toEqual([4, 4]);
    expect([...file.tensors.get("repeat_1.2.dense_1.w")!.data]).toEqual([
      ...pa["repeat_1.2.dense_1.w"]!,
    ]);
    const b = await mod.createModel({ seed: 2 });
    await b.load(bytes);
    const pb = await b.params();
    for (const name of names) expect([...pb[name]!], name).toEqual([...pa[name]!]);
    const [sa, sb] = [await a.evaluate(batch), await b.evaluate(batch)];
    expect(sb.loss).toBe(sa.loss);
  });
});

describe("repeat: states", () => {
  const src = `block counted(x: [b, d]) -> [b, d] {
  state seen: [d] init zeros
  update seen = seen + sum(x, axis: 0)
  return x * 2.0
}
dim B
model m {
  input x: [B, 3]
  output o = x |> repeat(counted, 3) |> dense(3)
  loss sum(o)
}
train t for m { optimizer sgd(lr: 0.1)  batch 2  epochs 1 }`;

  it("each copy keeps its own state, updated from its own input", () => {
    const m = dlgModel(src);
    const seen = m.params.find((p) => p.path === "repeat_1.seen")!;
    expect(seen.state).toBe(true);
    expect(seen.stack).toEqual([{ prefix: "repeat_1.", n: 3 }]);
    const update = m.updates.find((u) => m.params[u.index] === seen)!;
    const x = [1, 2, 3, 4, 5, 6];
    const ins = m.forward.inputs.map((v) => {
      if (v === m.inputs[0]!.var) return tensor("f32", [2, 3], x);
      if (v === m.seed) return scalar(1, "i32");
      if (v === m.training) return scalar(1, "bool");
      const shape = v.type.shape.map((d) => Number(dimToString(d)));
      return tensor("f32", shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(0));
    });
    const [next] = interpret({ ...m.forward, outputs: [update.var] }, ins);
    // Copy i sees x * 2^i: its column sums are [5, 7, 9] * 2^i.
    expect([...next!.data]).toEqual([5, 7, 9, 10, 14, 18, 20, 28, 36]);
  });

  it("step() writes each copy's state, which params() and checkpoints name per copy", async () => {
    const r = compile("m.dlg", { host: host(src) });
    expect(r.diagnostics).toEqual([]);
    const mod = await loadModule(r.js!);
    const a = await mod.createModel({ seed: 1 });
    await a.step({ x: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    const file = decodeSafetensors(await a.save());
    expect([0, 1, 2].map((i) => [...file.tensors.get(`repeat_1.${i}.seen`)!.data])).toEqual([
      [5, 7, 9],
      [10, 14, 18],
      [20, 28, 36],
    ]);
    // evaluate() leaves states alone.
    await a.evaluate({ x: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    const again = decodeSafetensors(await a.save());
    expect([...again.tensors.get("repeat_1.2.seen")!.data]).toEqual([20, 28, 36]);
  });
});
