// What every backend's model does the same way, written once: check the
// options and every input of a call (names, array types, lengths, values,
// dims) before anything runs, bind the dims, count steps, derive each
// step's seed, and format and parse safetensors checkpoints. The backend's
// Executor (runtime/executor.ts) only runs entries and holds the tensors.
//
// A call is two halves around the executor's run: `call()` validates and
// resolves the host inputs, `outputs()` / `scores()` read the results and
// count a completed step. A call that throws in the first half, or whose
// run throws, leaves the model as it was. The synchronous and asynchronous
// models (model-sync.ts, model.ts) are thin wrappers that put the run in
// between, directly or awaited.

import { bindDims, checkArray, checkDims, checkValues } from "./bind.ts";
import type { BackendName } from "./executor.ts";
import type { Buffer, EntryName, InSlot, OutSlot, ProgramPlan, SizedPlan } from "./program.ts";
import { evalSize } from "./sizes.ts";
import { hash32 } from "./rng.ts";
import { setOwn } from "./records.ts";
import { decodeSafetensors, encodeSafetensors, type StTensor } from "./safetensors.ts";
import { paramParts, type ParamPart } from "./stacked.ts";
import { runProblem, scheduleLr, type RunShape } from "./schedule.ts";

export type Inputs = Record<string, Float32Array | Int32Array>;
export type Outputs = Record<string, Float32Array | Int32Array>;
export type Dims = Record<string, number>;

export interface Scores {
  loss: number;
  metrics: Record<string, number>;
}

/** createModel's options. `gpu` and `device` are for the WebGPU backend (GPU, GPUDevice). */
export interface ModelOptions {
  seed?: number;
  dims?: Dims;
  backend?: BackendName;
  gpu?: unknown;
  device?: unknown;
  /** The run's steps per epoch, for a learning-rate schedule that changes per epoch or decays over the run. */
  stepsPerEpoch?: number;
  /** The run's epochs (default: the train block's): where cosine reaches 0. */
  epochs?: number;
}

/** Host copies of the params and optimizer state, in plan order. */
export interface HostTensors {
  params: Float32Array[];
  state: Float32Array[];
}

/** One validated call: what the executor runs, and what reads its results. */
export interface Call {
  name: EntryName;
  D: readonly number[];
  /** Host arrays for the entry's input, seed and step in-slots, by in-slot index. */
  inputs: Map<number, Buffer>;
  outSlots: readonly OutSlot[];
}

/** A checked checkpoint, ready to write: nothing of the model has changed yet. */
export interface Restore extends HostTensors {
  steps: number;
  seed: number;
  metadata: Record<string, string>;
}

/** The core reads only the plan's descriptions and slots, never its kernels: any backend's plan. */
type Plan = ProgramPlan<unknown>;

const STATE_PREFIX = "__state__.";
/** Metadata keys save() owns; a caller's metadata may not use them. */
const OWN_METADATA = ["format", "model", "step", "seed"];
const BACKENDS: readonly BackendName[] = ["js", "webgpu", "wasm"];

/** The per-step seed: a hash of the model seed and the step count, so every step draws fresh masks. */
export function stepSeed(seed: number, step: number): number {
  return hash32((hash32(seed >>> 0) ^ Math.imul(step, 0x9e3779b9)) >>> 0) | 0;
}

/** A positive integer option of createModel, or null when absent. */
function countOption(opts: ModelOptions, key: "stepsPerEpoch" | "epochs"): number | null {
  const v = opts[key];
  if (v === undefined) return null;
  if (!(Number.isSafeInteger(v) && v >= 1))
    throw new Error(`createModel(): ${key} must be a positive integer, got ${String(v)}`);
  return v;
}

/**
 * The run the step's learning-rate schedule is evaluated over (null: the
 * lr is a constant of the step), checked now so a warm-up longer than the
 * run fails at createModel, not halfway through training.
 */
