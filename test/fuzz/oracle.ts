// The pipeline oracle: one fuzz case through parse → print round trip →
// check → compile (for each target asked: js, wasm) → import the emitted
// module → createModel → predict / evaluate / step, each compared with the
// float64 interpreter on the same values → save/load round trip; on wasm,
// optionally, the same calls on 2 threads must give threads: 1's bits. It
// says how far the case got and, if something broke, which kind of failure
// it was (on which target). Files come from the case
// itself and the seed corpus (a virtual file system), never from disk, so a
// mutated import path cannot read anything real; std is the real one.

import { readFileSync } from "node:fs";
import { loadModule, type ModelModule } from "../../cli/module.ts";
import { check, compile, dump } from "../../cli/node-host.ts";
import type { Diagnostic } from "../../compiler/diagnostics.ts";
import { dimEval } from "../../compiler/dims.ts";
import { stdPath, type ElaborateHost } from "../../compiler/elaborate.ts";
import { interpret } from "../../compiler/interpret.ts";
import type { Entry, Graph, ProgramIR, TensorType } from "../../compiler/ir.ts";
import { parse, printProgram } from "../../grammar/index.ts";
import type { ModelOptions } from "../../runtime/model-core.ts";
import { stepSeed, type Model } from "../../runtime/model.ts";
import { copyNames, type StackLevel } from "../../runtime/stacked.ts";
import { lcg, slotInputs, type Arr } from "../entry-inputs.ts";
import { loadCorpus } from "./corpus.ts";

export interface FuzzCase {
  /** Where the case came from: `gen#12`, `samples/mlp.dlg: delete 3`. */
  origin: string;
  /** The entry file's path; its imports resolve among the corpus files. */
  file: string;
  text: string;
  /** The size every named dimension gets when the model runs. */
  dim: number;
}

/** The targets a case can run on: js (the reference backend) and wasm. */
export const fuzzTargets = ["js", "wasm"] as const;
export type FuzzTarget = (typeof fuzzTargets)[number];

export interface RunOptions {
  /** Compiled and run in this order, each compared with the interpreter on its own. */
  targets: readonly FuzzTarget[];
  /** Where wasm is a target: also run it on 2 threads, every kernel split, for threads: 1's bits. */
  threads: boolean;
}

/** What the fuzzer did before the WASM target (and what `npm test`'s fuzz sample runs). */
export const JS_ONLY: RunOptions = { targets: ["js"], threads: false };

/** How far a case got. Each stage implies the ones before it. */
export type Stage = "rejected" | "checked" | "compiled" | "ran";

export const failureKinds = [
  /** An exception escaped parse, print, check or compile. */
  "throw",
  /** Printing the AST and parsing it again does not give the same program. */
  "print",
  /** A diagnostic whose file is not a source or whose span is outside it. */
  "span",
  /** E9001: the checker accepted a program the back half cannot compile. */
  "internal",
  /** The emitted module does not import. */
  "load",
  /** createModel, predict, evaluate, step, save or load threw something other than a plain Error. */
  "run",
  /** An initialiser produced NaN or Inf. */
  "init",
  /** The module and the float64 interpreter disagree. */
  "disagree",
  /** The interpreter threw on a graph the module ran. */
  "interpret",
  /** The wasm module on 2 threads does not give the same bits as on 1. */
  "threads",
  /** A checkpoint does not restore the same parameters, step count and predictions. */
  "roundtrip",
  /** The case ran past its time box (reported by the pool). */
  "hang",
  /** The process running the case died (out of memory, a native crash; reported by the pool). */
  "crash",
] as const;
export type FailureKind = (typeof failureKinds)[number];

export interface Outcome {
  stage: Stage;
  /** `target`: the backend that failed (absent before compiling, in the front half). */
  failure?: { kind: FailureKind; message: string; target?: FuzzTarget };
  /** Why a compiled case was not run, or the plain Error the runtime refused it with. */
  note?: string;
}

/** Tensors above these many elements are not run (the interpreter is float64 and plain loops). */
const MAX_ELEMENTS = 1 << 20;
const MAX_TOTAL_ELEMENTS = 1 << 23;
const SEED = 7;

class Failure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

const fail = (kind: FailureKind, message: string): never => {
  throw new Failure(kind, message);
};

