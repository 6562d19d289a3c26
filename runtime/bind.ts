// Binding run-time dims from the caller's flat arrays. An input declared
// `[B, 784]` that arrives with 50176 elements says B = 64; inputs are solved
// one unknown at a time (so `tokens: [B, T]` binds T once `y: [B]` bound B),
// then every input is checked against the one consistent binding.

import type { Buffer, InputPlan, ProgramPlan } from "./program.ts";
import { evalSize } from "./sizes.ts";

/** Only the plan's descriptions are read here, never its kernels: any backend's plan. */
type Plan = ProgramPlan<unknown>;

const shapeText = (shape: readonly (string | number)[]) => `[${shape.join(", ")}]`;

function typeText(inp: InputPlan): string {
  return `${inp.dtype}${shapeText(inp.shape)}`;
}

function arrayName(a: unknown): string {
  return a === null
    ? "null"
    : typeof a === "object"
      ? ((a as object).constructor?.name ?? "object")
      : typeof a;
}

/** Check one input's element type; bool inputs are Int32Arrays of 0/1. */
export function checkArray(inp: InputPlan, a: unknown): Buffer {
  const want = inp.dtype === "f32" ? Float32Array : Int32Array;
  if (!(a instanceof want)) {
    const hint = a === undefined ? "it is missing" : `got ${arrayName(a)}`;
    const article = want === Int32Array ? "an" : "a";
    throw new Error(
      `input "${inp.name}" must be ${article} ${want.name} (${typeText(inp)}); ${hint}`,
    );
  }
  return a;
}

/**
 * Check one input's values once its dims are bound: floats finite, bools 0
 * or 1, indices inside what they index (a kernel would read a 0 for an index
 * out of range and return a wrong loss without a word).
 */
export function checkValues(inp: InputPlan, a: Buffer, D: readonly number[]): void {
  const bad = (i: number, why: string) =>
    new Error(`input "${inp.name}" (${typeText(inp)}) holds ${a[i]} at element ${i}: ${why}`);
  if (inp.dtype === "f32") {
    for (let i = 0; i < a.length; i++)
      if (!Number.isFinite(a[i]!)) throw bad(i, "inputs must be finite numbers");
    return;
  }
  if (inp.dtype === "bool") {
    for (let i = 0; i < a.length; i++)
      if (a[i] !== 0 && a[i] !== 1) throw bad(i, "a bool input holds 0 or 1");
  }
  for (const use of inp.indexes ?? []) {
    const n = evalSize(use.size, D);
    for (let i = 0; i < a.length; i++)
      if (!(a[i]! >= 0 && a[i]! < n))
        throw bad(i, `these are ${use.what}, so each must be in [0, ${n})`);
  }
}

/**
 * An input dim bound to 0 (an empty batch) would make every mean over it
 * 0/0: refuse it, naming an input that uses it.
 */
function checkNonEmpty(
  plan: Plan,
  need: readonly InputPlan[],
  D: readonly number[],
  fixed: ReadonlySet<number>,
): void {
  for (const inp of need)
    for (const i of inp.dims)
      if (D[i] === 0 && !fixed.has(i))
        throw new Error(
          `input "${inp.name}" is empty: ${typeText(inp)} with ${plan.dims[i]} = 0; ` +
            `a batch needs at least one example`,
        );
}

/**
 * The plan's conditions on the dims (`B >= 4` for `x[3]`, every buffer within
 * the byte limit), each tested once all its dims are bound: before anything
 * is allocated or run. `source[i]` says where dim i came from.
 */
export function checkDims(plan: Plan, D: readonly number[], source: readonly string[]): void {
  for (const c of plan.checks ?? []) {
    if (c.dims.some((i) => Number.isNaN(D[i]!))) continue;
    const v = evalSize(c.value, D);
    if (v >= c.min && (c.max === undefined || v <= c.max)) continue;
    const bound = c.dims
      .map((i) => `${plan.dims[i]} = ${D[i]}${source[i] ? ` (${source[i]})` : ""}`)
      .join(", ");
    throw new Error(`${c.message}; got ${bound}${c.unit ? `, which makes ${v} ${c.unit}` : ""}`);
  }
}

/**
 * Dims in `plan.dims` order (NaN where unbound and unneeded). `need` lists the
 * inputs the entry reads and `needDims` the dims it must know.
 */
export function bindDims(
  plan: Plan,
  need: readonly InputPlan[],
  arrays: ReadonlyMap<string, Buffer>,
  needDims: readonly number[],
  given: Readonly<Record<string, number>>,
  fixed: ReadonlySet<number>,
): number[] {
  const D = plan.dims.map((name) => {
    const v = Object.prototype.hasOwnProperty.call(given, name) ? given[name] : undefined;
    if (v !== undefined && !(Number.isInteger(v) && v >= 0))
      throw new Error(`dimension ${name} must be a non-negative integer, got ${v}`);
    return v ?? NaN;
  });
  /** Where each dim's value came from, for error messages. */
  const source: string[] = D.map((v) => (Number.isNaN(v) ? "" : "given"));
  let progress = true;
  while (progress) {
    progress = false;
    for (const inp of need) {
      const unknown = inp.dims.filter((i) => Number.isNaN(D[i]!));
      if (unknown.length !== 1) continue;
      const u = unknown[0]!;
      const len = arrays.get(inp.name)!.length;
      const at = (v: number) => {
        D[u] = v;
        return evalSize(inp.numel, D);
      };
      // Sizes are linear in any one dim in practice ([B, 784], [B * T]); solve the line.
      const f0 = at(0);
      const f1 = at(1);
      const f2 = at(2);
      D[u] = NaN;
      const slope = f1 - f0;
      if (slope === 0 || f2 - f1 !== slope) continue;
      const v = (len - f0) / slope;
      if (!Number.isInteger(v) || v < 0) {
        throw new Error(
          `input "${inp.name}" has ${len} elements, which does not fit ${typeText(inp)}: ` +
            `no whole ${plan.dims[u]} gives that many elements`,
        );
      }
      D[u] = v;
      source[u] = `from input "${inp.name}"`;
      progress = true;
    }
  }
  const missing = needDims.filter((i) => Number.isNaN(D[i]!)).map((i) => plan.dims[i]!);
  if (missing.length > 0)
    throw new Error(
      `cannot infer dimension${missing.length > 1 ? "s" : ""} ${missing.join(", ")} from the input lengths; ` +
        `pass ${missing.length > 1 ? "them" : "it"} explicitly as the second argument, e.g. { ${missing.map((m) => `${m}: 8`).join(", ")} }`,
    );
  for (const inp of need) {
    const len = arrays.get(inp.name)!.length;
    const n = evalSize(inp.numel, D);
    if (n !== len) {
      const bound = inp.dims
        .map((i) => `${plan.dims[i]} = ${D[i]}${source[i] ? ` (${source[i]})` : ""}`)
        .join(", ");
      throw new Error(
        `input "${inp.name}" has ${len} elements but ${typeText(inp)} is ` +
          `${shapeText(inp.sizes.map((s) => evalSize(s, D)))} = ${n} elements${bound ? ` with ${bound}` : ""}`,
      );
    }
  }
  // An empty batch first: it says more than the conditions it also breaks (`B mod 3 >= 1`).
  checkNonEmpty(plan, need, D, fixed);
  checkDims(plan, D, source);
  return D;
}