function runOf(plan: Plan, opts: ModelOptions): RunShape | null {
  const stepsPerEpoch = countOption(opts, "stepsPerEpoch");
  const epochs = countOption(opts, "epochs");
  const slot = plan.entries.step?.inSlots.find((s): s is LrSlot => s.kind === "lr");
  if (!slot) return null;
  const run = { stepsPerEpoch, epochs: epochs ?? slot.epochs };
  const problem = stepsPerEpoch === null ? null : runProblem(slot.schedule, run);
  if (problem !== null) throw new Error(`createModel(): ${problem}`);
  return run;
}

type LrSlot = Extract<InSlot, { kind: "lr" }>;

/**
 * A module runs on the backend it was compiled for; asking for another says
 * how to get a module for that one.
 */
export function checkBackend(opts: ModelOptions, compiled: BackendName): void {
  const want = opts.backend;
  if (want === undefined || want === compiled) return;
  if (!BACKENDS.includes(want))
    throw new Error(
      `unknown backend ${JSON.stringify(want)}; backends: ${BACKENDS.map((b) => `"${b}"`).join(", ")}`,
    );
  throw new Error(
    `this module was compiled for the ${compiled} backend, so it cannot run on ${want}; ` +
      `compile the model for ${want} with \`dlg compile --target ${want}\` ` +
      `(or compile(file, { target: "${want}" })) and create the model from that module`,
  );
}

/**
 * The dims fixed for the model's lifetime: those given at creation. Every dim
 * a parameter or state shape uses must be among them (linreg's `theta: [F]`).
 */
function modelDims(plan: Plan, given: Dims): number[] {
  for (const [name, v] of Object.entries(given)) {
    if (!plan.dims.includes(name))
      throw new Error(
        `unknown dimension ${name}; model ${plan.model} has ${plan.dims.join(", ") || "no dims"}`,
      );
    if (!(Number.isInteger(v) && v >= 0))
      throw new Error(`dimension ${name} must be a non-negative integer, got ${v}`);
  }
  const D = plan.dims.map((name) => (Object.hasOwn(given, name) ? given[name]! : NaN));
  for (const t of [...plan.params, ...plan.state]) {
    const missing = t.dims.filter((i) => Number.isNaN(D[i]!)).map((i) => plan.dims[i]!);
    if (missing.length > 0)
      throw new Error(
        `model ${plan.model} needs dimension ${missing.join(", ")} to size "${t.name}" (${t.dtype}[${t.shape.join(", ")}]); ` +
          `pass it when creating the model: createModel({ dims: { ${missing.map((m) => `${m}: ...`).join(", ")} } })`,
      );
  }
  return D;
}

export class ModelCore {
  /** The model's dims in plan order: those given at creation, NaN for the rest. */
  readonly D: readonly number[];
  seed: number;
  /** step() calls that completed (restored by load()). */
  steps = 0;
  private readonly fixedDims: Dims = {};
  private readonly fixedIndices = new Set<number>();
  /** What the step's lr schedule is evaluated over; null when the lr is compiled in. */
  private readonly run: RunShape | null;

  constructor(
    readonly plan: Plan,
    opts: ModelOptions,
    backend: BackendName,
  ) {
    if (typeof opts !== "object" || opts === null)
      throw new Error("createModel() takes an options object, e.g. { seed: 1 }");
    checkBackend(opts, backend);
    this.seed = (opts.seed ?? 0) | 0;
    this.run = runOf(plan, opts);
    const D = modelDims(plan, opts.dims ?? {});
    // Params sized by these dims are allocated next: their byte limits are checked first.
    checkDims(
      plan,
      D,
      D.map((v) => (Number.isNaN(v) ? "" : "given to createModel")),
    );
    plan.dims.forEach((name, i) => {
      if (Number.isNaN(D[i]!)) return;
      setOwn(this.fixedDims, name, D[i]!);
      this.fixedIndices.add(i);
    });
    this.D = D;
  }

  /** The call that initialises the params (none if the model has no init entry). */
  initCall(): Call | null {
    return this.plan.entries.init ? this.call("init", {}, undefined) : null;
  }