function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

let stdText: string | undefined;
let corpus: Record<string, string> | undefined;
function host(c: FuzzCase): ElaborateHost {
  corpus ??= loadCorpus();
  const files = corpus;
  return {
    readFile: (p) =>
      p === c.file ? c.text : Object.prototype.hasOwnProperty.call(files, p) ? files[p] : undefined,
    readStd: (name) =>
      name === "prelude.dlg" ? (stdText ??= readFileSync(stdPath(name), "utf8")) : undefined,
  };
}

/** Every span must lie inside a file the compiler read; start ≤ end. */
function checkSpans(ds: readonly Diagnostic[], sources: ReadonlyMap<string, string>): void {
  for (const d of ds) {
    const at = [
      { file: d.file, span: d.span },
      ...d.labels.map((l) => ({ ...l, file: l.file ?? d.file })),
    ];
    for (const { file, span } of at) {
      const text = sources.get(file);
      const ok =
        text !== undefined &&
        Number.isInteger(span.start) &&
        Number.isInteger(span.end) &&
        0 <= span.start &&
        span.start <= span.end &&
        span.end <= text.length;
      if (!ok)
        fail(
          "span",
          `${d.code} "${d.message}" points at ${file}:${span.start}-${span.end}` +
            (text === undefined ? " (not a source)" : ` (file has ${text.length} characters)`),
        );
    }
    if (d.code === "E9001") fail("internal", d.message);
  }
}

/** A program that parses cleanly prints to text that parses to the same printed text. */
function checkPrint(text: string): void {
  const p = parse(text);
  if (p.errors.length > 0) return;
  const printed = printProgram(p.program);
  const again = parse(printed);
  if (again.errors.length > 0)
    fail("print", `printed program does not parse: ${again.errors[0]!.message}\n${printed}`);
  const twice = printProgram(again.program);
  if (twice !== printed) fail("print", `printing is not stable:\n${printed}\n---\n${twice}`);
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Why the program is too big to run here (or `maxTotal` elements in all), or null. */
function tooLarge(
  prog: ProgramIR,
  env: Record<string, number>,
  maxTotal = MAX_TOTAL_ELEMENTS,
): string | null {
  let total = 0;
  const size = (t: TensorType) => numel(t.shape.map((d) => dimEval(d, env)));
  // Negative or fractional sizes are the runtime's to refuse; only count real ones.
  const tooMany = (n: number) =>
    !Number.isFinite(n) || n > MAX_ELEMENTS ? `a tensor of ${n} elements` : null;
  // makeBatch builds every declared input, also one no entry reads: filling a
  // `[B, 10^9]` one took minutes before the module was even called.
  for (const inp of prog.inputs) {
    const why = tooMany(size(inp.type));
    if (why) return why;
  }
  const visit = (g: Graph): string | null => {
    for (const v of [...g.inputs, ...g.eqns.flatMap((e) => e.outs)]) {
      const n = size(v.type);
      const why = tooMany(n);
      if (why) return why;
      if (n > 0) total += n;
    }
    for (const e of g.eqns)
      if (e.op === "scan") {
        const inner = visit(e.params.body);
        if (inner) return inner;
      }
    return null;
  };
  for (const e of prog.entries) {
    const why = visit(e.graph);
    if (why) return why;
  }
  return total > maxTotal ? `${total} elements in all` : null;
}

/** Far beyond float32 rounding, so a program's own ill-conditioning rarely trips it. */
const TOL = 1e-2;

/** The largest error (relative, 1 the floor) of each output compared with the float64 interpreter. */
type Errors = Map<string, { err: number; at: number }>;

function compare(
  what: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  errors?: Errors,
): void {
  if (got.length !== want.length)
    fail("disagree", `${what}: ${got.length} elements, interpreter has ${want.length}`);
  let worst = { err: 0, at: -1 };
  for (let i = 0; i < want.length; i++) {
    const a = got[i]!;
    const b = want[i]!;
    // Where float64 overflows or is undefined, float32 may differ in kind; nothing to compare.
    if (!Number.isFinite(b) || Math.abs(b) > 1e30) continue;
    const err = Math.abs(a - b) / Math.max(1, Math.abs(b));
    if (Number.isNaN(a) || err > TOL)
      fail("disagree", `${what}[${i}]: module ${a}, interpreter ${b}`);
    if (err > worst.err) worst = { err, at: i };
  }
  errors?.set(what, worst);
}

/**
 * WASM against the JS reference: where both ran, no output may be further
 * from the interpreter than this, or than this many times JS's error there.
 * TOL allows for a random program's ill-conditioning, which JS meets too;
 * both backends compute in float32 (errors of ~1e-7 on fuzz programs), so an
 * inaccurate wasm function or a wrong fusion that TOL lets through shows here.
 */
const WASM_FLOOR = 1e-4;
const WASM_FACTOR = 100;

function compareWithJs(js: Errors, wasm: Errors): void {
  for (const [what, w] of wasm) {
    const j = js.get(what);
    if (j && w.err > Math.max(WASM_FLOOR, WASM_FACTOR * j.err))
      fail(
        "disagree",
        `${what}[${w.at}]: wasm is ${w.err.toExponential(2)} from the interpreter, ` +
          `js ${j.err.toExponential(2)} (at most ${WASM_FLOOR} or ${WASM_FACTOR}x js allowed)`,
      );
  }
}

/** Float32 noise in a gradient that is 0 in exact arithmetic (layer_norm of one feature) moves a parameter this much. */
const UPDATE_NOISE = 1e-5;

/** Parameter updates: relative to the largest update of the tensor (one step from the same start). */
function compareUpdate(
  what: string,
  before: Float64Array,
  got: Float32Array,
  want: ArrayLike<number>,
): void {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]! - before[i]!));
  if (!Number.isFinite(scale)) return;
  for (let i = 0; i < want.length; i++) {
    // A step float64 takes past float32's range (a learning rate of 1e308 is
    // Infinity in float32) overflows in the module: nothing to compare, as in `compare`.
    if (!(Math.abs(want[i]!) <= 1e30)) continue;
    const du = got[i]! - before[i]!;
    const dw = want[i]! - before[i]!;
    if (
      Number.isNaN(du) ||
      Math.abs(du - dw) > TOL * scale + UPDATE_NOISE * Math.max(1, Math.abs(before[i]!))
    )
      fail("disagree", `${what}[${i}]: module moved it by ${du}, interpreter by ${dw}`);
  }
}

