// Elementwise kernels: one invocation per element, 256 per workgroup.

import { numElements } from "../dims.ts";
import { someSExpr } from "../kernel-walk.ts";
import type { MapKernel } from "../kernel.ts";
import type { GpuKernel } from "../../runtime/program.ts";
import { size } from "../size-expr.ts";
import { delinearize, toStorage, WgslModule } from "./module.ts";
import type { KernelContext } from "../backend.ts";

const WORKGROUP = 256;

export function mapKernel(k: MapKernel, ctx: KernelContext, name: string): GpuKernel {
  const m = new WgslModule(ctx, k.out);
  const n = numElements(k.shape);
  const value = toStorage(m.val(k.body), k.body.dtype);
  const at = k.outAt === undefined ? "lin" : `${m.printer.ix(k.outAt)} + lin`;
  // The multi-index only when the body reads it (broadcasts, transposes); `lin` suffices otherwise.
  const loops = someSExpr(k.body, { i: (e) => e.k === "loop" })
    ? delinearize(
        "lin",
        k.shape.map((d) => m.dim(d)),
        "i",
      )
    : [];
  const main = [
    `let lin = wg * ${WORKGROUP} + i32(lid);`,
    `if (lin >= ${m.dim(n)}) { return; }`,
    ...loops,
    `${m.ref(k.out)}[${at}] = ${value};`,
  ];
  const groups = size.ceilDiv(m.size(n), WORKGROUP);
  return m.finish(name, "map", WORKGROUP, groups, [], main);
}
