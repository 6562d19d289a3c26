// The WASM binary layer: LEB128, the module encoder (the engine validates
// and runs what it writes, over a shared and an unshared memory), every
// instruction of the table, SIMD lane results against JS arithmetic, and
// the WAT printer.

import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { encodeModule, sleb, uleb, type ModuleSpec } from "../compiler/codegen-wasm/encode.ts";
import {
  ops,
  opInfo,
  type Instr,
  type Mnemonic,
  type ValType,
  type WasmFunction,
} from "../compiler/codegen-wasm/instr.ts";
import { functionWat, instrText, moduleWat } from "../compiler/codegen-wasm/wat.ts";
import { base64, wasmProgram, withoutRelaxed } from "../compiler/codegen-wasm/module.ts";
import { WASM_SHARED_LIMITS } from "../runtime/program.ts";

const memoryLimits = { min: 2, max: 65536 };

function unshared(bytes: Uint8Array<ArrayBuffer>, flagAt: number): Uint8Array<ArrayBuffer> {
  const copy = bytes.slice();
  copy[flagAt] = 0x01;
  return copy;
}

function instantiate(m: ModuleSpec, shared: boolean) {
  const { bytes, memoryFlagAt } = encodeModule(m);
  const memory = new WebAssembly.Memory({ initial: m.memory.min, maximum: m.memory.max, shared });
  const code = shared ? bytes : unshared(bytes, memoryFlagAt);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(code), { env: { memory } });
  return { exports: instance.exports as Record<string, (...a: number[]) => number>, memory };
}

/** A kernel-shaped function: out[i] = a[i] * b[i] + a[i] for f32x4 groups i in [lo, hi). */
const muladd: WasmFunction = {
  name: "muladd",
  params: ["i32", "i32", "i32"],
  results: [],
  locals: ["i32", "i32", "i32", "i32", "v128"], // 3 a, 4 b, 5 out, 6 byte offset, 7 a's group
  body: [
    ["i32.const", 256],
    ["i32.load"],
    ["local.set", 3],
    ["i32.const", 256],
    ["i32.load", 4],
    ["local.set", 4],
    ["i32.const", 256],
    ["i32.load", 8],
    ["local.set", 5],
    ["block"],
    ["local.get", 0],
    ["local.get", 1],
    ["i32.ge_s"],
    ["br_if", 0],
    ["loop"],
    ["local.get", 0],
    ["i32.const", 4],
    ["i32.shl"],
    ["local.set", 6],
    ["local.get", 5],
    ["local.get", 6],
    ["i32.add"],
    ["local.get", 3],
    ["local.get", 6],
    ["i32.add"],
    ["v128.load"],
    ["local.tee", 7],
    ["local.get", 4],
    ["local.get", 6],
    ["i32.add"],
    ["v128.load"],
    ["f32x4.mul"],
    ["local.get", 7],
    ["f32x4.add"],
    ["v128.store"],
    ["local.get", 0],
    ["i32.const", 1],
    ["i32.add"],
    ["local.tee", 0],
    ["local.get", 1],
    ["i32.lt_s"],
    ["br_if", 0],
    ["end"],
    ["end"],
  ],
};

