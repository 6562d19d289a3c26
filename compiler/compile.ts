// The pipeline on one screen. This is the only file that composes phases:
//   parse → elaborate (names, blocks, shapes) → entries (one graph per entry
//   point; step: autodiff + optimizer) → simplify → verify → lower/fuse →
//   memory plan → backend.emit (codegen for the target, the module).
// No phase before lowering knows the target: a Backend (backend.ts) brings
// its lowering options, its kernel printer and its runtime.
// Everything here is pure (files come through `host`; no node:fs, no
// bundler), so the CLI, the tests, a language server and a browser
// playground can all drive it; cli/node-host.ts binds it to the disk.

import { parse, printProgram } from "../grammar/index.ts";
import { diag, hasErrors, type Diagnostic } from "./diagnostics.ts";
import {
  elaborate,
  readSource,
  STD_PRELUDE,
  type ElaborateHost,
  type ElaborateResult,
} from "./elaborate.ts";
import type { Analysis } from "./symbols.ts";
import type { AnalysisCache } from "./symbols/cache.ts";
import { resolveNames } from "./symbols/resolve.ts";
import { didYouMean } from "./elaborate/suggest.ts";
import { defaultTrainConfig } from "./elaborate/train-config.ts";
import type { ModelIR, ProgramIR, TrainConfig } from "./ir.ts";
import { largestId, VarGen } from "./ir.ts";
import { printGraph } from "./ir-print.ts";
import { grad } from "./autodiff.ts";
import { residualOptions } from "./autodiff/scan-residuals.ts";
import { buildEntries } from "./entries.ts";
import { defaultLimits, type SizeLimits } from "./limits.ts";
import { emit, lowerEntry, printKernels, type LoweredEntry, type NumericsOptions } from "./emit.ts";
import { explainKernels } from "./explain.ts";
import { moduleDts } from "./emit/dts.ts";
import { trainDims } from "./train-dims.ts";
import { verify } from "./ir-verify.ts";
import { simplifyEntry } from "./simplify.ts";
import { TargetLimitError, type Backend, type Target } from "./backend.ts";
import type { Kernel } from "./kernel.ts";
import { jsBackend } from "./backends/js.ts";
import { wasmBackend } from "./backends/wasm.ts";
import { webgpuBackend } from "./backends/webgpu.ts";
import { NoExportRule, type ExportTarget } from "./exporter.ts";
import { exportWeights } from "./export/weights.ts";
import { exporters, type ExportEncoders } from "./exporters.ts";

/** Where files come from: the disk (cli/node-host.ts), an editor's buffers, a test's strings. */
export type Host = ElaborateHost;

/** Every target, by the name `--target` takes. */
export const backends: Record<Target, Backend> = {
  js: jsBackend,
  webgpu: webgpuBackend,
  wasm: wasmBackend,
};

export interface CompileOptions {
  /** What the module runs on: "js" (default), "webgpu" or "wasm". */
  target?: Target;
  /** Which model to compile; defaults to the one the chosen train block names, else the only/first model. */
  model?: string;
  /** Which train block to use; defaults to the first one for the model. */
  config?: string;
  /** Where files come from (required: this module reads no files itself). */
  host: Host;
  /** Emit a module that throws at the first NaN or infinity a kernel stores, naming its source (`dlg train --check-numerics`). */
  checkNumerics?: boolean;
  /** Bytes any one tensor may take (default 4 GiB; `--max-tensor-bytes`): past it, E3015 or a run-time error. */
  maxTensorBytes?: number;
  /** Bytes all parameters together may take (default 8 GiB; `--max-param-bytes`): past it, E3016. */
  maxParamBytes?: number;
  /** Changes the selected train block before the back half (`dlg train --lr`, `--batch`). */
  train?: (t: TrainConfig) => TrainConfig;
}

function limitsOf(opts: CompileOptions): { limits: SizeLimits } {
  return {
    limits: {
      maxTensorBytes: opts.maxTensorBytes ?? defaultLimits.maxTensorBytes,
      maxParamBytes: opts.maxParamBytes ?? defaultLimits.maxParamBytes,
    },
  };
}

export interface CheckResult {
  diagnostics: Diagnostic[];
  sources: Map<string, string>;
  ok: boolean;
}

