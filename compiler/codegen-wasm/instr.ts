// The WebAssembly instructions dlg's kernels use, by their standard WAT
// mnemonic: opcode bytes, immediate kind, and operand and result types
// (encode.ts writes the bytes, wat.ts prints the text, the tests build a
// function per instruction from the types). `Mnemonic = keyof typeof ops`,
// so tsc rejects an instruction the table does not know.

export type ValType = "i32" | "i64" | "f32" | "f64" | "v128";

/**
 * One instruction: a mnemonic and its immediates. Memory ops `[op, offset]`
 * (natural alignment); `["block"|"loop"|"if", ValType?]`; `["br"|"br_if",
 * depth]`; `["local.get", index]`; `["call", functionName]`; consts their
 * value (`["v128.const", f0, f1, f2, f3]` as f32x4, or `["v128.const",
 * "i32x4", i0, i1, i2, i3]`); lane ops `[op, lane]`; `["i8x16.shuffle", ...16 lanes]`.
 */
export type Instr = readonly [op: Mnemonic, ...imm: (number | string)[]];

/** A function of the module: its locals are numbered after its params. */
export interface WasmFunction {
  name: string;
  params: readonly ValType[];
  results: readonly ValType[];
  locals: readonly ValType[];
  /** The instructions, without the function's final `end`. */
  body: readonly Instr[];
}

/**
 * What follows an opcode: nothing; a block type; a label depth; a local or
 * function; a constant; a memarg (natural alignment, offset); a lane; 16
 * shuffle lanes; a memory index (0x00, memory.size/grow/fill); two (memory.copy).
 */
export type ImmKind =
  | "none"
  | "block"
  | "label"
  | "local"
  | "func"
  | "i32"
  | "i64"
  | "f32"
  | "f64"
  | "v128"
  | "mem"
  | "lane"
  | "shuffle"
  | "memidx"
  | "memidx2";

export interface OpInfo {
  /** The opcode: a byte, or a prefixed op's index (written as LEB128 after the prefix). */
  readonly code: number;
  /** 0xfc (saturating truncations, bulk memory) or 0xfd (SIMD). */
  readonly prefix?: 0xfc | 0xfd;
  readonly imm: ImmKind;
  /** log2 of a memory op's natural alignment. */
  readonly align?: number;
  /** Operand and result types; null for control instructions (block, br, call...). */
  readonly sig: readonly [ins: readonly ValType[], outs: readonly ValType[]] | null;
  /** A relaxed-SIMD instruction: engines without relaxed SIMD reject it. */
  readonly relaxed?: true;
}

const T: Record<string, ValType> = { i: "i32", I: "i64", f: "f32", F: "f64", v: "v128" };

/** "vv>v": two v128 operands, one v128 result (i i32, I i64, f f32, F f64, v v128). */
function sigOf(s: string): OpInfo["sig"] {
  const [ins = "", outs = ""] = s.split(">");
  return [[...ins].map((c) => T[c]!), [...outs].map((c) => T[c]!)];
}

/** A one-byte MVP op. */
const op = (code: number, sig: string, imm: ImmKind = "none"): OpInfo => ({
  code,
  imm,
  sig: sigOf(sig),
});
const ctl = (code: number, imm: ImmKind = "none"): OpInfo => ({ code, imm, sig: null });
const mem = (code: number, align: number, sig: string): OpInfo => ({
  code,
  imm: "mem",
  align,
  sig: sigOf(sig),
});
/** A 0xfc-prefixed op (saturating truncations, bulk memory). */
const fc = (index: number, sig: string, imm: ImmKind = "none"): OpInfo => ({
  code: index,
  prefix: 0xfc,
  imm,
  sig: sigOf(sig),
});
/** A 0xfd-prefixed (SIMD) op. */
const simd = (index: number, sig: string, imm: ImmKind = "none"): OpInfo => ({
  code: index,
  prefix: 0xfd,
  imm,
  sig: sigOf(sig),
});
const vmem = (index: number, align: number, sig: string): OpInfo => ({
  ...simd(index, sig, "mem"),
  align,
});
const relaxed = (index: number, sig: string): OpInfo => ({ ...simd(index, sig), relaxed: true });

