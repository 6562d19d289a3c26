// The public model object of an emitted module: params and optimizer state in
// persistent buffers, predict/step/evaluate over the generated entries,
// safetensors save/load. Parameters and state are double-buffered: an entry
// that updates them writes the back buffers while still reading the front
// ones, so no kernel ever reads storage it is overwriting. State buffers then
// swap; parameter fronts are handed out as `model.params`, so they stay the
// same arrays for the model's lifetime and the update is copied into them.
//
// Every call checks all its inputs (names, array types, lengths, values)
// before it runs anything, so a call that throws leaves the model as it was.

import { bindDims, checkArray, checkDims, checkValues } from "./bind.ts";
import { EntryRunner } from "./execute.ts";
import type { Buffer, EntryPlan, InSlot, OutSlot, ProgramPlan } from "./program.ts";
import { hash32 } from "./rng.ts";
import { setOwn } from "./records.ts";
import { decodeSafetensors, encodeSafetensors, type StTensor } from "./safetensors.ts";

export type Inputs = Record<string, Float32Array | Int32Array>;
export type Dims = Record<string, number>;

export interface Scores {
  loss: number;
  metrics: Record<string, number>;
}

export interface Model {
  predict(inputs: Inputs, dims?: Dims): Record<string, Float32Array | Int32Array>;
  step(batch: Inputs, dims?: Dims): Scores;
  evaluate(batch: Inputs, dims?: Dims): Scores;
  /** Live views of the current parameter values, by path: the same arrays for the model's lifetime. */
  readonly params: Record<string, Float32Array>;
  /** Number of step() calls so far (restored by load()). */
  readonly steps: number;
  /** A checkpoint; `metadata` adds caller entries (e.g. a data position) to its `__metadata__`. */
  save(metadata?: Record<string, string>): Uint8Array;
  /** Restore a checkpoint (params, state, step count, seed); returns its `__metadata__`. */
  load(bytes: Uint8Array): Record<string, string>;
}

const STATE_PREFIX = "__state__.";
/** Metadata keys save() owns; a caller's metadata may not use them. */
const OWN_METADATA = ["format", "model", "step", "seed"];

/** The per-step seed: a hash of the model seed and the step count, so every step draws fresh masks. */
export function stepSeed(seed: number, step: number): number {
  return hash32((hash32(seed >>> 0) ^ Math.imul(step, 0x9e3779b9)) >>> 0) | 0;
}

/**
 * A pair of buffers per tensor: `front` is current, `back` is written by the
 * next update. `fixedFront` keeps the front arrays the same objects (they are
 * handed out), copying the update in rather than swapping.
 */
class DoubleBuffered {
  front: Float32Array[];
  back: Float32Array[];
  constructor(
    sizes: readonly number[],
    private readonly fixedFront: boolean,
  ) {
    this.front = sizes.map((n) => new Float32Array(n));
    this.back = sizes.map((n) => new Float32Array(n));
  }
  /** The back buffer `i` holds the new value: make it current. */
  commit(i: number): void {
    if (this.fixedFront) {
      this.front[i]!.set(this.back[i]!);
      return;
    }
    const t = this.front[i]!;
    this.front[i] = this.back[i]!;
    this.back[i] = t;
  }
}

/**
 * The dims fixed for the model's lifetime: those given at creation. Every dim
 * a parameter or state shape uses must be among them (linreg's `theta: [F]`).
 */
