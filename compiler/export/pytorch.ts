// `dlg compile --target pytorch`: one Python file from the same IR the
// backends lower. It holds the model's three graphs as PyTorch code (the
// forward pass in training mode, returning loss, metrics and state updates;
// in eval mode, returning outputs, loss and metrics; the initialisation),
// its params by dlg path, its train block as data, and then the fixed part
// (pytorch-runtime.ts): an nn.Module, dlg's safetensors checkpoints, the
// data sources, schedules, the optimizer and a training loop that runs
// single-process or under torchrun with DistributedDataParallel.
//
// The backward pass is PyTorch's autograd over the forward graph, so dlg's
// own step graph is not exported: one step in PyTorch equals one step of the
// JS module within float rounding (test/export-pytorch.test.ts).

import { dimAsConst, dimSubst, type Dim } from "../dims.ts";
import type { Exporter, ExportInput } from "../exporter.ts";
import type { Graph, ModelIR, Var } from "../ir.ts";
import { bindInputs, simplify } from "../simplify.ts";
import { paramDims } from "./param-dims.ts";
import { pyFunction, type InputNames } from "./pytorch-graph.ts";
import { pythonHelpers } from "./pytorch-runtime.ts";

/** A Python literal of plain data (numbers, strings, bools, null, lists, objects). */
function py(x: unknown): string {
  if (x === null || x === undefined) return "None";
  if (typeof x === "boolean") return x ? "True" : "False";
  if (typeof x === "number")
    return Number.isFinite(x) ? String(x) : x > 0 ? 'float("inf")' : 'float("-inf")';
  if (typeof x === "string") return JSON.stringify(x);
  if (Array.isArray(x)) return `[${x.map(py).join(", ")}]`;
  return `{${Object.entries(x as Record<string, unknown>)
    .map(([k, v]) => `${JSON.stringify(k)}: ${py(v)}`)
    .join(", ")}}`;
}

const tuple = (xs: readonly string[]) => (xs.length === 1 ? `(${xs[0]},)` : `(${xs.join(", ")})`);

/** The forward graph with `training` fixed, returning `outputs`, simplified. */
function forwardWith(model: ModelIR, training: boolean, outputs: Var[]): Graph {
  const g = bindInputs(model.forward, new Map([[model.training, training ? 1 : 0]]));
  return simplify({ ...g, outputs });
}

/** How each forward-graph input reads in Python: inputs from the batch, params from P, the seed. */
function forwardNames(model: ModelIR): InputNames {
  const names = new Map<number, string>();
  for (const i of model.inputs) names.set(i.var.id, `inp[${JSON.stringify(i.name)}]`);
  for (const p of model.params) names.set(p.var.id, `P[${JSON.stringify(p.path)}]`);
  names.set(model.seed.id, "seed");
  return names;
}

/** A shape as a Python tuple of ints and dim names (`("B", 784)`), dims fixed by the params resolved. */
function shapeData(shape: readonly Dim[], fixed: ReadonlyMap<string, Dim>): (string | number)[] {
  return shape.map((d) => {
    const s = dimSubst(d, fixed);
    const c = dimAsConst(s);
    if (c !== null) return c;
    // A whole named dim (B, T) is bound from the batch; anything else is computed in the graph.
    const name = s.terms.length === 1 && s.terms[0]!.coeff === 1 ? s.terms[0]!.atoms[0] : undefined;
    return name?.kind === "var" && s.terms[0]!.atoms.length === 1 ? name.name : String(d);
  });
}