export const ops = {
  // Control. A function's body ends with an implicit `end` (encode.ts).
  unreachable: ctl(0x00),
  nop: ctl(0x01),
  block: ctl(0x02, "block"),
  loop: ctl(0x03, "block"),
  if: ctl(0x04, "block"),
  else: ctl(0x05),
  end: ctl(0x0b),
  br: ctl(0x0c, "label"),
  br_if: ctl(0x0d, "label"),
  return: ctl(0x0f),
  call: ctl(0x10, "func"),
  drop: ctl(0x1a),
  select: ctl(0x1b),

  "local.get": ctl(0x20, "local"),
  "local.set": ctl(0x21, "local"),
  "local.tee": ctl(0x22, "local"),

  // Memory: [op, offset], natural alignment.
  "i32.load": mem(0x28, 2, "i>i"),
  "i64.load": mem(0x29, 3, "i>I"),
  "f32.load": mem(0x2a, 2, "i>f"),
  "f64.load": mem(0x2b, 3, "i>F"),
  "i32.load8_s": mem(0x2c, 0, "i>i"),
  "i32.load8_u": mem(0x2d, 0, "i>i"),
  "i32.load16_s": mem(0x2e, 1, "i>i"),
  "i32.load16_u": mem(0x2f, 1, "i>i"),
  "i64.load32_s": mem(0x34, 2, "i>I"),
  "i64.load32_u": mem(0x35, 2, "i>I"),
  "i32.store": mem(0x36, 2, "ii>"),
  "i64.store": mem(0x37, 3, "iI>"),
  "f32.store": mem(0x38, 2, "if>"),
  "f64.store": mem(0x39, 3, "iF>"),
  "i32.store8": mem(0x3a, 0, "ii>"),
  "i32.store16": mem(0x3b, 1, "ii>"),
  "memory.size": op(0x3f, ">i", "memidx"),
  "memory.grow": op(0x40, "i>i", "memidx"),
  "memory.copy": fc(10, "iii>", "memidx2"),
  "memory.fill": fc(11, "iii>", "memidx"),

  "i32.const": op(0x41, ">i", "i32"),
  "i64.const": op(0x42, ">I", "i64"),
  "f32.const": op(0x43, ">f", "f32"),
  "f64.const": op(0x44, ">F", "f64"),

  "i32.eqz": op(0x45, "i>i"),
  "i32.eq": op(0x46, "ii>i"),
  "i32.ne": op(0x47, "ii>i"),
  "i32.lt_s": op(0x48, "ii>i"),
  "i32.lt_u": op(0x49, "ii>i"),
  "i32.gt_s": op(0x4a, "ii>i"),
  "i32.gt_u": op(0x4b, "ii>i"),
  "i32.le_s": op(0x4c, "ii>i"),
  "i32.le_u": op(0x4d, "ii>i"),
  "i32.ge_s": op(0x4e, "ii>i"),
  "i32.ge_u": op(0x4f, "ii>i"),
  "i64.eqz": op(0x50, "I>i"),
  "i64.eq": op(0x51, "II>i"),
  "i64.ne": op(0x52, "II>i"),
  "i64.lt_s": op(0x53, "II>i"),
  "i64.lt_u": op(0x54, "II>i"),
  "i64.gt_s": op(0x55, "II>i"),
  "i64.gt_u": op(0x56, "II>i"),
  "i64.le_s": op(0x57, "II>i"),
  "i64.le_u": op(0x58, "II>i"),
  "i64.ge_s": op(0x59, "II>i"),
  "i64.ge_u": op(0x5a, "II>i"),
  "f32.eq": op(0x5b, "ff>i"),
  "f32.ne": op(0x5c, "ff>i"),
  "f32.lt": op(0x5d, "ff>i"),
  "f32.gt": op(0x5e, "ff>i"),
  "f32.le": op(0x5f, "ff>i"),
  "f32.ge": op(0x60, "ff>i"),
  "f64.eq": op(0x61, "FF>i"),
  "f64.ne": op(0x62, "FF>i"),
  "f64.lt": op(0x63, "FF>i"),
  "f64.gt": op(0x64, "FF>i"),
  "f64.le": op(0x65, "FF>i"),
  "f64.ge": op(0x66, "FF>i"),

  "i32.clz": op(0x67, "i>i"),
  "i32.ctz": op(0x68, "i>i"),
  "i32.popcnt": op(0x69, "i>i"),
  "i32.add": op(0x6a, "ii>i"),
  "i32.sub": op(0x6b, "ii>i"),
  "i32.mul": op(0x6c, "ii>i"),
  "i32.div_s": op(0x6d, "ii>i"),
  "i32.div_u": op(0x6e, "ii>i"),
  "i32.rem_s": op(0x6f, "ii>i"),
  "i32.rem_u": op(0x70, "ii>i"),
  "i32.and": op(0x71, "ii>i"),
  "i32.or": op(0x72, "ii>i"),
  "i32.xor": op(0x73, "ii>i"),
  "i32.shl": op(0x74, "ii>i"),
  "i32.shr_s": op(0x75, "ii>i"),
  "i32.shr_u": op(0x76, "ii>i"),
  "i32.rotl": op(0x77, "ii>i"),
  "i32.rotr": op(0x78, "ii>i"),
  "i64.clz": op(0x79, "I>I"),
  "i64.ctz": op(0x7a, "I>I"),
  "i64.popcnt": op(0x7b, "I>I"),
  "i64.add": op(0x7c, "II>I"),
  "i64.sub": op(0x7d, "II>I"),
  "i64.mul": op(0x7e, "II>I"),
  "i64.div_s": op(0x7f, "II>I"),
  "i64.div_u": op(0x80, "II>I"),
  "i64.rem_s": op(0x81, "II>I"),
  "i64.rem_u": op(0x82, "II>I"),
  "i64.and": op(0x83, "II>I"),
  "i64.or": op(0x84, "II>I"),
  "i64.xor": op(0x85, "II>I"),
  "i64.shl": op(0x86, "II>I"),
  "i64.shr_s": op(0x87, "II>I"),
  "i64.shr_u": op(0x88, "II>I"),
  "i64.rotl": op(0x89, "II>I"),
  "i64.rotr": op(0x8a, "II>I"),
  "f32.abs": op(0x8b, "f>f"),
  "f32.neg": op(0x8c, "f>f"),
  "f32.ceil": op(0x8d, "f>f"),
  "f32.floor": op(0x8e, "f>f"),
  "f32.trunc": op(0x8f, "f>f"),
  "f32.nearest": op(0x90, "f>f"),
  "f32.sqrt": op(0x91, "f>f"),
  "f32.add": op(0x92, "ff>f"),
  "f32.sub": op(0x93, "ff>f"),
  "f32.mul": op(0x94, "ff>f"),
  "f32.div": op(0x95, "ff>f"),
  "f32.min": op(0x96, "ff>f"),
  "f32.max": op(0x97, "ff>f"),
  "f32.copysign": op(0x98, "ff>f"),
  "f64.abs": op(0x99, "F>F"),
  "f64.neg": op(0x9a, "F>F"),
  "f64.ceil": op(0x9b, "F>F"),
  "f64.floor": op(0x9c, "F>F"),
  "f64.trunc": op(0x9d, "F>F"),
  "f64.nearest": op(0x9e, "F>F"),
  "f64.sqrt": op(0x9f, "F>F"),
  "f64.add": op(0xa0, "FF>F"),
  "f64.sub": op(0xa1, "FF>F"),
  "f64.mul": op(0xa2, "FF>F"),
  "f64.div": op(0xa3, "FF>F"),
  "f64.min": op(0xa4, "FF>F"),
  "f64.max": op(0xa5, "FF>F"),
  "f64.copysign": op(0xa6, "FF>F"),

  // Conversions and reinterpretations.
  "i32.wrap_i64": op(0xa7, "I>i"),
  "i32.trunc_f32_s": op(0xa8, "f>i"),
  "i32.trunc_f32_u": op(0xa9, "f>i"),
  "i32.trunc_f64_s": op(0xaa, "F>i"),
  "i32.trunc_f64_u": op(0xab, "F>i"),
  "i64.extend_i32_s": op(0xac, "i>I"),
  "i64.extend_i32_u": op(0xad, "i>I"),
  "i64.trunc_f32_s": op(0xae, "f>I"),
  "i64.trunc_f64_s": op(0xb0, "F>I"),
  "f32.convert_i32_s": op(0xb2, "i>f"),
  "f32.convert_i32_u": op(0xb3, "i>f"),
  "f32.convert_i64_s": op(0xb4, "I>f"),
  "f32.convert_i64_u": op(0xb5, "I>f"),
  "f32.demote_f64": op(0xb6, "F>f"),
  "f64.convert_i32_s": op(0xb7, "i>F"),
  "f64.convert_i32_u": op(0xb8, "i>F"),
  "f64.convert_i64_s": op(0xb9, "I>F"),
  "f64.convert_i64_u": op(0xba, "I>F"),
  "f64.promote_f32": op(0xbb, "f>F"),
  "i32.reinterpret_f32": op(0xbc, "f>i"),
  "i64.reinterpret_f64": op(0xbd, "F>I"),
  "f32.reinterpret_i32": op(0xbe, "i>f"),
  "f64.reinterpret_i64": op(0xbf, "I>F"),
  "i32.extend8_s": op(0xc0, "i>i"),
  "i32.extend16_s": op(0xc1, "i>i"),
  "i32.trunc_sat_f32_s": fc(0, "f>i"),
  "i32.trunc_sat_f32_u": fc(1, "f>i"),
  "i32.trunc_sat_f64_s": fc(2, "F>i"),
  "i32.trunc_sat_f64_u": fc(3, "F>i"),

  // SIMD memory and constants.
  "v128.load": vmem(0, 4, "i>v"),
  "v128.load8x8_s": vmem(1, 3, "i>v"),
  "v128.load8x8_u": vmem(2, 3, "i>v"),
  "v128.load16x4_s": vmem(3, 3, "i>v"),
  "v128.load16x4_u": vmem(4, 3, "i>v"),
  "v128.load32x2_s": vmem(5, 3, "i>v"),
  "v128.load32x2_u": vmem(6, 3, "i>v"),
  "v128.load8_splat": vmem(7, 0, "i>v"),
  "v128.load16_splat": vmem(8, 1, "i>v"),
  "v128.load32_splat": vmem(9, 2, "i>v"),
  "v128.load64_splat": vmem(10, 3, "i>v"),
  "v128.store": vmem(11, 4, "iv>"),
  "v128.load32_zero": vmem(92, 2, "i>v"),
  "v128.load64_zero": vmem(93, 3, "i>v"),
  "v128.const": simd(12, ">v", "v128"),
  "i8x16.shuffle": simd(13, "vv>v", "shuffle"),
  "i8x16.swizzle": simd(14, "vv>v"),

  // Splats and lanes.
  "i8x16.splat": simd(15, "i>v"),
  "i16x8.splat": simd(16, "i>v"),
  "i32x4.splat": simd(17, "i>v"),
  "i64x2.splat": simd(18, "I>v"),
  "f32x4.splat": simd(19, "f>v"),
  "f64x2.splat": simd(20, "F>v"),
  "i8x16.extract_lane_s": simd(21, "v>i", "lane"),
  "i8x16.extract_lane_u": simd(22, "v>i", "lane"),
  "i8x16.replace_lane": simd(23, "vi>v", "lane"),
  "i16x8.extract_lane_s": simd(24, "v>i", "lane"),
  "i16x8.extract_lane_u": simd(25, "v>i", "lane"),
  "i16x8.replace_lane": simd(26, "vi>v", "lane"),
  "i32x4.extract_lane": simd(27, "v>i", "lane"),
  "i32x4.replace_lane": simd(28, "vi>v", "lane"),
  "i64x2.extract_lane": simd(29, "v>I", "lane"),
  "i64x2.replace_lane": simd(30, "vI>v", "lane"),
  "f32x4.extract_lane": simd(31, "v>f", "lane"),
  "f32x4.replace_lane": simd(32, "vf>v", "lane"),
  "f64x2.extract_lane": simd(33, "v>F", "lane"),
  "f64x2.replace_lane": simd(34, "vF>v", "lane"),

  // SIMD comparisons: all-ones lanes where true.
  "i8x16.eq": simd(35, "vv>v"),
  "i8x16.ne": simd(36, "vv>v"),
  "i32x4.eq": simd(55, "vv>v"),
  "i32x4.ne": simd(56, "vv>v"),
  "i32x4.lt_s": simd(57, "vv>v"),
  "i32x4.lt_u": simd(58, "vv>v"),
  "i32x4.gt_s": simd(59, "vv>v"),
  "i32x4.gt_u": simd(60, "vv>v"),
  "i32x4.le_s": simd(61, "vv>v"),
  "i32x4.le_u": simd(62, "vv>v"),
  "i32x4.ge_s": simd(63, "vv>v"),
  "i32x4.ge_u": simd(64, "vv>v"),
  "f32x4.eq": simd(65, "vv>v"),
  "f32x4.ne": simd(66, "vv>v"),
  "f32x4.lt": simd(67, "vv>v"),
  "f32x4.gt": simd(68, "vv>v"),
  "f32x4.le": simd(69, "vv>v"),
  "f32x4.ge": simd(70, "vv>v"),
  "f64x2.eq": simd(71, "vv>v"),
  "f64x2.ne": simd(72, "vv>v"),
  "f64x2.lt": simd(73, "vv>v"),
  "f64x2.gt": simd(74, "vv>v"),
  "f64x2.le": simd(75, "vv>v"),
  "f64x2.ge": simd(76, "vv>v"),

  // Bitwise.
  "v128.not": simd(77, "v>v"),
  "v128.and": simd(78, "vv>v"),
  "v128.andnot": simd(79, "vv>v"),
  "v128.or": simd(80, "vv>v"),
  "v128.xor": simd(81, "vv>v"),
  "v128.bitselect": simd(82, "vvv>v"),
  "v128.any_true": simd(83, "v>i"),

  "f32x4.demote_f64x2_zero": simd(94, "v>v"),
  "f64x2.promote_low_f32x4": simd(95, "v>v"),
  "f32x4.ceil": simd(103, "v>v"),
  "f32x4.floor": simd(104, "v>v"),
  "f32x4.trunc": simd(105, "v>v"),
  "f32x4.nearest": simd(106, "v>v"),
  "i8x16.all_true": simd(99, "v>i"),
  "i8x16.bitmask": simd(100, "v>i"),

  // i32x4 arithmetic (shifts take an i32 count).
  "i32x4.abs": simd(160, "v>v"),
  "i32x4.neg": simd(161, "v>v"),
  "i32x4.all_true": simd(163, "v>i"),
  "i32x4.bitmask": simd(164, "v>i"),
  "i32x4.shl": simd(171, "vi>v"),
  "i32x4.shr_s": simd(172, "vi>v"),
  "i32x4.shr_u": simd(173, "vi>v"),
  "i32x4.add": simd(174, "vv>v"),
  "i32x4.sub": simd(177, "vv>v"),
  "i32x4.mul": simd(181, "vv>v"),
  "i32x4.min_s": simd(182, "vv>v"),
  "i32x4.min_u": simd(183, "vv>v"),
  "i32x4.max_s": simd(184, "vv>v"),
  "i32x4.max_u": simd(185, "vv>v"),
  "i64x2.add": simd(206, "vv>v"),
  "i64x2.sub": simd(209, "vv>v"),
  "i64x2.mul": simd(213, "vv>v"),

  // f32x4 and f64x2 arithmetic.
  "f32x4.abs": simd(224, "v>v"),
  "f32x4.neg": simd(225, "v>v"),
  "f32x4.sqrt": simd(227, "v>v"),
  "f32x4.add": simd(228, "vv>v"),
  "f32x4.sub": simd(229, "vv>v"),
  "f32x4.mul": simd(230, "vv>v"),
  "f32x4.div": simd(231, "vv>v"),
  "f32x4.min": simd(232, "vv>v"),
  "f32x4.max": simd(233, "vv>v"),
  "f32x4.pmin": simd(234, "vv>v"),
  "f32x4.pmax": simd(235, "vv>v"),
  "f64x2.abs": simd(236, "v>v"),
  "f64x2.neg": simd(237, "v>v"),
  "f64x2.sqrt": simd(239, "v>v"),
  "f64x2.add": simd(240, "vv>v"),
  "f64x2.sub": simd(241, "vv>v"),
  "f64x2.mul": simd(242, "vv>v"),
  "f64x2.div": simd(243, "vv>v"),
  "f64x2.min": simd(244, "vv>v"),
  "f64x2.max": simd(245, "vv>v"),

  // SIMD conversions.
  "i32x4.trunc_sat_f32x4_s": simd(248, "v>v"),
  "i32x4.trunc_sat_f32x4_u": simd(249, "v>v"),
  "f32x4.convert_i32x4_s": simd(250, "v>v"),
  "f32x4.convert_i32x4_u": simd(251, "v>v"),

  // Relaxed SIMD: madd = a * b + c, nmadd = -(a * b) + c, fused or not as the engine likes.
  "f32x4.relaxed_madd": relaxed(0x105, "vvv>v"),
  "f32x4.relaxed_nmadd": relaxed(0x106, "vvv>v"),
} satisfies Record<string, OpInfo>;

export type Mnemonic = keyof typeof ops;

/** The table, typed as OpInfo for lookups by a Mnemonic. */
export const opInfo: Readonly<Record<Mnemonic, OpInfo>> = ops;
