// `dlg dump --stage kernels --explain`: every kernel of every entry with
// what fusion put in it and why (compiler/fuse/explain.ts records it while
// fuse.ts decides), its buffers, its arithmetic and traffic, and each entry's
// memory plan. Sizes are symbolic (`401408*B`); where the caller knows the
// dims (the train block's batch) each is also evaluated.

import type { Backend } from "./backend.ts";
import { positionAt, type SourceMap } from "./diagnostics.ts";
import {
  dimAdd,
  dimConst,
  dimEval,
  dimExactDiv,
  dimMul,
  dimToString,
  dimVars,
  numElements,
  shapeToString,
  type Dim,
} from "./dims.ts";
import type { Entry, Eqn, Graph, ProgramIR } from "./ir.ts";
import { isWindow } from "./ir.ts";
import type { BufId, BufferDecl, Kernel, KernelProgram, MemoryPlan } from "./kernel.ts";
import { kernelInputs, kernelOutputs, kernelWork } from "./kernel-walk.ts";
import { lowerGraph } from "./fuse.ts";
import { FusionLog, type KernelNote } from "./fuse/explain.ts";
import { planMemory } from "./memory.ts";
import { kernelToString } from "./scalar-print/dump.ts";

export interface ExplainOptions {
  /** Values of run-time dims to evaluate sizes at (`{ B: 128 }`); others stay symbolic. */
  dims?: Readonly<Record<string, number>>;
  /** The .dlg texts by path, to place each fused equation at its line:col. */
  sources?: SourceMap;
}

/** Every element is 4 bytes: f32, i32, and bool stored as i32. */
const ELEM_BYTES = 4;

/** A symbolic amount and, where every dim it uses is known, its value. */
class Amounts {
  constructor(private readonly env: Readonly<Record<string, number>>) {}

  value(d: Dim): number | null {
    return dimVars(d).every((v) => v in this.env) ? dimEval(d, this.env) : null;
  }

  /** `401408*B = 51380224`, or just the expression when a dim is unknown. */
  show(d: Dim): string {
    const v = this.value(d);
    const expr = dimToString(d);
    return v === null || String(v) === expr ? expr : `${expr} = ${v}`;
  }
}

/** What one kernel computes and moves: arithmetic ops and bytes, symbolic. */
interface Cost {
  flops: Dim;
  bytes: Dim;
}

const zero = (): Cost => ({ flops: dimConst(0), bytes: dimConst(0) });
const plus = (a: Cost, b: Cost): Cost => ({
  flops: dimAdd(a.flops, b.flops),
  bytes: dimAdd(a.bytes, b.bytes),
});
const times = (n: Dim, c: Cost): Cost => ({ flops: dimMul(n, c.flops), bytes: dimMul(n, c.bytes) });

type Leaf = Exclude<Kernel, { kind: "scan" }>;
const c = (n: number) => dimConst(n);

/** Inside scan `k`, each stacked buffer is read (or written) one step's slice per step. */
function stepSlices(
  k: Extract<Kernel, { kind: "scan" }>,
  buffers: readonly BufferDecl[],
  outer: Map<BufId, Dim>,
): Map<BufId, Dim> {
  const inner = new Map(outer);
  for (const s of k.stacked) {
    const n = numElements(buffers[s.buf]!.shape);
    inner.set(s.buf, dimExactDiv(n, k.length) ?? n);
  }
  return inner;
}

/**
 * FLOPs (`kernelWork`) and bytes moved: every buffer read once, the elements
 * written once; a scan is its body's cost per step times its length, a
 * stacked buffer counting one step's slice (`perStep`).
 */
function kernelCost(k: Kernel, buffers: readonly BufferDecl[], perStep: Map<BufId, Dim>): Cost {
  if (k.kind === "scan") {
    const inner = stepSlices(k, buffers, perStep);
    return times(
      k.length,
      k.body.reduce((s, b) => plus(s, kernelCost(b, buffers, inner)), zero()),
    );
  }
  const elems = (b: BufId) => perStep.get(b) ?? numElements(buffers[b]!.shape);
  const read = kernelInputs(k).reduce((s, b) => dimAdd(s, elems(b)), dimConst(0));
  const { flops, written } = kernelWork(k);
  return { flops, bytes: dimMul(dimAdd(read, written), c(ELEM_BYTES)) };
}