/**
 * Outputs of `g` that depend on an argmax. Its result jumps where two scores
 * tie, and scores that are equal in exact arithmetic (a sum that cancels to
 * zero) tie differently in float32 and float64, so these are not compared.
 */
function argmaxOutputs(g: Graph): Set<number> {
  const tainted = new Set<number>();
  const hasArgmax = (h: Graph): boolean =>
    h.eqns.some((e) => e.op === "argmax" || (e.op === "scan" && hasArgmax(e.params.body)));
  for (const e of g.eqns) {
    const bodyArgmax = e.op === "scan" && hasArgmax(e.params.body);
    if (e.op === "argmax" || bodyArgmax || e.inputs.some((v) => tainted.has(v.id)))
      e.outs.forEach((v) => tainted.add(v.id));
  }
  return new Set(g.outputs.flatMap((v, i) => (tainted.has(v.id) ? [i] : [])));
}

/** Parameters this large (a huge learning rate) overflow float32 where float64 does not. */
const DIVERGED = 1e4;

/** Run a module method; a plain Error is the runtime refusing the call, anything else is a crash. */
async function call<T>(what: string, f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof Failure) throw e;
    if (e instanceof Error && e.constructor === Error) throw new Refused(`${what}: ${e.message}`);
    return fail("run", `${what}: ${errorText(e)}`);
  }
}

class Refused extends Error {}

function interp(
  what: string,
  e: Entry,
  inputs: ReturnType<typeof slotInputs>,
  env: Record<string, number>,
  float32 = false,
) {
  try {
    return interpret(e.graph, inputs, env, float32);
  } catch (err) {
    return fail("interpret", `${what}: ${errorText(err)}`);
  }
}

interface Run {
  prog: ProgramIR;
  model: Model;
  env: Record<string, number>;
  batch: Record<string, Arr>;
  optimizer: string;
  /** Filled by the comparisons with the interpreter. */
  errors: Errors;
}