function modelDims(plan: ProgramPlan, given: Dims): number[] {
  for (const [name, v] of Object.entries(given)) {
    if (!plan.dims.includes(name))
      throw new Error(
        `unknown dimension ${name}; model ${plan.model} has ${plan.dims.join(", ") || "no dims"}`,
      );
    if (!(Number.isInteger(v) && v >= 0))
      throw new Error(`dimension ${name} must be a non-negative integer, got ${v}`);
  }
  const D = plan.dims.map((name) =>
    Object.prototype.hasOwnProperty.call(given, name) ? given[name]! : NaN,
  );
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

export function createModelFromPlan(
  plan: ProgramPlan,
  opts: { seed?: number; dims?: Dims } = {},
): Model {
  let seed = (opts.seed ?? 0) | 0;
  const fixed = modelDims(plan, opts.dims ?? {});
  // Params sized by these dims are allocated next: their byte limits are checked first.
  checkDims(
    plan,
    fixed,
    fixed.map((v) => (Number.isNaN(v) ? "" : "given to createModel")),
  );
  const fixedDims: Dims = {};
  const fixedIndices = new Set<number>();
  plan.dims.forEach((name, i) => {
    if (Number.isNaN(fixed[i]!)) return;
    setOwn(fixedDims, name, fixed[i]!);
    fixedIndices.add(i);
  });
  const shapeOf = (t: ProgramPlan["params"][number]) => t.sizes.map((s) => s(fixed));
  const params = new DoubleBuffered(
    plan.params.map((t) => t.numel(fixed)),
    true,
  );
  const state = new DoubleBuffered(
    plan.state.map((t) => t.numel(fixed)),
    false,
  );
  let steps = 0;
  const persistent = (s: OutSlot) => s.kind === "param" || s.kind === "state";
  const runners = new Map<string, EntryRunner>();
  for (const [name, entry] of Object.entries(plan.entries))
    if (entry) runners.set(name, new EntryRunner(entry, persistent));

  function runner(name: "init" | "predict" | "evaluate" | "step"): EntryRunner {
    const r = runners.get(name);
    if (!r) {
      const why = name === "predict" ? "declares no outputs" : "declares no loss";
      throw new Error(`model ${plan.model} ${why}, so ${name}() is not available`);
    }
    return r;
  }

  /** Run an entry: check and resolve input slots, bind dims, run, commit updated params/state. */
  function call(
    name: "init" | "predict" | "evaluate" | "step",
    user: Inputs,
    dims: Dims | undefined,
    entrySeed: number,
  ) {
    const r = runner(name);
    const e: EntryPlan = r.plan;
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
    for (const inp of need) {
      const a = Object.prototype.hasOwnProperty.call(user, inp.name) ? user[inp.name] : undefined;
      arrays.set(inp.name, checkArray(inp, a));
    }
    for (const [name, v] of Object.entries(dims ?? {}))
      if (Object.hasOwn(fixedDims, name) && fixedDims[name] !== v)
        throw new Error(
          `dimension ${name} is ${fixedDims[name]} for this model (fixed at createModel), got ${v}`,
        );
    const D = bindDims(plan, need, arrays, e.dims, { ...dims, ...fixedDims }, fixedIndices);
    for (const inp of need) checkValues(inp, arrays.get(inp.name)!, D);
    const inputs = e.inSlots.map((s: InSlot): Buffer => {
      switch (s.kind) {
        case "input":
          return arrays.get(s.name)!;
        case "param":
          return params.front[s.index]!;
        case "state":
          return state.front[s.index]!;
        case "seed":
          return Int32Array.of(entrySeed);
        case "step":
          return Float32Array.of(steps);
      }
    });
    const outs = new Map<number, Buffer>();
    e.outSlots.forEach((s, k) => {
      if (s.kind === "param") outs.set(k, params.back[s.index]!);
      if (s.kind === "state") outs.set(k, state.back[s.index]!);
    });
    const results = r.run(D, inputs, outs);
    e.outSlots.forEach((s) => {
      if (s.kind === "param") params.commit(s.index);
      if (s.kind === "state") state.commit(s.index);
    });
    return { slots: e.outSlots, results };
  }

  function scores(slots: OutSlot[], results: Buffer[]): Scores {
    const metrics: Record<string, number> = {};
    let loss = NaN;
    slots.forEach((s, k) => {
      if (s.kind === "loss") loss = results[k]![0]!;
      if (s.kind === "metric") setOwn(metrics, s.name, results[k]![0]!);
    });
    return { loss, metrics };
  }

  if (plan.entries.init) call("init", {}, fixedDims, seed);

  const paramViews: Record<string, Float32Array> = {};
  plan.params.forEach((p, i) =>
    // The fronts of params are the same arrays for the model's lifetime (see DoubleBuffered).
    Object.defineProperty(paramViews, p.name, { value: params.front[i]!, enumerable: true }),
  );

  return {
    predict(inputs, dims) {
      const { slots, results } = call("predict", inputs, dims, stepSeed(seed, steps));
      const out: Record<string, Float32Array | Int32Array> = {};
      slots.forEach((s, k) => {
        if (s.kind === "output") setOwn(out, s.name, results[k]!.slice());
      });
      return out;
    },
    step(batch, dims) {
      steps++;
      try {
        const { slots, results } = call("step", batch, dims, stepSeed(seed, steps));
        return scores(slots, results);
      } catch (e) {
        steps--;
        throw e;
      }
    },
    evaluate(batch, dims) {
      const { slots, results } = call("evaluate", batch, dims, stepSeed(seed, steps));
      return scores(slots, results);
    },
    params: paramViews,
    get steps() {
      return steps;
    },
    save(metadata = {}) {
      const tensors: StTensor[] = [
        ...plan.params.map((p, i) => ({
          name: p.name,
          dtype: "F32" as const,
          shape: shapeOf(p),
          data: params.front[i]!,
        })),
        ...plan.state.map((s, i) => ({
          name: STATE_PREFIX + s.name,
          dtype: "F32" as const,
          shape: shapeOf(s),
          data: state.front[i]!,
        })),
      ];
      const own: Record<string, string> = {
        format: "dlg",
        model: plan.model,
        step: String(steps),
        seed: String(seed),
      };
      for (const [k, v] of Object.entries(metadata)) {
        if (OWN_METADATA.includes(k))
          throw new Error(`save(): metadata key "${k}" is reserved (${OWN_METADATA.join(", ")})`);
        if (typeof v !== "string") throw new Error(`save(): metadata "${k}" must be a string`);
        setOwn(own, k, v);
      }
      return encodeSafetensors(tensors, own);
    },
    load(bytes) {
      const file = decodeSafetensors(bytes);
      const expected = new Map<string, { shape: number[]; into: (d: Float32Array) => void }>();
      plan.params.forEach((p, i) =>
        expected.set(p.name, { shape: shapeOf(p), into: (d) => params.front[i]!.set(d) }),
      );
      plan.state.forEach((s, i) =>
        expected.set(STATE_PREFIX + s.name, {
          shape: shapeOf(s),
          into: (d) => state.front[i]!.set(d),
        }),
      );
      for (const name of file.tensors.keys())
        if (!expected.has(name))
          throw new Error(`checkpoint tensor "${name}" is not a parameter of model ${plan.model}`);
      // Check everything before writing anything, so a bad file leaves the model untouched.
      const writes: (() => void)[] = [];
      for (const [name, want] of expected) {
        const t = file.tensors.get(name);
        if (!t)
          throw new Error(`checkpoint has no tensor "${name}" (model ${plan.model} needs it)`);
        const shapeOk =
          t.shape.length === want.shape.length && t.shape.every((d, i) => d === want.shape[i]);
        if (t.dtype !== "F32" || !shapeOk)
          throw new Error(
            `checkpoint tensor "${name}" is ${t.dtype}[${t.shape.join(", ")}], expected F32[${want.shape.join(", ")}]`,
          );
        writes.push(() => want.into(t.data as Float32Array));
      }
      const step = Number(file.metadata.step ?? 0);
      if (!Number.isSafeInteger(step) || step < 0)
        throw new Error(`checkpoint step count ${JSON.stringify(file.metadata.step)} is invalid`);
      // The seed and the step count are the random stream's position: dropout
      // masks after a resume continue the stream the checkpoint left.
      const savedSeed = file.metadata.seed === undefined ? seed : Number(file.metadata.seed);
      if (!Number.isInteger(savedSeed) || (savedSeed | 0) !== savedSeed)
        throw new Error(`checkpoint seed ${JSON.stringify(file.metadata.seed)} is invalid`);
      for (const w of writes) w();
      steps = step;
      seed = savedSeed;
      return { ...file.metadata };
    },
  };
}
