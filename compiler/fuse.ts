// Graph IR -> kernel IR. Decides which values live in buffers ("materialised")
// and folds everything else into the kernels that read it:
//   - elementwise chains become one map kernel;
//   - movement ops (reshape, transpose, broadcast, slice, pad, concat, gather)
//     become index arithmetic in the loads of their consumers;
//   - reductions take their elementwise producers as input fusion;
//   - matmul reads buffers directly, folding a transpose of its operand into a
//     transposed variant and a reshape into nothing, and absorbs a chain of
//     same-shape elementwise consumers (bias add, activation) as its epilogue.
// A value is materialised when it is a graph output, the result of a
// reduction/matmul/scatter, used by several consumers (unless recomputing it
// is trivial), or read more than once per element by a broadcasting or
// gathering consumer: fusion never duplicates non-trivial work. What each
// primitive lowers to (its element, or kernels of its own) is the table in
// fuse/lower.ts; this file decides what is stored and assembles the kernels.

import { dimAsConst, dimEq, numElements, shapeEq, type Dim } from "./dims.ts";
import { scansAlongAxis0 } from "./autodiff/scan-layout.ts";
import { lowerWindow, matmulOperands, type WindowLowering } from "./fuse/window.ts";
import { hasKernels, lowerElem, ownKernels, type Lowerer } from "./fuse/lower.ts";
import { broadcastIndex } from "./fuse/movement.ts";
import { splitWideKernels } from "./fuse/split.ts";
import type { FusionLog } from "./fuse/explain.ts";
import {
  binaryOps,
  compareOps,
  isWindow,
  unaryOps,
  type Eqn,
  type Graph,
  type Op,
  type Var,
  type WindowOp,
} from "./ir.ts";
import {
  delinearize,
  iadd,
  iconst,
  idim,
  iloop,
  imul,
  ired,
  linearize,
  lit,
  type BufId,
  type BufferDecl,
  type IExpr,
  type Kernel,
  type KernelProgram,
  type KernelSource,
  type MatmulOperand,
  type SExpr,
} from "./kernel.ts";

export interface LowerOptions {
  /** false: one kernel per primitive (the baseline fusion is tested against). */
  fuse?: boolean;
  /**
   * How scatter_add (and the window ops' transposes) lower: "serial" as one
   * scatter kernel adding each update into place (cheapest when one thread
   * runs it), "gather" as a reduction in which each output element sums the
   * updates that land on it (parallel and deterministic: WebGPU). Default serial.
   */
  scatter?: "serial" | "gather";
  /**
   * The most buffers one kernel may bind, its output included (WebGPU: 8
   * storage buffers per stage); a kernel fusion made wider is split
   * (fuse/split.ts). Default: no limit.
   */
  maxStorageBuffers?: number;
}

/** Above this many arithmetic nodes an inlined value gets its own buffer, to bound kernel size. */
const MAX_INLINE_COST = 48;
/** Values this cheap may be recomputed by several consumers instead of stored. */
const DUPLICABLE_COST = 1;

const elementwiseOps = new Set<Op>([
  ...unaryOps,
  ...binaryOps,
  ...compareOps,
  "select",
  "cast",
  "stop_gradient",
]);

/** Why an op with kernels of its own stores its result (its readers cannot fuse it). */
function ownKernelReason(op: Op): string {
  if (op === "matmul") return "a matmul's result";
  if (op === "scatter_add") return "a scatter's result";
  if (isWindow(op)) return `the result of ${op}, a kernel of its own`;
  return "a reduction's result";
}

/** Why a matmul gets no epilogue: the chain of its consumers reaches `c`, which cannot join it. */
function epilogueStop(c: Eqn | undefined): string {
  if (!c) return "no epilogue: nothing reads the product";
  if (!elementwiseOps.has(c.op)) return `no epilogue: its consumer ${c.op} is not elementwise`;
  return `no epilogue: its consumer ${c.op} changes the shape`;
}

function isLastTwoSwap(perm: readonly number[]): boolean {
  const r = perm.length;
  return (
    r >= 2 && perm.every((p, i) => (i < r - 2 ? p === i : p === (i === r - 2 ? r - 1 : r - 2)))
  );
}

/** True when reading `from` broadcast to `to` reads some element more than once. */
function expands(from: readonly Dim[], to: readonly Dim[]): boolean {
  if (from.length < to.length)
    return to.slice(0, to.length - from.length).some((d) => dimAsConst(d) !== 1);
  return from.some((d, i) => dimAsConst(d) === 1 && dimAsConst(to[i]!) !== 1);
}