/**
 * A param's whole buffer from `params()`: a stacked one (`repeat`) is there
 * copy by copy (`repeat_1.0.w`, `repeat_1.1.w`), joined in buffer order; a
 * missing name gives undefined.
 */
function paramOf(
  ps: Record<string, ArrayLike<number>>,
  p: { path: string; stack?: readonly StackLevel[] },
): Float32Array | undefined {
  const parts = (p.stack ? copyNames(p.path, p.stack) : [p.path]).map((n) => ps[n]);
  if (parts.some((x) => !x)) return undefined;
  return Float32Array.from(parts.flatMap((x) => Array.from(x!)));
}

async function paramsNow(r: Run): Promise<Float64Array[]> {
  const now = await r.model.params();
  return r.prog.params.map((p) => Float64Array.from(paramOf(now, p)!));
}

function entry(prog: ProgramIR, name: Entry["name"]): Entry | undefined {
  return prog.entries.find((e) => e.name === name);
}

/** predict() against the interpreter on the current parameters. */
async function checkPredict(r: Run): Promise<Record<string, Arr> | undefined> {
  const e = entry(r.prog, "predict");
  if (!e) return undefined;
  const params = await paramsNow(r);
  const steps = r.model.steps;
  const fragile = argmaxOutputs(e.graph);
  const diverged = params.some((p) => p.some((x) => !(Math.abs(x) < DIVERGED)));
  const got = (await call("predict", () => r.model.predict(r.batch))) as Record<string, Arr>;
  const want = interp(
    "predict",
    e,
    slotInputs(r.prog, e, r.env, r.batch, params, stepSeed(SEED, steps)),
    r.env,
  );
  e.outSlots.forEach((sl, i) => {
    if (sl.kind !== "output") return;
    if (!Object.prototype.hasOwnProperty.call(got, sl.name))
      fail("run", `predict() result has no output "${sl.name}"`);
    if (!fragile.has(i) && !diverged)
      compare(`predict output ${sl.name}`, got[sl.name]!, want[i]!.data, r.errors);
  });
  return got;
}

/** evaluate() or step() against the interpreter: loss, metrics, and (for step) each parameter's update. */
async function checkScores(r: Run, name: "evaluate" | "step"): Promise<void> {
  const e = entry(r.prog, name);
  if (!e) return;
  const before = await paramsNow(r);
  const steps = r.model.steps + (name === "step" ? 1 : 0);
  const got = await call(name, () => r.model[name](r.batch));
  const want = interp(
    name,
    e,
    slotInputs(r.prog, e, r.env, r.batch, before, stepSeed(SEED, steps), steps),
    r.env,
  );
  const fragile = argmaxOutputs(e.graph);
  const after = await r.model.params();
  // Each check runs against float64 first. A disagreement hangs on float32
  // rounding, not on the backend, when the interpreter emulating float32 (each
  // primitive's result rounded) lands where the module did: a kink met at an
  // input that is 0 in float64 but not in float32 (`abs(layer_norm(x) @ ones)`),
  // a cancellation float32 cannot resolve, a clamp constant float32 cannot hold
  // (`1.0 - 1e-7` in binary_cross_entropy). A backend bug leaves the float32
  // emulation on float64's side and still fails.
  let asFloat32: typeof want | undefined;
  const agrees = (check: (ws: typeof want) => void): void => {
    try {
      check(want);
    } catch (err) {
      if (!(err instanceof Failure)) throw err;
      asFloat32 ??= interp(
        name,
        e,
        slotInputs(r.prog, e, r.env, r.batch, before, stepSeed(SEED, steps), steps),
        r.env,
        true,
      );
      try {
        check(asFloat32);
      } catch {
        throw err;
      }
    }
  };
  agrees((ws) =>
    e.outSlots.forEach((sl, i) => {
      // Adam's first step is lr * sign(g) wherever |g| >> eps, so float32 noise in a
      // gradient that should be 0 flips whole updates: its updates are not compared.
      if (sl.kind === "param" && r.optimizer !== "adam") {
        const p = r.prog.params[sl.index]!;
        compareUpdate(
          `step update of ${p.path}`,
          before[sl.index]!,
          paramOf(after, p)!,
          ws[i]!.data,
        );
      }
    }),
  );
  e.outSlots.forEach((sl) => {
    if (sl.kind === "metric" && !Object.prototype.hasOwnProperty.call(got.metrics, sl.name))
      fail("run", `${name}() result has no metric "${sl.name}"`);
  });
  agrees((ws) =>
    e.outSlots.forEach((sl, i) => {
      const w = ws[i]!.data;
      // Errors against float64 only: the float32 emulation's are not JS's to match.
      const errors = ws === want ? r.errors : undefined;
      if (sl.kind === "loss") compare(`${name} loss`, [got.loss], w, errors);
      if (sl.kind === "metric" && !fragile.has(i))
        compare(`${name} metric ${sl.name}`, [got.metrics[sl.name]!], w, errors);
    }),
  );
}

