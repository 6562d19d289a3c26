// Kernel IR -> JavaScript. Each kernel becomes one plain function over typed
// arrays: nested counted loops, index arithmetic inlined, no closures or
// allocations per element. All identifiers are generated (`t3`, `d0`, `i1`),
// a kernel's function name ends in what it computes, mangled
// (`e2_5_u_dense__1_2e_w`: readable in profiles and stack traces), and every
// literal is a number printed here, so nothing from the .dlg source reaches
// the code text unescaped. Generated code calls helpers from runtime/
// (`jsHelpers`), which emit.ts links in.

import { dimToJs, dimVars, numElements, type Dim } from "./dims.ts";
import { jsSyntax } from "./codegen-js/syntax.ts";
import { kernelExprs, someSExpr, visitIExpr, visitSExpr } from "./kernel-walk.ts";
import { ScalarPrinter } from "./scalar-print.ts";
import {
  idim,
  kernelName,
  type BufId,
  type IExpr,
  type Kernel,
  type KernelSource,
  type MatmulKernel,
  type ReduceKernel,
  type ScanKernel,
  type ScatterKernel,
  type SExpr,
} from "./kernel.ts";

/**
 * Names the generated code expects in scope (provided by runtime/kernels.ts
 * and runtime/rng.ts). The last two only appear in a `checkNumerics` build.
 */
export const jsHelpers = ["randomUniform", "scratchF64", "noteNonFinite", "checkStored"] as const;

/** A dim as a JS expression over the dims array `D`. */
export function dimJs(d: Dim, dims: readonly string[]): string {
  return dimToJs(d, (name) => {
    const i = dims.indexOf(name);
    if (i < 0) throw new Error(`codegen: dimension ${name} is not a run-time dim of this program`);
    return `D[${i}]`;
  });
}

/** Per-kernel printing state: hoisted dims and buffer locals; scalars through the shared printer. */
class KernelWriter {
  private readonly dimLocals = new Map<string, string>();
  private readonly dimDecls: string[] = [];
  private readonly bufs = new Set<BufId>();
  private readonly printer: ScalarPrinter;
  /** Name of the matmul accumulator in scope, for `acc`. */
  acc = "acc";

  constructor(
    private readonly dims: readonly string[],
    /** Collects the run-time dims the kernel reads, so the runtime knows which must be bound. */
    private readonly used: Set<string>,
    /** A checkNumerics build: the name of the entry's table of sources, and the kernel's own. */
    private readonly check: { table: string; root: number } | null = null,
  ) {
    this.printer = new ScalarPrinter(jsSyntax, {
      load: (buf, index) => `${this.buf(buf)}[${index}]`,
      dim: (d) => this.dim(d),
      acc: () => this.acc,
      ...(check && { noted: (e: SExpr, js: string) => this.noted(e, js) }),
    });
  }

  /**
   * `target = value;`, and in a checkNumerics build a check of what was
   * stored (a float32 store can overflow a finite float64 to Infinity).
   */
  store(target: string, value: string, op = "="): string {
    const s = `${target} ${op} ${value};`;
    if (!this.check) return s;
    return `{ ${s} checkStored(${this.check.table}, ${this.check.root}, ${target}); }`;
  }

  /** In a checkNumerics build, a node that can turn finite values non-finite notes its equation. */
  private noted(e: SExpr, js: string): string {
    if (!("src" in e) || e.src === undefined || e.dtype !== "f32") return js;
    return `noteNonFinite(${e.src}, ${js})`;
  }

  dim(d: Dim): string {
    const e = idim(d);
    if (e.k === "const") return String(e.v);
    const js = dimJs(d, this.dims);
    for (const v of dimVars(d)) this.used.add(v);
    let local = this.dimLocals.get(js);
    if (!local) {
      local = `d${this.dimLocals.size}`;
      this.dimLocals.set(js, local);
      this.dimDecls.push(`const ${local} = ${js};`);
    }
    return local;
  }

