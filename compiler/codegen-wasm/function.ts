// Builds one kernel function `(lo: i32, hi: i32, scratch: i32) -> ()` of the
// WASM target: locals allocated by type (temporaries reused through a free
// list per type), an instruction list with a redirectable sink (so a printer
// can emit a loop body first and the invariants it hoists before it), loop
// and if helpers, and the reads of the memory header the runtime writes per
// call (common contract): dims D at byte 4*d, scan steps T at 128 + 4*s, the
// buffer table at 256 + 4*i. Each dim, step and buffer address is read once,
// in the function's prologue, into a local.

import { dimAsConst, dimVars, type Dim } from "../dims.ts";
import type { BufId } from "../kernel.ts";
import type { KernelContext } from "../backend.ts";
import { nonNegative } from "../scalar-print.ts";
import { sizeExpr } from "../size-expr.ts";
import {
  WASM_BUFFERS_AT,
  WASM_DIMS_AT,
  WASM_STEPS_AT,
  type SizeExpr,
} from "../../runtime/program.ts";
import type { Instr, ValType, WasmFunction } from "./instr.ts";

/** The kernel's parameters: the work items [lo, hi) and the thread's scratch address. */
export const LO = 0;
export const HI = 1;
export const SCRATCH = 2;

/** A dim as plan data (items, work), its run-time dims noted as used. */
export function sizeOf(d: Dim, ctx: KernelContext): SizeExpr {
  for (const v of dimVars(d)) ctx.used.add(v);
  return sizeExpr(d, ctx.dims);
}

export const get = (l: number): Instr => ["local.get", l];
export const set = (l: number): Instr => ["local.set", l];
export const tee = (l: number): Instr => ["local.tee", l];
export const i32 = (v: number): Instr => ["i32.const", v | 0];
/** i8x16.shuffle of two vectors by 32-bit lanes (0-3 the first, 4-7 the second). */
export const shuffle32 = (lanes: number[]): Instr => [
  "i8x16.shuffle",
  ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]),
];

export class FnBuilder {
  private readonly params: ValType[] = ["i32", "i32", "i32"];
  private readonly locals: ValType[] = [];
  private readonly free = new Map<ValType, number[]>();
  private readonly prologue: Instr[] = [];
  private sink: Instr[] = [];
  private readonly bufLocals = new Map<BufId, number>();
  private readonly dimLocals = new Map<string, number>();
  private readonly stepLocals = new Map<number, number>();
  private memLocal: number | undefined;

  constructor(readonly ctx: KernelContext) {}

  /** A fresh local of type `t`, for the function's whole life. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }

  /** A local of type `t` for a short while: `release` it when done, and it may be handed out again. */
  temp(t: ValType): number {
    return this.free.get(t)?.pop() ?? this.local(t);
  }

  release(l: number, t: ValType): void {
    const list = this.free.get(t) ?? [];
    list.push(l);
    this.free.set(t, list);
  }

  emit(...ins: Instr[]): void {
    for (const i of ins) this.sink.push(i);
  }

  /** What `f` emits, as a list (not emitted). */
  capture(f: () => void): Instr[] {
    const saved = this.sink;
    this.sink = [];
    try {
      f();
      return this.sink;
    } finally {
      this.sink = saved;
    }
  }

  /** The local holding buffer `b`'s byte address (read from the buffer table once). */
  buf(b: BufId): number {
    let l = this.bufLocals.get(b);
    if (l === undefined) {
      l = this.local("i32");
      this.bufLocals.set(b, l);
      this.prologue.push(i32(0), ["i32.load", WASM_BUFFERS_AT + 4 * b], set(l));
    }
    return l;
  }

  /** The local holding the memory's size in bytes (read once: memory only grows, between calls). */
  memEnd(): number {
    if (this.memLocal === undefined) {
      this.memLocal = this.local("i32");
      this.prologue.push(["memory.size"], i32(16), ["i32.shl"], set(this.memLocal));
    }
    return this.memLocal;
  }

  /** The local holding scan `s`'s current step (read from T once). */
  step(s: number): number {
    let l = this.stepLocals.get(s);
    if (l === undefined) {
      l = this.local("i32");
      this.stepLocals.set(s, l);
      this.prologue.push(i32(0), ["i32.load", WASM_STEPS_AT + 4 * s], set(l));
    }
    return l;
  }

  /** Pushes run-time size `d` (an i32): a constant, or a local the prologue computes from D. */
  dim(d: Dim): void {
    const c = dimAsConst(d);
    if (c !== null) return this.emit(i32(c));
    const key = JSON.stringify(d);
    let l = this.dimLocals.get(key);
    if (l === undefined) {
      const code = this.capture(() => this.dimCode(d));
      l = this.local("i32");
      this.dimLocals.set(key, l);
      this.prologue.push(...code, set(l));
    }
    this.emit(get(l));
  }

  /** `d` computed from D: sum of coeff * product of atoms, floor div/mod atoms. */
  private dimCode(d: Dim): void {
    for (const v of dimVars(d)) this.ctx.used.add(v);
    if (d.terms.length === 0) return this.emit(i32(0));
    d.terms.forEach((t, n) => {
      this.emit(i32(t.coeff));
      for (const a of t.atoms) {
        if (a.kind === "var") {
          const i = this.ctx.dims.indexOf(a.name);
          if (i < 0)
            throw new Error(
              `codegen-wasm: dimension ${a.name} is not a run-time dim of this program`,
            );
          this.emit(i32(0), ["i32.load", WASM_DIMS_AT + 4 * i]);
        } else {
          const nonNeg = nonNegative({ k: "dim", d: a.num });
          this.floorDivMod(
            a.kind,
            () => this.dimCode(a.num),
            () => this.dimCode(a.den),
            nonNeg,
          );
        }
        this.emit(["i32.mul"]);
      }
      if (n > 0) this.emit(["i32.add"]);
    });
  }