export interface CompileResult extends CheckResult {
  program?: ProgramIR;
  train?: TrainConfig;
  js?: string;
  dts?: string;
}

export type Stage = "ast" | "ir" | "grad" | "kernels";

/** `dump`'s options: `explain` turns the kernels stage into what fusion did and why (compiler/explain.ts). */
export interface DumpOptions extends CompileOptions {
  explain?: boolean;
}

/** Parse and check a file (and its imports): every diagnostic, nothing emitted. */
export function check(file: string, opts: CompileOptions): CheckResult {
  const r = elaborate(file, opts.host, limitsOf(opts));
  return { diagnostics: r.diagnostics, sources: r.sources, ok: !hasErrors(r.diagnostics) };
}

export interface AnalyzeOptions {
  host: Host;
  /** Kept by the caller between calls: unchanged files are not parsed again, unchanged imports not re-elaborated. */
  cache?: AnalysisCache;
  limits?: SizeLimits;
}

/**
 * The front half for an editor: parse, elaborate and resolve names, and
 * keep what they learned (definitions, uses, types) instead of emitting.
 * Never throws: a compiler bug becomes one E9001 diagnostic.
 */
export function analyze(file: string, opts: AnalyzeOptions): Analysis {
  try {
    const r = elaborate(file, opts.host, {
      limits: opts.limits ?? defaultLimits,
      recoveredTypes: true,
      ...(opts.cache ? { parse: opts.cache.parse, reuse: opts.cache } : {}),
    });
    const symbols = resolveNames(r.programs, new Set([STD_PRELUDE]));
    const { diagnostics, sources, programs, types } = r;
    return { entry: file, diagnostics, sources, programs, symbols, types };
  } catch (e) {
    const empty = { symbols: { defs: new Map(), refs: [] }, types: [] };
    return {
      entry: file,
      diagnostics: [internalError(file, e)],
      sources: new Map(),
      programs: new Map(),
      ...empty,
    };
  }
}

interface Selected {
  model: ModelIR;
  train: TrainConfig;
}

/**
 * Pick the model and train block the options name, or report why not. The
 * names come from the command line, so an error points at what is in the
 * file instead: the train block or model it found, else the first model.
 */
function select(file: string, r: ElaborateResult, opts: CompileOptions): Selected | Diagnostic {
  const first = [...r.sites.models.values()][0] ?? { file, span: { start: 0, end: 0 } };
  const models = [...r.models.keys()];
  const trainList = (ts: TrainConfig[]) =>
    ts.map((t) => `\`${t.name}\` (for \`${t.model}\`)`).join(", ");
  if (opts.model !== undefined && !r.models.has(opts.model)) {
    const help = didYouMean(opts.model, models);
    return diag("E4001", `there is no model named \`${opts.model}\``, first.file, first.span, {
      notes: [
        models.length
          ? `models here: ${models.map((m) => `\`${m}\``).join(", ")}`
          : "this file defines no model",
      ],
      ...(help ? { help } : {}),
    });
  }
  let train: TrainConfig | undefined;
  if (opts.config !== undefined) {
    const named = r.trains.filter((t) => t.name === opts.config);
    train = named.find((t) => opts.model === undefined || t.model === opts.model);
    if (!train && named[0]) {
      // It exists, for another model: say so, at that train block.
      const at = r.sites.trains.get(named[0])!;
      const own = r.trains.filter((t) => t.model === opts.model);
      return diag(
        "E4002",
        `train block \`${opts.config}\` is for model \`${named[0].model}\`, not \`${opts.model}\``,
        at.file,
        at.span,
        {
          notes: [
            own.length
              ? `train blocks for \`${opts.model}\`: ${trainList(own)}`
              : `model \`${opts.model}\` has no train block`,
          ],
        },
      );
    }
    if (!train) {
      const at = r.sites.models.get(opts.model ?? "") ?? first;
      const help = didYouMean(
        opts.config,
        r.trains.map((t) => t.name),
      );
      return diag("E4002", `there is no train block named \`${opts.config}\``, at.file, at.span, {
        notes: [
          r.trains.length
            ? `train blocks here: ${trainList(r.trains)}`
            : "this file has no train block",
        ],
        ...(help ? { help } : {}),
      });
    }
  }
  const modelName = opts.model ?? train?.model ?? r.trains[0]?.model ?? models[0];
  const model = modelName === undefined ? undefined : r.models.get(modelName);
  // Only a file without models gets here (a named model was checked above;
  // a train block's model exists, or elaboration reported E4001).
  if (!model) return diag("E4001", "this file defines no model", file, { start: 0, end: 0 });
  train ??= r.trains.find((t) => t.model === model.name) ?? defaultTrainConfig(model.name);
  return { model, train };
}

