// A WebAssembly module as bytes: functions (instr.ts) over one imported
// linear memory. The module imports `env.memory` first and nothing else, and
// declares it shared (limits flag 0x03, with min and max pages); the byte
// offset of that flag comes back with the bytes, so a runtime without
// SharedArrayBuffer can patch a copy to 0x01 (unshared) before compiling.

import { opInfo, type ImmKind, type Instr, type ValType, type WasmFunction } from "./instr.ts";
import { WASM_SHARED_LIMITS } from "../../runtime/program.ts";

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

/** The canonical quiet NaNs, little-endian. */
const CANONICAL_NAN_F32 = new Uint8Array([0x00, 0x00, 0xc0, 0x7f]);
const CANONICAL_NAN_F64 = new Uint8Array([0, 0, 0, 0, 0, 0, 0xf8, 0x7f]);

const valTypeByte: { [T in ValType]: number } = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
};

/** A growing byte buffer the encoder appends to. */
class Writer {
  private buf = new Uint8Array(256);
  length = 0;
  private static readonly scratch = new DataView(new ArrayBuffer(8));

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): this {
    this.room(1);
    this.buf[this.length++] = b;
    return this;
  }

  bytes(bs: ArrayLike<number>): this {
    this.room(bs.length);
    this.buf.set(bs, this.length);
    this.length += bs.length;
    return this;
  }

  /** Unsigned LEB128 of a u32. */
  uleb(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`not a u32: ${n}`);
    do {
      const b = n % 128;
      n = Math.floor(n / 128);
      this.byte(n !== 0 ? b | 0x80 : b);
    } while (n !== 0);
    return this;
  }

  /** Signed LEB128 of an i32 (numbers) or an i64 (bigints). */
  sleb(value: number | bigint): this {
    if (typeof value === "number") {
      // i32 immediates: signed values, or unsigned bit patterns up to 2^32 (wrapped to signed).
      if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 32)
        throw new Error(`not an i32 immediate: ${value}`);
      let n = value | 0;
      for (;;) {
        const b = n & 0x7f;
        n >>= 7;
        const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
        this.byte(done ? b : b | 0x80);
        if (done) return this;
      }
    }
    if (value < -(2n ** 63n) || value >= 2n ** 64n)
      throw new Error(`not an i64 immediate: ${value}`);
    let n = BigInt.asIntN(64, value);
    for (;;) {
      const b = Number(n & 0x7fn);
      n >>= 7n;
      const done = (n === 0n && (b & 0x40) === 0) || (n === -1n && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  // NaN as the canonical quiet NaN: an engine may store any NaN's bits
  // through setFloat32/64, and the module's bytes must not depend on it.
  f32(x: number): this {
    if (Number.isNaN(x)) return this.bytes(CANONICAL_NAN_F32);
    Writer.scratch.setFloat32(0, x, true);
    return this.bytes(new Uint8Array(Writer.scratch.buffer, 0, 4));
  }

  i32(x: number): this {
    Writer.scratch.setInt32(0, x | 0, true);
    return this.bytes(new Uint8Array(Writer.scratch.buffer, 0, 4));
  }

  f64(x: number): this {
    if (Number.isNaN(x)) return this.bytes(CANONICAL_NAN_F64);
    Writer.scratch.setFloat64(0, x, true);
    return this.bytes(new Uint8Array(Writer.scratch.buffer, 0, 8));
  }

  name(s: string): this {
    const bytes = new TextEncoder().encode(s);
    return this.uleb(bytes.length).bytes(bytes);
  }

  /** `w`'s bytes after their length (a function body, a section's content). */
  sized(w: Writer): this {
    return this.uleb(w.length).bytes(w.view());
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Unsigned LEB128 of a u32. */
export const uleb = (n: number): number[] => [...new Writer().uleb(n).view()];

/** Signed LEB128 of an integer (i32 range as a number; i64 as a bigint). */
export const sleb = (n: number | bigint): number[] => [...new Writer().sleb(n).view()];

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

type Immediate = (w: Writer, ins: Instr, align: number, funcs: ReadonlyMap<string, number>) => void;

const u32At: Immediate = (w, ins) => (arity(ins, 1), w.uleb(num(ins, 0)));

/** How each immediate kind is written; `funcs` resolves `call`'s function name to its index. */
const immediates: { [K in ImmKind]: Immediate } = {
  none: (_, ins) => arity(ins, 0),
  block: (w, ins) => {
    if (arity(ins, 0, 1) === 0) return void w.byte(0x40);
    const t = Object.hasOwn(valTypeByte, String(ins[1]))
      ? valTypeByte[ins[1] as ValType]
      : undefined;
    if (t === undefined) throw new Error(`${ins[0]}: bad block type ${String(ins[1])}`);
    w.byte(t);
  },
  label: u32At,
  local: u32At,
  func: (w, ins, _, funcs) => {
    arity(ins, 1);
    const f = ins[1]!;
    const index = typeof f === "number" ? f : funcs.get(f);
    if (index === undefined) throw new Error(`call: no function named ${f}`);
    w.uleb(index);
  },
  i32: (w, ins) => (arity(ins, 1), w.sleb(num(ins, 0) | 0)),
  i64: (w, ins) => (arity(ins, 1), w.sleb(BigInt(num(ins, 0)))),
  f32: (w, ins) => (arity(ins, 1), w.f32(num(ins, 0))),
  f64: (w, ins) => (arity(ins, 1), w.f64(num(ins, 0))),
  v128: (w, ins) => {
    const ints = ins[1] === "i32x4";
    arity(ins, ints ? 5 : 4);
    for (let k = ints ? 1 : 0; k < ins.length - 1; k++)
      if (ints) w.i32(num(ins, k));
      else w.f32(num(ins, k));
  },
  mem: (w, ins, align) => w.uleb(align).uleb(arity(ins, 0, 1) === 0 ? 0 : num(ins, 0)),
  lane: (w, ins) => (arity(ins, 1), w.byte(num(ins, 0))),
  shuffle: (w, ins) => {
    arity(ins, 16);
    for (let k = 0; k < 16; k++) {
      const lane = num(ins, k);
      if (!(lane >= 0 && lane < 32)) throw new Error(`i8x16.shuffle: lane ${lane} out of range`);
      w.byte(lane);
    }
  },
  memidx: (w, ins) => (arity(ins, 0), w.byte(0x00)),
  memidx2: (w, ins) => (arity(ins, 0), w.byte(0x00).byte(0x00)),
};

function encodeInstr(w: Writer, ins: Instr, funcs: ReadonlyMap<string, number>): void {
  const info = opInfo[ins[0]];
  if (info === undefined) throw new Error(`unknown instruction ${ins[0]}`);
  if (info.prefix === undefined) w.byte(info.code);
  else w.byte(info.prefix).uleb(info.code);
  immediates[info.imm](w, ins, info.align ?? 0, funcs);
}

/** A function body: its locals (runs of one type) and code, then `end`. */
function encodeBody(f: WasmFunction, funcs: ReadonlyMap<string, number>): Writer {
  const runs: [number, ValType][] = [];
  for (const t of f.locals) {
    const last = runs[runs.length - 1];
    if (last && last[1] === t) last[0]++;
    else runs.push([1, t]);
  }
  const w = new Writer().uleb(runs.length);
  for (const [count, t] of runs) w.uleb(count).byte(valTypeByte[t]);
  for (const ins of f.body) {
    try {
      encodeInstr(w, ins, funcs);
    } catch (e) {
      throw new Error(`function ${f.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return w.byte(0x0b);
}

/** A vector: its length, then each item as `write` puts it. */
function vec<T>(items: readonly T[], write: (w: Writer, item: T, i: number) => void): Writer {
  const w = new Writer().uleb(items.length);
  items.forEach((x, i) => write(w, x, i));
  return w;
}

export function encodeModule(m: ModuleSpec): EncodedModule {
  const funcs = new Map(m.functions.map((f, i) => [f.name, i]));
  if (funcs.size !== m.functions.length) throw new Error("two functions share a name");
  const signature = (f: WasmFunction) => {
    const w = new Writer().byte(0x60);
    for (const ts of [f.params, f.results]) {
      w.uleb(ts.length);
      for (const t of ts) w.byte(valTypeByte[t]);
    }
    return w.view();
  };
  const types: Uint8Array[] = [];
  const typeIndex = new Map<string, number>();
  const funcTypes = m.functions.map((f) => {
    const bytes = signature(f);
    const key = bytes.join(",");
    if (!typeIndex.has(key)) typeIndex.set(key, types.push(bytes) - 1);
    return typeIndex.get(key)!;
  });
  const out = new Writer().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const section = (id: number, content: Writer) => out.byte(id).sized(content);
  section(
    1,
    vec(types, (w, t) => w.bytes(t)),
  );
  const imports = new Writer().uleb(1).name("env").name("memory").byte(0x02);
  const flagInSection = imports.length;
  imports.byte(WASM_SHARED_LIMITS).uleb(m.memory.min).uleb(m.memory.max);
  const memoryFlagAt = out.length + 1 + uleb(imports.length).length + flagInSection;
  section(2, imports);
  section(
    3,
    vec(funcTypes, (w, t) => w.uleb(t)),
  );
  section(
    7,
    vec(m.exports, (w, e) => {
      const index = funcs.get(e);
      if (index === undefined) throw new Error(`export of no function: ${e}`);
      w.name(e).byte(0x00).uleb(index);
    }),
  );
  section(
    10,
    vec(m.functions, (w, f) => w.sized(encodeBody(f, funcs))),
  );
  // The "name" section's function names (subsection 1): engines' errors and stack traces name the kernel.
  const names = vec(m.functions, (w, f, i) => w.uleb(i).name(f.name));
  section(0, new Writer().name("name").byte(1).sized(names));
  return { bytes: out.view().slice(), memoryFlagAt };
}
