// `dlg predict` and `dlg evaluate`: a trained model at work. Both compile
// the model, fit the data to the inputs the entry reads (predict needs no
// labels), create the model with the data's dims, load the parameters of a
// `dlg train --save` checkpoint (cli/checkpoint.ts loadWeights), and run
// over one split in chunks: predict writes the outputs (CSV, JSON, or a
// summary on stdout), evaluate prints the loss and metrics as train's test
// line does. A CSV is split as the checkpoint's run split it (--split).

import { compile } from "./node-host.ts";
import { intFlag, oneFile, str, type Parsed } from "./args.ts";
import { loadWeights, readCheckpoint, settingsFrom } from "./checkpoint.ts";
import { printDiagnostics, requireFile, writeOutput, type Io } from "./commands.ts";
import { asBatch, chooseSource, loadSplits, rows, type Dataset, type DataSplits } from "./data.ts";
import { exitCode, UsageError, UserError } from "./errors.ts";
import { loadModule, type ModelSpec, type Tensor, type TensorSpec } from "./module.ts";
import { fmt, fmtEval } from "./progress.ts";
import { parseSplit } from "./split.ts";
import { gpuFor } from "./train-command.ts";
import { evaluateAll } from "./train.ts";
import {
  backendFlag,
  sizeLimits,
  splitFlag,
  threadsFlag,
  type CommandName,
  type SplitName,
} from "./usage.ts";
import type { Model } from "../runtime/model.ts";

/** Examples per predict() call: bounds memory on large splits (evaluate's chunk too). */
const chunk = 1000;

interface Trained {
  model: Model;
  spec: ModelSpec;
  data: Dataset;
  dims: Record<string, number>;
  /** `the test split of samples/linreg.csv` */
  what: string;
}

/** The split a command runs on: `all` is every row of a CSV in file order. */
function pickSplit(splits: DataSplits, name: SplitName): Dataset {
  if (name === "all") {
    if (splits.all === undefined)
      throw new UsageError(
        `--split all is every row of a CSV file; ${splits.source} has train, val and test`,
      );
    return splits.all;
  }
  return { test: splits.test, val: splits.valid, train: splits.train }[name];
}

/** Compile FILE, fit the data to what `entry` reads, create the model and load --load into it. */
async function openTrained(
  cmd: Extract<CommandName, "predict" | "evaluate">,
  p: Parsed,
  io: Io,
): Promise<Trained | null> {
  const file = oneFile(cmd, p);
  const ckpt = str(p, "load")!; // usage.ts checkValues requires it
  const split = splitFlag(p, cmd);
  const limit = intFlag(p, "limit", 1);
  const backend = backendFlag(p, cmd);
  const threads = threadsFlag(p, cmd);
  requireFile(file);
  requireFile(ckpt);
  const recorded = settingsFrom(readCheckpoint(ckpt, "load").st.metadata);
  const source = chooseSource(file, str(p, "data"));
  const r = compile(file, {
    target: backend,
    model: str(p, "model"),
    config: str(p, "config"),
    ...sizeLimits(p),
  });
  printDiagnostics(r, io);
  if (!r.ok || r.js === undefined || r.program === undefined) return null;
  const program = r.program;
  if (cmd === "evaluate" && !program.hasLoss)
    throw new UserError(
      `model \`${program.model}\` declares no \`loss\`, so there is nothing to evaluate`,
    );
  if (cmd === "predict" && program.outputs.length === 0)
    throw new UserError(
      `model \`${program.model}\` declares no \`output\`, so there is nothing to predict`,
    );
  const mod = await loadModule(r.js);
  // Fit only what the entry reads: predict's inputs leave the labels out.
  const entry = program.entries.find((e) => e.name === cmd)!;
  const reads = new Set(entry.inSlots.flatMap((s) => (s.kind === "input" ? [s.name] : [])));
  const csvSplit =
    source.kind === "csv" && recorded.split !== undefined ? parseSplit(recorded.split) : undefined;
  const splits = loadSplits(source, mod.spec, { split: csvSplit, inputs: reads });
  let data = pickSplit(splits, split);
  if (limit !== undefined) data = rows(data, 0, limit);
  const what = `the ${split === "all" ? "whole data" : `${split} split`} of ${splits.source}`;
  if (data.size === 0) throw new UserError(`${what} has no examples`);
  const model = await mod.createModel({
    dims: splits.dims,
    backend,
    ...(backend === "webgpu" && { gpu: await gpuFor("--backend webgpu") }),
    ...(threads !== undefined && { threads }),
  });
  try {
    await loadWeights(model, ckpt);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, spec: mod.spec, data, dims: splits.dims, what };
}