  /**
   * Check a call's inputs and dims and resolve its host in-slots; throws,
   * with nothing changed, if any input is wrong.
   */
  call(name: EntryName, user: Inputs, dims: Dims | undefined): Call {
    const { plan } = this;
    const e = plan.entries[name];
    if (!e) {
      const why = name === "predict" ? "declares no outputs" : "declares no loss";
      throw new Error(`model ${plan.model} ${why}, so ${name}() is not available`);
    }
    if (typeof user !== "object" || user === null)
      throw new Error(`${name}() takes an object of named input arrays`);
    if (dims !== undefined && (typeof dims !== "object" || dims === null))
      throw new Error(`${name}()'s second argument is an object of dims, e.g. { B: 8 }`);
    const arrays = new Map<string, Buffer>();
    const need = plan.inputs.filter((inp) =>
      e.inSlots.some((s) => s.kind === "input" && s.name === inp.name),
    );
    // Unknown names first: a misspelt key would otherwise read as the right one missing.
    for (const key of Object.keys(user))
      if (!plan.inputs.some((inp) => inp.name === key))
        throw new Error(
          `unknown input "${key}"; model ${plan.model} takes ${plan.inputs.map((i) => `"${i.name}"`).join(", ")}`,
        );
    for (const inp of need)
      arrays.set(
        inp.name,
        checkArray(inp, Object.hasOwn(user, inp.name) ? user[inp.name] : undefined),
      );
    for (const [dim, v] of Object.entries(dims ?? {}))
      if (Object.hasOwn(this.fixedDims, dim) && this.fixedDims[dim] !== v)
        throw new Error(
          `dimension ${dim} is ${this.fixedDims[dim]} for this model (fixed at createModel), got ${v}`,
        );
    const D = bindDims(
      plan,
      need,
      arrays,
      e.dims,
      { ...dims, ...this.fixedDims },
      this.fixedIndices,
    );
    for (const inp of need) checkValues(inp, arrays.get(inp.name)!, D);
    // A step runs as step number steps + 1 (Adam's bias correction, its seed); it counts once done.
    const stepNumber = name === "step" ? this.steps + 1 : this.steps;
    const inputs = new Map<number, Buffer>();
    e.inSlots.forEach((s, k) => {
      if (s.kind === "input") inputs.set(k, arrays.get(s.name)!);
      if (s.kind === "seed")
        inputs.set(k, Int32Array.of(name === "init" ? this.seed : stepSeed(this.seed, stepNumber)));
      if (s.kind === "step") inputs.set(k, Float32Array.of(stepNumber));
      if (s.kind === "lr")
        try {
          inputs.set(k, Float32Array.of(scheduleLr(s.schedule, stepNumber, this.run!)));
        } catch (e) {
          throw new Error(`step(): ${(e as Error).message}`);
        }
    });
    return { name, D, inputs, outSlots: e.outSlots };
  }

  /** predict()'s outputs from its run's results, as fresh copies. */
  outputs(call: Call, results: ReadonlyMap<number, Buffer>): Outputs {
    const out: Outputs = {};
    call.outSlots.forEach((s, k) => {
      if (s.kind === "output") setOwn<Buffer>(out, s.name, results.get(k)!.slice());
    });
    return out;
  }

  /** step()'s or evaluate()'s loss and metrics; a completed step counts from here. */
  scores(call: Call, results: ReadonlyMap<number, Buffer>): Scores {
    const metrics: Record<string, number> = {};
    let loss = NaN;
    call.outSlots.forEach((s, k) => {
      if (s.kind === "loss") loss = results.get(k)![0]!;
      if (s.kind === "metric") setOwn(metrics, s.name, results.get(k)![0]!);
    });
    if (call.name === "step") this.steps++;
    return { loss, metrics };
  }