/** A checkpoint restores parameters, step count and predictions exactly in a fresh model. */
async function checkRoundTrip(
  r: Run,
  mod: ModelModule,
  opts: ModelOptions,
  pred?: Record<string, Arr>,
): Promise<void> {
  const bytes = await call("save", () => r.model.save());
  const other = (await call("createModel", () => mod.createModel(opts))) as Run["model"];
  await call("load", () => other.load(bytes));
  const mine = await r.model.params();
  const theirs = await other.params();
  for (const p of r.prog.params) {
    const a = paramOf(mine, p)!;
    const b = paramOf(theirs, p)!;
    if (a.length !== b.length || a.some((v, i) => !Object.is(v, b[i])))
      fail("roundtrip", `parameter ${p.path} differs after save/load`);
  }
  if (other.steps !== r.model.steps)
    fail("roundtrip", `step count ${other.steps} after load, saved at ${r.model.steps}`);
  if (!pred) return;
  const again = (await call("predict after load", () => other.predict(r.batch))) as Record<
    string,
    Arr
  >;
  for (const [k, v] of Object.entries(pred))
    if (!again[k] || again[k]!.some((x, i) => !Object.is(x, v[i])))
      fail("roundtrip", `output ${k} differs after save/load`);
}

function makeBatch(
  prog: ProgramIR,
  env: Record<string, number>,
  seed: number,
): Record<string, Arr> {
  const rand = lcg(seed);
  const batch: Record<string, Arr> = {};
  for (const inp of prog.inputs) {
    const n = Math.max(0, numel(inp.type.shape.map((d) => dimEval(d, env))));
    // Ints in {0, 1}: valid labels for any classifier and ids for any vocabulary.
    batch[inp.name] =
      inp.type.dtype === "f32"
        ? Float32Array.from({ length: n }, () => 2 * rand() - 1)
        : Int32Array.from({ length: n }, () => (rand() < 0.5 ? 0 : 1));
  }
  return batch;
}

async function runModule(
  c: FuzzCase,
  prog: ProgramIR,
  js: string,
  optimizer: string,
  target: FuzzTarget,
  errors: Errors,
): Promise<Outcome> {
  const env = Object.fromEntries(prog.dims.map((d) => [d, c.dim]));
  const big = tooLarge(prog, env);
  if (big) return { stage: "compiled", note: `not run: ${big}` };
  if (target === "wasm") checkBinaries(js);
  const mod = await load(js);
  const model = (await call("createModel", () =>
    mod.createModel(modelOptions(target, env)),
  )) as Run["model"];
  const initial = await model.params();
  for (const p of prog.params) {
    const v = paramOf(initial, p);
    if (!v) fail("run", `model.params has no "${p.path}"`);
    const bad = v!.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) fail("init", `parameter ${p.path} starts with ${v![bad]} at ${bad}`);
  }
  const batch = makeBatch(prog, env, c.dim * 7919 + 1);
  const r: Run = { prog, model, env, batch, optimizer, errors };
  await checkPredict(r);
  if (prog.hasLoss) {
    await checkScores(r, "evaluate");
    await checkScores(r, "step");
  }
  const pred = await checkPredict(r);
  await checkRoundTrip(r, mod, modelOptions(target, env), pred);
  return { stage: "ran" };
}

/**
 * Every plain-SIMD binary of an emitted wasm module validates here (Node 20
 * has 128-bit SIMD). The runtime takes a binary no engine accepts for an
 * engine without SIMD and refuses with a plain Error, which would count the
 * case as not run; the engine's own message names the function and the
 * offending instruction. Relaxed-SIMD binaries need a flag Node 20 lacks.
 */