  buf(b: BufId): string {
    this.bufs.add(b);
    return `t${b}`;
  }

  /** Where a kernel's element `index` is stored: `out[index]`, shifted by its `outAt`. */
  target(k: { out: BufId; outAt?: IExpr }, index: string): string {
    const out = this.buf(k.out);
    return k.outAt === undefined ? `${out}[${index}]` : `${out}[${this.ix(k.outAt)} + ${index}]`;
  }

  /** Declarations to put at the top of the function, after the body was printed. */
  prologue(): string[] {
    const bufs = [...this.bufs].sort((a, b) => a - b);
    const out = bufs.length ? [`const ${bufs.map((b) => `t${b} = b[${b}]`).join(", ")};`] : [];
    return [...out, ...this.dimDecls];
  }

  ix(e: IExpr): string {
    return this.printer.ix(e);
  }

  /** A scalar as a JS number (bools as 0/1, i32 wrapped like an Int32Array store). */
  val(e: SExpr): string {
    return this.printer.val(e);
  }

  /**
   * `val(e)` for storing into a typed array of e's dtype: in a plain build
   * without the outermost float32 rounding, which the Float32Array store does
   * anyway (a checkNumerics build keeps it, so its checks see the same values).
   */
  stored(e: SExpr): string {
    return this.printer.val(e, this.check !== null);
  }

  /** A bool scalar as a JS boolean. */
  cond(e: SExpr): string {
    return this.printer.cond(e);
  }
}

/** Whether an expression reads a loop index (else a map kernel runs as one flat loop). */
const readsLoops = (e: SExpr): boolean => someSExpr(e, { i: (x) => x.k === "loop" });

/** `for` loops over `extents` with indices `${v}0..`, around `body`. */
function nest(extents: string[], v: string, body: string[], from = 0): string[] {
  let lines = body;
  for (let a = extents.length - 1; a >= 0; a--) {
    const i = `${v}${from + a}`;
    lines = [
      `for (let ${i} = 0; ${i} < ${extents[a]}; ${i}++) {`,
      ...lines.map((l) => "  " + l),
      "}",
    ];
  }
  return lines;
}

function mapBody(w: KernelWriter, k: Extract<Kernel, { kind: "map" }>): string[] {
  const out = w.target(k, "lin");
  const value = w.stored(k.body);
  if (!readsLoops(k.body)) {
    const n = w.dim(numElements(k.shape));
    return [`for (let lin = 0; lin < ${n}; lin++) ${w.store(out, value)}`];
  }
  const ext = k.shape.map((d) => w.dim(d));
  return ["let lin = 0;", ...nest(ext, "i", [w.store(out, value), "lin++;"])];
}

function reduceBody(w: KernelWriter, k: ReduceKernel): string[] {
  const out = w.target(k, "lin");
  const v = w.val(k.body);
  const ext = k.shape.map((d) => w.dim(d));
  const red = k.red.map((d) => w.dim(d));
  let init: string[];
  let step: string[];
  let result: string;
  switch (k.op) {
    case "sum":
      init = ["let acc = 0;"];
      step = [`acc += ${v};`];
      result = "acc";
      break;
    case "max":
      init = ["let acc = -Infinity;"];
      step = [`acc = Math.max(acc, ${v});`];
      result = "acc";
      break;
    case "argmax":
      // First strict maximum; any NaN makes the answer 0, as in the interpreter.
      init = ["let best = -Infinity, arg = 0, nan = false;"];
      step = [
        `const v = ${v};`,
        "if (v > best) { best = v; arg = r0; } else if (v !== v) nan = true;",
      ];
      result = "nan ? 0 : arg";
      break;
  }
  const inner = [...init, ...nest(red, "r", step), w.store(out, result), "lin++;"];
  return ["let lin = 0;", ...nest(ext, "i", inner)];
}

/** Rows of A per block: each element of B loaded is used this many times (register blocking). */
const MM_ROWS = 4;