/** The equations kernels name (`src`), one entry each, shared by an entry and its scan bodies. */
class Sources {
  readonly list: KernelSource[] = [];
  private readonly ids = new Map<Eqn, number>();

  of(e: Eqn): number {
    let id = this.ids.get(e);
    if (id === undefined) {
      id = this.list.length;
      this.list.push({
        op: e.op,
        ...(e.outs[0]?.hint !== undefined && { name: e.outs[0].hint }),
        ...(e.vjpOf && { vjpOf: e.vjpOf }),
        ...(e.file !== undefined && { file: e.file }),
        ...(e.span && { span: { start: e.span.start, end: e.span.end } }),
      });
      this.ids.set(e, id);
    }
    return id;
  }
}

/** Where a value lives: a buffer, at an element offset when it is one step's slice of a stack. */
interface Slot {
  buf: BufId;
  at?: IExpr;
}

class Lowering implements Lowerer {
  private readonly def = new Map<number, Eqn>();
  private readonly uses = new Map<number, number>();
  private readonly live = new Set<number>();
  /** Vars with a buffer: graph inputs and materialised values. */
  private readonly buffered = new Set<number>();
  private readonly cost = new Map<number, number>();
  /** Materialised var -> the matmul whose epilogue computes it. */
  private readonly epilogueOf = new Map<number, Var>();
  private readonly fusedMatmuls = new Set<number>();
  private readonly bufOf = new Map<number, BufId>();
  readonly buffers: BufferDecl[];
  readonly kernels: Kernel[] = [];
  private readonly sources: Sources;

  // Per-kernel context for elem(): the domain whose identity index prints as `lin`.
  private domain: readonly Dim[] = [];
  private accVar: Var | null = null;

  private readonly fuse: boolean;
  /** Numbers the scans of the whole entry, nested ones included (their `iter` names them). */
  private readonly scans: { next: number };
  /** Vars stored inside another buffer at an element offset: a scan step's input or output slot. */
  private readonly offsetOf = new Map<number, IExpr>();
  /** Whole-buffer copies of offset vars, for consumers that need a buffer of their own. */
  private readonly wholeOf = new Map<number, BufId>();

  constructor(
    private readonly g: Graph,
    private readonly opts: Required<LowerOptions>,
    /** A scan body: buffers shared with the enclosing entry, inputs and outputs already bound. */
    private readonly bound?: {
      buffers: BufferDecl[];
      sources: Sources;
      scans: { next: number };
      ins: Slot[];
      outs: Slot[];
    },
    /** Where `dlg dump --explain` learns what was fused and why (it changes nothing). */
    private readonly log?: FusionLog,
  ) {
    this.fuse = opts.fuse;
    this.buffers = bound?.buffers ?? [];
    this.sources = bound?.sources ?? new Sources();
    this.scans = bound?.scans ?? { next: 0 };
  }

  run(): KernelProgram {
    this.analyse();
    this.decide();
    this.g.inputs.forEach((v, slot) => {
      const given = this.bound?.ins[slot];
      if (given?.at !== undefined) this.offsetOf.set(v.id, given.at);
      if (!this.bufOf.has(v.id))
        this.bufOf.set(v.id, given?.buf ?? this.newBuffer(v, { kind: "in", slot }));
    });
    // Graph outputs write straight into their out buffers; an output that is
    // a graph input, or a var already bound to another output, gets a copy.
    const outBuf = new Map<number, Slot>();
    const copies: { v: Var; out: Slot }[] = [];
    this.g.outputs.forEach((v, slot) => {
      const out = this.bound?.outs[slot] ?? { buf: this.newBuffer(v, { kind: "out", slot }) };
      // A scan's output and a var stored at an offset need a kernel of their own.
      const own = this.def.has(v.id) && !(this.def.get(v.id)!.op === "scan" && out.at);
      if (own && !outBuf.has(v.id)) outBuf.set(v.id, out);
      else copies.push({ v, out });
    });
    for (const e of this.g.eqns) {
      if (e.op === "scan") {
        if (this.isLive(e)) {
          const k = this.scanKernel(e, outBuf);
          this.kernels.push(k);
          this.log?.built(e, [k]);
        }
        continue;
      }
      const v = e.outs[0]!;
      if (!this.live.has(v.id) || !this.buffered.has(v.id) || this.fusedMatmuls.has(v.id)) continue;
      const out = outBuf.get(v.id) ?? { buf: this.newBuffer(v, { kind: "temp" }) };
      this.bufOf.set(v.id, out.buf);
      if (out.at !== undefined) this.offsetOf.set(v.id, out.at);
      // A window op's helper kernels (pushed by kernelFor) compute the same equation.
      const first = this.kernels.length;
      this.log?.begin();
      const k = this.kernelFor(e, out.buf);
      if (out.at !== undefined && k.kind !== "scan") k.outAt = out.at;
      this.kernels.push(k);
      const src = this.sources.of(e);
      for (const k of this.kernels.slice(first)) k.src = src;
      this.log?.built(e, this.kernels.slice(first));
    }
    for (const { v, out } of copies) {
      this.domain = v.type.shape;
      this.log?.begin();
      this.kernels.push({
        kind: "map",
        out: out.buf,
        ...(out.at !== undefined && { outAt: out.at }),
        shape: v.type.shape,
        body: this.elem(v, this.loops(v.type.shape.length)),
      });
      this.log?.built(null, this.kernels.slice(-1));
    }
    return { buffers: this.buffers, kernels: this.kernels, sources: this.sources.list };
  }

