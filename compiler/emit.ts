// ProgramIR -> one standalone ES module (and its .d.ts). Each entry is
// lowered to kernels, planned and printed as JS; a generated entry module
// imports the runtime (runtime/*.ts, real tested TypeScript) and esbuild
// bundles the lot into a single file with no imports left.
//
// Untrusted names (model, inputs, params, metrics, dims, files) only ever
// enter the code and the .d.ts through mangle.ts: string literals and data
// through `jsString`/`jsData`, comments through `commentText`, identifiers
// through `mangle`.

import { buildSync } from "esbuild";
import { fileURLToPath } from "node:url";
import type { NumericsSource, NumericsTable } from "../runtime/kernels.ts";
import { positionAt, type SourceMap } from "./diagnostics.ts";
import { dimAsConst, dimToString, dimVars, numElements, type Dim } from "./dims.ts";
import { entryToJs, dimJs, jsHelpers, type EntryJs } from "./codegen-js.ts";
import { commentText, jsData, jsString } from "./mangle.ts";
import { indexUses, type IndexUse } from "./emit/index-ranges.ts";
import { lowerGraph, type LowerOptions } from "./fuse.ts";
import type { DimCheck, Entry, Graph, ProgramIR, TensorType } from "./ir.ts";
import {
  programToString,
  type KernelProgram,
  type KernelSource,
  type MemoryPlan,
} from "./kernel.ts";
import { planMemory } from "./memory.ts";
import { moduleDts } from "./emit/dts.ts";
import { shapeSpec, specOf } from "./emit/spec.ts";

const runtimeDir = fileURLToPath(new URL("../runtime/", import.meta.url));

export interface LoweredEntry {
  kernels: KernelProgram;
  memory: MemoryPlan;
}

export function lowerEntry(g: Graph, opts: LowerOptions = {}): LoweredEntry {
  const kernels = lowerGraph(g, opts);
  return { kernels, memory: planMemory(kernels) };
}

/**
 * `checkNumerics`: instrument the kernels so the first NaN or infinity one
 * stores throws, naming its equation (runtime/kernels.ts); `sources` (the
 * .dlg texts by path) turns the equations' spans into line:col. Off, the
 * module is exactly the plain one.
 */
export interface NumericsOptions {
  checkNumerics?: boolean;
  sources?: SourceMap;
}

/** What a checkNumerics build says of each equation a kernel may name. */
function numericsTable(sources: readonly KernelSource[], files: SourceMap): NumericsSource[] {
  return sources.map(({ op, name, vjpOf, file, span }) => {
    const text = file === undefined ? undefined : files.get(file);
    const at = span && text !== undefined ? positionAt(text, span.start) : undefined;
    return {
      op,
      ...(name !== undefined && { name }),
      ...(vjpOf !== undefined && { vjpOf }),
      ...(file !== undefined && { file }),
      ...(at && span && { line: at.line, col: at.col, start: span.start, end: span.end }),
    };
  });
}

/** One graph as JS declarations plus an EntryPlan expression (also used by tests to run a graph). */
export function graphToJs(
  g: Graph,
  dims: readonly string[],
  prefix: string,
  slots: { inSlots: readonly object[]; outSlots: readonly object[]; name?: string },
  opts: LowerOptions & NumericsOptions = {},
): EntryJs {
  const { kernels, memory } = lowerEntry(g, opts);
  const numerics: NumericsTable | null = opts.checkNumerics
    ? {
        entry: slots.name ?? prefix,
        sources: numericsTable(kernels.sources, opts.sources ?? new Map()),
      }
    : null;
  return entryToJs(kernels, memory, dims, prefix, slots, numerics);
}