/** `matmul logits (mlp.dlg:6:18)`, `mul [grad of relu]`: an equation as the explain lists it. */
function eqnText(e: Eqn, sources: SourceMap | undefined): string {
  const hint = e.outs[0]?.hint;
  const text = e.file === undefined ? undefined : sources?.get(e.file);
  const at =
    e.span && text !== undefined
      ? (() => {
          const p = positionAt(text, e.span.start);
          return ` (${e.file}:${p.line}:${p.col})`;
        })()
      : "";
  return `${e.op}${hint !== undefined ? ` ${hint}` : ""}${e.vjpOf ? ` [grad of ${e.vjpOf}]` : ""}${at}`;
}

/** Ops that move or relabel values (index arithmetic in the loads that read them), no arithmetic. */
const movementOps = new Set([
  "reshape",
  "transpose",
  "broadcast",
  "slice",
  "pad",
  "concat",
  "stop_gradient",
]);

/** The ops that compute (not literals, not index arithmetic), by name. */
const named = (es: readonly Eqn[]) =>
  es
    .filter((e) => e.op !== "const" && !movementOps.has(e.op))
    .map((e) => e.op)
    .join(", ");

/** What kind of fusion built each kind of kernel, from the equations it computes in graph order (the stored one last). */
const fusionKinds: { [K in Leaf["kind"]]: (ops: readonly Eqn[]) => string } = {
  matmul: (ops) => {
    const epilogue = named(ops.filter((e) => e.op !== "matmul"));
    const views = ops.filter((e) => movementOps.has(e.op)).length;
    return (
      (epilogue ? `matmul with epilogue (${epilogue})` : "matmul") +
      (views > 0 ? `, ${views} operand view${views === 1 ? "" : "s"} folded` : "")
    );
  },
  reduce: (ops) => {
    const producers = named(ops.slice(0, -1));
    return producers ? `reduction with fused producers (${producers})` : "reduction";
  },
  scatter: (ops) => {
    const producers = named(ops.slice(0, -1));
    return producers ? `scatter_add with fused producers (${producers})` : "scatter_add";
  },
  map: (ops) => {
    const computed = ops.filter((e) => e.op !== "const" && !movementOps.has(e.op));
    if (computed.every((e) => e.op === "gather")) return "movement (index arithmetic only)";
    return computed.length === 1
      ? `elementwise (${computed[0]!.op})`
      : `elementwise chain (${computed.length} ops: ${named(computed)})`;
  },
};

/** What kind of fusion made the kernel. */
function fusionKind(k: Kernel, note: KernelNote | undefined, split: string | null): string {
  if (k.kind === "scan")
    return `scan: ${k.body.length} kernels run ${k.reverse ? "in reverse " : ""}per step`;
  if (note === undefined)
    return split !== null
      ? `a part hoisted out of a kernel that ${split}`
      : k.kind === "map"
        ? "copy (a whole buffer for a step's slice)"
        : k.kind;
  if (note.root === null) return "copy into an output slot";
  const root = note.root;
  if (isWindow(root.op)) {
    const how = { map: "im2col", matmul: "matmul", reduce: "reduction", scatter: "col2im scatter" };
    return `${root.op} as ${how[k.kind]}`;
  }
  return fusionKinds[k.kind]([...note.inlined, root]) + (split !== null ? `; ${split}` : "");
}
/** The entry's buffer `b` as its role names it: `input x`, `param dense.w`, `temp (slot 2)`. */
function bufferText(b: BufferDecl, entry: Entry, program: ProgramIR, mem: MemoryPlan): string {
  const type = `${b.dtype}${shapeToString(b.shape)}`;
  const role = ((): string => {
    if (b.role.kind === "temp") {
      const slot = mem.poolOf[b.id] ?? -1;
      return slot >= 0 ? `temp, pool slot ${slot}` : "temp";
    }
    if (b.role.kind === "in") {
      const s = entry.inSlots[b.role.slot]!;
      if (s.kind === "input") return `input ${s.name}`;
      if (s.kind === "param") return `param ${program.params[s.index]?.path ?? s.index}`;
      if (s.kind === "state") return `state ${program.state[s.index]?.name ?? s.index}`;
      return s.kind;
    }
    const s = entry.outSlots[b.role.slot]!;
    if (s.kind === "output" || s.kind === "metric") return `${s.kind} ${s.name}`;
    if (s.kind === "param") return `param ${program.params[s.index]?.path ?? s.index} (updated)`;
    if (s.kind === "state") return `state ${program.state[s.index]?.name ?? s.index} (updated)`;
    return s.kind;
  })();
  return `b${b.id} ${type} ${role}`;
}

