// WebAssembly text of dlg's functions and modules, for `dlg dump --stage
// kernels` and for reading tests' failures. Flat: one instruction a line,
// indented by block depth. Folded: each value-producing instruction nested
// into the instruction that consumes it, `(f32.store (local.get 4) (f32.add
// ...))`, which keeps the flat order of evaluation (a statement first prints
// the values computed before it, and a block starts with an empty stack).

import type { ModuleSpec } from "./encode.ts";
import { opInfo, type Instr, type WasmFunction } from "./instr.ts";

/** An f32 or f64 constant: the shortest decimal that reads back to the same value. */
function floatText(x: number, single: boolean): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (Object.is(x, -0)) return "-0";
  const v = single ? Math.fround(x) : x;
  for (let p = 1; p < 17; p++) {
    const s = v.toPrecision(p);
    if ((single ? Math.fround(Number(s)) : Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

/** One instruction as flat WAT: `f32.load offset=8`, `v128.const f32x4 1 2 3 4`, `call $f`. */
export function instrText(ins: Instr): string {
  const [op, ...imm] = ins;
  const info = opInfo[op];
  const args: { [K in typeof info.imm]: () => string[] } = {
    none: () => [],
    block: () => (imm.length ? [`(result ${imm[0]})`] : []),
    label: () => imm.map(String),
    local: () => imm.map(String),
    func: () => imm.map((f) => (typeof f === "number" ? String(f) : `$${f}`)),
    i32: () => [String(Number(imm[0]) | 0)],
    i64: () => [String(imm[0])],
    f32: () => [floatText(Number(imm[0]), true)],
    f64: () => [floatText(Number(imm[0]), false)],
    v128: () =>
      imm[0] === "i32x4"
        ? ["i32x4", ...imm.slice(1).map((x) => String(Number(x) | 0))]
        : ["f32x4", ...imm.map((x) => floatText(Number(x), true))],
    mem: () => (imm.length && imm[0] !== 0 ? [`offset=${imm[0]}`] : []),
    lane: () => imm.map(String),
    shuffle: () => imm.map(String),
    memidx: () => [],
    memidx2: () => [],
  };
  return [op, ...args[info.imm]()].join(" ");
}

const INDENT = "  ";
const WIDTH = 100;

/** A folded expression: an instruction and the expressions computing its operands. */
interface Tree {
  head: string;
  kids: Tree[];
}

const inline = (t: Tree): string => `(${[t.head, ...t.kids.map(inline)].join(" ")})`;

/** A tree as lines at `depth`: on one line when it fits, else one operand a line. */
function treeLines(t: Tree, depth: number): string[] {
  const one = inline(t);
  if (depth * INDENT.length + one.length <= WIDTH || t.kids.length === 0)
    return [INDENT.repeat(depth) + one];
  const lines = [
    `${INDENT.repeat(depth)}(${t.head}`,
    ...t.kids.flatMap((k) => treeLines(k, depth + 1)),
  ];
  lines[lines.length - 1] += ")";
  return lines;
}

/** Operands popped and results pushed by a non-block instruction (`call` by its callee's type). */
function stackEffect(
  ins: Instr,
  funcs: ReadonlyMap<string, WasmFunction>,
): [number, number] | null {
  const op = ins[0];
  const sig = opInfo[op].sig;
  if (sig) return [sig[0].length, sig[1].length];
  const effects: Partial<Record<typeof op, [number, number]>> = {
    "local.get": [0, 1],
    "local.set": [1, 0],
    "local.tee": [1, 1],
    drop: [1, 0],
    select: [3, 1],
    br_if: [1, 0],
  };
  if (op === "call") {
    const f = funcs.get(String(ins[1]));
    return f ? [f.params.length, f.results.length] : null;
  }
  return effects[op] ?? null;
}

/** A function body's lines at `depth`, flat or folded. */
function bodyLines(
  body: readonly Instr[],
  depth: number,
  folded: boolean,
  funcs: ReadonlyMap<string, WasmFunction>,
): string[] {
  const out: string[] = [];
  const line = (s: string) => out.push(INDENT.repeat(depth) + s);
  if (!folded) {
    for (const ins of body) {
      const op = ins[0];
      if (op === "end" || op === "else") depth--;
      line(instrText(ins));
      if (op === "block" || op === "loop" || op === "if" || op === "else") depth++;
    }
    return out;
  }
  let pending: Tree[] = [];
  const flush = () => {
    for (const t of pending) out.push(...treeLines(t, depth));
    pending = [];
  };
  const open: ("block" | "loop" | "if")[] = [];
  for (const ins of body) {
    const op = ins[0];
    if (op === "block" || op === "loop") {
      flush();
      line(`(${instrText(ins)}`);
      depth++;
      open.push(op);
    } else if (op === "if") {
      const cond = pending.pop();
      flush();
      line(`(${instrText(ins)}`);
      depth++;
      if (cond) out.push(...treeLines(cond, depth));
      line("(then");
      depth++;
      open.push(op);
    } else if (op === "else") {
      flush();
      depth--;
      line(")");
      line("(else");
      depth++;
    } else if (op === "end") {
      flush();
      if (open.pop() === "if") {
        depth--;
        line(")");
      }
      depth--;
      line(")");
    } else {
      const effect = stackEffect(ins, funcs);
      if (effect === null) {
        // br, return, unreachable...: they take what is on the stack as it is.
        flush();
        line(instrText(ins));
        continue;
      }
      const [pops, pushes] = effect;
      const tree = {
        head: instrText(ins),
        kids: pending.splice(Math.max(0, pending.length - pops)),
      };
      if (pushes === 1) pending.push(tree);
      else {
        flush();
        out.push(...treeLines(tree, depth));
      }
    }
  }
  flush();
  return out;
}

/** `(local ...)` declarations of at most `width` characters each. */
function localLines(locals: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let run: string[] = [];
  for (const t of locals) {
    if (run.length && `(local ${[...run, t].join(" ")})`.length > width) {
      lines.push(`(local ${run.join(" ")})`);
      run = [];
    }
    run.push(t);
  }
  if (run.length) lines.push(`(local ${run.join(" ")})`);
  return lines;
}

export interface WatOptions {
  /** Nest operands into their consumers (default) or one instruction a line. */
  folded?: boolean;
  /** Add `(export "name")` to the function's header. */
  exported?: boolean;
  /** The module's functions by name: a folded `call` nests its operands by the callee's type. */
  funcs?: ReadonlyMap<string, WasmFunction>;
}

/** A function as WAT (params numbered 0.., then locals). */
export function functionWat(f: WasmFunction, opts: WatOptions = {}, depth = 0): string {
  const list = (kw: string, ts: readonly string[]) =>
    ts.length ? [`(${kw} ${ts.join(" ")})`] : [];
  const head = [
    `(func $${f.name}`,
    ...(opts.exported ? [`(export "${f.name}")`] : []),
    ...list("param", f.params),
    ...list("result", f.results),
  ].join(" ");
  const pad = INDENT.repeat(depth + 1);
  const lines = [
    INDENT.repeat(depth) + head,
    ...localLines(f.locals, WIDTH - pad.length).map((l) => pad + l),
    ...bodyLines(f.body, depth + 1, opts.folded ?? true, opts.funcs ?? new Map()),
  ];
  lines[lines.length - 1] += ")";
  return lines.join("\n");
}

/** A module as WAT: the shared memory import and every function. */
export function moduleWat(m: ModuleSpec, folded = true): string {
  const funcs = new Map(m.functions.map((f) => [f.name, f]));
  const exported = new Set(m.exports);
  return (
    [
      "(module",
      `${INDENT}(import "env" "memory" (memory ${m.memory.min} ${m.memory.max} shared))`,
      ...m.functions.map((f) =>
        functionWat(f, { folded, exported: exported.has(f.name), funcs }, 1),
      ),
    ].join("\n") + ")"
  );
}