describe("LEB128", () => {
  it("encodes unsigned and signed integers as the spec's examples", () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(uleb(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(sleb(0)).toEqual([0]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(-(2 ** 31))).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
    expect(sleb(-(2n ** 63n))).toHaveLength(10);
    expect(() => uleb(-1)).toThrow();
  });
});

describe("encodeModule", () => {
  const spec: ModuleSpec = { functions: [muladd], exports: ["muladd"], memory: memoryLimits };

  it("imports env.memory first, shared, and says where its limits flag is", () => {
    const { bytes, memoryFlagAt } = encodeModule(spec);
    expect(WebAssembly.validate(bytes)).toBe(true);
    expect(bytes[memoryFlagAt]).toBe(WASM_SHARED_LIMITS);
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
    expect(imports).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(bytes));
    expect(exports).toEqual([{ name: "muladd", kind: "function" }]);
    // A shared memory cannot satisfy the unshared import, nor the reverse.
    expect(WebAssembly.validate(unshared(bytes, memoryFlagAt))).toBe(true);
    const plain = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
    expect(
      () => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: plain } }),
    ).toThrow();
  });

  for (const shared of [true, false]) {
    it(`runs a kernel over any split of its items (${shared ? "shared" : "unshared"} memory)`, () => {
      const { exports, memory } = instantiate(spec, shared);
      const n = 40; // 10 groups of 4
      const [a, b, out] = [65536, 65536 + 4 * n, 65536 + 8 * n];
      new Int32Array(memory.buffer, 256, 3).set([a, b, out]);
      const av = new Float32Array(memory.buffer, a, n);
      const bv = new Float32Array(memory.buffer, b, n);
      for (let i = 0; i < n; i++) ((av[i] = i * 0.25 - 3), (bv[i] = 1.5 - i * 0.125));
      exports.muladd!(0, 3, 0);
      exports.muladd!(7, 10, 0);
      exports.muladd!(3, 7, 0);
      exports.muladd!(5, 5, 0); // empty range: nothing
      const got = new Float32Array(memory.buffer, out, n);
      for (let i = 0; i < n; i++)
        expect(got[i]).toBe(Math.fround(Math.fround(av[i]! * bv[i]!) + av[i]!));
    });
  }

  it("dedups function types and resolves calls by name", () => {
    const twice: WasmFunction = {
      name: "twice",
      params: ["f32"],
      results: ["f32"],
      locals: [],
      body: [["local.get", 0], ["local.get", 0], ["f32.add"]],
    };
    const clampAbs: WasmFunction = {
      name: "clampAbs",
      params: ["f32"],
      results: ["f32"],
      locals: ["f32"],
      // |x| by if/else, then 2|x| via call, then min(., 10) by select; early return for NaN.
      body: [
        ["local.get", 0],
        ["local.get", 0],
        ["f32.ne"],
        ["if"],
        ["f32.const", -1],
        ["return"],
        ["end"],
        ["local.get", 0],
        ["f32.const", 0],
        ["f32.lt"],
        ["if", "f32"],
        ["local.get", 0],
        ["f32.neg"],
        ["else"],
        ["local.get", 0],
        ["end"],
        ["call", "twice"],
        ["local.tee", 1],
        ["f32.const", 10],
        ["local.get", 1],
        ["f32.const", 10],
        ["f32.lt"],
        ["select"],
        ["nop"],
      ],
    };
    const m: ModuleSpec = {
      functions: [twice, clampAbs],
      exports: ["clampAbs"],
      memory: memoryLimits,
    };
    const { bytes } = encodeModule(m);
    // One type (f32) -> f32: the type section is 1 entry.
    expect(bytes[9]).toBe(6); // section size: count, 0x60, 1 param, type, 1 result, type
    expect(bytes[10]).toBe(1);
    const { exports } = instantiate(m, true);
    expect([-3, 2, 7, Number.NaN].map((x) => exports.clampAbs!(x))).toEqual([6, 4, 10, -1]);
  });

  it("names its functions, so the engine's errors say which kernel is wrong", () => {
    const broken: WasmFunction = {
      name: "e1_0_matmul",
      params: [],
      results: [],
      locals: [],
      body: [["i32.const", 1], ["i32.add"], ["drop"]],
    };
    const { bytes } = encodeModule({
      functions: [muladd, broken],
      exports: [],
      memory: memoryLimits,
    });
    expect(() => new WebAssembly.Module(bytes)).toThrow(/#1:"e1_0_matmul"/);
  });

  it("rejects malformed immediates and unknown callees", () => {
    const bad = (body: Instr[]) => () =>
      encodeModule({
        functions: [{ name: "f", params: [], results: [], locals: [], body }],
        exports: [],
        memory: memoryLimits,
      });
    expect(bad([["i32.const"]])).toThrow(/i32.const: expected 1/);
    expect(bad([["call", "nowhere"]])).toThrow(/no function named nowhere/);
    expect(bad([["i8x16.shuffle", 1, 2]])).toThrow(/expected 16/);
    // @ts-expect-error: an unknown mnemonic is a type error
    const unknown: Instr = ["f32x4.fma"];
    expect(bad([unknown])).toThrow(/unknown instruction/);
  });
});

/** Default immediates for an instruction taken alone. */
function sampleInstr(op: Mnemonic): Instr {
  const kind = opInfo[op].imm;
  const imm: Record<typeof kind, (number | string)[]> = {
    none: [],
    block: [],
    label: [0],
    local: [0],
    func: [0],
    i32: [-7],
    i64: [-(2 ** 40)],
    f32: [0.1],
    f64: [0.1],
    v128: [1, 2, 3, 4],
    mem: [16],
    lane: [1],
    shuffle: [0, 17, 2, 19, 4, 21, 6, 23, 8, 25, 10, 27, 12, 29, 14, 31],
    memidx: [],
    memidx2: [],
  };
  return [op, ...imm[kind]];
}

