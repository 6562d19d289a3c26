// A generator of well-formed, well-typed .dlg programs. It keeps a pool of
// named values with known shapes and grows the model one statement at a
// time, each an operation whose preconditions the chosen operand meets
// (elementwise and broadcasting arithmetic, matmul, reductions, reshapes,
// concat, slices, split, stack, scan, std blocks, a user block, conv and
// pooling, embeddings, attention, recurrent layers), then adds outputs,
// metrics, a loss and usually a train block. Shapes stay tiny, so a program
// that checks also runs (and is interpreted) in milliseconds.

import fc from "fast-check";
import type { FuzzCase } from "./oracle.ts";

/**
 * An axis size: a number, or dim text: `B` (the batch), `T` (a sequence
 * length), `F` (a data dim, fixed when the model is created) or a product of
 * them and numbers (`T * 3`, from a flatten).
 */
type D = number | string;
type DType = "f32" | "i32" | "bool";

interface Val {
  name: string;
  shape: D[];
  dtype: DType;
}

interface Made {
  expr: string;
  shape: D[];
}

const shapeText = (s: readonly D[]) => `[${s.join(", ")}]`;
const num = (d: D | undefined): d is number => typeof d === "number";
/** A size a parameter may have: anything but the batch. */
const paramOk = (d: D | undefined): d is D => d !== undefined && (num(d) || !/\bB\b/.test(d));
const same = (a: readonly D[], b: readonly D[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

const inits = [
  "",
  " init zeros",
  " init ones",
  " init glorot_uniform",
  " init he_normal",
  " init normal(0.1)",
  " init uniform(low: -0.5, high: 0.5)",
  " init 0.25",
];
/** Orthogonal needs a matrix whose size is known at compile time. */
const matrixInits = [...inits, " init orthogonal", " init orthogonal(gain: 0.5)"];

class Program {
  private n = 0;
  readonly vals: Val[] = [];
  readonly decls: string[] = [];
  readonly inputs = new Map<string, string>();
  readonly body: string[] = [];
  params = 0;
  dims = new Set<string>(["B"]);
  usesBlock = false;
  usesConst = false;

  constructor(readonly g: fc.GeneratorValue) {}

  int(min: number, max: number): number {
    return this.g(fc.integer, { min, max });
  }
  chance(p: number): boolean {
    return this.int(0, 999) < p * 1000;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  fresh(prefix: string): string {
    return `${prefix}${++this.n}`;
  }

  input(name: string, dtype: DType, shape: D[]): Val {
    for (const d of shape) if (!num(d)) d.match(/[A-Z]\w*/g)!.forEach((n) => this.dims.add(n));
    this.inputs.set(
      name,
      `input ${name}: ${dtype === "f32" ? "" : dtype === "i32" ? "int" : "bool"}${shapeText(shape)}`,
    );
    return { name, shape, dtype };
  }
  param(shape: D[]): string {
    const name = this.fresh("w");
    this.body.push(
      `param ${name}: ${shapeText(shape)}${this.pick(shape.length === 2 && shape.every(num) ? matrixInits : inits)}`,
    );
    this.params++;
    return name;
  }
  /** Bind `expr` to a new name and add it to the pool. */
  bind(m: Made): Val {
    const v = { name: this.fresh("h"), shape: m.shape, dtype: "f32" as const };
    this.body.push(`${v.name} = ${m.expr}`);
    this.vals.push(v);
    return v;
  }
  /** A units count, sometimes through a const so dims from consts are covered too. */
  units(): { text: string; n: number } {
    const n = this.int(1, 5);
    if (!this.chance(0.2)) return { text: String(n), n };
    this.usesConst = true;
    return { text: `U${n}`, n };
  }
  /** Another value of exactly this shape, if the pool has one. */
  partner(shape: readonly D[]): Val | undefined {
    const xs = this.vals.filter((v) => same(v.shape, shape));
    return xs.length ? this.pick(xs) : undefined;
  }
}

type Op = (p: Program, v: Val) => Made | null;
const init = (s: readonly D[]) => s.slice(0, -1);
const last = (s: readonly D[]) => s[s.length - 1];

/** Operations on one f32 value of shape [B, ...]; null where the shape does not fit. */
const ops: Record<string, Op> = {
  dense(p, v) {
    if (v.shape.length < 2 || !paramOk(last(v.shape))) return null;
    const u = p.units();
    const call = p.pick([
      `${v.name} |> dense(${u.text})`,
      `dense(${v.name}, ${u.text}, bias: false)`,
    ]);
    return { expr: call, shape: [...init(v.shape), u.n] };
  },
  activation(p, v) {
    const f = p.pick([
      `relu(${v.name})`,
      `${v.name} |> tanh`,
      `sigmoid(${v.name})`,
      `gelu(${v.name})`,
      `${v.name} |> gelu`,
      `leaky_relu(${v.name}, alpha: 0.2)`,
      `softmax(${v.name})`,
      `log_softmax(${v.name}, axis: -1)`,
      `abs(${v.name})`,
      `exp(-abs(${v.name}))`,
      `sqrt(abs(${v.name}) + 1.0)`,
      `log(abs(${v.name}) + 1.0)`,
      `-${v.name}`,
      `${v.name} ^ 2`,
      `(2.0 * ${v.name} - 1.0) / 3.0`,
      `(abs(${v.name}) + 1.0) ^ -0.5`,
      `${v.name} ^ 3`,
      `gate(${v.name}, on: ${p.chance(0.5)})`,
      `dropout(${v.name}, 0.3)`,
      `stop_gradient(${v.name}) + ${v.name}`,
      `${v.name} * (${v.name} > 0.0)`,
      `where(${v.name} > 0.0, ${v.name}, 0.1 * ${v.name})`,
      `scale2(${v.name})`,
    ]);
    if (f.startsWith("scale2") || f.startsWith("gate")) p.usesBlock = true;
    return { expr: f, shape: v.shape };
  },
  layerNorm(p, v) {
    if (!paramOk(last(v.shape))) return null;
    return { expr: `${v.name} |> layer_norm`, shape: v.shape };
  },
  binary(p, v) {
    const w = p.partner(v.shape) ?? v;
    const f = p.pick(["+", "-", "*", "max", "min", "div", "where"]);
    const expr =
      f === "max"
        ? `maximum(${v.name}, ${w.name})`
        : f === "min"
          ? `minimum(${v.name}, ${w.name})`
          : f === "div"
            ? `${v.name} / (abs(${w.name}) + 1.0)`
            : f === "where"
              ? `where(${v.name} > ${w.name}, ${v.name}, ${w.name})`
              : `${v.name} ${f} ${w.name}`;
    return { expr, shape: v.shape };
  },
  bias(p, v) {
    const l = last(v.shape);
    if (!paramOk(l)) return null;
    const b = p.param([l]);
    return { expr: p.pick([`${v.name} + ${b}`, `${v.name} * ${b}`]), shape: v.shape };
  },
  matmul(p, v) {
    const l = last(v.shape);
    if (v.shape.length < 2 || !paramOk(l)) return null;
    const u = p.int(1, 5);
    const w = p.param([l, u]);
    return { expr: `${v.name} @ ${w}`, shape: [...init(v.shape), u] };
  },
  gram(p, v) {
    if (v.shape.length !== 3) return null;
    return {
      expr: `${v.name} @ transpose(${v.name})`,
      shape: [v.shape[0]!, v.shape[1]!, v.shape[1]!],
    };
  },
  reduce(p, v) {
    if (v.shape.length < 2) return null;
    const ax = p.int(1, v.shape.length - 1);
    const f = p.pick(["sum", "mean", "max", "min"]);
    const keep = p.chance(0.3);
    const axis = p.chance(0.5) ? ax : ax - v.shape.length;
    const shape = keep
      ? v.shape.map((d, i) => (i === ax ? 1 : d))
      : v.shape.filter((_, i) => i !== ax);
    return { expr: `${f}(${v.name}, axis: ${axis}${keep ? ", keepdims: true" : ""})`, shape };
  },
  reshape(p, v) {
    const rest = v.shape.slice(1);
    if (!rest.every(num))
      return rest.length >= 2
        ? { expr: `flatten(${v.name})`, shape: ["B", rest.join(" * ")] }
        : null;
    const size = rest.reduce((a, b) => a * b, 1);
    if (rest.length >= 2) return { expr: `flatten(${v.name})`, shape: ["B", size] };
    if (size % 2 === 0 && size >= 4)
      return { expr: `reshape(${v.name}, [B, 2, ${size / 2}])`, shape: ["B", 2, size / 2] };
    return { expr: `reshape(${v.name}, [-1, ${size}])`, shape: ["B", size] };
  },
  concat(p, v) {
    const others = p.vals.filter((w) => same(init(w.shape), init(v.shape)) && num(last(w.shape)));
    const l = last(v.shape);
    if (!num(l) || others.length === 0) return null;
    const w = p.pick(others);
    return {
      expr: `concat([${v.name}, ${w.name}], axis: -1)`,
      shape: [...init(v.shape), l + (last(w.shape) as number)],
    };
  },
  slice(p, v) {
    const axes = v.shape.map((d, i) => (i > 0 && num(d) ? i : -1)).filter((i) => i > 0);
    if (axes.length === 0) return null;
    const ax = p.pick(axes);
    const n = v.shape[ax] as number;
    const lead = Array.from({ length: ax }, () => ":");
    const form = p.int(0, 4);
    const at = (entry: string, size: number | null) => ({
      expr: `${v.name}[${[...lead, entry].join(", ")}]`,
      shape:
        size === null
          ? v.shape.filter((_, i) => i !== ax)
          : v.shape.map((d, i) => (i === ax ? size : d)),
    });
    if (form === 0) {
      const a = p.int(0, n - 1);
      const b = p.int(a + 1, n);
      return at(`${a}:${b}`, b - a);
    }
    if (form === 1) return at("::2", Math.ceil(n / 2));
    if (form === 2 && n >= 2) return at("1:", n - 1);
    if (form === 3 && n >= 2) return at(":-1", n - 1);
    return at(p.chance(0.5) ? "-1" : "0", null);
  },
  transpose(p, v) {
    if (v.shape.length !== 3) return null;
    const [b, x, y] = v.shape as [D, D, D];
    return {
      expr: p.pick([`transpose(${v.name})`, `transpose(${v.name}, perm: [0, 2, 1])`]),
      shape: [b, y, x],
    };
  },
  split(p, v) {
    const l = last(v.shape);
    if (!num(l) || l % 2 !== 0) return null;
    const [a, b] = [p.fresh("h"), p.fresh("h")];
    const shape = [...init(v.shape), l / 2];
    p.body.push(`${a}, ${b} = split(${v.name}, 2)`);
    p.vals.push({ name: a, shape, dtype: "f32" });
    return { expr: `${a} * ${b}`, shape };
  },
  stack(p, v) {
    const w = p.partner(v.shape) ?? v;
    return {
      expr: `stack([${v.name}, ${w.name}], axis: 1)`,
      shape: [v.shape[0]!, 2, ...v.shape.slice(1)],
    };
  },
  scan(p, v) {
    if (v.shape.length !== 3) return null;
    const [, t, n] = v.shape as [D, D, D];
    const useW = paramOk(n) && p.chance(0.5);
    const step = useW ? `xt @ ${p.param([n, n])} + h` : "xt + 0.5 * h";
    const yields = p.chance(0.7);
    return {
      expr: `scan xt in ${v.name} along 1 carry (h = zeros([B, ${n}])) {\n    h = tanh(${step})${yields ? "\n    yield h" : ""}\n  }`,
      shape: yields ? ["B", t, n] : ["B", n],
    };
  },
  scanBatch(p, v) {
    return { expr: `scan row in ${v.name} along 0 {\n    yield row * 2.0\n  }`, shape: v.shape };
  },
  recurrent(p, v) {
    if (v.shape.length !== 3 || !paramOk(last(v.shape))) return null;
    const h = p.int(1, 4);
    const f = p.pick(["rnn", "lstm", "gru"]);
    if (p.chance(0.3))
      return {
        expr: `${v.name} |> bidirectional(${f}(${h}))`,
        shape: [v.shape[0]!, v.shape[1]!, 2 * h],
      };
    return { expr: `${v.name} |> ${f}(${h})`, shape: [v.shape[0]!, v.shape[1]!, h] };
  },
  attention(p, v) {
    const d = last(v.shape);
    if (v.shape.length !== 3 || !num(d)) return null;
    const heads = d % 2 === 0 ? p.pick([1, 2]) : 1;
    const causal = p.chance(0.5) ? ", causal: true" : "";
    const f = p.chance(0.5)
      ? `self_attention(${v.name}${causal})`
      : `multi_head_attention(${v.name}, ${heads}${causal})`;
    return { expr: f, shape: v.shape };
  },
  conv(p, v) {
    if (v.shape.length !== 4 || !v.shape.slice(1).every(num)) return null;
    const [, , h, w] = v.shape as [D, number, number, number];
    if (p.chance(0.3)) {
      // v2 "same" padding: ceil(size / stride) positions (a pool's stride is its size by default).
      const f = p.pick(["maxpool", "avgpool", "conv2d"]);
      const k = p.int(1, 3);
      const stride = p.int(1, 2);
      const at = (x: number) => Math.ceil(x / (f === "conv2d" ? stride : stride === 1 ? 1 : k));
      const call =
        f === "conv2d"
          ? `conv2d(${p.int(1, 3)}, kernel: ${k}, padding: "same"${stride > 1 ? `, stride: ${stride}` : ""})`
          : `${f}(${k}, padding: "same"${stride === 1 ? ", stride: 1" : ""})`;
      const filters = f === "conv2d" ? Number(call.match(/\d+/)![0]) : v.shape[1]!;
      return { expr: `${v.name} |> ${call}`, shape: ["B", filters, at(h), at(w)] };
    }
    if (p.chance(0.4) && h >= 2 && w >= 2) {
      const f = p.pick(["maxpool", "avgpool"]);
      return {
        expr: `${v.name} |> ${f}(2)`,
        shape: ["B", v.shape[1]!, Math.floor(h / 2), Math.floor(w / 2)],
      };
    }
    const k = p.int(1, Math.min(3, h, w));
    const pad = p.int(0, 1);
    const f = p.int(1, 3);
    const stride = p.int(1, 2);
    const dil = k > 1 && 2 * (k - 1) + 1 <= Math.min(h, w) && p.chance(0.3) ? 2 : 1;
    const span = dil * (k - 1) + 1;
    const size = (x: number) => Math.floor((x + 2 * pad - span) / stride) + 1;
    const opts = `${pad ? `, padding: ${pad}` : ""}${stride > 1 ? `, stride: ${stride}` : ""}${dil > 1 ? `, dilation: ${dil}` : ""}`;
    return {
      expr: `${v.name} |> conv2d(${f}, kernel: ${k}${opts})`,
      shape: ["B", f, size(h), size(w)],
    };
  },
  conv1d(p, v) {
    const [, c, l] = v.shape;
    if (v.shape.length !== 3 || !num(c)) return null;
    const f = p.int(1, 3);
    const k = p.int(1, 3);
    // "same" at stride 1 fits any length, a symbolic one too; else a plain window.
    if (!num(l) || k > l || p.chance(0.5))
      return {
        expr: `${v.name} |> conv1d(${f}, kernel: ${k}, padding: "same")`,
        shape: ["B", f, l!],
      };
    const stride = p.int(1, 2);
    const pad = p.int(0, 1);
    return {
      expr: `conv1d(${v.name}, ${f}, kernel: ${k}, stride: ${stride}, padding: ${pad})`,
      shape: ["B", f, Math.floor((l + 2 * pad - k) / stride) + 1],
    };
  },
  oneHot(p, v) {
    const l = last(v.shape);
    if (!num(l) || l < 2) return null;
    return { expr: `one_hot(argmax(${v.name}, axis: -1), ${l}) * ${v.name}`, shape: v.shape };
  },
  block(p, v) {
    if (!paramOk(last(v.shape))) return null;
    p.usesBlock = true;
    const u = p.int(1, 4);
    return { expr: `${v.name} |> squash(${u})`, shape: [...init(v.shape), u] };
  },
  branch(p, v) {
    p.usesConst = true;
    return { expr: `if U2 > 1 then relu(${v.name}) else tanh(${v.name})`, shape: v.shape };
  },
  reduceMany(p, v) {
    if (v.shape.length < 3) return null;
    const f = p.pick(["sum", "mean", "max"]);
    return { expr: `${f}(${v.name}, axis: [1, 2])`, shape: [v.shape[0]!, ...v.shape.slice(3)] };
  },
  mask(p, v) {
    const m = p.input(p.fresh("mask"), "bool", v.shape);
    return { expr: `where(${m.name}, ${v.name}, 0.5 * ${v.name})`, shape: v.shape };
  },
  concatAxis1(p, v) {
    const n = v.shape[1];
    if (v.shape.length < 3 || !num(n)) return null;
    const w = p.partner(v.shape) ?? v;
    return {
      expr: `concat([${v.name}, ${w.name}], axis: 1)`,
      shape: v.shape.map((d, i) => (i === 1 ? 2 * n : d)),
    };
  },
  stackLast(p, v) {
    const w = p.partner(v.shape) ?? v;
    return { expr: `stack([${v.name}, ${w.name}], axis: -1)`, shape: [...v.shape, 2] };
  },
  strided(p, v) {
    const l = last(v.shape);
    if (!num(l) || l < 2) return null;
    const lead = v.shape.slice(1, -1).map(() => ":");
    const [entry, size] = p.pick([
      ["1::2", Math.floor(l / 2)],
      ["-2:", 2],
      [":-1:2", Math.ceil((l - 1) / 2)],
    ] as const);
    return {
      expr: `${v.name}[${[":", ...lead, entry].join(", ")}]`,
      shape: [...init(v.shape), size],
    };
  },
  nestedScan(p, v) {
    if (v.shape.length !== 3) return null;
    const [, t, n] = v.shape as [D, D, D];
    // Sometimes a param declared in the body, which the body then reads.
    const u = p.chance(0.5) && paramOk(n) ? p.fresh("u") : null;
    const decl = u ? `\n    param ${u}: [${n}] init ones` : "";
    return {
      expr:
        `scan xt in ${v.name} along 1 carry (h = zeros([B, ${n}]), k = 0.0) {${decl}\n` +
        `    e = scan c in xt along 1 {\n      yield c * 2.0\n    }\n` +
        `    h = sigmoid(h + e${u ? ` * ${u}` : ""})\n    k = k + 1.0\n    yield h / k\n  }`,
      shape: ["B", t, n],
    };
  },
  gather(p, v) {
    const n = v.shape[1];
    if (v.shape.length !== 2 || !num(n) || n < 2) return null;
    const ids = p.input(p.fresh("idx"), "i32", ["B", 2]);
    return { expr: `gather(${v.name}, ${ids.name}, axis: 1)`, shape: ["B", "B", 2] };
  },
  iota(p, v) {
    const l = last(v.shape);
    if (!num(l)) return null;
    return { expr: `${v.name} + iota([${l}], axis: 0) * 0.1`, shape: v.shape };
  },
  shared(p, v) {
    // v2: a function value bound by an assignment, so its applications share one param set.
    const l = last(v.shape);
    const fns = [
      "leaky_relu(alpha: 0.2)",
      "gelu",
      "scale2(s: 0.5)",
      ...(paramOk(l) ? ["layer_norm", "gate(on: true)", "repeat(residual, 2)"] : []),
      ...(num(l) ? [`dense(${l})`, `squash(${l})`] : []),
    ];
    const fn = p.pick(fns);
    if (/scale2|gate|squash/.test(fn)) p.usesBlock = true;
    const f = p.fresh("f");
    p.body.push(`${f} = ${fn}`);
    const w = p.partner(v.shape) ?? v;
    const expr = p.pick([
      `${v.name} |> ${f}`,
      `${f}(${v.name})`,
      `${v.name} |> ${f} |> ${f}`,
      `${f}(${v.name}) + ${f}(${w.name})`,
    ]);
    return { expr, shape: v.shape };
  },
  fnArg(p, v) {
    // v2: a block whose `act: fn = relu` takes a function value, or its default.
    if (!paramOk(last(v.shape))) return null;
    p.usesBlock = true;
    const u = p.int(1, 4);
    let act = p.pick([
      "",
      "gelu",
      "leaky_relu(alpha: 0.1)",
      "scale2(s: 0.5)",
      `dense(${u})`,
      "bound",
    ]);
    if (act === "bound") {
      act = p.fresh("f");
      p.body.push(`${act} = leaky_relu(alpha: 0.3)`);
    }
    const arg = act ? `, act: ${act}` : "";
    return {
      expr: p.pick([`${v.name} |> mix(${u}${arg})`, `mix(${v.name}, ${u}${arg})`]),
      shape: [...init(v.shape), u],
    };
  },
  repeat(p, v) {
    // v2: repeat(f, n) of a shape-keeping function, each copy with its own params.
    if (!paramOk(last(v.shape))) return null;
    p.usesBlock = true;
    const n = p.int(1, 3);
    const f = p.pick([
      "residual",
      "residual(s: 0.25)",
      "gate(on: true)",
      "leaky_relu(alpha: 0.5)",
      "repeat(residual, 2)",
      // State and `if training` in each copy: running means, batch norm.
      ...(v.shape.length === 2 ? ["running(momentum: 0.5)", "batch_norm"] : []),
    ]);
    return { expr: `${v.name} |> repeat(${f}, ${n})`, shape: v.shape };
  },
  training(p, v) {
    const expr = p.pick([
      `if training then dropout(${v.name}, 0.5) else ${v.name}`,
      `if training then 0.5 * ${v.name} else tanh(${v.name})`,
      `${v.name} * (if training then 0.9 else 1.0)`,
    ]);
    return { expr, shape: v.shape };
  },
  running(p, v) {
    // v2 state: a block keeping a running mean that only step() updates.
    if (v.shape.length !== 2 || !paramOk(last(v.shape))) return null;
    p.usesBlock = true;
    return {
      expr: p.pick([`${v.name} |> running`, `running(${v.name}, momentum: 0.5)`]),
      shape: v.shape,
    };
  },
  batchNorm(p, v) {
    if ((v.shape.length !== 2 && v.shape.length !== 4) || !paramOk(v.shape[1])) return null;
    return {
      expr: p.pick([`${v.name} |> batch_norm`, `batch_norm(${v.name}, momentum: 0.8, eps: 1e-3)`]),
      shape: v.shape,
    };
  },
  flip(p, v) {
    const ax = p.int(0, v.shape.length - 1);
    const axis = p.chance(0.5) ? ax : ax - v.shape.length;
    return { expr: `flip(${v.name}, axis: ${axis})`, shape: v.shape };
  },
};

const blocks = `/// A user block: dense, then a squashing nonlinearity.
block squash(x: [..., n], k: int) -> [..., k] {
  h = x |> dense(k) |> tanh
  return h * 2.0
}
block scale2(x: [...], s: float = 2.0) -> [...] {
  return x * s
}
block gate(x: [..., n], on: bool = true) -> [..., n] {
  param g: [n] init ones
  return if on then x * sigmoid(g) else x
}
block mix(x: [..., n], k: int, act: fn = relu) -> [..., k] {
  return x |> dense(k) |> act
}
block residual(x: [..., n], s: float = 0.5) -> [..., n] {
  param w: [n, n] init normal(0.3)
  return x + s * tanh(x @ w)
}
block running(x: [b, n], momentum: float = 0.9) -> [b, n] {
  state avg: [n] init zeros
  m = mean(x, axis: 0)
  update avg = momentum * avg + (1.0 - momentum) * m
  return x - (if training then m else avg)
}`;

const optimizers = [
  "sgd(lr: 0.05)",
  "gd",
  "sgd(0.1, momentum: 0.9, nesterov: true)",
  "adam(lr: 0.01)",
  "sgd(lr: 0.01, weight_decay: 0.01)",
];

/** The model's inputs: always x (features: a number, or the data dim F); sometimes a sequence, an image, token ids. */
function addInputs(p: Program): void {
  p.vals.push(p.input("x", "f32", ["B", p.chance(0.2) ? "F" : p.int(1, 5)]));
  if (p.chance(0.4)) p.vals.push(p.input("seq", "f32", ["B", "T", p.int(1, 4)]));
  if (p.chance(0.25))
    p.vals.push(p.input("img", "f32", ["B", p.int(1, 2), p.int(3, 5), p.int(3, 5)]));
  if (p.chance(0.25)) {
    const ids = p.input("ids", "i32", p.chance(0.5) ? ["B"] : ["B", "T"]);
    const w = p.int(1, 4);
    if (p.chance(0.5))
      p.bind({ expr: `${ids.name} |> embedding(${p.int(2, 5)}, ${w})`, shape: [...ids.shape, w] });
    else {
      const table = p.param([p.int(2, 5), w]);
      p.bind({ expr: `${table}[${ids.name}]`, shape: [...ids.shape, w] });
    }
  }
}

/** The loss, on the last value (so the whole chain is live): a classifier, a regression, or a plain mean. */
function addLoss(p: Program, v: Val): void {
  const l = last(v.shape);
  const reg = p.params > 0 && p.chance(0.3) ? " + 1e-3 * l2(params)" : "";
  if (v.shape.length >= 2 && num(l) && l >= 2 && p.chance(0.6)) {
    // Labels over every leading position: [B] for [B, n] logits, [B, T] for [B, T, n].
    p.input("y", "i32", init(v.shape));
    p.body.push(`metric accuracy = mean(argmax(${v.name}, axis: -1) == y)`);
    p.body.push(`loss cross_entropy(${v.name}, y)${reg}`);
  } else if (p.chance(0.2)) {
    p.input("target", "f32", v.shape);
    const f = p.chance(0.5)
      ? `binary_cross_entropy_with_logits(${v.name}, target)`
      : `binary_cross_entropy(sigmoid(${v.name}), target)`;
    p.body.push(`loss ${f}${reg}`);
  } else if (p.chance(0.5)) {
    p.input("target", "f32", v.shape);
    p.body.push(`loss mse(${v.name}, target)${reg}`);
  } else p.body.push(`loss mean(${v.name} ^ 2)${reg}`);
}

/** One program: the text, valid by construction (the fuzzer reports it if the checker disagrees). */
export function generateProgram(g: fc.GeneratorValue): string {
  const p = new Program(g);
  addInputs(p);
  const steps = p.int(1, 10);
  const names = Object.keys(ops);
  let v = p.vals[p.vals.length - 1]!;
  for (let s = 0; s < steps; s++) {
    // Mostly extend the latest value, sometimes an older one (so values get reused and combined).
    const base = p.chance(0.7) ? v : p.pick(p.vals);
    for (let tries = 0; tries < 8; tries++) {
      const made = ops[p.pick(names)]!(p, base);
      if (made) {
        v = p.bind(made);
        break;
      }
    }
  }
  const outs = p.vals.filter((x) => !p.inputs.has(x.name));
  if (outs.length > 0 || p.chance(0.5)) p.body.push(`output out = ${v.name}`);
  if (p.chance(0.3)) p.body.push(`output picked = ${p.pick(p.vals).name}`);
  if (p.chance(0.3)) p.body.push(`metric average = mean(${p.pick(p.vals).name})`);
  const trains = p.chance(0.8);
  if (trains || p.chance(0.5)) addLoss(p, v);
  const header = [`dim ${[...p.dims].join(", ")}`];
  if (p.usesConst)
    header.push("const U1 = 1\nconst U2 = 2\nconst U3 = 3\nconst U4 = 4\nconst U5 = 5");
  if (p.usesBlock) header.push(blocks);
  const model = `model gen {\n${[...p.inputs.values(), ...p.body].map((l) => `  ${l}`).join("\n")}\n}`;
  const train =
    trains && p.body.some((l) => l.startsWith("loss "))
      ? `train fuzz for gen { optimizer ${p.pick(optimizers)}  batch ${p.int(1, 4)}  epochs 1  seed ${p.int(0, 9)} }`
      : "";
  return [...header, model, train].filter(Boolean).join("\n") + "\n";
}

export function generatedArb(): fc.Arbitrary<FuzzCase> {
  return fc.gen().map((g): FuzzCase => {
    const text = generateProgram(g);
    return { origin: "generated", file: "gen.dlg", text, dim: g(fc.integer, { min: 1, max: 3 }) };
  });
}