function matmulBody(w: KernelWriter, k: MatmulKernel): string[] {
  const nb = k.batch.length;
  const out = w.target(k, "lin");
  const A = w.buf(k.a.buf);
  const B = w.buf(k.b.buf);
  const M = w.dim(k.m);
  const N = w.dim(k.n);
  const K = w.dim(k.k);
  const i = `i${nb}`;
  const j = `i${nb + 1}`;
  w.acc = "acc";
  const epi = w.stored(k.epilogue);
  /** A[i, p] for row expression `row`. */
  const aAt = (row: string, p: string) =>
    k.a.transposed ? `${A}[aOff + ${p} * ${M} + ${row}]` : `${A}[aOff + (${row}) * ${K} + ${p}]`;
  const R = MM_ROWS;
  const rs = Array.from({ length: R }, (_, r) => r);
  const base = (o: MatmulKernel["a"]) => (o.at === undefined ? "" : `${w.ix(o.at)} + `);
  const lines: string[] = [
    `const aOff = ${base(k.a)}${w.ix(k.a.batch)} * (${M} * ${K});`,
    `const bOff = ${base(k.b)}${w.ix(k.b.batch)} * (${K} * ${N});`,
  ];
  if (!k.b.transposed) {
    // i-k-j over blocks of R rows: when all R elements of A's column are
    // nonzero, the inner loop streams a row of B once into R float64 rows of
    // C (the scratch); otherwise only the nonzero rows are updated, so
    // sparse A (ReLU outputs, image borders) costs in proportion to its
    // nonzeros. Skipping zeros changes only 0 * inf/NaN products, which no
    // finite model produces. The epilogue then writes C out.
    const rowAt = (r: number) => (r === 0 ? j : `${r} * ${N} + ${j}`);
    lines.push(
      `const row = scratchF64(${R} * ${N});`,
      `for (let ib = 0; ib < ${M}; ib += ${R}) {`,
      `  const rows = Math.min(${R}, ${M} - ib);`,
      `  row.fill(0, 0, rows * ${N});`,
      `  if (rows === ${R}) {`,
      `    for (let p = 0; p < ${K}; p++) {`,
      ...rs.map((r) => `      const x${r} = ${aAt(`ib + ${r}`, "p")};`),
      `      const bp = bOff + p * ${N};`,
      `      if (${rs.map((r) => `x${r} !== 0`).join(" && ")}) {`,
      `        for (let ${j} = 0; ${j} < ${N}; ${j}++) {`,
      `          const bv = ${B}[bp + ${j}];`,
      ...rs.map((r) => `          row[${rowAt(r)}] += x${r} * bv;`),
      `        }`,
      `      } else {`,
      ...rs.map(
        (r) =>
          `        if (x${r} !== 0) for (let ${j} = 0; ${j} < ${N}; ${j}++) row[${rowAt(r)}] += x${r} * ${B}[bp + ${j}];`,
      ),
      `      }`,
      `    }`,
      `  } else {`,
      `    for (let r = 0; r < rows; r++) {`,
      `      const ro = r * ${N};`,
      `      for (let p = 0; p < ${K}; p++) {`,
      `        const av = ${aAt("ib + r", "p")};`,
      `        if (av === 0) continue;`,
      `        const bp = bOff + p * ${N};`,
      `        for (let ${j} = 0; ${j} < ${N}; ${j}++) row[ro + ${j}] += av * ${B}[bp + ${j}];`,
      `      }`,
      `    }`,
      `  }`,
      `  for (let ${i} = ib; ${i} < ib + rows; ${i}++) {`,
      `    const ro = (${i} - ib) * ${N};`,
      `    let lin = oOff + ${i} * ${N};`,
      `    for (let ${j} = 0; ${j} < ${N}; ${j}++, lin++) {`,
      `      const acc = row[ro + ${j}];`,
      `      ${w.store(out, epi)}`,
      `    }`,
      `  }`,
      `}`,
    );
  } else {
    // B stored transposed ([n, k]): outputs are dot products of contiguous
    // rows; R rows of A share each load of B's row.
    const write = (r: number | null) => [
      `{`,
      `  const ${i} = ${r === null ? "ib + r" : `ib + ${r}`};`,
      `  const acc = ${r === null ? "s" : `s${r}`};`,
      `  const lin = oOff + ${i} * ${N} + ${j};`,
      `  ${w.store(out, epi)}`,
      `}`,
    ];
    lines.push(
      `for (let ib = 0; ib < ${M}; ib += ${R}) {`,
      `  const rows = Math.min(${R}, ${M} - ib);`,
      `  for (let ${j} = 0; ${j} < ${N}; ${j}++) {`,
      `    const bj = bOff + ${j} * ${K};`,
      `    if (rows === ${R}) {`,
      `      let ${rs.map((r) => `s${r} = 0`).join(", ")};`,
      `      for (let p = 0; p < ${K}; p++) {`,
      `        const bv = ${B}[bj + p];`,
      ...rs.map((r) => `        s${r} += ${aAt(`ib + ${r}`, "p")} * bv;`),
      `      }`,
      ...rs.flatMap((r) => write(r).map((l) => "      " + l)),
      `    } else {`,
      `      for (let r = 0; r < rows; r++) {`,
      `        let s = 0;`,
      `        for (let p = 0; p < ${K}; p++) s += ${aAt("ib + r", "p")} * ${B}[bj + p];`,
      ...write(null).map((l) => "        " + l),
      `      }`,
      `    }`,
      `  }`,
      `}`,
    );
  }
  const batchExt = k.batch.map((d) => w.dim(d));
  return ["let bl = 0;", ...nest(batchExt, "i", [`const oOff = bl++ * (${M} * ${N});`, ...lines])];
}