/** A function running `op` once on its params, dropping its results. */
function oneOpFunction(op: Mnemonic, index: number): WasmFunction {
  const [ins, outs] = opInfo[op].sig!;
  return {
    name: `op${index}`,
    params: ins,
    results: [],
    locals: [],
    body: [
      ...ins.map((_, k): Instr => ["local.get", k]),
      sampleInstr(op),
      ...outs.map((): Instr => ["drop"]),
    ],
  };
}

/** Validate with relaxed SIMD switched on: Node 20 has it only behind a V8 flag. */
function validateRelaxed(bytes: Uint8Array): boolean {
  const script = `process.stdout.write(String(WebAssembly.validate(Buffer.from(process.argv[1], "base64"))))`;
  const out = execFileSync(
    process.execPath,
    ["--experimental-wasm-relaxed-simd", "-e", script, Buffer.from(bytes).toString("base64")],
    { encoding: "utf8" },
  );
  return out === "true";
}

describe("the instruction table", () => {
  const typed = (Object.keys(ops) as Mnemonic[]).filter((op) => opInfo[op].sig !== null);
  const plain = typed.filter((op) => !opInfo[op].relaxed);
  const relaxed = typed.filter((op) => opInfo[op].relaxed);

  it("has a typed instruction per op the kernels use, each accepted by the engine alone", () => {
    const rejected = plain.filter((op, i) => {
      const fn = oneOpFunction(op, i);
      return !WebAssembly.validate(
        encodeModule({ functions: [fn], exports: [], memory: memoryLimits }).bytes,
      );
    });
    expect(rejected).toEqual([]);
    expect(plain.length).toBeGreaterThan(250);
  });

  it("type-checks each op's signature: a wrong operand type is rejected", () => {
    // Swap a v128 operand for an i32 one: the engine must refuse, so the signatures are real.
    const wrong = plain.filter((op) => opInfo[op].sig![0].includes("v128")).slice(0, 20);
    for (const op of wrong) {
      const fn = oneOpFunction(op, 0);
      const params = fn.params.map((t): ValType => (t === "v128" ? "f64" : t));
      const bytes = encodeModule({
        functions: [{ ...fn, params }],
        exports: [],
        memory: memoryLimits,
      }).bytes;
      expect(WebAssembly.validate(bytes), op).toBe(false);
    }
  });

  it("relaxed ops are rejected without relaxed SIMD and accepted with it", () => {
    expect(relaxed).toEqual(["f32x4.relaxed_madd", "f32x4.relaxed_nmadd"]);
    const m = encodeModule({
      functions: relaxed.map(oneOpFunction),
      exports: [],
      memory: memoryLimits,
    });
    expect(WebAssembly.validate(m.bytes)).toBe(false);
    expect(validateRelaxed(m.bytes)).toBe(true);
  });

  it("encodes the control instructions the engine accepts (blocks, branches, loops)", () => {
    const fn: WasmFunction = {
      name: "f",
      params: ["i32"],
      results: ["i32"],
      locals: [],
      body: [
        ["block", "i32"],
        ["loop"],
        ["i32.const", 5],
        ["local.get", 0],
        ["br_if", 1], // leaves the block with 5 when the param is non-zero
        ["drop"],
        ["br", 0],
        ["end"],
        ["unreachable"],
        ["end"],
      ],
    };
    expect(
      WebAssembly.validate(
        encodeModule({ functions: [fn], exports: [], memory: memoryLimits }).bytes,
      ),
    ).toBe(true);
  });
});