  /**
   * A buffer holding exactly `v`: its own, or for a var stored at an offset
   * (a scan step's slice) a copy, made once, for consumers that take whole
   * buffers (window ops' matmuls, a nested scan's carries).
   */
  private wholeBuffer(v: Var): BufId {
    const b = this.bufOf.get(v.id)!;
    const at = this.offsetOf.get(v.id);
    if (at === undefined) return b;
    let copy = this.wholeOf.get(v.id);
    if (copy === undefined) {
      copy = this.newBuffer(v, { kind: "temp" });
      const n = numElements(v.type.shape);
      this.kernels.push({
        kind: "map",
        out: copy,
        shape: [n],
        body: { k: "load", buf: b, index: iadd(at, iloop(0)), dtype: v.type.dtype },
      });
      this.wholeOf.set(v.id, copy);
    }
    return copy;
  }

  private newBuffer(v: Var, role: BufferDecl["role"]): BufId {
    const id = this.buffers.length;
    this.buffers.push({ id, dtype: v.type.dtype, shape: v.type.shape, role });
    this.log?.buffer(id, v);
    return id;
  }

  /** Definitions, liveness (from the outputs back) and use counts among live equations. */
  private analyse(): void {
    for (const e of this.g.eqns) {
      if (e.outs.length !== 1 && e.op !== "scan")
        throw new Error(`fuse: ${e.op} with ${e.outs.length} outputs is not supported`);
      for (const v of e.outs) this.def.set(v.id, e);
    }
    for (const v of this.g.outputs) this.live.add(v.id);
    for (let i = this.g.eqns.length - 1; i >= 0; i--) {
      const e = this.g.eqns[i]!;
      if (!this.isLive(e)) continue;
      for (const x of e.inputs) {
        this.live.add(x.id);
        this.uses.set(x.id, (this.uses.get(x.id) ?? 0) + 1);
      }
    }
    for (const v of this.g.outputs) this.uses.set(v.id, (this.uses.get(v.id) ?? 0) + 1);
    for (const v of this.g.inputs) this.buffered.add(v.id);
  }

  /** Whether some output of `e` is needed (a scan is live when any of its outputs is). */
  private isLive(e: Eqn): boolean {
    return e.outs.some((v) => this.live.has(v.id));
  }

  /** Give `v` a buffer; `why` says so for the explain log. */
  private materialise(v: Var, why: string): void {
    this.log?.store(v, why);
    this.buffered.add(v.id);
    this.cost.set(v.id, 0);
  }

  private costOf(v: Var): number {
    return this.buffered.has(v.id) ? 0 : (this.cost.get(v.id) ?? 0);
  }

