// ProgramIR -> one standalone ES module (and its .d.ts), for one backend.
// Each entry's kernels (lowered and memory-planned by compile.ts) become the
// backend's printed kernels plus plan data (buffers, pools, schedule, sizes
// as SizeExprs); the backend's runtime, bundled once from runtime/ by
// scripts/build-runtime.ts, is pasted in ahead of them, so the module has no
// imports and compiling needs no bundler.
//
// Untrusted names (model, inputs, params, metrics, dims, files) only ever
// enter the code and the .d.ts through mangle.ts: string literals and data
// through `jsString`/`jsData`, comments through `commentText`, identifiers
// through `mangle`.

import type { NumericsSource, NumericsTable } from "../runtime/kernels.ts";
import type { Backend, KernelPrinter } from "./backend.ts";
import { positionAt, type SourceMap } from "./diagnostics.ts";
import { dimVars, numElements } from "./dims.ts";
import { commentText, jsData, jsString } from "./mangle.ts";
import { entryText, kernelContext, type EntryText } from "./emit/entry-plan.ts";
import { programIndexUses, type IndexUse } from "./emit/index-ranges.ts";
import { sizeExpr } from "./size-expr.ts";
import { lowerGraph, type LowerOptions } from "./fuse.ts";
import type { DimCheck, Graph, ProgramIR, TensorType } from "./ir.ts";
import type { Kernel, KernelProgram, KernelSource, MemoryPlan } from "./kernel.ts";
import { planMemory } from "./memory.ts";
import { kernelToString, programToString } from "./scalar-print/dump.ts";
import { moduleDts } from "./emit/dts.ts";
import { shapeSpec, specOf } from "./emit/spec.ts";

/** One entry after lowering: its kernels and their memory plan. */
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

/**
 * One lowered entry as declarations plus an EntryPlan expression (tests run
 * single graphs this way); `opts.printer`: as entryText's `shared`.
 */
export function entryModuleText(
  backend: Backend,
  lowered: LoweredEntry,
  dims: readonly string[],
  prefix: string,
  slots: { inSlots: readonly object[]; outSlots: readonly object[]; name?: string },
  opts: NumericsOptions & { printer?: KernelPrinter } = {},
): EntryText {
  const { kernels, memory } = lowered;
  const numerics: NumericsTable | null = opts.checkNumerics
    ? {
        entry: slots.name ?? prefix,
        sources: numericsTable(kernels.sources, opts.sources ?? new Map()),
      }
    : null;
  return entryText(backend, kernels, memory, dims, prefix, slots, numerics, opts.printer);
}

/** The module text of the program: its kernels and `const plan = {...}` (a ProgramPlan). */
function programText(
  backend: Backend,
  program: ProgramIR,
  lowered: readonly LoweredEntry[],
  opts: NumericsOptions,
): string {
  const dims = program.dims;
  const printer = backend.printer();
  const entries = program.entries.map((e, n) => ({
    name: e.name,
    text: entryModuleText(backend, lowered[n]!, dims, `e${n}`, e, { ...opts, printer }),
  }));
  const indexes = programIndexUses(program);
  const size = (d: Parameters<typeof sizeExpr>[0]) => jsData(sizeExpr(d, dims));
  const sized = (
    x: { name: string; type: TensorType; stack?: ProgramIR["params"][number]["stack"] },
    uses: readonly IndexUse[] = [],
  ) => {
    const n = numElements(x.type.shape);
    const used = dimVars(n).map((v) => dims.indexOf(v));
    const ranges = uses.map((u) => `{ size: ${size(u.size)}, what: ${jsString(u.what)} }`);
    return [
      "{",
      `name: ${jsString(x.name)},`,
      `dtype: ${JSON.stringify(x.type.dtype)},`,
      `shape: ${jsData(shapeSpec(x.type.shape))},`,
      `numel: ${size(n)},`,
      `sizes: [${x.type.shape.map(size).join(", ")}],`,
      `dims: ${JSON.stringify(used)},`,
      ...(x.stack ? [`stack: ${jsData(x.stack)},`] : []),
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
  const plan = [
    "const plan = {",
    ...Object.entries(data).map(([k, v]) => `  ${k}: ${jsData(v)},`),
    `  inputs: [${program.inputs.map((x) => sized(x, indexes.get(x.name))).join(", ")}],`,
    `  params: ${list(program.params.map((p) => ({ name: p.path, type: p.type, ...(p.stack && { stack: p.stack }) })))},`,
    `  state: ${list(program.state)},`,
    `  entries: {${entries.map((e) => `${jsString(e.name)}: ${e.text.plan}`).join(", ")}},`,
    `  checks: [${(program.checks ?? []).map((c) => dimCheckJs(c, dims)).join(", ")}],`,
    "};",
  ].join("\n");
  const decls = [...entries.map((e) => e.text.decls), printer.finish()];
  return [...decls.filter((d) => d !== ""), plan].join("\n\n");
}

/** A DimCheck as a DimCheckPlan literal; the message is data, so it enters as a string literal. */
function dimCheckJs(c: DimCheck, dims: readonly string[]): string {
  const fields = [
    `dims: ${JSON.stringify(dimVars(c.dim).map((v) => dims.indexOf(v)))}`,
    `value: ${jsData(sizeExpr(c.dim, dims))}`,
    `min: ${c.min}`,
    ...(c.max !== undefined ? [`max: ${c.max}`] : []),
    ...(c.unit !== undefined ? [`unit: ${jsString(c.unit)}`] : []),
    `message: ${jsString(c.message)}`,
  ];
  return `{ ${fields.join(", ")} }`;
}

/** The runtime, then the program: one import-free ES module, and its .d.ts. */
export function emit(
  backend: Backend,
  program: ProgramIR,
  lowered: readonly LoweredEntry[],
  opts: { modelName: string } & NumericsOptions,
): { js: string; dts: string } {
  const { code, imports } = backend.runtime;
  const js = [
    `// Model ${commentText(opts.modelName)}: generated by dlg for ${backend.target}. Standalone: no imports.`,
    code.trimEnd(),
    ...(imports.length ? [`const { ${imports.join(", ")} } = __dlg;`] : []),
    programText(backend, program, lowered, opts),
    `export const spec = ${jsData(specOf(program))};`,
    backend.exports,
    "",
  ].join("\n\n");
  return { js, dts: moduleDts(program, opts.modelName, backend.target) };
}

/** Every entry's kernels and buffers as text, with each kernel's code (`dlg dump --stage kernels`). */
export function printKernels(
  backend: Backend,
  program: ProgramIR,
  lowered: readonly LoweredEntry[],
): string {
  return program.entries
    .map((e, n) => {
      const p = lowered[n]!.kernels;
      const code: string[] = [];
      const walk = (ks: readonly Kernel[], path: string) =>
        ks.forEach((k, i) => {
          const at = `${path}_${i}`;
          if (k.kind === "scan") return walk(k.body, at);
          const shown = backend.show(k, kernelContext(p, program.dims, at));
          if (shown) code.push(`// kernel ${at}: ${kernelToString(k)}\n${shown}`);
        });
      walk(p.kernels, `e${n}`);
      return [`// entry ${e.name}\n${programToString(p)}`, ...code].join("\n\n");
    })
    .join("\n\n");
}