function checkBinaries(js: string): void {
  const m = /^const wasm = (\{.*\});$/m.exec(js);
  if (!m) return fail("load", "the wasm module has no `const wasm = {...};` line");
  const { binaries } = JSON.parse(m[1]!) as { binaries: { base64: string; relaxed: boolean }[] };
  for (const [i, b] of binaries.entries()) {
    if (b.relaxed) continue;
    try {
      new WebAssembly.Module(Buffer.from(b.base64, "base64"));
    } catch (e) {
      fail("load", `binary ${i} (plain SIMD) does not compile: ${errorText(e)}`);
    }
  }
}

async function load(js: string): Promise<ModelModule> {
  try {
    return await loadModule(js);
  } catch (e) {
    return fail("load", errorText(e));
  }
}

/** createModel's options: wasm on the calling thread alone, the reference the threaded run must match. */
function modelOptions(target: FuzzTarget, dims: Record<string, number>, threads = 1): ModelOptions {
  return { seed: SEED, dims, ...(target === "wasm" && { threads }) };
}

/**
 * A kernel's declared work, set on every kernel of a module for the threads
 * check: the runtime splits a kernel only when its work is large, which no
 * fuzz shape reaches, so every kernel is split into min(threads, items) pieces.
 */
const SPLIT_WORK = 2 ** 40;

/** The emitted wasm module with every kernel split across threads (each entry's plan has one `kernels:` line of JSON). */
function splitEveryKernel(js: string): string {
  let entries = 0;
  const out = js.replace(/^( {2}kernels: )(\[.*\]),$/gm, (_, head: string, list: string) => {
    entries++;
    const ks = (JSON.parse(list) as object[]).map((k) => ({ ...k, work: SPLIT_WORK }));
    return `${head}${JSON.stringify(ks)},`;
  });
  if (entries === 0) throw new Error("the wasm module's plan has no `kernels:` line to split");
  return out;
}

/**
 * Named dims for the threads check besides the case's own: the largest that
 * keeps the program small. 96 rows are a whole wasm matmul tile (64) and a
 * remainder, more than one item to split; 12 are three js matmul row blocks.
 */
const THREAD_DIMS = [96, 48, 24, 12];
const THREAD_TOTAL_ELEMENTS = 1 << 18;

/** Everything a model gives back over predict, evaluate, step, predict from a fixed start, in order. */
async function trace(
  mod: ModelModule,
  prog: ProgramIR,
  env: Record<string, number>,
  batch: Record<string, Arr>,
  threads: number,
): Promise<[string, ArrayLike<number>][]> {
  const out: [string, ArrayLike<number>][] = [];
  const model = (await call(`createModel (threads: ${threads})`, () =>
    mod.createModel(modelOptions("wasm", env, threads)),
  )) as Model;
  try {
    const params = async (when: string) => {
      const ps = await call("params", () => model.params());
      for (const p of prog.params) out.push([`${p.path} ${when}`, paramOf(ps, p)!]);
    };
    const predict = async (when: string) => {
      if (!entry(prog, "predict")) return;
      const got = (await call("predict", () => model.predict(batch))) as Record<string, Arr>;
      for (const [k, v] of Object.entries(got)) out.push([`predict ${k} ${when}`, v]);
    };
    await params("at init");
    await predict("at init");
    if (prog.hasLoss)
      for (const name of ["evaluate", "step"] as const) {
        const s = await call(name, () => model[name](batch));
        out.push([`${name} loss`, [s.loss]]);
        for (const [m, v] of Object.entries(s.metrics)) out.push([`${name} metric ${m}`, [v]]);
      }
    await params("after a step");
    await predict("after a step");
  } finally {
    model.dispose();
  }
  return out;
}

/**
 * The wasm module on 2 threads, every kernel split, gives threads: 1's bits
 * (the target's contract: no reduction's order depends on the split), at
 * each of `dims`.
 */