  /** Pass 1: walk equations in order and decide what gets a buffer. */
  private decide(): void {
    for (const v of this.g.outputs) if (this.def.has(v.id)) this.materialise(v, "a graph output");
    for (const e of this.g.eqns) {
      const out = e.outs[0]!;
      if (e.op === "scan") {
        // A loop of kernels: it reads and writes whole buffers.
        if (this.isLive(e))
          [...e.inputs, ...e.outs].forEach((v) =>
            this.materialise(v, "read or written whole by a scan"),
          );
        continue;
      }
      if (!this.live.has(out.id)) continue;
      if (!this.fuse || hasKernels(e.op)) {
        this.materialise(out, this.fuse ? ownKernelReason(e.op) : "fusion is off");
        // Window ops read their matmul operands as stored matrices, and every
        // other input once per window tap, so nothing costly is recomputed.
        if (isWindow(e.op))
          e.inputs.forEach((x, k) => {
            const stored = matmulOperands(e.op).includes(k);
            if (stored ? !this.buffered.has(x.id) : this.costOf(x) > 0)
              this.materialise(
                x,
                stored
                  ? `${e.op} reads it as a stored matrix`
                  : `${e.op} reads it once per window tap`,
              );
          });
        if (e.op === "matmul" && this.fuse) for (const x of e.inputs) this.ensureView(x);
        // Scatter reads each index once per element of the update (embedding gradients).
        if (e.op === "scatter_add" && this.costOf(e.inputs[1]!) > 0)
          this.materialise(e.inputs[1]!, "scatter_add reads each index once per update element");
        // Gathering, each update is read once per index value it could hit.
        if (
          e.op === "scatter_add" &&
          this.opts.scatter === "gather" &&
          this.costOf(e.inputs[0]!) > 0
        )
          this.materialise(
            e.inputs[0]!,
            "a gathering scatter_add reads each update once per index value",
          );
        continue;
      }
      // A consumer that reads some input element more than once must not recompute it.
      e.inputs.forEach((x, k) => {
        const duplicating =
          (e.op === "gather" && k === 0) ||
          e.op === "random" ||
          ((elementwiseOps.has(e.op) || e.op === "broadcast") &&
            expands(x.type.shape, out.type.shape));
        if (duplicating && this.costOf(x) > 0)
          this.materialise(x, `${e.op} would recompute it for several of its elements`);
        // Gather indices are read twice (bounds check and address).
        if (e.op === "gather" && k === 1 && this.costOf(x) > 0)
          this.materialise(x, "gather reads its indices twice (bounds check and address)");
      });
      // What recomputing one element of this op costs on top of its inputs.
      const own =
        e.op === "random"
          ? 4
          : e.op === "stop_gradient"
            ? 0
            : elementwiseOps.has(e.op) || e.op === "pad" || e.op === "concat" || e.op === "gather"
              ? 1
              : 0;
      const c = own + e.inputs.reduce((s, x) => s + this.costOf(x), 0);
      this.cost.set(out.id, c);
      const uses = this.uses.get(out.id) ?? 0;
      if (this.buffered.has(out.id) || c > MAX_INLINE_COST || (uses > 1 && c > DUPLICABLE_COST))
        this.materialise(
          out,
          c > MAX_INLINE_COST
            ? `inlining would cost ${c} ops per element (more than ${MAX_INLINE_COST})`
            : `it has ${uses} consumers and costs ${c} ops per element to recompute`,
        );
    }
    if (this.fuse) this.fuseEpilogues();
  }

  /**
   * Make `v` readable as a plain or transposed buffer by a matmul: follow
   * reshapes and last-two-axes transposes down to a buffered var,
   * materialising where the chain cannot be folded. Returns whether the view
   * is transposed.
   */
  private ensureView(v: Var): boolean {
    if (this.buffered.has(v.id)) return false;
    const e = this.def.get(v.id);
    if (e?.op === "reshape") {
      if (!this.ensureView(e.inputs[0]!)) return false;
    } else if (e?.op === "transpose" && isLastTwoSwap(e.params.perm)) {
      return !this.ensureView(e.inputs[0]!);
    }
    this.materialise(v, "a matmul operand (a matmul reads stored matrices)");
    return false;
  }

  private viewOf(v: Var): { buf: BufId; transposed: boolean; at?: IExpr } {
    const b = this.bufOf.get(v.id);
    if (b !== undefined && this.buffered.has(v.id)) {
      const at = this.offsetOf.get(v.id);
      return { buf: b, transposed: false, ...(at !== undefined && { at }) };
    }
    const e = this.def.get(v.id);
    if (e?.op === "reshape" || e?.op === "transpose") this.log?.inlined(e);
    if (e?.op === "reshape") return this.viewOf(e.inputs[0]!);
    if (e?.op === "transpose") {
      const r = this.viewOf(e.inputs[0]!);
      return { ...r, transposed: !r.transposed };
    }
    throw new Error(`fuse: matmul operand ${v.id} has no buffer`);
  }

