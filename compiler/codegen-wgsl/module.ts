// What every WGSL kernel module shares: the binding layout of
// runtime/program.ts's GpuKernel (the uniform record of dims and scan steps,
// then one storage buffer per distinct buffer, the output read_write), dims
// read from the record, the scalar printer set up for the kernel, and the
// linear workgroup index over a grid split so no dimension exceeds 65535.

import { size } from "../size-expr.ts";
import { dimVars, type Dim } from "../dims.ts";
import type { DType } from "../ir.ts";
import type { BufId, BufferDecl, SExpr } from "../kernel.ts";
import { ScalarPrinter, nonNegative } from "../scalar-print.ts";
import type { KernelContext } from "../backend.ts";
import { sizeExpr } from "../size-expr.ts";
import type { GpuKernel, SizeExpr } from "../../runtime/program.ts";
import { UNIFORM_DIMS } from "../../runtime/program.ts";
import { withLibrary } from "./library.ts";
import { uniformSlot, wgslI32, wgslSyntax } from "./syntax.ts";

/** The default-limits maximum of workgroups per grid dimension. */
export const MAX_GRID = 65535;

/** The WGSL type of an element of a buffer of `dtype` (bools are stored as i32, like JS's Int32Array). */
export const storageType = (dtype: DType): string => (dtype === "f32" ? "f32" : "i32");

/** The WGSL type of a value of `dtype`. */
export const valueType = (dtype: DType): string =>
  dtype === "f32" ? "f32" : dtype === "i32" ? "i32" : "bool";

/** `value` (of `dtype`) as an element of its storage type. */
export const toStorage = (value: string, dtype: DType): string =>
  dtype === "bool" ? `select(0i, 1i, ${value})` : value;

/**
 * `groups` workgroups as [x, y, 1] with x, y <= 65535 and x * y - groups < y:
 * y rows of ceil(groups / y), so the idle workgroups (wg >= groups) are fewer than y.
 */
export function splitGrid(groups: SizeExpr): [SizeExpr, SizeExpr, SizeExpr] {
  const y = size.ceilDiv(groups, MAX_GRID);
  if (typeof y === "number") return [y === 0 ? 0 : Math.ceil((groups as number) / y), y, 1];
  const rows: SizeExpr = { max: [y, 1] }; // no division by zero for an empty grid
  return [{ div: [{ add: [groups, rows, -1] }, rows] }, y, 1];
}

/** One kernel being printed: its bindings, its dims, its printer. */
export class WgslModule {
  private readonly bound = new Map<BufId, { write: boolean; vec4: boolean }>();
  readonly printer: ScalarPrinter;
  /** The matmul accumulator's name in the epilogue. */
  acc = "acc";

  constructor(
    readonly ctx: KernelContext,
    out: BufId,
    /** Buffers bound as array<vec4<f32>> (the caller knows every vector access fits). */
    vec4: ReadonlySet<BufId> = new Set(),
  ) {
    this.bound.set(out, { write: true, vec4: false });
    for (const b of vec4) this.bound.set(b, { write: false, vec4: true });
    this.printer = new ScalarPrinter(wgslSyntax, {
      load: (buf, index, dtype) => this.load(buf, index, dtype),
      dim: (d) => this.dim(d),
      acc: () => this.acc,
    });
  }

  decl(b: BufId): BufferDecl {
    const d = this.ctx.buffers[b];
    if (!d) throw new Error(`codegen-wgsl: buffer b${b} is not declared`);
    return d;
  }

  /**
   * The WGSL variable of buffer `buf`, bound read-only on first use: `b` and
   * its binding position, not its plan id, so kernels of the same structure
   * print the same text and share one pipeline (runtime/webgpu/pipelines.ts
   * keys by text).
   */
  ref(buf: BufId): string {
    if (!this.bound.has(buf)) this.bound.set(buf, { write: false, vec4: false });
    return `b${[...this.bound.keys()].indexOf(buf)}`;
  }