/** The JS text of the program: kernel functions and `const plan = {...}` (a ProgramPlan). */
export function programJs(program: ProgramIR, opts: LowerOptions & NumericsOptions = {}): string {
  const dims = program.dims;
  const entries = program.entries.map((e: Entry, n) => ({
    name: e.name,
    js: graphToJs(e.graph, dims, `e${n}`, e, opts),
  }));
  const indexes = indexUses(
    program.entries.map((e) => ({
      graph: e.graph,
      inputNames: new Map(
        e.inSlots.flatMap((s, k) => (s.kind === "input" ? [[e.graph.inputs[k]!.id, s.name]] : [])),
      ),
    })),
  );
  const sized = (x: { name: string; type: TensorType }, uses: readonly IndexUse[] = []) => {
    const n = numElements(x.type.shape);
    const used = dimVars(n).map((v) => dims.indexOf(v));
    const ranges = uses.map(
      (u) => `{ size: (D) => ${dimJs(u.size, dims)}, what: ${jsString(u.what)} }`,
    );
    return [
      "{",
      `name: ${jsString(x.name)},`,
      `dtype: ${JSON.stringify(x.type.dtype)},`,
      `shape: ${jsData(shapeSpec(x.type.shape))},`,
      `numel: (D) => ${dimJs(n, dims)},`,
      `sizes: [${x.type.shape.map((d) => `(D) => ${dimJs(d, dims)}`).join(", ")}],`,
      `dims: ${JSON.stringify(used)},`,
      ...(ranges.length ? [`indexes: [${ranges.join(", ")}],`] : []),
      "}",
    ].join(" ");
  };
  const list = (xs: { name: string; type: TensorType }[]) =>
    `[${xs.map((x) => sized(x)).join(", ")}]`;
  const data = {
    model: program.model,
    dims,
    outputs: program.outputs.map((o) => ({
      name: o.name,
      dtype: o.type.dtype,
      shape: shapeSpec(o.type.shape),
    })),
    metrics: program.metrics,
    hasLoss: program.hasLoss,
  };
  return [
    ...entries.map((e) => e.js.decls),
    "const plan = {",
    ...Object.entries(data).map(([k, v]) => `  ${k}: ${jsData(v)},`),
    `  inputs: [${program.inputs.map((x) => sized(x, indexes.get(x.name))).join(", ")}],`,
    `  params: ${list(program.params.map((p) => ({ name: p.path, type: p.type })))},`,
    `  state: ${list(program.state)},`,
    `  entries: {${entries.map((e) => `${jsString(e.name)}: ${e.js.plan}`).join(", ")}},`,
    `  checks: [${(program.checks ?? []).map((c) => dimCheckJs(c, dims)).join(", ")}],`,
    "};",
  ].join("\n\n");
}

/** A DimCheck as a DimCheckPlan literal; the message is data, so it enters as a string literal. */
function dimCheckJs(c: DimCheck, dims: readonly string[]): string {
  const fields = [
    `dims: ${JSON.stringify(dimVars(c.dim).map((v) => dims.indexOf(v)))}`,
    `value: (D) => ${dimJs(c.dim, dims)}`,
    `min: ${c.min}`,
    ...(c.max !== undefined ? [`max: ${c.max}`] : []),
    ...(c.unit !== undefined ? [`unit: ${jsString(c.unit)}`] : []),
    `message: ${jsString(c.message)}`,
  ];
  return `{ ${fields.join(", ")} }`;
}

/** Where each helper the generated kernels call lives in runtime/. */
const helperModules: Record<(typeof jsHelpers)[number], string> = {
  randomUniform: "./rng.ts",
  scratchF64: "./kernels.ts",
  noteNonFinite: "./kernels.ts",
  checkStored: "./kernels.ts",
};

/** Bundle generated code with the runtime into one import-free ES module. */
function bundle(body: string): string {
  const entry = [
    ...jsHelpers.map((h) => `import { ${h} } from ${JSON.stringify(helperModules[h])};`),
    `import { createModelFromPlan } from "./model.ts";`,
    body,
  ].join("\n");
  const r = buildSync({
    stdin: { contents: entry, resolveDir: runtimeDir, sourcefile: "model.js", loader: "js" },
    bundle: true,
    format: "esm",
    platform: "neutral",
    write: false,
    legalComments: "none",
    target: "es2022",
  });
  const out = r.outputFiles[0]?.text;
  if (out === undefined) throw new Error("emit: esbuild produced no output");
  return out;
}

export function emit(
  program: ProgramIR,
  opts: { modelName: string } & NumericsOptions,
): { js: string; dts: string } {
  const body = [
    programJs(program, { checkNumerics: opts.checkNumerics, sources: opts.sources }),
    `export const spec = ${jsData(specOf(program))};`,
    "export function createModel(opts) {\n  return createModelFromPlan(plan, opts);\n}",
  ].join("\n\n");
  const header = `// Model ${commentText(opts.modelName)}: generated by dlg. Standalone: no imports.\n`;
  return { js: header + bundle(body), dts: moduleDts(program, opts.modelName) };
}

/** Every entry's kernels and buffers as text (`dlg dump --stage kernels`). */
export function printKernels(program: ProgramIR, opts: LowerOptions = {}): string {
  return program.entries
    .map((e) => `// entry ${e.name}\n${programToString(lowerEntry(e.graph, opts).kernels)}`)
    .join("\n\n");
}

export { jsHelpers };
