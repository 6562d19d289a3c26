// Run a .dlg model in the float64 reference interpreter and get what a
// TensorFlow.js comparison needs: named outputs, the loss, and gradients of
// the loss wrt every param and every f32 input. Shared by the tfjs tests of
// each layer family (dense/attention here; conv, lstm and gru reuse it).

import { readFileSync } from "node:fs";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
// tfjs-core alone has no gradient functions; the full @tensorflow/tfjs registers these.
import "@tensorflow/tfjs-core/dist/register_all_gradients.js";
import { grad } from "../compiler/autodiff.ts";
import { dimAsConst } from "../compiler/dims.ts";
import { renderDiagnostics } from "../compiler/diagnostics.ts";
import { elaborate, stdPath } from "../compiler/elaborate.ts";
import { interpret, scalar, tensor, type Tensor } from "../compiler/interpret.ts";
import { VarGen, type ModelIR } from "../compiler/ir.ts";
import { uniform } from "./graph-helpers.ts";

await tf.setBackend("cpu");
export { tf };

/** Plain numbers in row-major order, with their shape. */
export interface Values {
  shape: number[];
  data: number[];
}

export interface DlgRun {
  /** Every `output` and `metric` by name. */
  outputs: Record<string, Values>;
  loss: number;
  /** d loss / d param, by param path (`dense_1.w`). */
  paramGrads: Record<string, Values>;
  /** d loss / d input, for each f32 input, by name. */
  inputGrads: Record<string, Values>;
  /** The param values used (given, or drawn by the init graph). */
  params: Record<string, Values>;
}