function scatterBody(w: KernelWriter, k: ScatterKernel): string[] {
  const out = w.buf(k.out);
  const ext = k.domain.map((d) => w.dim(d));
  const body = [
    `if (${w.cond(k.valid)}) ${w.store(w.target(k, w.ix(k.target)), w.val(k.value), "+=")}`,
    "lin++;",
  ];
  const n = w.dim(numElements(k.shape));
  const at = k.outAt === undefined ? "0" : w.ix(k.outAt);
  return [`${out}.fill(0, ${at}, ${at} + ${n});`, "let lin = 0;", ...nest(ext, "i", body)];
}

/**
 * One kernel (not a scan) as a function declaration `function NAME(b, D, T)`,
 * NAME from its `path` (see kernelName). With `table` (the name of the
 * entry's sources array), every store is checked for NaN and infinities (a
 * checkNumerics build).
 */
export function kernelToJs(
  k: Exclude<Kernel, ScanKernel>,
  dims: readonly string[],
  path: string,
  used: Set<string> = new Set(),
  table: string | null = null,
  sources: readonly KernelSource[] = [],
): string {
  const name = kernelName(path, k, sources);
  const w = new KernelWriter(dims, used, table === null ? null : { table, root: k.src ?? -1 });
  const body =
    k.kind === "map"
      ? mapBody(w, k)
      : k.kind === "reduce"
        ? reduceBody(w, k)
        : k.kind === "matmul"
          ? matmulBody(w, k)
          : scatterBody(w, k);
  // A scan body's step, read once (the syntax prints it as `step${scan}`: not `s`, the
  // matmul's accumulators are s0..s3).
  const scans = new Set<number>();
  const roots = kernelExprs(k);
  const visit = { i: (x: IExpr) => void (x.k === "iter" && scans.add(x.scan)) };
  roots.s?.forEach((e) => visitSExpr(e, visit));
  roots.i?.forEach((e) => visitIExpr(e, visit));
  const steps = [...scans].sort((a, b) => a - b).map((n) => `const step${n} = T[${n}];`);
  const lines = [...w.prologue(), ...steps, ...body];
  return `function ${name}(b, D, T) {\n${lines.map((l) => "  " + l).join("\n")}\n}`;
}
