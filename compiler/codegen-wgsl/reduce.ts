// Reductions: T invocations share each output element (T a power of two,
// 256 / T outputs per workgroup of 256). Each strides over the reduced
// elements, then the first of them folds the others' partials from workgroup
// memory (2 KiB of the 16 KiB limit). T follows the shape (threadsPerOutput): many outputs
// get one invocation each, a few long ones up to a workgroup each. Semantics are the JS
// backend's: max propagates NaN, argmax is the first strict maximum and 0
// when any element is NaN (or every element is -Infinity).

import { dimAsConst, numElements } from "../dims.ts";
import { someSExpr } from "../kernel-walk.ts";
import type { ReduceKernel } from "../kernel.ts";
import type { GpuKernel } from "../../runtime/program.ts";
import type { KernelContext } from "../backend.ts";
import { size } from "../size-expr.ts";
import { delinearize, toStorage, WgslModule } from "./module.ts";

const WORKGROUP = 256;
/** Elements each invocation should reduce before another invocation pays for itself. */
const PER_THREAD = 16;
/** From this many outputs on, one invocation per output. */
const MANY_OUTPUTS = 32;

/** Invocations per output at most: more were no faster on SwiftShader (below). */
const MAX_T = 64;

/**
 * Invocations per output for `n` outputs of `r` reduced elements each (null:
 * known only at run time, taken as many and long). Measured on SwiftShader, 2
 * shared CPU cores at a load average of ~9 (`npx tsx test/wgsl-bench.ts
 * reduce`), ms per dispatch (+-50%), T = invocations per output:
 *
 *   shape, axis        T=1    T=4    T=16   T=64   T=256
 *   [4096, 64], 1      6.7    64.9   280    1014   4505
 *   [64, 4096], 1      4.0    4.7    3.9    11.5   35.9
 *   [1, 262144], 1     11.0   3.9    3.2    2.2    6.9
 *   [64, 256], 0       0.6    0.8    1.8    6.3    18.3
 *   [256, 784], 1      2.8    8.4    12.8   28.0   101
 *   [10, 60000], 1     9.2    10.8   10.2   9.0    11.5
 *   [1, 1000], 1       1.2    0.9    0.5    0.9    0.7
 *
 * A workgroup that shares partials costs ~1 ms there whatever it does, so
 * sharing pays only when a few outputs would leave the device idle.
 */
export function threadsPerOutput(n: number | null, r: number | null): number {
  if (n === null || n >= MANY_OUTPUTS) return 1;
  let t = 1;
  while (t < MAX_T && (r === null || t * 2 * PER_THREAD <= r)) t *= 2;
  return t;
}

interface Combine {
  init: string[];
  /** Folds the value `v` at reduced index `r` into the partial. */
  step: string[];
  /** Partial -> workgroup memory slot `lid`. */
  share: string[];
  /** Folds the partial in workgroup memory slot `j` into this one. */
  merge: (j: string) => string[];
  /** The final value from the partial. */
  result: string;
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
    merge: (j) => [`acc = acc + sv[${j}];`],
    result: "acc",
  }),
  max: (vt) => {
    const max = vt === "f32" ? "f_max" : "max";
    return {
      init: [`var acc = ${lowest[vt]};`],
      step: [`acc = ${max}(acc, v);`],
      share: ["sv[lid] = acc;"],
      merge: (j) => [`acc = ${max}(acc, sv[${j}]);`],
      result: "acc",
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
      // Partials cover interleaved indices: of equal maxima the lower index wins.
      merge: (j) => [
        `let vb = sv[${j}];`,
        `let ib = si[${j}];`,
        `if (${isNan("vb")}) { nan = true; } else if (vb > best || (vb == best && ib < arg)) { best = vb; arg = ib; }`,
      ],
      result: `select(arg, 0, nan || arg == ${NONE})`,
    };
  },
};

const lowest = { f32: "f_bits(0xff800000u)", i32: "i32(-2147483648)" } as const;

/** `threads`: invocations per output, a power of two up to 256 (default: threadsPerOutput's choice). */
export function reduceKernel(
  k: ReduceKernel,
  ctx: KernelContext,
  name: string,
  threads?: number,
): GpuKernel {
  const m = new WgslModule(ctx, k.out);
  const n = numElements(k.shape);
  const rn = numElements(k.red);
  const T = threads ?? threadsPerOutput(dimAsConst(n), dimAsConst(rn));
  const P = WORKGROUP / T;
  // Bools reduce as the 0/1 they are stored as.
  const vt = k.body.dtype === "f32" ? "f32" : "i32";
  const c = combines[k.op](vt);
  const v = toStorage(m.val(k.body), k.body.dtype);
  const reads = (kind: "loop" | "red") => someSExpr(k.body, { i: (e) => e.k === kind });
  const at = k.outAt === undefined ? "lin" : `${m.printer.ix(k.outAt)} + lin`;
  const N = m.dim(n);
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
  if (T > 1) {
    // One barrier, then the first invocation of each output folds the others' partials in
    // order (no log2(T) levels of barriers: T <= 64 partials are a short loop).
    decls.push(`var<workgroup> sv: array<${vt}, ${WORKGROUP}>;`);
    if (k.op === "argmax") decls.push(`var<workgroup> si: array<i32, ${WORKGROUP}>;`);
    main.push(
      ...c.share,
      "workgroupBarrier();",
      "if (t != 0) { return; }",
      `for (var j = lid + 1u; j < lid + ${T}u; j = j + 1u) {`,
      ...c.merge("j").map((l) => "  " + l),
      "}",
    );
  }
  main.push(`if (lin < ${N}) { ${m.ref(k.out)}[${at}] = ${c.result}; }`);
  const groups = size.ceilDiv(m.size(n), P);
  return m.finish(name, `reduce_${k.op}`, WORKGROUP, groups, decls, main);
}