  /** The params by path; a stacked param's copies as views of its buffer, one by one. */
  named(params: readonly Float32Array[]): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    this.plan.params.forEach((p, i) => {
      if (!p.stack) return setOwn(out, p.name, params[i]!);
      for (const c of paramParts(p, this.shapeOf(p)))
        setOwn(out, c.name, params[i]!.subarray(c.begin, c.end));
    });
    return out;
  }

  /** save()'s `__metadata__`: the model's own entries plus the caller's (checked before any readback). */
  metadata(extra: Record<string, string> = {}): Record<string, string> {
    const own: Record<string, string> = {
      format: "dlg",
      model: this.plan.model,
      step: String(this.steps),
      seed: String(this.seed),
    };
    if (typeof extra !== "object" || extra === null)
      throw new Error("save() takes an object of string metadata entries");
    for (const [k, v] of Object.entries(extra)) {
      if (OWN_METADATA.includes(k))
        throw new Error(`save(): metadata key "${k}" is reserved (${OWN_METADATA.join(", ")})`);
      if (typeof v !== "string") throw new Error(`save(): metadata "${k}" must be a string`);
      setOwn(own, k, v);
    }
    return own;
  }

  /** A safetensors checkpoint of `host` (the executor's params and state) with `metadata`. */
  encode(host: HostTensors, metadata: Record<string, string>): Uint8Array {
    const tensors: StTensor[] = this.parts().flatMap((parts, i) => {
      const data =
        i < this.plan.params.length ? host.params[i]! : host.state[i - this.plan.params.length]!;
      return parts.map((c) => ({
        name: c.name,
        dtype: "F32" as const,
        shape: c.sizes,
        data: data.subarray(c.begin, c.end),
      }));
    });
    return encodeSafetensors(tensors, metadata);
  }

  /** The checkpoint's tensors of each param, then each optimizer state: a stacked param's are its copies. */
  private parts(): ParamPart[][] {
    return [
      ...this.plan.params.map((p) => paramParts(p, this.shapeOf(p))),
      ...this.plan.state.map((s) => paramParts({ name: STATE_PREFIX + s.name }, this.shapeOf(s))),
    ];
  }

  private shapeOf(t: SizedPlan): number[] {
    return t.sizes.map((s) => evalSize(s, this.D));
  }

  /**
   * Parse and check a checkpoint against this model (names, dtypes, shapes,
   * step count, seed); throws, with nothing changed, if anything is off.
   */
  parse(bytes: Uint8Array): Restore {
    const { plan } = this;
    const file = decodeSafetensors(bytes);
    const wanted = this.parts();
    const names = new Set(wanted.flat().map((c) => c.name));
    for (const name of file.tensors.keys())
      if (!names.has(name))
        throw new Error(`checkpoint tensor "${name}" is not a parameter of model ${plan.model}`);
    const read = ({ name, sizes: shape }: ParamPart) => {
      const got = file.tensors.get(name);
      if (!got)
        throw new Error(`checkpoint has no tensor "${name}" (model ${plan.model} needs it)`);
      const shapeOk =
        got.shape.length === shape.length && got.shape.every((d, i) => d === shape[i]);
      if (got.dtype !== "F32" || !shapeOk)
        throw new Error(
          `checkpoint tensor "${name}" is ${got.dtype}[${got.shape.join(", ")}], expected F32[${shape.join(", ")}]`,
        );
      return got.data as Float32Array;
    };
    // A stacked param is put back together from its copies.
    const data = wanted.map((parts) => {
      if (parts.length === 1) return read(parts[0]!);
      const whole = new Float32Array(parts.at(-1)!.end);
      for (const c of parts) whole.set(read(c), c.begin);
      return whole;
    });
    const steps = Number(file.metadata.step ?? 0);
    if (!Number.isSafeInteger(steps) || steps < 0)
      throw new Error(`checkpoint step count ${JSON.stringify(file.metadata.step)} is invalid`);
    // The seed and the step count are the random stream's position: dropout
    // masks after a resume continue the stream the checkpoint left.
    const seed = file.metadata.seed === undefined ? this.seed : Number(file.metadata.seed);
    if (!Number.isInteger(seed) || (seed | 0) !== seed)
      throw new Error(`checkpoint seed ${JSON.stringify(file.metadata.seed)} is invalid`);
    return {
      params: data.slice(0, plan.params.length),
      state: data.slice(plan.params.length),
      steps,
      seed,
      metadata: { ...file.metadata },
    };
  }

  /** After the executor holds `r`'s tensors: take its step count and seed; load()'s result. */
  restored(r: Restore): Record<string, string> {
    this.steps = r.steps;
    this.seed = r.seed;
    return r.metadata;
  }
}