  /**
   * Pass 2: a matmul whose only consumer starts a chain of single-use,
   * same-shape elementwise ops ending in a materialised value computes that
   * value in its epilogue instead of storing its own result.
   */
  private fuseEpilogues(): void {
    const consumer = new Map<number, Eqn>();
    for (const e of this.g.eqns)
      if (this.isLive(e)) for (const x of e.inputs) consumer.set(x.id, e);
    const outputs = new Set(this.g.outputs.map((v) => v.id));
    for (const e of this.g.eqns) {
      const m = e.outs[0]!;
      if (e.op !== "matmul" || !this.live.has(m.id)) continue;
      if (outputs.has(m.id) || this.uses.get(m.id) !== 1) {
        this.log?.epilogue.set(
          m.id,
          outputs.has(m.id)
            ? "no epilogue: the product is a graph output"
            : `no epilogue: the product has ${this.uses.get(m.id)} consumers`,
        );
        continue;
      }
      let cur = m;
      for (;;) {
        const c = consumer.get(cur.id);
        if (!c || !elementwiseOps.has(c.op) || !shapeEq(c.outs[0]!.type.shape, m.type.shape)) {
          this.log?.epilogue.set(m.id, epilogueStop(c));
          break;
        }
        const next = c.outs[0]!;
        if (this.buffered.has(next.id)) {
          if (this.epilogueOf.has(next.id)) {
            this.log?.epilogue.set(m.id, `no epilogue: ${c.op} is another matmul's epilogue`);
            break;
          }
          this.epilogueOf.set(next.id, m);
          this.fusedMatmuls.add(m.id);
          this.buffered.delete(m.id);
          break;
        }
        if (this.uses.get(next.id) !== 1) {
          this.log?.epilogue.set(
            m.id,
            `no epilogue: the value of its consumer ${c.op} has ${this.uses.get(next.id)} consumers`,
          );
          break;
        }
        cur = next;
      }
    }
  }

  private loops(n: number, from = 0): IExpr[] {
    return Array.from({ length: n }, (_, i) => iloop(from + i));
  }

  /** Linear index of `idx` in `shape`; `lin` when it is the current domain's own element. */
  linIndex(shape: readonly Dim[], idx: readonly IExpr[]): IExpr {
    const identity =
      shape.length === this.domain.length &&
      shape.every((d, a) => dimEq(d, this.domain[a]!)) &&
      idx.every((x, a) => x.k === "loop" && x.i === a);
    return identity ? { k: "lin" } : linearize(shape, idx);
  }

  private load(v: Var, index: IExpr): SExpr {
    const at = this.offsetOf.get(v.id);
    return {
      k: "load",
      buf: this.bufOf.get(v.id)!,
      index: at === undefined ? index : iadd(at, index),
      dtype: v.type.dtype,
    };
  }

  /** Element `idx` of `v`, as a scalar expression over buffer loads. */
  elem(v: Var, idx: readonly IExpr[]): SExpr {
    if (this.accVar && v.id === this.accVar.id) {
      if (!idx.every((x, a) => x.k === "loop" && x.i === a))
        throw new Error("fuse: a matmul epilogue must read its accumulator at its own element");
      return { k: "acc", dtype: v.type.dtype };
    }
    if (this.buffered.has(v.id)) return this.load(v, this.linIndex(v.type.shape, idx));
    const e = this.def.get(v.id);
    if (!e) throw new Error(`fuse: var ${v.id} has no definition`);
    this.log?.inlined(e);
    return lowerElem(e, idx, this);
  }

  /** Element at linear index `l` of `v`: skips delinearising when `v` is stored or a reshape. */
  elemLinear(v: Var, l: IExpr): SExpr {
    if (this.buffered.has(v.id) && !(this.accVar && v.id === this.accVar.id))
      return this.load(v, l);
    const e = this.def.get(v.id);
    if (e?.op === "reshape" || e?.op === "stop_gradient") {
      this.log?.inlined(e);
      return this.elemLinear(e.inputs[0]!, l);
    }
    return this.elem(v, delinearize(v.type.shape, l));
  }