/**
 * The front of the back half, one line a phase: a model's entries (init,
 * predict, evaluate, and step: the forward graph, its reverse-mode gradient
 * and the optimizer update), simplified, verified; and what the module declares.
 */
export function buildProgram(model: ModelIR, train: TrainConfig): ProgramIR {
  const gen = new VarGen(largestId(model.forward, model.init) + 1);
  const built = buildEntries(model, model.loss ? train : null, gen); // entries + autodiff
  const entries = built.entries.map(simplifyEntry); // simplify, drop unread inputs
  for (const e of entries) verify(e.graph); // verify
  return {
    model: model.name,
    dims: model.dims,
    inputs: model.inputs.map((i) => ({ name: i.name, type: i.var.type })),
    outputs: model.outputs.map((o) => ({ name: o.name, type: o.var.type })),
    metrics: model.metrics.map((m) => m.name),
    hasLoss: model.loss !== null,
    params: model.params.map((p) => ({
      path: p.path,
      type: p.var.type,
      ...(p.stack && { stack: p.stack }),
    })),
    state: built.state,
    entries,
    checks: model.checks ?? [],
  };
}

/** The back half for one model: entries, their kernels, the module. */
function lowerModel(
  sel: Selected,
  backend: Backend,
  numerics: NumericsOptions = {},
): { program: ProgramIR; lowered: LoweredEntry[]; js: string; dts: string } {
  const program = buildProgram(sel.model, sel.train);
  return { program, ...emitProgram(program, backend, { modelName: sel.model.name, ...numerics }) };
}

/** A program's kernels and module for one backend: lower/fuse, memory plan, emit. */
export function emitProgram(
  program: ProgramIR,
  backend: Backend,
  opts: { modelName: string } & NumericsOptions,
): { lowered: LoweredEntry[]; js: string; dts: string } {
  const lowered = program.entries.map((e) => lowerEntry(e.graph, backend.lower)); // fuse, memory plan
  checkLimits(backend, program, lowered);
  return { lowered, ...emit(backend, program, lowered, opts) }; // the backend's kernels, the module
}

/** The most scans one kernel list holds by id (ids are slots of the runtime's step table). */
function scanSlots(ks: readonly Kernel[]): number {
  return Math.max(
    0,
    ...ks.map((k) => (k.kind === "scan" ? Math.max(k.id + 1, scanSlots(k.body)) : 0)),
  );
}

/** Refuse, as TargetLimitError, a program whose entries need more slots than the target's runtime has. */
function checkLimits(backend: Backend, program: ProgramIR, lowered: readonly LoweredEntry[]): void {
  const { dims, scans, buffers } = backend.limits;
  const past = (what: string, n: number, most: number, entry: string) => {
    if (n > most)
      throw new TargetLimitError(
        `${entry} needs ${n} ${what}; the ${backend.target} runtime holds at most ${most}`,
      );
  };
  past("run-time dims", program.dims.length, dims, "it");
  program.entries.forEach((e, n) => {
    const p = lowered[n]!.kernels;
    past("scans", scanSlots(p.kernels), scans, `its ${e.name} entry`);
    past("buffers", p.buffers.length, buffers, `its ${e.name} entry`);
  });
}

/** E4012 at the model: what it needs past the target's runtime, and the way out. */
function tooBig(
  e: TargetLimitError,
  backend: Backend,
  r: ElaborateResult,
  sel: Selected,
  file: string,
): Diagnostic {
  const at = r.sites.models.get(sel.model.name) ?? { file, span: { start: 0, end: 0 } };
  return diag(
    "E4012",
    `model \`${sel.model.name}\` is too big for the ${backend.target} target: ${e.message}`,
    at.file,
    at.span,
    {
      notes: ["the js target has no such limit; or split the model into smaller ones"],
    },
  );
}

