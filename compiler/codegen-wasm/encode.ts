// A WebAssembly module as bytes: functions (instr.ts) over one imported
// linear memory. The module imports `env.memory` first and nothing else, and
// declares it shared (limits flag 0x03, with min and max pages); the byte
// offset of that flag comes back with the bytes, so a runtime without
// SharedArrayBuffer can patch a copy to 0x01 (unshared) before compiling.

import { opInfo, type ImmKind, type Instr, type ValType, type WasmFunction } from "./instr.ts";

export interface ModuleSpec {
  /** Every function of the module, in index order; `call` names one of them. */
  functions: readonly WasmFunction[];
  /** The names of the functions to export (under their own names). */
  exports: readonly string[];
  /** The `env.memory` import's limits, in 64 KiB pages. */
  memory: { min: number; max: number };
}

export interface EncodedModule {
  bytes: Uint8Array<ArrayBuffer>;
  /** Byte offset of the memory import's limits flag (0x03: shared, min and max). */
  memoryFlagAt: number;
}

/** The limits flag of a shared memory with a maximum; 0x01 is the same limits unshared. */
export const SHARED_LIMITS = 0x03;

const valTypeByte: { [T in ValType]: number } = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
};

/** Unsigned LEB128 of a u32. */
export function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`not a u32: ${n}`);
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of an integer (i32 or i64 range). */
export function sleb(value: number | bigint): number[] {
  let n = BigInt(value);
  const out: number[] = [];
  for (;;) {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    const done = (n === 0n && (b & 0x40) === 0) || (n === -1n && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

function name(s: string): number[] {
  const bytes = new TextEncoder().encode(s);
  return [...uleb(bytes.length), ...bytes];
}

function littleEndian(bytes: number, set: (v: DataView) => void): number[] {
  const v = new DataView(new ArrayBuffer(bytes));
  set(v);
  return [...new Uint8Array(v.buffer)];
}

const f32Bytes = (x: number) => littleEndian(4, (v) => v.setFloat32(0, x, true));
const i32Bytes = (x: number) => littleEndian(4, (v) => v.setInt32(0, x | 0, true));

/** Immediate k of `ins` (0-based), which must be a number. */
function num(ins: Instr, k: number): number {
  const x = ins[k + 1];
  if (typeof x !== "number") throw new Error(`${ins[0]}: immediate ${k} must be a number`);
  return x;
}

function arity(ins: Instr, ...counts: number[]): number {
  const n = ins.length - 1;
  if (!counts.includes(n))
    throw new Error(`${ins[0]}: expected ${counts.join(" or ")} immediates, got ${n}`);
  return n;
}

const u32At = (ins: Instr) => (arity(ins, 1), uleb(num(ins, 0)));

/** Each immediate kind's bytes; `funcs` resolves `call`'s function name to its index. */
const immediates: {
  [K in ImmKind]: (ins: Instr, align: number, funcs: ReadonlyMap<string, number>) => number[];
} = {
  none: (ins) => (arity(ins, 0), []),
  block: (ins) => {
    if (arity(ins, 0, 1) === 0) return [0x40];
    const t = valTypeByte[ins[1] as ValType];
    if (t === undefined) throw new Error(`${ins[0]}: bad block type ${String(ins[1])}`);
    return [t];
  },
  label: u32At,
  local: u32At,
  func: (ins, _, funcs) => {
    arity(ins, 1);
    const f = ins[1]!;
    const index = typeof f === "number" ? f : funcs.get(f);
    if (index === undefined) throw new Error(`call: no function named ${f}`);
    return uleb(index);
  },
  i32: (ins) => (arity(ins, 1), sleb(num(ins, 0) | 0)),
  i64: (ins) => (arity(ins, 1), sleb(BigInt(num(ins, 0)))),
  f32: (ins) => (arity(ins, 1), f32Bytes(num(ins, 0))),
  f64: (ins) => (arity(ins, 1), littleEndian(8, (v) => v.setFloat64(0, num(ins, 0), true))),
  v128: (ins) => {
    const ints = ins[1] === "i32x4";
    arity(ins, ints ? 5 : 4);
    const first = ints ? 1 : 0;
    return [0, 1, 2, 3].flatMap((k) => (ints ? i32Bytes : f32Bytes)(num(ins, first + k)));
  },
  mem: (ins, align) => [...uleb(align), ...uleb(arity(ins, 0, 1) === 0 ? 0 : num(ins, 0))],
  lane: (ins) => (arity(ins, 1), [num(ins, 0)]),
  shuffle: (ins) => {
    arity(ins, 16);
    return ins.slice(1).map((_, k) => {
      const lane = num(ins, k);
      if (!(lane >= 0 && lane < 32)) throw new Error(`i8x16.shuffle: lane ${lane} out of range`);
      return lane;
    });
  },
  memidx: (ins) => (arity(ins, 0), [0x00]),
  memidx2: (ins) => (arity(ins, 0), [0x00, 0x00]),
};

function encodeInstr(ins: Instr, funcs: ReadonlyMap<string, number>): number[] {
  const info = opInfo[ins[0]];
  if (info === undefined) throw new Error(`unknown instruction ${ins[0]}`);
  const head = info.prefix === undefined ? [info.code] : [info.prefix, ...uleb(info.code)];
  return [...head, ...immediates[info.imm](ins, info.align ?? 0, funcs)];
}

/** A function body: its locals (runs of one type) and code, then `end`. */
function encodeBody(f: WasmFunction, funcs: ReadonlyMap<string, number>): number[] {
  const runs: [number, ValType][] = [];
  for (const t of f.locals) {
    const last = runs[runs.length - 1];
    if (last && last[1] === t) last[0]++;
    else runs.push([1, t]);
  }
  const out = [...uleb(runs.length), ...runs.flatMap(([c, t]) => [...uleb(c), valTypeByte[t]])];
  for (const ins of f.body) {
    try {
      out.push(...encodeInstr(ins, funcs));
    } catch (e) {
      throw new Error(`function ${f.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  out.push(0x0b);
  return [...uleb(out.length), ...out];
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, content: number[]): number[] => [
  id,
  ...uleb(content.length),
  ...content,
];

export function encodeModule(m: ModuleSpec): EncodedModule {
  const funcs = new Map(m.functions.map((f, i) => [f.name, i]));
  if (funcs.size !== m.functions.length) throw new Error("two functions share a name");
  const types: number[][] = [];
  const typeIndex = new Map<string, number>();
  const funcTypes = m.functions.map((f) => {
    const bytes = [
      0x60,
      ...vec(f.params.map((t) => [valTypeByte[t]])),
      ...vec(f.results.map((t) => [valTypeByte[t]])),
    ];
    const key = bytes.join(",");
    if (!typeIndex.has(key)) typeIndex.set(key, types.push(bytes) - 1);
    return typeIndex.get(key)!;
  });
  const importHead = [...uleb(1), ...name("env"), ...name("memory"), 0x02];
  const imports = [SHARED_LIMITS, ...uleb(m.memory.min), ...uleb(m.memory.max)];
  const exports = m.exports.map((e) => {
    const index = funcs.get(e);
    if (index === undefined) throw new Error(`export of no function: ${e}`);
    return [...name(e), 0x00, ...uleb(index)];
  });
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const typeSection = section(1, vec(types));
  const importSection = section(2, [...importHead, ...imports]);
  const flagAt = header.length + typeSection.length + (importSection.length - imports.length);
  const bytes = [
    ...header,
    ...typeSection,
    ...importSection,
    ...section(3, vec(funcTypes.map((t) => uleb(t)))),
    ...section(7, vec(exports)),
    ...section(10, vec(m.functions.map((f) => encodeBody(f, funcs)))),
    // The "name" section's function names (subsection 1): engines' errors and stack traces name the kernel.
    ...section(0, [
      ...name("name"),
      ...section(1, vec(m.functions.map((f, i) => [...uleb(i), ...name(f.name)]))),
    ]),
  ];
  return { bytes: Uint8Array.from(bytes), memoryFlagAt: flagAt };
}