  /**
   * A scan as one loop kernel: its body lowered on its own into kernels over
   * this entry's buffers, reading consts in place, the carries from `cur`
   * and step t of each scanned input at offset t * n of its stacked buffer;
   * writing the next carries into `next` and step t of each stacked output
   * at offset t * n.
   */
  private scanKernel(e: Eqn<"scan">, outBuf: Map<number, Slot>): Kernel {
    const p = e.params;
    const { body, nConsts, nCarry } = p;
    const id = this.scans.next++;
    const t: IExpr = { k: "iter", scan: id };
    const bufFor = (v: Var) => {
      const b = outBuf.get(v.id)?.buf ?? this.newBuffer(v, { kind: "temp" });
      this.bufOf.set(v.id, b);
      return b;
    };
    // Consts and scanned inputs are read through loads, so a slice of an
    // enclosing scan's input is read in place; carries' inits are copied whole.
    const slot = (v: Var): Slot => {
      const at = this.offsetOf.get(v.id);
      return { buf: this.bufOf.get(v.id)!, ...(at !== undefined && { at }) };
    };
    const consts = e.inputs.slice(0, nConsts).map(slot);
    const inits = e.inputs.slice(nConsts, nConsts + nCarry).map((v) => this.wholeBuffer(v));
    const xs = e.inputs.slice(nConsts + nCarry);
    const carryIn = body.inputs.slice(nConsts, nConsts + nCarry);
    const cur = carryIn.map((v) => this.newBuffer(v, { kind: "temp" }));
    const next = carryIn.map((v) => this.newBuffer(v, { kind: "temp" }));
    const xsIn = body.inputs.slice(nConsts + nCarry);
    const ysOut = body.outputs.slice(nCarry);
    const stepAt = (base: IExpr | undefined, v: Var) =>
      iadd(base ?? iconst(0), imul(t, idim(numElements(v.type.shape))));
    const xSlots = xs.map((v, i): Slot => {
      const s = slot(v);
      return { buf: s.buf, at: stepAt(s.at, xsIn[i]!) };
    });
    // Every ys gets storage, read or not: the body writes each step's value there.
    const stacks = e.outs.slice(nCarry).map(bufFor);
    const inner = new Lowering(
      body,
      this.opts,
      {
        buffers: this.buffers,
        sources: this.sources,
        scans: this.scans,
        ins: [...consts, ...cur.map((buf) => ({ buf })), ...xSlots],
        outs: [
          ...next.map((buf) => ({ buf })),
          ...stacks.map((buf, j) => ({ buf, at: stepAt(undefined, ysOut[j]!) })),
        ],
      },
      this.log,
    ).run();
    return {
      kind: "scan",
      id,
      length: p.length,
      reverse: p.reverse,
      carries: cur.map((c, k) => {
        const out = e.outs[k]!;
        return {
          init: inits[k]!,
          cur: c,
          next: next[k]!,
          final: this.live.has(out.id) ? bufFor(out) : null,
        };
      }),
      stacked: [
        ...xSlots.map((s) => ({ buf: s.buf, write: false })),
        ...stacks.map((buf) => ({ buf, write: true })),
      ],
      body: inner.kernels,
      ...(p.note !== undefined && { note: p.note }),
    };
  }

  /** What fuse-window.ts needs: fused element reads, stored operands, temporaries. */
  private windowLowering(): WindowLowering {
    return {
      elem: (domain, v, idx) => {
        this.domain = domain;
        return this.elem(v, idx);
      },
      buffer: (v) => {
        const b = this.bufOf.get(v.id);
        if (b === undefined || !this.buffered.has(v.id))
          throw new Error(`fuse: window operand ${v.id} has no buffer`);
        return this.wholeBuffer(v);
      },
      temp: (dtype, shape) => this.newBuffer({ id: -1, type: { dtype, shape } }, { kind: "temp" }),
      scatter: this.opts.scatter,
    };
  }

  /** The kernel that computes materialised `e.outs[0]` into `out`. */
  private kernelFor(e: Eqn, out: BufId): Kernel {
    const v = e.outs[0]!;
    const shape = v.type.shape;
    this.domain = shape;
    this.accVar = null;
    const loops = this.loops(shape.length);
    const m = this.epilogueOf.get(v.id);
    if (m) {
      const mm = this.def.get(m.id)!;
      this.log?.inlined(mm);
      this.accVar = m;
      const epilogue = lowerElem(e, loops, this);
      this.accVar = null;
      return this.matmulKernel(mm, out, epilogue);
    }
    const ks = ownKernels(e, out, this);
    if (!ks) return { kind: "map", out, shape, body: lowerElem(e, loops, this) };
    // Helper kernels (a window op's im2col, argmax) run first; the last one writes `out`.
    this.kernels.push(...ks.slice(0, -1));
    return ks[ks.length - 1]!;
  }