/** Internal errors become one E9001 diagnostic: the user sees a bug report, not a stack trace. */
function internalError(file: string, e: unknown): Diagnostic {
  const msg = e instanceof Error ? e.message : String(e);
  return diag(
    "E9001",
    `internal compiler error: ${msg}`,
    file,
    { start: 0, end: 0 },
    {
      notes: ["this is a bug in dlg, not in your program; please report it with this file"],
    },
  );
}

export function compile(file: string, opts: CompileOptions): CompileResult {
  const r = elaborate(file, opts.host, limitsOf(opts));
  const base = { diagnostics: r.diagnostics, sources: r.sources };
  if (hasErrors(r.diagnostics)) return { ...base, ok: false };
  const picked = select(file, r, opts);
  if (!("model" in picked)) return { ...base, diagnostics: [...r.diagnostics, picked], ok: false };
  const sel = opts.train ? { ...picked, train: opts.train(picked.train) } : picked;
  const backend = backends[opts.target ?? "js"];
  if (opts.checkNumerics && !backend.numerics) {
    const at = r.sites.models.get(sel.model.name) ?? { file, span: { start: 0, end: 0 } };
    const d = diag(
      "E4011",
      `--check-numerics is not available for the ${backend.target} target`,
      at.file,
      at.span,
      { notes: ["check numerics on the js target: its kernels are the same computation"] },
    );
    return { ...base, diagnostics: [...r.diagnostics, d], ok: false };
  }
  try {
    const numerics = { checkNumerics: opts.checkNumerics ?? false, sources: r.sources };
    const { program, js, dts } = lowerModel(sel, backend, numerics);
    return { ...base, ok: true, train: sel.train, program, js, dts };
  } catch (e) {
    const d =
      e instanceof TargetLimitError ? tooBig(e, backend, r, sel, file) : internalError(file, e);
    return { ...base, diagnostics: [...r.diagnostics, d], ok: false };
  }
}

/** Canonical text of one stage (`dlg dump --stage`). */
export function dump(
  file: string,
  stage: Stage,
  opts: DumpOptions,
): CheckResult & { text?: string } {
  const host = opts.host;
  if (stage === "ast") {
    const got = readSource(host, file, null);
    if ("diagnostic" in got) {
      const sources = new Map(got.shown !== undefined ? [[file, got.shown]] : []);
      return { diagnostics: [got.diagnostic], sources, ok: false };
    }
    const { text } = got;
    const p = parse(text);
    const sources = new Map([[file, text]]);
    const diagnostics = p.errors.map((e) => diag(e.code, e.message, file, e.span));
    return { diagnostics, sources, ok: diagnostics.length === 0, text: printProgram(p.program) };
  }
  const r = elaborate(file, host, limitsOf(opts));
  const base = { diagnostics: r.diagnostics, sources: r.sources };
  if (hasErrors(r.diagnostics)) return { ...base, ok: false };
  const sel = select(file, r, opts);
  if (!("model" in sel)) return { ...base, diagnostics: [...r.diagnostics, sel], ok: false };
  const { model } = sel;
  try {
    if (stage === "ir") {
      return {
        ...base,
        ok: true,
        text: `// model ${model.name}: forward\n${printGraph(model.forward)}\n// init\n${printGraph(model.init)}`,
      };
    }
    if (stage === "grad") {
      if (!model.loss)
        return {
          ...base,
          ok: true,
          text: `// model ${model.name} has no loss: nothing to differentiate`,
        };
      const gen = new VarGen(largestId(model.forward, model.init) + 1);
      const params = model.params.map((p) => p.var);
      const g = grad(model.forward, model.loss, params, gen, residualOptions(model, sel.train));
      return {
        ...base,
        ok: true,
        text: `// model ${model.name}: forward + gradients of the loss wrt ${params.length} params\n${printGraph(g.graph)}`,
      };
    }
    const backend = backends[opts.target ?? "js"];
    if (opts.explain) {
      const program = buildProgram(sel.model, sel.train);
      const dims = trainDims(program.inputs, sel.train.batch);
      return {
        ...base,
        ok: true,
        text: explainKernels(backend, program, { dims, sources: r.sources }),
      };
    }
    const { program, lowered } = lowerModel(sel, backend);
    return { ...base, ok: true, text: printKernels(backend, program, lowered) };
  } catch (e) {
    return { ...base, diagnostics: [...r.diagnostics, internalError(file, e)], ok: false };
  }
}