/** The memory plan's total: pool slots (each as large as its largest member) plus inputs and outputs. */
function memoryText(p: KernelProgram, mem: MemoryPlan, amounts: Amounts): string[] {
  const bytes = (n: Dim) => dimMul(n, dimConst(ELEM_BYTES));
  const sizeOf = (sizes: readonly Dim[]): { expr: string; value: number | null } => {
    const values = sizes.map((s) => amounts.value(s));
    const value = values.every((v) => v !== null) ? Math.max(...(values as number[])) : null;
    const expr =
      sizes.length === 1
        ? dimToString(bytes(sizes[0]!))
        : `max(${sizes.map((s) => dimToString(bytes(s))).join(", ")})`;
    return { expr, value: value === null ? null : value * ELEM_BYTES };
  };
  const slots = mem.slots.map((s) => sizeOf(s.sizes));
  const io = p.buffers
    .filter((b) => b.role.kind !== "temp")
    .reduce((s, b) => dimAdd(s, bytes(numElements(b.shape))), dimConst(0));
  const pool = slots.every((s) => s.value !== null)
    ? slots.reduce((s, x) => s + x.value!, 0)
    : null;
  const ioValue = amounts.value(io);
  const total = pool !== null && ioValue !== null ? ` = ${pool + ioValue} bytes at peak` : "";
  return [
    `memory: ${slots.length} pool slot${slots.length === 1 ? "" : "s"} for ${p.buffers.filter((b) => b.role.kind === "temp").length} temporaries` +
      (slots.length > 0
        ? `, ${slots.map((s) => s.expr).join(" + ")}${pool !== null ? ` = ${pool}` : ""} bytes`
        : ""),
    `  inputs and outputs ${amounts.show(io)} bytes; pool + inputs and outputs${total || ": sizes depend on unbound dims"}`,
  ];
}

/** Each equation's position in the graph, scan bodies' equations numbered within their scan's place. */
function eqnOrder(g: Graph, into = new Map<Eqn, number>()): Map<Eqn, number> {
  for (const e of g.eqns) {
    if (e.op === "scan") eqnOrder((e as Eqn<"scan">).params.body, into);
    into.set(e, into.size);
  }
  return into;
}

/** What a kernel reads from outside itself: a scan's body temporaries and carries are its own. */
function buffersRead(k: Kernel): BufId[] {
  const reads = [...new Set(kernelInputs(k))];
  if (k.kind !== "scan") return reads;
  const own = new Set<BufId>();
  const collect = (s: Extract<Kernel, { kind: "scan" }>) => {
    s.carries.forEach((c) => (own.add(c.cur), own.add(c.next)));
    for (const b of s.body) {
      kernelOutputs(b).forEach((x) => own.add(x));
      if (b.kind === "scan") collect(b);
    }
  };
  collect(k);
  return reads.filter((b) => !own.has(b));
}

/** What the explain of one entry's kernels needs besides the kernel. */
interface EntryContext {
  backend: Backend;
  program: ProgramIR;
  entry: Entry;
  p: KernelProgram;
  mem: MemoryPlan;
  log: FusionLog;
  amounts: Amounts;
  sources: SourceMap | undefined;
  /** Each equation's place in the graph, to list a kernel's equations in order. */
  order: Map<Eqn, number>;
  /** Notes by output buffer and by scan id: a kernel split to fit a binding limit is a new object. */
  byOut: Map<BufId, KernelNote>;
  byScan: Map<number, KernelNote>;
  /** The kernel (path) that wrote each buffer so far. */
  writer: Map<BufId, string>;
}