export async function runEvaluate(p: Parsed, io: Io): Promise<number> {
  const t = await openTrained("evaluate", p, io);
  if (t === null) return exitCode.error;
  const split = splitFlag(p, "evaluate");
  const e = (await evaluateAll(t.model, t.data, chunk, t.dims))!;
  t.model.dispose();
  if (p.values.json === true)
    io.out(
      JSON.stringify({
        model: t.spec.model,
        split,
        examples: t.data.size,
        loss: e.loss,
        metrics: e.metrics,
      }),
    );
  else {
    io.err(`model ${t.spec.model}: ${t.data.size} examples, ${t.what}`);
    io.out(`${split}: ${fmtEval(e)}`);
  }
  return exitCode.ok;
}

/** One output over the split: its values, example after example. */
interface Column {
  spec: TensorSpec;
  /** Values per example. */
  width: number;
  /** The per-example shape when every dim is known (JSON nests by it), else [width]. */
  shape: number[];
  data: Tensor;
}

/** The shortest decimal that reads back as the same float32 (ints as they are). */
function num(v: number, int: boolean): string {
  if (int || !Number.isFinite(v)) return String(v);
  for (let digits = 1; digits < 9; digits++) {
    const t = Number(v.toPrecision(digits));
    if (Math.fround(t) === v) return String(t);
  }
  return String(Number(v.toPrecision(9)));
}

async function predictAll(t: Trained): Promise<Column[]> {
  const parts: Record<string, Tensor[]> = {};
  for (let start = 0; start < t.data.size; start += chunk) {
    const out = await t.model.predict(asBatch(rows(t.data, start, start + chunk)), t.dims);
    for (const o of t.spec.outputs) (parts[o.name] ??= []).push(out[o.name]!);
  }
  return t.spec.outputs.map((o) => {
    const chunks = parts[o.name]!;
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const data = chunks[0] instanceof Int32Array ? new Int32Array(total) : new Float32Array(total);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
    const width = total / t.data.size;
    const dims = o.shape.slice(1).map((d) => (typeof d === "number" ? d : t.dims[d]));
    const known = dims.every((d) => d !== undefined);
    return { spec: o, width, shape: known ? (dims as number[]) : [width], data };
  });
}

/** One row per example; a column per output, or `name_0`, `name_1`, ... for a wider one. */
function toCsv(cols: Column[], n: number): string {
  const names = cols.flatMap((c) =>
    c.spec.shape.length === 1
      ? [c.spec.name]
      : [...Array(c.width).keys()].map((k) => `${c.spec.name}_${k}`),
  );
  const lines = [names.join(",")];
  for (let i = 0; i < n; i++) {
    const cells: string[] = [];
    for (const c of cols) {
      const int = c.data instanceof Int32Array;
      for (let k = 0; k < c.width; k++) cells.push(num(c.data[i * c.width + k]!, int));
    }
    lines.push(cells.join(","));
  }
  return lines.join("\n") + "\n";
}

/** `{ "name": [per example, nested by its shape] }`; a non-finite value is null. */
function toJson(cols: Column[], n: number): string {
  const nest = (c: Column, at: number, axis: number): string => {
    if (axis === c.shape.length) {
      const v = c.data[at]!;
      return Number.isFinite(v) ? num(v, c.data instanceof Int32Array) : "null";
    }
    const stride = c.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const items = [...Array(c.shape[axis]!).keys()].map((j) => nest(c, at + j * stride, axis + 1));
    return `[${items.join(",")}]`;
  };
  const fields = cols.map((c) => {
    const examples = [...Array(n).keys()].map((i) => nest(c, i * c.width, 0));
    return `  ${JSON.stringify(c.spec.name)}: [\n${examples.map((e) => `    ${e}`).join(",\n")}\n  ]`;
  });
  return `{\n${fields.join(",\n")}\n}\n`;
}

/** Without -o: each output's shape, range and first example. */
function describe(c: Column, n: number): string[] {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of c.data) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  const dtype = c.data instanceof Int32Array ? "int" : "f32";
  const first = [...c.data.subarray(0, Math.min(c.width, 10))].map((v) => fmt(v));
  return [
    `${c.spec.name}: ${dtype}[${[n, ...c.shape].join(", ")}]  min ${fmt(min)}  mean ${fmt(sum / c.data.length)}  max ${fmt(max)}`,
    `  first example: ${c.width === 1 ? first[0] : `[${first.join(", ")}${c.width > 10 ? ", ..." : ""}]`}`,
  ];
}

export async function runPredict(p: Parsed, io: Io): Promise<number> {
  const t = await openTrained("predict", p, io);
  if (t === null) return exitCode.error;
  const cols = await predictAll(t);
  t.model.dispose();
  const n = t.data.size;
  const out = str(p, "out");
  if (out === undefined) {
    io.out(`predicted ${n} examples, ${t.what}`);
    for (const c of cols) describe(c, n).forEach((l) => io.out(l));
    return exitCode.ok;
  }
  writeOutput(out, /\.json$/i.test(out) ? toJson(cols, n) : toCsv(cols, n));
  io.err(`wrote ${out}: ${n} examples of ${cols.map((c) => c.spec.name).join(", ")}, ${t.what}`);
  return exitCode.ok;
}