/** Elaborate `src` (std from disk) and return one model, failing loudly on any diagnostic. */
export function dlgModel(src: string, name?: string): ModelIR {
  const r = elaborate("main.dlg", {
    readFile: (p: string) => (p === "main.dlg" ? src : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  });
  const text = renderDiagnostics(r.diagnostics, r.sources);
  if (text !== "") throw new Error(`the test model does not check:\n${text}`);
  const m = name ? r.models.get(name) : [...r.models.values()][0];
  if (!m) throw new Error(`no model ${name ?? ""}`);
  return m;
}

const tensorValues = (t: Tensor): Values => ({ shape: [...t.shape], data: [...t.data] });

/** A model elaborated and differentiated once, to run on many values. */
export interface PreparedDlg {
  model: ModelIR;
  /** Forward and gradients in float64 (training off). */
  run(inputs: Record<string, Values>, params: Record<string, Values>): DlgRun;
  /** The loss alone: a forward pass, for finite differences. */
  loss(inputs: Record<string, Values>, params: Record<string, Values>): number;
}

export function prepareDlg(src: string, opts: { model?: string; seed?: number } = {}): PreparedDlg {
  const m = dlgModel(src, opts.model);
  if (!m.loss) throw new Error(`model ${m.name} declares no loss`);
  const init = interpret(m.init, [scalar(opts.seed ?? 1, "i32")]);
  const floatInputs = m.inputs.filter((i) => i.var.type.dtype === "f32");
  const wrt = [...m.params.map((p) => p.var), ...floatInputs.map((i) => i.var)];
  const g = grad(m.forward, m.loss, wrt, new VarGen(1 + Math.max(...allIds(m))));
  const args = (inputs: Record<string, Values>, params: Record<string, Values>) => {
    const paramVals = m.params.map((p, i) => {
      const given = params[p.path];
      return given ? tensor("f32", given.shape, given.data) : init[i]!;
    });
    const inputVals = m.inputs.map((i) => {
      const v = inputs[i.name];
      if (!v) throw new Error(`no value for input ${i.name}`);
      return tensor(i.var.type.dtype, v.shape, v.data);
    });
    return { paramVals, all: [...inputVals, ...paramVals, scalar(7, "i32"), scalar(0, "bool")] };
  };
  const nOut = m.forward.outputs.length;
  return {
    model: m,
    run(inputs, params) {
      const { paramVals, all } = args(inputs, params);
      const out = interpret(g.graph, all);
      const named = [...m.outputs, ...m.metrics];
      const grads = out.slice(nOut);
      return {
        outputs: Object.fromEntries(named.map((o, i) => [o.name, tensorValues(out[i]!)])),
        loss: out[nOut - 1]!.data[0]!,
        paramGrads: Object.fromEntries(m.params.map((p, i) => [p.path, tensorValues(grads[i]!)])),
        inputGrads: Object.fromEntries(
          floatInputs.map((inp, i) => [inp.name, tensorValues(grads[m.params.length + i]!)]),
        ),
        params: Object.fromEntries(m.params.map((p, i) => [p.path, tensorValues(paramVals[i]!)])),
      };
    },
    loss(inputs, params) {
      return interpret(m.forward, args(inputs, params).all)[nOut - 1]!.data[0]!;
    },
  };
}

/**
 * Forward and gradients of a model's loss in float64. `inputs` gives every
 * input by name (ints as numbers); `params` overrides param values by path,
 * and the rest come from the init graph with `seed`. Runs with training off.
 */
export function runDlg(
  src: string,
  inputs: Record<string, Values>,
  opts: { model?: string; params?: Record<string, Values>; seed?: number } = {},
): DlgRun {
  return prepareDlg(src, opts).run(inputs, opts.params ?? {});
}

function allIds(m: ModelIR): number[] {
  const ids: number[] = [0];
  for (const g of [m.forward, m.init]) {
    g.inputs.forEach((v) => ids.push(v.id));
    g.eqns.forEach((e) => e.outs.forEach((v) => ids.push(v.id)));
  }
  return ids;
}

/** Deterministic values in [lo, hi) of a shape. */
export function randomValues(shape: number[], salt: number, lo = -1, hi = 1): Values {
  const n = shape.reduce((p, d) => p * d, 1);
  return { shape, data: uniform(n, salt, lo, hi) };
}

/** Deterministic ints in [0, n) of a shape. */
export function randomInts(shape: number[], salt: number, n: number): Values {
  const v = randomValues(shape, salt, 0, n);
  return { shape, data: v.data.map(Math.floor) };
}

/** A tfjs tensor (float32) from values. */
export function tfTensor(v: Values): tf.Tensor {
  return tf.tensor(v.data, v.shape, "float32");
}

/**
 * max |a - b| / max(|a|, |b|, floor) over all elements: the relative error
 * of the whole tensor, so tiny elements do not dominate.
 */
export function relativeError(a: Values, b: ArrayLike<number>, floor = 1e-6): number {
  let diff = 0;
  let scale = floor;
  for (let i = 0; i < a.data.length; i++) {
    diff = Math.max(diff, Math.abs(a.data[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a.data[i]!), Math.abs(b[i]!));
  }
  if (a.data.length !== b.length) return Infinity;
  return diff / scale;
}

/**
 * Gradients of `loss(weights..., inputs...)` in tfjs wrt each named tensor,
 * through tf.variableGrads: every weight and input becomes a tf.Variable.
 */
export function tfGrads(
  tensors: Record<string, Values>,
  loss: (v: Record<string, tf.Tensor>) => tf.Scalar,
): { loss: number; grads: Record<string, Float32Array> } {
  const vars = Object.fromEntries(
    Object.entries(tensors).map(([k, v]) => [
      k,
      tf.variable(tfTensor(v), true, `v_${sanitize(k)}`),
    ]),
  );
  const { value, grads } = tf.variableGrads(() => loss(vars));
  const byName: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(vars)) {
    const g = grads[v.name];
    byName[k] = g ? (g.dataSync() as Float32Array) : new Float32Array(v.size);
  }
  const out = { loss: value.dataSync()[0]!, grads: byName };
  tf.dispose([value, ...Object.values(grads), ...Object.values(vars)]);
  return out;
}

let counter = 0;
function sanitize(k: string): string {
  return `${k.replace(/[^A-Za-z0-9_]/g, "_")}_${counter++}`;
}

/** Random values for every param of a model (so layer_norm's scale is not all ones). */
export function randomParams(src: string, salt: number, model?: string): Record<string, Values> {
  const m = dlgModel(src, model);
  return Object.fromEntries(
    m.params.map((p, i) => {
      const shape = p.var.type.shape.map((d) => {
        const c = dimAsConst(d);
        if (c === null) throw new Error(`param ${p.path} has a run-time size`);
        return c;
      });
      return [p.path, randomValues(shape, salt * 100 + i, -0.8, 0.8)];
    }),
  );
}

/** A model whose loss is sum(y * t) for a fixed random t, so every gradient element matters. */
export function sumLossModel(inShape: number[], outShape: number[], layer: string): string {
  return `dim B
model m {
  input x: [B, ${inShape.join(", ")}]
  input t: [B, ${outShape.join(", ")}]
  y = ${layer}
  output out = y
  loss sum(y * t)
}`;
}

/** The values of the tensor `f` builds, its intermediates disposed. */
export function tfValues(f: () => tf.Tensor): Values {
  const t = tf.tidy(f);
  const v = { shape: [...t.shape], data: [...t.dataSync()] };
  t.dispose();
  return v;
}

// dlg is channels first ([N, C, H, W], filters [O, C, KH, KW]); tfjs is NHWC
// with filters [KH, KW, C, O].
export const nhwc = (x: tf.Tensor) => tf.transpose(x, [0, 2, 3, 1]);
export const nchw = (x: tf.Tensor) => tf.transpose(x, [0, 3, 1, 2]);
/** [O, C, KH, KW] -> tfjs's [KH, KW, C, O]. */
export const hwio = (w: tf.Tensor) => tf.transpose(w, [2, 3, 1, 0]);

/**
 * The worst error of the float64 gradients of `src`'s loss wrt every param
 * and the inputs `wrt` against central differences (h = 1e-6), each relative
 * to the largest element of its gradient (at least 1e-3).
 */
export function fdGradientError(
  src: string,
  inputs: Record<string, Values>,
  params: Record<string, Values>,
  wrt: string[] = ["x"],
): number {
  const prepared = prepareDlg(src);
  const base = prepared.run(inputs, params);
  const h = 1e-6;
  const bump = (v: Values, j: number, d: number): Values => {
    const data = [...v.data];
    data[j]! += d;
    return { shape: v.shape, data };
  };
  let worst = 0;
  const compare = (g: Values, at: (j: number, d: number) => number) => {
    const scale = Math.max(1e-3, ...g.data.map(Math.abs));
    g.data.forEach((a, j) => {
      const numeric = (at(j, h) - at(j, -h)) / (2 * h);
      worst = Math.max(worst, Math.abs(a - numeric) / scale);
    });
  };
  for (const [path, g] of Object.entries(base.paramGrads))
    compare(g, (j, d) => prepared.loss(inputs, { ...params, [path]: bump(params[path]!, j, d) }));
  for (const name of wrt)
    compare(base.inputGrads[name]!, (j, d) =>
      prepared.loss({ ...inputs, [name]: bump(inputs[name]!, j, d) }, params),
    );
  return worst;
}
