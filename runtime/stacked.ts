// Stacked params: `repeat(f, n)` keeps its n copies of a param in one buffer
// of shape [n, ...shape] (nested repeats: [n_outer, n_inner, ...shape]),
// which its loop slices step by step. Everything a user sees names the
// copies one by one instead: params(), checkpoints, the .d.ts and `spec`
// show copy i of `repeat_1.dense_1.w` as `repeat_1.<i>.dense_1.w`, a view of
// (or a copy into) its stretch of the buffer, which is copy-major.

/**
 * One level of a stacked param, outermost first (the plan's copy of ir.ts's
 * ModelParam.stack): `prefix` is a prefix of the param's name, each level's
 * extending the one before; copy i of the level inserts `${i}.` after it.
 */
export interface StackLevel {
  prefix: string;
  n: number;
}

/**
 * The names of a stacked param's copies in buffer order: `repeat_1.0.w`,
 * `repeat_1.1.w`, ...; nested, `repeat_1.0.repeat_1.0.w`,
 * `repeat_1.0.repeat_1.1.w`, ... (the inner index varies fastest).
 */
export function copyNames(name: string, stack: readonly StackLevel[]): string[] {
  let heads = [""];
  let at = 0;
  for (const { prefix, n } of stack) {
    const part = prefix.slice(at);
    heads = heads.flatMap((h) => Array.from({ length: n }, (_, i) => `${h}${part}${i}.`));
    at = prefix.length;
  }
  return heads.map((h) => h + name.slice(at));
}

/** One user-visible tensor of a param: its name, its sizes, and where it lies in the param's buffer. */
export interface ParamPart {
  name: string;
  sizes: number[];
  begin: number;
  end: number;
}

/**
 * A param as the user sees it: itself, or its copies when stacked. `sizes`
 * are the param's (for a stacked one, its leading axes are the stack's).
 */
export function paramParts(
  t: { name: string; stack?: readonly StackLevel[] },
  sizes: readonly number[],
): ParamPart[] {
  const numel = sizes.reduce((p, d) => p * d, 1);
  if (!t.stack) return [{ name: t.name, sizes: [...sizes], begin: 0, end: numel }];
  const names = copyNames(t.name, t.stack);
  const each = numel / names.length;
  const inner = sizes.slice(t.stack.length);
  return names.map((name, i) => ({ name, sizes: inner, begin: i * each, end: (i + 1) * each }));
}