/** The lines explaining kernel `k` at `at` (a scan's body follows it, by the caller). */
function kernelLines(k: Kernel, at: string, cost: Cost, pad: string, c: EntryContext): string[] {
  // A split kernel (fuse/split.ts) keeps its output buffer (a scan its id); a hoisted part has neither.
  const own = c.log.notes.get(k);
  const found = own ?? (k.kind === "scan" ? c.byScan.get(k.id) : c.byOut.get(k.out));
  // Inlined equations in the order the graph computes them (producers first).
  const note = found && {
    root: found.root,
    inlined: [...found.inlined].sort((a, b) => (c.order.get(a) ?? 0) - (c.order.get(b) ?? 0)),
  };
  const limit = c.backend.lower.maxStorageBuffers;
  const split =
    own !== undefined ||
    k.kind === "scan" ||
    limit === Infinity ||
    (note === undefined && c.log.bufferVar.has(k.out))
      ? null
      : `would bind more than ${limit} buffers fused whole, so split`;
  const out: string[] = [`kernel ${at}: ${fusionKind(k, note, split)}`];
  out.push(`  ${kernelToString(k).split("\n")[0]!}`);
  // What autodiff chose for a scan's residuals (stored for the reverse scan, or recomputed).
  if (k.kind === "scan" && k.note !== undefined) out.push(`  ${k.note}`);
  if (note?.root) {
    const ops = [...note.inlined, note.root].map((e) => eqnText(e, c.sources));
    out.push(`  ops: ${ops.join("; ")}`);
  }
  const mm = note && [note.root, ...note.inlined].find((e) => e?.op === "matmul");
  const why = mm && c.log.epilogue.get(mm.outs[0]!.id);
  if (why !== undefined) out.push(`  ${why}`);
  const reads = buffersRead(k);
  const writes = kernelOutputs(k);
  const show = (b: BufId) => bufferText(c.p.buffers[b]!, c.entry, c.program, c.mem);
  out.push(`  reads: ${reads.map(show).join("; ") || "nothing"}`);
  out.push(`  writes: ${writes.map(show).join("; ")}`);
  // Why each temporary read here was stored by its writer rather than computed in this kernel.
  for (const b of reads) {
    const v = c.log.bufferVar.get(b);
    const reason = v && c.log.stored.get(v.id);
    if (v && c.p.buffers[b]!.role.kind === "temp" && reason !== undefined) {
      const name = v.hint !== undefined ? ` (${v.hint})` : "";
      const from = c.writer.has(b) ? ` from ${c.writer.get(b)}` : "";
      out.push(`  not fused: b${b}${name}${from}: ${reason}`);
    }
  }
  out.push(`  flops ${c.amounts.show(cost.flops)}; bytes moved ${c.amounts.show(cost.bytes)}`);
  for (const b of writes) c.writer.set(b, at);
  return out.map((l) => pad + l);
}

/** One entry: its totals and memory plan, then every kernel (scan bodies indented). */
function explainEntry(
  backend: Backend,
  program: ProgramIR,
  entry: Entry,
  n: number,
  amounts: Amounts,
  sources: SourceMap | undefined,
): string {
  const log = new FusionLog();
  // The same lowering and memory plan compile.ts's emit uses, with the log listening.
  const p = lowerGraph(entry.graph, backend.lower, log);
  const mem = planMemory(p);
  const c: EntryContext = {
    backend,
    program,
    entry,
    p,
    mem,
    log,
    amounts,
    sources,
    order: eqnOrder(entry.graph),
    byOut: new Map(),
    byScan: new Map(),
    writer: new Map(),
  };
  for (const [k, note] of log.notes)
    if (k.kind === "scan") c.byScan.set(k.id, note);
    else c.byOut.set(k.out, note);
  const lines: string[] = [];
  let total = zero();
  const walk = (ks: readonly Kernel[], path: string, depth: number, perStep: Map<BufId, Dim>) =>
    ks.forEach((k, i) => {
      const at = `${path}_${i}`;
      const cost = kernelCost(k, p.buffers, perStep);
      if (depth === 0) total = plus(total, cost);
      lines.push(kernelLines(k, at, cost, "  ".repeat(depth), c).join("\n"));
      if (k.kind === "scan") walk(k.body, at, depth + 1, stepSlices(k, p.buffers, perStep));
    });
  walk(p.kernels, `e${n}`, 0, new Map());
  const count = `${p.kernels.length} kernel${p.kernels.length === 1 ? "" : "s"}`;
  return [
    `// entry ${entry.name}: ${count}, flops ${amounts.show(total.flops)}, bytes moved ${amounts.show(total.bytes)}`,
    ...memoryText(p, mem, amounts),
    "",
    ...lines,
  ].join("\n");
}

/** Lower every entry with a fusion log and explain its kernels. */
export function explainKernels(
  backend: Backend,
  program: ProgramIR,
  opts: ExplainOptions = {},
): string {
  const env = opts.dims ?? {};
  const amounts = new Amounts(env);
  const bound = Object.entries(env).map(([k, v]) => `${k} = ${v}`);
  const head =
    `// fusion explained for the ${backend.target} target` +
    (bound.length ? `; sizes evaluated at ${bound.join(", ")}` : "");
  const entries = program.entries.map((e, n) =>
    explainEntry(backend, program, e, n, amounts, opts.sources),
  );
  return [head, ...entries].join("\n\n");
}