/** Run `op` on v128 operands held in memory; result lanes as f32 or i32. */
function runSimd(
  op: Mnemonic,
  operands: readonly (readonly number[])[],
  opts: { ints?: boolean[]; imm?: number[]; out?: "f32" | "i32"; scalar?: number } = {},
): number[] {
  const [ins, outs] = opInfo[op].sig!;
  const body: Instr[] = [["i32.const", 0]];
  ins.forEach((t, k) => {
    if (t === "v128") body.push(["i32.const", 16 + 16 * k], ["v128.load"]);
    else body.push(["i32.const", opts.scalar ?? 0]);
  });
  body.push([op, ...(opts.imm ?? [])]);
  const outType = outs[0]!;
  body.push([`${outType}.store` as "v128.store" | "f32.store" | "i32.store"]);
  const m: ModuleSpec = {
    functions: [{ name: "f", params: [], results: [], locals: [], body }],
    exports: ["f"],
    memory: memoryLimits,
  };
  const { exports, memory } = instantiate(m, false);
  operands.forEach((lanes, k) => {
    const at = 16 + 16 * k;
    if (opts.ints?.[k]) new Int32Array(memory.buffer, at, 4).set(lanes);
    else new Float32Array(memory.buffer, at, 4).set(lanes);
  });
  exports.f!();
  if (outType !== "v128")
    return [
      (outType === "f32"
        ? new Float32Array(memory.buffer, 0, 1)
        : new Int32Array(memory.buffer, 0, 1))[0]!,
    ];
  return [
    ...(opts.out === "i32"
      ? new Int32Array(memory.buffer, 0, 4)
      : new Float32Array(memory.buffer, 0, 4)),
  ];
}