function script(input: ExportInput): string {
  const { model, train, sources } = input;
  const solved = paramDims(
    model.params,
    input.weights.map((w) => w.length),
  );
  const fixed = "dims" in solved ? solved.dims : new Map<string, Dim>();
  const fixedDims = Object.fromEntries(
    [...fixed].map(([k, d]) => [k, dimAsConst(d)]).filter(([, v]) => v !== null),
  );
  const names = forwardNames(model);
  const updates = model.updates.map((u) => ({ path: model.params[u.index]!.path, var: u.var }));

  const loss = model.loss;
  const trainGraph = forwardWith(model, true, [
    ...(loss ? [loss] : []),
    ...model.metrics.map((m) => m.var),
    ...updates.map((u) => u.var),
  ]);
  const evalGraph = forwardWith(model, false, [
    ...model.outputs.map((o) => o.var),
    ...(loss ? [loss] : []),
    ...model.metrics.map((m) => m.var),
  ]);
  const dict = (keys: string[], vals: string[]) =>
    `{${keys.map((k, i) => `${JSON.stringify(k)}: ${vals[i]}`).join(", ")}}`;
  const nLoss = loss ? 1 : 0;
  const nm = model.metrics.length;
  const metricNames = model.metrics.map((m) => m.name);

  const graphs = [
    pyFunction(trainGraph, {
      name: "graph_train",
      params: "P, inp, D, seed",
      inputs: names,
      sources,
      doc: "The forward pass in training mode (dropout on, batch statistics): loss, metrics, state updates.",
      result: (o) =>
        `${loss ? o[0] : "None"}, ${dict(metricNames, o.slice(nLoss, nLoss + nm))}, ${dict(
          updates.map((u) => u.path),
          o.slice(nLoss + nm),
        )}`,
    }),
    pyFunction(evalGraph, {
      name: "graph_eval",
      params: "P, inp, D, seed=0",
      inputs: names,
      sources,
      doc: "The forward pass in eval mode (what predict() and evaluate() compute): outputs, loss, metrics.",
      result: (o) => {
        const k = model.outputs.length;
        return `${dict(
          model.outputs.map((x) => x.name),
          o.slice(0, k),
        )}, ${loss ? o[k] : "None"}, ${dict(metricNames, o.slice(k + nLoss))}`;
      },
    }),
    pyFunction(model.init, {
      name: "graph_init",
      params: "seed, D",
      inputs: new Map([[model.init.inputs[0]!.id, "seed"]]),
      sources,
      doc: "Every param's and state's initial value for seed, in PARAMS order (dlg's initialisers).",
      result: (o) => tuple(o),
    }),
  ];

  const o = train.optimizer;
  const params = model.params.map((p) => [
    p.path,
    shapeData(p.var.type.shape, fixed),
    p.state === true,
    p.stack ? p.stack.map((s) => [s.prefix, s.n]) : null,
  ]);
  const base = input.file.split("/").pop()!;
  return [
    "#!/usr/bin/env python3",
    `"""${model.name}: exported by dlg (dlg compile --target pytorch) from ${base.replace(/"/g, "")}.`,
    "",
    "Train it:          python3 model.py [--epochs N] [--seed N] [--data mnist|PATH.csv] [--limit N]",
    "                                    [--batch N] [--load CKPT.safetensors] [--save CKPT.safetensors]",
    "On N processes:    torchrun --nproc_per_node N model.py ...  (DistributedDataParallel; gloo on CPU,",
    "                   nccl on GPUs; --batch is the global batch, split across the processes)",
    "Checkpoints are dlg's safetensors: --load one dlg train --save wrote, --save one the JS module loads.",
    "As a library:      import model; m = model.Model(); m.init(0); outputs, loss, metrics = m.eval()(batch)",
    '"""',
    "import argparse",
    "import csv",
    "import json",
    "import math",
    "import os",
    "import struct",
    "",
    "import torch",
    "import torch.nn.functional as F",
    "",
    `MODEL = ${py(model.name)}`,
    "# name, dtype, shape (named dims bound from the batch)",
    `INPUTS = ${py(model.inputs.map((i) => [i.name, i.var.type.dtype, shapeData(i.var.type.shape, fixed)]))}`,
    `OUTPUTS = ${py(model.outputs.map((x) => x.name))}`,
    `METRICS = ${py(metricNames)}`,
    "# dlg path, shape, is a state (batch norm's running averages: no gradient), repeat's stacking",
    `PARAMS = [\n${params.map((p) => `    ${py(p)},`).join("\n")}\n]`,
    "# dims the params' shapes fix (linreg's F)",
    `FIXED_DIMS = ${py(fixedDims)}`,
    `TRAIN = ${py({ name: train.name, batch: train.batch, epochs: train.epochs, seed: train.seed })}`,
    `OPTIMIZER = ${py({ kind: o.kind, momentum: o.momentum, nesterov: o.nesterov, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weight_decay: o.weightDecay })}`,
    `SCHEDULE = ${py(o.schedule)}`,
    `CLIP_NORM = ${py(train.clipNorm)}`,
    "# as dlg train: a CSV named after the .dlg file (in the working directory), else MNIST",
    `DEFAULT_CSV = ${py(base.replace(/\.dlg$/, ".csv"))}`,
    "",
    "# ---------------------------------------------------------------- the model's graphs (generated)",
    "",
    ...graphs,
    pythonHelpers.trimStart(),
  ].join("\n");
}

export const pytorchExporter: Exporter = {
  target: "pytorch",
  extension: ".py",
  export: (input) => ({ bytes: new TextEncoder().encode(script(input)) }),
};