async function checkThreads(prog: ProgramIR, js: string, dims: readonly number[]): Promise<void> {
  const mod = await load(splitEveryKernel(js));
  for (const n of dims) {
    const env = dimsAt(prog, n);
    if (tooLarge(prog, env)) continue;
    const batch = makeBatch(prog, env, n * 7919 + 1);
    let one;
    try {
      one = await trace(mod, prog, env, batch, 1);
    } catch (e) {
      // Refused on one thread too: nothing to compare at these dims.
      if (e instanceof Refused) continue;
      throw e;
    }
    let two;
    try {
      two = await trace(mod, prog, env, batch, 2);
    } catch (e) {
      if (e instanceof Refused)
        fail("threads", `dims = ${n}: threads: 1 ran, 2 refused: ${e.message}`);
      throw e;
    }
    one.forEach(([what, a], k) => {
      const b = two[k]![1];
      const i = Array.from(a).findIndex((x, i) => !Object.is(x, b[i]));
      if (a.length !== b.length || i >= 0)
        fail(
          "threads",
          `dims = ${n}: ${what}[${i}]: ${b[i]} on 2 threads, ${a[i]} on 1 (${a.length} vs ${b.length} elements)`,
        );
    });
  }
}

const dimsAt = (prog: ProgramIR, n: number) => Object.fromEntries(prog.dims.map((d) => [d, n]));

/** Run one case to the end or to its first failure, on each target asked. */
export async function runCase(c: FuzzCase, run: RunOptions = JS_ONLY): Promise<Outcome> {
  let stage: Stage = "rejected";
  let target: FuzzTarget | undefined;
  try {
    checkPrint(c.text);
    const opts = { host: host(c) };
    const checked = check(c.file, opts);
    checkSpans(checked.diagnostics, checked.sources);
    if (!checked.ok) return { stage };
    stage = "checked";
    // `dlg dump --stage grad` differentiates on its own path, apart from the entries compile builds.
    const g = dump(c.file, "grad", opts);
    checkSpans(g.diagnostics, g.sources);
    const compiled: { t: FuzzTarget; prog: ProgramIR; js: string; optimizer: string }[] = [];
    for (const t of run.targets) {
      target = t;
      const r = compile(c.file, { ...opts, target: t });
      checkSpans(r.diagnostics, r.sources);
      if (!r.ok) {
        // Targets differ after lowering only: what one compiles, all must.
        if (stage === "compiled")
          fail(
            "internal",
            `compiled for ${run.targets[0]}, not for ${t}: ${r.diagnostics[0]?.message}`,
          );
        return { stage };
      }
      stage = "compiled";
      compiled.push({ t, prog: r.program!, js: r.js!, optimizer: r.train!.optimizer.kind });
    }
    // Cases checked on threads also run at larger dims, where the kernels'
    // vector loops, tiles and splits have more than a remainder to work on.
    const prog = compiled[0]!.prog;
    const larger = run.threads
      ? THREAD_DIMS.find((n) => !tooLarge(prog, dimsAt(prog, n), THREAD_TOTAL_ELEMENTS))
      : undefined;
    const dims = [c.dim, ...(larger ? [larger] : [])];
    const notes: string[] = [];
    for (const dim of dims) {
      const errors = new Map<FuzzTarget, Errors>();
      for (const { t, prog, js, optimizer } of compiled) {
        target = t;
        const mine: Errors = new Map();
        try {
          const o = await runModule({ ...c, dim }, prog, js, optimizer, t, mine);
          if (o.note) notes.push(run.targets.length > 1 ? `${t}: ${o.note}` : o.note);
          errors.set(t, mine);
          const ref = errors.get("js");
          if (t === "wasm" && ref) compareWithJs(ref, mine);
        } catch (e) {
          if (e instanceof Failure && dim !== c.dim)
            throw new Failure(e.kind, `dims = ${dim}: ${e.message}`);
          if (!(e instanceof Refused)) throw e;
          notes.push(run.targets.length > 1 ? `${t}: ${e.message}` : e.message);
        }
      }
    }
    for (const { t, prog, js } of compiled) {
      target = t;
      if (t === "wasm" && run.threads) await checkThreads(prog, js, dims);
    }
    if (notes.length > 0) return { stage, note: notes.join("; ") };
    return { stage: "ran" };
  } catch (e) {
    if (e instanceof Refused) return { stage, note: e.message };
    const on = target && { target };
    if (e instanceof Failure)
      return { stage, failure: { kind: e.kind, message: e.message, ...on } };
    return { stage, failure: { kind: "throw", message: errorText(e), ...on } };
  }
}