  windowKernels(e: Eqn<WindowOp>, out: BufId): Kernel[] {
    return lowerWindow(e, out, this.windowLowering());
  }

  src(e: Eqn): number {
    return this.sources.of(e);
  }

  reduceKernel(e: Eqn, out: BufId, op: "sum" | "max" | "argmax", axes: number[]): Kernel {
    const x = e.inputs[0]!;
    const inIdx: IExpr[] = [];
    const red: Dim[] = [];
    let kept = 0;
    x.type.shape.forEach((d, a) => {
      if (axes.includes(a)) {
        inIdx.push(ired(red.length));
        red.push(d);
      } else inIdx.push(iloop(kept++));
    });
    return {
      kind: "reduce",
      op,
      out,
      shape: e.outs[0]!.type.shape,
      red,
      body: this.elem(x, inIdx),
    };
  }

  matmulKernel(e: Eqn, out: BufId, epilogue: SExpr): Kernel {
    const [a, b] = e.inputs as [Var, Var];
    const shape = e.outs[0]!.type.shape;
    const nb = shape.length - 2;
    const batch = shape.slice(0, nb);
    const batchLoops = this.loops(nb);
    const operand = (x: Var): MatmulOperand => {
      const xb = x.type.shape.slice(0, -2);
      return { ...this.viewOf(x), batch: linearize(xb, broadcastIndex(xb, batch, batchLoops)) };
    };
    return {
      kind: "matmul",
      out,
      batch,
      m: shape[nb]!,
      n: shape[nb + 1]!,
      k: a.type.shape[a.type.shape.length - 1]!,
      a: operand(a),
      b: operand(b),
      epilogue,
    };
  }

  scatterKernel(e: Eqn<"scatter_add">, out: BufId): Kernel {
    const [upd, ix] = e.inputs as [Var, Var];
    const { axis, shape } = e.params;
    const r = ix.type.shape.length;
    if (this.opts.scatter === "gather") {
      // out[pre, v, post] = sum over the index positions p of
      // (ix[p] == v ? upd[pre, p, post] : 0): each output element reads what
      // lands on it, so elements are independent (and the sum's order fixed).
      this.domain = shape;
      const loops = this.loops(shape.length);
      const p = Array.from({ length: r }, (_, i) => ired(i));
      const at: IExpr = { k: "val", e: this.elem(ix, p) };
      const hit: SExpr = { k: "icompare", op: "eq", a: at, b: loops[axis]!, dtype: "bool" };
      const u = this.elem(upd, [...loops.slice(0, axis), ...p, ...loops.slice(axis + 1)]);
      const dtype = upd.type.dtype;
      return {
        kind: "reduce",
        op: "sum",
        out,
        shape,
        red: ix.type.shape,
        body: { k: "select", c: hit, a: u, b: lit(0, dtype), dtype },
      };
    }
    const domain = upd.type.shape;
    this.domain = domain;
    const loops = this.loops(domain.length);
    const at: IExpr = { k: "val", e: this.elem(ix, loops.slice(axis, axis + r)) };
    const target = linearize(shape, [...loops.slice(0, axis), at, ...loops.slice(axis + r)]);
    return {
      kind: "scatter",
      out,
      shape,
      domain,
      target,
      valid: {
        k: "and",
        a: { k: "icompare", op: "ge", a: at, b: iconst(0), dtype: "bool" },
        b: { k: "icompare", op: "lt", a: at, b: idim(shape[axis]!), dtype: "bool" },
        dtype: "bool",
      },
      value: this.elem(upd, loops),
    };
  }
}

/**
 * Lower one entry graph. Buffers with role `in` are the graph's inputs (by
 * position), role `out` its outputs; everything else is a temporary.
 */
export function lowerGraph(g: Graph, opts: LowerOptions = {}, log?: FusionLog): KernelProgram {
  const full = {
    fuse: opts.fuse ?? true,
    scatter: opts.scatter ?? "serial",
    maxStorageBuffers: opts.maxStorageBuffers ?? Infinity,
  };
  const p = new Lowering(scansAlongAxis0(g), full, undefined, log).run();
  return full.maxStorageBuffers < Infinity ? splitWideKernels(p, full.maxStorageBuffers) : p;
}