/**
 * The .d.ts `compile` writes beside the module, without the module
 * (`dlg typegen`): the model's entries are built, since the .d.ts says which
 * inputs each one reads, but nothing is lowered, fused or emitted.
 */
export function typegen(
  file: string,
  opts: CompileOptions,
): CheckResult & { program?: ProgramIR; dts?: string } {
  const r = elaborate(file, opts.host, limitsOf(opts));
  const base = { diagnostics: r.diagnostics, sources: r.sources };
  if (hasErrors(r.diagnostics)) return { ...base, ok: false };
  const sel = select(file, r, opts);
  if (!("model" in sel)) return { ...base, diagnostics: [...r.diagnostics, sel], ok: false };
  try {
    const program = buildProgram(sel.model, sel.train);
    const dts = moduleDts(program, sel.model.name, opts.target ?? "js");
    return { ...base, ok: true, program, dts };
  } catch (e) {
    return { ...base, diagnostics: [...r.diagnostics, internalError(file, e)], ok: false };
  }
}

export type ExportOptions = Omit<CompileOptions, "target"> & {
  target: ExportTarget;
  /** Trained weights by param path (a checkpoint's tensors); absent: the seeded initial ones. */
  weights?: ReadonlyMap<string, Float32Array>;
  /** What the exporters need from outside compiler/ (cli/onnx-encode.ts's encoder). */
  encoders: ExportEncoders;
};

export interface ExportResult extends CheckResult {
  /** The exported file, and `-o`'s default extension for it. */
  bytes?: Uint8Array;
  extension?: string;
  model?: string;
}

/**
 * A model as a file another engine runs (`dlg compile --target onnx|pytorch`):
 * its entries built as for a module, its weights (given, or the seeded
 * initial ones), then the target's exporter. An operation the exporter has
 * no rule for is E4020 at its source span, never a broken file.
 */
export function exportModel(file: string, opts: ExportOptions): ExportResult {
  const front: CompileOptions = { ...opts, target: undefined };
  const r = elaborate(file, opts.host, limitsOf(front));
  const base = { diagnostics: r.diagnostics, sources: r.sources };
  if (hasErrors(r.diagnostics)) return { ...base, ok: false };
  const picked = select(file, r, front);
  if (!("model" in picked)) return { ...base, diagnostics: [...r.diagnostics, picked], ok: false };
  const { model, train } = picked;
  const at = r.sites.models.get(model.name) ?? { file, span: { start: 0, end: 0 } };
  const fail = (d: Diagnostic) => ({ ...base, diagnostics: [...r.diagnostics, d], ok: false });
  const exporter = exporters(opts.encoders)[opts.target];
  try {
    const program = buildProgram(model, train);
    // ONNX is the predict entry: a model without outputs has none.
    if (opts.target === "onnx" && model.outputs.length === 0)
      return fail(
        diag(
          "E4021",
          `model \`${model.name}\` declares no output: its ONNX graph would compute nothing`,
          at.file,
          at.span,
          {
            help: "declare what predict() returns, e.g. `output probs = softmax(logits)`",
          },
        ),
      );
    const weights = exportWeights(model, train.seed, opts.weights, at);
    if (!Array.isArray(weights)) return fail(weights);
    const out = exporter.export({ model, program, train, weights, file, sources: r.sources });
    return {
      ...base,
      ok: true,
      bytes: out.bytes,
      extension: exporter.extension,
      model: model.name,
    };
  } catch (e) {
    if (!(e instanceof NoExportRule)) return fail(internalError(file, e));
    return fail(
      diag(
        "E4020",
        `no ${e.target} export rule for \`${e.op}\`: ${e.why}`,
        e.file ?? at.file,
        e.span ?? at.span,
        {
          notes: [`the ${e.target} target has no operation computing \`${e.op}\` as dlg does`],
        },
      ),
    );
  }
}