  /**
   * Floor division or floored remainder of `a` by `b` (each pushes an i32;
   * `b` > 0). `nonNeg`: `a` >= 0, so the truncating instruction agrees.
   */
  floorDivMod(kind: "div" | "mod", a: () => void, b: () => void, nonNeg: boolean): void {
    if (nonNeg) {
      a();
      b();
      return this.emit([kind === "div" ? "i32.div_s" : "i32.rem_s"]);
    }
    const [x, y, r] = [this.temp("i32"), this.temp("i32"), this.temp("i32")];
    a();
    this.emit(set(x));
    b();
    this.emit(set(y), get(x), get(y), ["i32.rem_s"], set(r));
    // The remainder's sign differs from the divisor's: floor is one lower, the remainder one divisor up.
    const off = (): void =>
      this.emit(
        get(r),
        i32(0),
        ["i32.ne"],
        get(r),
        get(y),
        ["i32.xor"],
        i32(0),
        ["i32.lt_s"],
        ["i32.and"],
      );
    if (kind === "div") {
      this.emit(get(x), get(y), ["i32.div_s"]);
      off();
      this.emit(["i32.sub"]);
    } else {
      this.emit(get(r), get(y), i32(0));
      off();
      this.emit(["select"], ["i32.add"]);
    }
    this.release(x, "i32");
    this.release(y, "i32");
    this.release(r, "i32");
  }

  /**
   * `for (i = from; i < to; i += step) body`, `from` and `to` pushing i32s
   * (`to` evaluated once, before the loop, into a local).
   */
  forLoop(i: number, from: () => void, to: () => void, body: () => void, step = 1): void {
    const end = this.local("i32");
    from();
    this.emit(set(i));
    to();
    this.emit(set(end));
    this.whileLoop(
      () => this.emit(get(i), get(end), ["i32.lt_s"]),
      () => {
        body();
        this.emit(get(i), i32(step), ["i32.add"], set(i));
      },
    );
  }

  /** Nested loops over `extents` (outer to inner), their indices in `idx` (fresh locals: returned), around `body`. */
  nest(extents: readonly Dim[], body: (idx: number[]) => void): number[] {
    const idx = extents.map(() => this.local("i32"));
    const level = (a: number): void => {
      if (a === extents.length) return body(idx);
      this.forLoop(
        idx[a]!,
        () => this.emit(i32(0)),
        () => this.dim(extents[a]!),
        () => level(a + 1),
      );
    };
    level(0);
    return idx;
  }

  /** Sets `idx` (locals) to the row-major multi-index of the i32 in local `l` over `extents`. */
  delinearize(l: number, extents: readonly Dim[], idx: readonly number[]): void {
    const rest = this.temp("i32");
    this.emit(get(l), set(rest));
    for (let a = extents.length - 1; a >= 0; a--) {
      if (a === 0) {
        this.emit(get(rest), set(idx[0]!));
        break;
      }
      this.emit(get(rest));
      this.dim(extents[a]!);
      this.emit(["i32.rem_u"], set(idx[a]!), get(rest));
      this.dim(extents[a]!);
      this.emit(["i32.div_u"], set(rest));
    }
    this.release(rest, "i32");
  }

  /**
   * for (r = LO; r < HI; r++) body, with `idx` r's multi-index over `extents`:
   * the first by division, the next ones by counting (odometer).
   */
  itemLoop(r: number, extents: readonly Dim[], idx: readonly number[], body: () => void): void {
    this.emit(get(LO), set(r));
    this.delinearize(r, extents, idx);
    this.forLoop(
      r,
      () => this.emit(get(LO)),
      () => this.emit(get(HI)),
      () => {
        body();
        this.odometer(extents, idx);
      },
    );
  }

  /** Advances the row-major multi-index in `idx` over `extents` by one (the last axis fastest, carries up). */
  odometer(extents: readonly Dim[], idx: readonly number[]): void {
    const step = (a: number): void => {
      if (a < 0) return;
      this.emit(get(idx[a]!), i32(1), ["i32.add"], set(idx[a]!));
      if (a === 0) return; // the first axis never wraps within [lo, hi)
      this.ifElse(
        () => {
          this.emit(get(idx[a]!));
          this.dim(extents[a]!);
          this.emit(["i32.eq"]);
        },
        () => {
          this.emit(i32(0), set(idx[a]!));
          step(a - 1);
        },
      );
    };
    step(extents.length - 1);
  }

  /** `while (cond) body`: `cond` pushes an i32 (nonzero: run the body). */
  whileLoop(cond: () => void, body: () => void): void {
    this.emit(["block"], ["loop"]);
    cond();
    this.emit(["i32.eqz"], ["br_if", 1]);
    body();
    this.emit(["br", 0], ["end"], ["end"]);
  }

  /** `if (cond) then else otherwise`; `cond` pushes an i32; `result` the arms' result type. */
  ifElse(cond: () => void, then: () => void, otherwise?: () => void, result?: ValType): void {
    cond();
    this.emit(result === undefined ? ["if"] : ["if", result]);
    then();
    if (otherwise) {
      this.emit(["else"]);
      otherwise();
    }
    this.emit(["end"]);
  }

  finish(name: string): WasmFunction {
    return {
      name,
      params: this.params,
      results: [],
      locals: this.locals,
      body: [...this.prologue, ...this.sink],
    };
  }
}