describe("SIMD lanes", () => {
  const a = [1.5, -2.25, 0, 7.75];
  const b = [0.5, 3, -0, -1.25];
  const f = Math.fround;
  const lanes = (g: (x: number, y: number) => number) => a.map((x, i) => f(g(x, b[i]!)));
  const mask = (g: (x: number, y: number) => boolean) => a.map((x, i) => (g(x, b[i]!) ? -1 : 0));

  it("f32x4 arithmetic matches f32 arithmetic lane by lane", () => {
    const binary: [Mnemonic, (x: number, y: number) => number][] = [
      ["f32x4.add", (x, y) => x + y],
      ["f32x4.sub", (x, y) => x - y],
      ["f32x4.mul", (x, y) => x * y],
      ["f32x4.div", (x, y) => x / y],
      ["f32x4.min", Math.min],
      ["f32x4.max", Math.max],
      ["f32x4.pmin", (x, y) => (y < x ? y : x)],
      ["f32x4.pmax", (x, y) => (x < y ? y : x)],
    ];
    for (const [op, g] of binary) expect(runSimd(op, [a, b]), op).toEqual(lanes(g));
    const x = [2.5, -2.5, 0.5, -7.3];
    const unary: [Mnemonic, (x: number) => number][] = [
      ["f32x4.abs", Math.abs],
      ["f32x4.neg", (v) => -v],
      ["f32x4.sqrt", Math.sqrt],
      ["f32x4.ceil", Math.ceil],
      ["f32x4.floor", Math.floor],
      [
        "f32x4.nearest",
        (v) => {
          const r = Math.round(v); // half up; nearest rounds half to even
          return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
        },
      ],
    ];
    for (const [op, g] of unary) {
      const input = op === "f32x4.sqrt" ? x.map(Math.abs) : x;
      expect(runSimd(op, [input]), op).toEqual(input.map((v) => f(g(f(v)))));
    }
  });

  it("comparisons give all-ones lanes", () => {
    const cmp: [Mnemonic, (x: number, y: number) => boolean][] = [
      ["f32x4.eq", (x, y) => x === y],
      ["f32x4.ne", (x, y) => x !== y],
      ["f32x4.lt", (x, y) => x < y],
      ["f32x4.le", (x, y) => x <= y],
      ["f32x4.gt", (x, y) => x > y],
      ["f32x4.ge", (x, y) => x >= y],
    ];
    for (const [op, g] of cmp) expect(runSimd(op, [a, b], { out: "i32" }), op).toEqual(mask(g));
    const i = [3, -4, 5, 0];
    const j = [3, 2, -6, 1];
    const ints = { ints: [true, true], out: "i32" as const };
    expect(runSimd("i32x4.lt_s", [i, j], ints)).toEqual([0, -1, 0, -1]);
    expect(runSimd("i32x4.gt_s", [i, j], ints)).toEqual([0, 0, -1, 0]);
    expect(runSimd("i32x4.eq", [i, j], ints)).toEqual([-1, 0, 0, 0]);
  });

  it("i32x4 arithmetic, shifts and conversions", () => {
    const i = [3, -4, 5, 2 ** 30];
    const j = [3, 2, -6, 4];
    const ints = { ints: [true, true], out: "i32" as const };
    expect(runSimd("i32x4.add", [i, j], ints)).toEqual(i.map((x, k) => (x + j[k]!) | 0));
    expect(runSimd("i32x4.sub", [i, j], ints)).toEqual(i.map((x, k) => (x - j[k]!) | 0));
    expect(runSimd("i32x4.mul", [i, j], ints)).toEqual(i.map((x, k) => Math.imul(x, j[k]!)));
    expect(runSimd("i32x4.shl", [i], { ...ints, scalar: 3 })).toEqual(i.map((x) => x << 3));
    expect(runSimd("i32x4.shr_s", [i], { ...ints, scalar: 1 })).toEqual(i.map((x) => x >> 1));
    expect(runSimd("i32x4.shr_u", [i], { ...ints, scalar: 1 })).toEqual(
      i.map((x) => (x >>> 1) | 0),
    );
    const x = [2.7, -2.7, 3e9, Number.NaN];
    expect(runSimd("i32x4.trunc_sat_f32x4_s", [x], { out: "i32" })).toEqual([
      2,
      -2,
      2 ** 31 - 1,
      0,
    ]);
    expect(runSimd("f32x4.convert_i32x4_s", [i], { ints: [true] })).toEqual(i.map(f));
  });

  it("lane ops, shuffles, splats and bit ops", () => {
    expect(runSimd("f32x4.extract_lane", [a], { imm: [3] })).toEqual([a[3]]);
    expect(runSimd("i32x4.extract_lane", [[9, 8, 7, 6]], { imm: [2], ints: [true] })).toEqual([7]);
    // Lanes 0-15 pick from the first operand's bytes, 16-31 from the second's.
    const interleave = [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23];
    expect(runSimd("i8x16.shuffle", [a, b], { imm: interleave })).toEqual([a[0], b[0], a[1], b[1]]);
    expect(runSimd("i32x4.splat", [], { scalar: -5, out: "i32" })).toEqual([-5, -5, -5, -5]);
    const m1 = [-1, 0, -1, 0];
    const sel = runSimd("v128.bitselect", [a, b, m1], { ints: [false, false, true] });
    expect(sel).toEqual([a[0], b[1], a[2], b[3]]);
    expect(runSimd("v128.any_true", [[0, 0, 0, 0]], { ints: [true] })).toEqual([0]);
    expect(runSimd("v128.any_true", [[0, 0, 4, 0]], { ints: [true] })).toEqual([1]);
    const p = [0b1100, 0b1010, -1, 0];
    const q = [0b1010, 0b0110, 5, -1];
    const ii = { ints: [true, true], out: "i32" as const };
    expect(runSimd("v128.and", [p, q], ii)).toEqual(p.map((x, k) => x & q[k]!));
    expect(runSimd("v128.or", [p, q], ii)).toEqual(p.map((x, k) => x | q[k]!));
    expect(runSimd("v128.xor", [p, q], ii)).toEqual(p.map((x, k) => x ^ q[k]!));
    expect(runSimd("v128.andnot", [p, q], ii)).toEqual(p.map((x, k) => x & ~q[k]!));
    expect(runSimd("v128.not", [p], ii)).toEqual(p.map((x) => ~x));
  });

  it("v128.const and load32_splat put the right values in the lanes", () => {
    const m: ModuleSpec = {
      functions: [
        {
          name: "f",
          params: [],
          results: [],
          locals: [],
          body: [
            ["i32.const", 0],
            ["v128.const", 1.5, -2, 3.25, 0.1],
            ["i32.const", 64],
            ["v128.load32_splat", 4],
            ["f32x4.add"],
            ["v128.store"],
            ["i32.const", 16],
            ["v128.const", "i32x4", -1, 2, 0x7fffffff, -(2 ** 31)],
            ["v128.store"],
          ],
        },
      ],
      exports: ["f"],
      memory: memoryLimits,
    };
    const { exports, memory } = instantiate(m, true);
    new Float32Array(memory.buffer, 68, 1)[0] = 10;
    exports.f!();
    expect([...new Float32Array(memory.buffer, 0, 4)]).toEqual([11.5, 8, 13.25, f(f(0.1) + 10)]);
    expect([...new Int32Array(memory.buffer, 16, 4)]).toEqual([-1, 2, 0x7fffffff, -(2 ** 31)]);
  });
});