  /** Element `index` of buffer `buf` as a value of `dtype`. */
  load(buf: BufId, index: string, dtype: DType): string {
    const v = this.ref(buf);
    const elem = this.bound.get(buf)!.vec4
      ? `${v}[(${index}) >> 2u][(${index}) & 3]`
      : `${v}[${index}]`;
    return dtype === "bool" ? `(${elem} != 0)` : elem;
  }

  /** Four consecutive f32 elements from `index` (a multiple of 4) of a vec4-bound buffer. */
  load4(buf: BufId, index: string): string {
    return `${this.ref(buf)}[(${index}) >> 2u]`;
  }

  /** A run-time size as an i32 expression over the uniform record. */
  dim(d: Dim): string {
    const atom = (a: Dim["terms"][number]["atoms"][number]): string => {
      if (a.kind === "var") {
        const s = this.ctx.dims.indexOf(a.name);
        if (s < 0 || s >= UNIFORM_DIMS)
          throw new Error(
            `codegen-wgsl: dimension ${a.name} is not a run-time dim of this program`,
          );
        this.ctx.used.add(a.name);
        return uniformSlot(s);
      }
      const num = this.dim(a.num);
      const den = this.dim(a.den);
      const plain = nonNegative({ k: "dim", d: a.num });
      return a.kind === "div"
        ? wgslSyntax.ix.div(num, den, plain)
        : wgslSyntax.ix.mod(num, den, plain);
    };
    if (d.terms.length === 0) return "0i";
    const terms = d.terms.map((t) =>
      [
        ...(t.coeff === 1 && t.atoms.length > 0 ? [] : [wgslI32(t.coeff)]),
        ...t.atoms.map(atom),
      ].join(" * "),
    );
    return terms.length === 1 && d.terms[0]!.atoms.length <= 1
      ? terms[0]!
      : `(${terms.join(" + ")})`;
  }

  /** A dim as plan data (a grid extent). */
  size(d: Dim): SizeExpr {
    for (const v of dimVars(d)) this.ctx.used.add(v);
    return sizeExpr(d, this.ctx.dims);
  }

  val(e: SExpr): string {
    return this.printer.val(e);
  }

  /**
   * The finished kernel. `grid`: the number of workgroups, dispatched as
   * `splitGrid(G)`; `main` recovers the linear index as
   * `wg` (it must ignore wg >= G).
   */
  finish(
    name: string,
    what: string,
    workgroup: number,
    groups: SizeExpr,
    decls: string[],
    main: string[],
  ): GpuKernel {
    const bindings = [...this.bound.entries()].map(([buf, b]) => ({ buf, ...b }));
    const vars = bindings.map((b, i) => {
      const elem = b.vec4 ? "vec4<f32>" : storageType(this.decl(b.buf).dtype);
      const access = b.write ? "read_write" : "read";
      return `@group(0) @binding(${i + 1}) var<storage, ${access}> b${i}: array<${elem}>;`;
    });
    const body = [
      // No kernel name here (it is the GpuKernel's label): equal structure, equal text, one pipeline.
      `// ${what}`,
      "@group(0) @binding(0) var<uniform> u: array<vec4<i32>, 16>;",
      ...vars,
      ...decls,
      `@compute @workgroup_size(${workgroup})`,
      "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {",
      "  let wg = i32(wid.x + wid.y * nwg.x);",
      ...main.map((l) => "  " + l),
      "}",
    ].join("\n");
    return {
      name,
      wgsl: withLibrary(body),
      bindings: bindings.map(({ buf, write }) => ({ buf, write })),
      grid: splitGrid(groups),
    };
  }
}

/** `let i0 = ...;` ... for the row-major multi-index of linear index `l` over `extents` (printed), as `${v}0`... */
export function delinearize(l: string, extents: readonly string[], v: string): string[] {
  const r = extents.length;
  if (r === 0) return [];
  if (r === 1) return [`let ${v}0 = ${l};`];
  const lines = [`var ${v}_rest = ${l};`];
  for (let a = r - 1; a > 0; a--) {
    lines.push(
      `let ${v}${a} = ${v}_rest % ${extents[a]};`,
      `${v}_rest = ${v}_rest / ${extents[a]};`,
    );
  }
  lines.push(`let ${v}0 = ${v}_rest;`);
  return lines;
}
