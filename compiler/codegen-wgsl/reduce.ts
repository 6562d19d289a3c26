// Reductions: T invocations share each output element (T a power of two,
// 256 / T outputs per workgroup of 256). Each strides over the reduced
// elements, then the T partials meet in a tree in workgroup memory (2 KiB of
// the 16 KiB limit). T follows the reduced extent: a short row is one
// invocation's loop, a long one a full workgroup. Semantics are the JS
// backend's: max propagates NaN, argmax is the first strict maximum and 0
// when any element is NaN (or every element is -Infinity).

import { dimAsConst, numElements } from "../dims.ts";
import { someSExpr } from "../kernel-walk.ts";
import type { ReduceKernel } from "../kernel.ts";
import type { GpuKernel } from "../../runtime/program.ts";
import type { KernelContext } from "../backend.ts";
import { delinearize, size, toStorage, WgslModule } from "./module.ts";

const WORKGROUP = 256;
/** Elements each invocation should reduce before another invocation pays for itself. */
const PER_THREAD = 16;
/** Threads per output for a reduced extent known only at run time. */
const SYMBOLIC_T = 64;

/** Invocations per output for `r` reduced elements (null: run-time extent). */
export function threadsPerOutput(r: number | null): number {
  if (r === null) return SYMBOLIC_T;
  let t = 1;
  while (t < WORKGROUP && t * 2 * PER_THREAD <= r) t *= 2;
  return t;
}

interface Combine {
  init: string[];
  /** Folds the value `v` at reduced index `r` into the partial. */
  step: string[];
  /** Partial -> workgroup memory slot `lid`. */
  share: string[];
  /** Slot `lid` <- combine(slot lid, slot lid + s). */
  merge: string[];
  /** The final value from the partial (T = 1) or slot lid (T > 1). */
  result: (shared: boolean) => string;
}

const NAN = "f_bits(0x7fc00000u)";
/** No index yet: every element so far was the lowest value. */
const NONE = "2147483647";

/** The partial of one invocation and how partials meet, for values of WGSL type `vt` (f32 or i32). */
const combines: { [P in ReduceKernel["op"]]: (vt: "f32" | "i32") => Combine } = {
  sum: (vt) => ({
    init: [`var acc = ${vt}(0);`],
    step: ["acc = acc + v;"],
    share: ["sv[lid] = acc;"],
    merge: ["sv[lid] = sv[lid] + sv[lid + s];"],
    result: (shared) => (shared ? "sv[lid]" : "acc"),
  }),
  max: (vt) => {
    const max = vt === "f32" ? "f_max" : "max";
    return {
      init: [`var acc = ${lowest[vt]};`],
      step: [`acc = ${max}(acc, v);`],
      share: ["sv[lid] = acc;"],
      merge: [`sv[lid] = ${max}(sv[lid], sv[lid + s]);`],
      result: (shared) => (shared ? "sv[lid]" : "acc"),
    };
  },
  argmax: (vt) => {
    // A NaN partial carries its flag as its value (f32 only: ints have no NaN).
    const isNan = (x: string) => (vt === "f32" ? `f_isnan(${x})` : "false");
    return {
      init: [`var best = ${lowest[vt]};`, `var arg = ${NONE};`, "var nan = false;"],
      step: [`if (${isNan("v")}) { nan = true; } else if (v > best) { best = v; arg = r; }`],
      share: [
        vt === "f32" ? `sv[lid] = select(best, ${NAN}, nan);` : "sv[lid] = best;",
        "si[lid] = arg;",
      ],
      merge: [
        "let va = sv[lid];",
        "let vb = sv[lid + s];",
        "let ib = si[lid + s];",
        `if (${isNan("va")} || ${isNan("vb")}) { sv[lid] = ${vt === "f32" ? NAN : "va"}; }`,
        "else if (vb > va || (vb == va && ib < si[lid])) { sv[lid] = vb; si[lid] = ib; }",
      ],
      result: (shared) =>
        shared
          ? `select(si[lid], 0, ${isNan("sv[lid]")} || si[lid] == ${NONE})`
          : `select(arg, 0, nan || arg == ${NONE})`,
    };
  },
};

const lowest = { f32: "f_bits(0xff800000u)", i32: "i32(-2147483648)" } as const;

export function reduceKernel(k: ReduceKernel, ctx: KernelContext, name: string): GpuKernel {
  const m = new WgslModule(ctx, k.out);
  const n = numElements(k.shape);
  const rn = numElements(k.red);
  const T = threadsPerOutput(dimAsConst(rn));
  const P = WORKGROUP / T;
  // Bools reduce as the 0/1 they are stored as.
  const vt = k.body.dtype === "f32" ? "f32" : "i32";
  const c = combines[k.op](vt);
  const v = toStorage(m.val(k.body), k.body.dtype);
  const reads = (kind: "loop" | "red") => someSExpr(k.body, { i: (e) => e.k === kind });
  const at = k.outAt === undefined ? "lin" : `${m.printer.ix(k.outAt)} + lin`;
  const N = m.dim(n);
  const store = (value: string) => `b${k.out}[${at}] = ${value};`;
  const main = [
    T === 1 ? "let lin = wg * 256 + i32(lid);" : `let lin = wg * ${P} + i32(lid / ${T}u);`,
    ...(T === 1 ? [] : [`let t = i32(lid % ${T}u);`]),
    ...c.init,
    `if (lin < ${N}) {`,
    ...(reads("loop")
      ? delinearize(
          "lin",
          k.shape.map((d) => m.dim(d)),
          "i",
        )
      : []
    ).map((l) => "  " + l),
    `  for (var r = ${T === 1 ? "0" : "t"}; r < ${m.dim(rn)}; r += ${T}) {`,
    ...(reads("red")
      ? delinearize(
          "r",
          k.red.map((d) => m.dim(d)),
          "r",
        )
      : []
    ).map((l) => "    " + l),
    `    let v = ${v};`,
    ...c.step.map((l) => "    " + l),
    "  }",
    "}",
  ];
  const decls: string[] = [];
  if (T === 1) {
    main.push(`if (lin < ${N}) { ${store(c.result(false))} }`);
  } else {
    decls.push(`var<workgroup> sv: array<${vt}, ${WORKGROUP}>;`);
    if (k.op === "argmax") decls.push(`var<workgroup> si: array<i32, ${WORKGROUP}>;`);
    main.push(
      ...c.share,
      "workgroupBarrier();",
      `for (var s = ${T / 2}u; s > 0u; s = s >> 1u) {`,
      `  if (u32(t) < s) {`,
      ...c.merge.map((l) => "    " + l),
      "  }",
      "  workgroupBarrier();",
      "}",
      `if (t == 0 && lin < ${N}) { ${store(c.result(true))} }`,
    );
  }
  const groups = size.ceilDiv(m.size(n), P);
  return m.finish(name, `reduce_${k.op}`, WORKGROUP, groups, decls, main);
}