describe("WAT", () => {
  const fn: WasmFunction = {
    name: "axpy",
    params: ["i32", "i32", "i32"],
    results: [],
    locals: ["f32"],
    body: [
      ["f32.const", 0.5],
      ["local.set", 3],
      ["block"],
      ["loop"],
      ["local.get", 0],
      ["local.get", 0],
      ["f32.load", 8],
      ["local.get", 3],
      ["f32.mul"],
      ["f32.store"],
      ["local.get", 0],
      ["local.get", 1],
      ["i32.lt_s"],
      ["if"],
      ["br", 2],
      ["else"],
      ["v128.const", 1, 0.1, -0, Infinity],
      ["drop"],
      ["end"],
      ["br", 0],
      ["end"],
      ["end"],
    ],
  };

  it("prints flat instructions indented by block depth", () => {
    expect(functionWat(fn, { folded: false })).toBe(
      [
        "(func $axpy (param i32 i32 i32)",
        "  (local f32)",
        "  f32.const 0.5",
        "  local.set 3",
        "  block",
        "    loop",
        "      local.get 0",
        "      local.get 0",
        "      f32.load offset=8",
        "      local.get 3",
        "      f32.mul",
        "      f32.store",
        "      local.get 0",
        "      local.get 1",
        "      i32.lt_s",
        "      if",
        "        br 2",
        "      else",
        "        v128.const f32x4 1 0.1 -0 inf",
        "        drop",
        "      end",
        "      br 0",
        "    end",
        "  end)",
      ].join("\n"),
    );
  });

  it("folds operands into their consumers, keeping the order of evaluation", () => {
    expect(functionWat(fn, { exported: true })).toBe(
      [
        '(func $axpy (export "axpy") (param i32 i32 i32)',
        "  (local f32)",
        "  (local.set 3 (f32.const 0.5))",
        "  (block",
        "    (loop",
        "      (f32.store (local.get 0) (f32.mul (f32.load offset=8 (local.get 0)) (local.get 3)))",
        "      (if",
        "        (i32.lt_s (local.get 0) (local.get 1))",
        "        (then",
        "          br 2",
        "        )",
        "        (else",
        "          (drop (v128.const f32x4 1 0.1 -0 inf))",
        "        )",
        "      )",
        "      br 0",
        "    )",
        "  ))",
      ].join("\n"),
    );
  });

  it("prints every instruction of the table and a module with its memory import", () => {
    for (const op of Object.keys(ops) as Mnemonic[]) expect(instrText(sampleInstr(op))).toMatch(op);
    expect(instrText(["f32.const", 1 / 3])).toBe("f32.const 0.33333334");
    expect(instrText(["i32.load", 0])).toBe("i32.load");
    const wat = moduleWat({ functions: [fn], exports: ["axpy"], memory: { min: 1, max: 65536 } });
    expect(wat.split("\n").slice(0, 2)).toEqual([
      "(module",
      '  (import "env" "memory" (memory 1 65536 shared))',
    ]);
    expect(wat).toMatch(/\(func \$axpy \(export "axpy"\)/);
  });
});

describe("wasmProgram", () => {
  /** out[i] = a[i] * b[i] + c[i] (madd) and c[i] - a[i] * b[i] (nmadd), one f32x4 group. */
  const fma: WasmFunction = {
    name: "fma",
    params: ["i32", "i32", "i32"],
    results: [],
    locals: ["v128"],
    body: [
      ["i32.const", 0],
      ["i32.const", 16],
      ["v128.load"],
      ["i32.const", 32],
      ["v128.load"],
      ["i32.const", 48],
      ["v128.load"],
      ["f32x4.relaxed_madd"],
      ["v128.store"],
      ["i32.const", 64],
      ["i32.const", 16],
      ["v128.load"],
      ["i32.const", 32],
      ["v128.load"],
      ["i32.const", 48],
      ["v128.load"],
      ["f32x4.relaxed_nmadd"],
      ["v128.store"],
    ],
  };
  const fromBase64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const a = [1 + 2 ** -12, -3, 0.1, 1e-3];
  const b = [1 - 2 ** -12, 7, 0.3, -2e3];
  const c = [-1, 21, -0.03, 2];

  it("puts a relaxed binary first and a plain one with the multiply-adds unfused", () => {
    const p = wasmProgram([fma, muladd]);
    expect(p.maxPages).toBe(65535);
    expect(p.binaries.map((x) => x.relaxed)).toEqual([true, false]);
    const [relaxed, plain] = p.binaries.map((x) => fromBase64(x.base64));
    expect(WebAssembly.validate(relaxed!)).toBe(false); // Node 20 without the V8 flag
    expect(validateRelaxed(relaxed!)).toBe(true);
    const module = new WebAssembly.Module(plain!);
    expect(WebAssembly.Module.exports(module).map((e) => e.name)).toEqual(["fma", "muladd"]);
    expect(plain![p.binaries[1]!.memoryFlagAt]).toBe(WASM_SHARED_LIMITS);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: p.maxPages, shared: true });
    const run = new WebAssembly.Instance(module, { env: { memory } }).exports.fma as () => void;
    new Float32Array(memory.buffer, 16, 12).set([...a, ...b, ...c]);
    run();
    const f = Math.fround;
    const ab = a.map((x, i) => f(f(x) * f(b[i]!)));
    expect([...new Float32Array(memory.buffer, 0, 4)]).toEqual(ab.map((p, i) => f(p + f(c[i]!))));
    expect([...new Float32Array(memory.buffer, 64, 4)]).toEqual(ab.map((p, i) => f(f(c[i]!) - p)));
  });

  it("encodes one plain binary when nothing uses relaxed SIMD", () => {
    const p = wasmProgram([muladd]);
    expect(p.binaries.map((x) => x.relaxed)).toEqual([false]);
    expect(WebAssembly.validate(fromBase64(p.binaries[0]!.base64))).toBe(true);
    expect(withoutRelaxed(muladd)).toBe(muladd);
  });

  it("keeps one copy of a helper several kernels share, and refuses clashing names", () => {
    const helper: WasmFunction = { name: "h", params: [], results: [], locals: [], body: [] };
    const caller = (name: string): WasmFunction => ({
      ...helper,
      name,
      params: ["i32", "i32", "i32"],
      body: [["call", "h"]],
    });
    const p = wasmProgram([caller("k1"), caller("k2")], [helper, { ...helper }]);
    const exports = WebAssembly.Module.exports(
      new WebAssembly.Module(fromBase64(p.binaries[0]!.base64)),
    );
    expect(exports.map((e) => e.name)).toEqual(["k1", "k2"]);
    expect(() => wasmProgram([caller("k1")], [helper, { ...helper, locals: ["i32"] }])).toThrow(
      /two different functions named h/,
    );
    expect(() => wasmProgram([caller("k1"), caller("k1")])).toThrow(/share a name/);
  });

  it("base64 round-trips bytes of every length modulo 3", () => {
    for (const length of [0, 1, 2, 3, 1000, 1001, 1002]) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 7919) % 256);
      expect(base64(bytes)).toBe(btoa(String.fromCharCode(...bytes)));
      expect(fromBase64(base64(bytes)).join()).toBe(bytes.join());
    }
  });
});

describe("constants and immediates", () => {
  /** The bytes of a module whose one function pushes the constant and drops it. */
  const constBytes = (op: "f32.const" | "f64.const", x: number) =>
    encodeModule({
      functions: [{ name: "c", params: [], results: [], locals: [], body: [[op, x], ["drop"]] }],
      exports: [],
      memory: { min: 1, max: 1 },
    }).bytes;
  const contains = (hay: Uint8Array, needle: number[]) =>
    hay.some((_, i) => needle.every((b, k) => hay[i + k] === b));

  it("writes NaN as the canonical quiet NaN, and -0 and infinities bit-exact", () => {
    expect(contains(constBytes("f32.const", NaN), [0x43, 0x00, 0x00, 0xc0, 0x7f])).toBe(true);
    expect(contains(constBytes("f32.const", -0), [0x43, 0x00, 0x00, 0x00, 0x80])).toBe(true);
    expect(contains(constBytes("f32.const", -Infinity), [0x43, 0x00, 0x00, 0x80, 0xff])).toBe(true);
    expect(contains(constBytes("f64.const", NaN), [0x44, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f])).toBe(true);
  });

  it("refuses immediates that are not integers of their width, instead of wrapping them", () => {
    expect(() => sleb(1.5)).toThrow(/not an i32 immediate: 1.5/);
    expect(() => sleb(2 ** 32)).toThrow(/not an i32 immediate/);
    expect(sleb(2 ** 32 - 1)).toEqual(sleb(-1));
    expect(() => sleb(2n ** 64n)).toThrow(/not an i64 immediate/);
    expect(sleb(2n ** 64n - 1n)).toEqual([0x7f]);
  });
});
