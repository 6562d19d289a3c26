// A serial scatter-add: zero the output, then add every valid update into
// place. The WASM target lowers with `scatter: "gather"` (common contract),
// so fusion makes reductions instead and no scatter kernel reaches here from
// a model; a lowering with serial scatters still prints, as one work item
// (one thread: the adds race otherwise), in the domain's order.

import { numElements } from "../dims.ts";
import type { KernelContext } from "../backend.ts";
import { iadd, type IExpr, type ScatterKernel } from "../kernel.ts";
import type { PrintedCode } from "../codegen-wasm.ts";
import { FnBuilder, get, i32, set } from "./function.ts";
import { Exprs, type Env } from "./scalar.ts";

export function scatterToWasm(k: ScatterKernel, ctx: KernelContext, name: string): PrintedCode {
  const fn = new FnBuilder(ctx);
  const lin = fn.local("i32");
  const idx = k.domain.map(() => fn.local("i32"));
  const env: Env = { loop: (i) => ({ base: [get(idx[i]!)] }), lin: () => ({ base: [get(lin)] }) };
  const x = new Exprs(fn, env);
  const at = (i: IExpr): IExpr => (k.outAt === undefined ? i : iadd(k.outAt, i));
  const f = ctx.buffers[k.out]!.dtype === "f32";
  // out[outAt .. outAt + n) = 0
  x.address(k.out, at({ k: "const", v: 0 }), 0);
  fn.emit(i32(0));
  fn.dim(numElements(k.shape));
  fn.emit(i32(2), ["i32.shl"], ["memory.fill"], i32(0), set(lin));
  const level = (a: number): void => {
    if (a === k.domain.length) {
      fn.ifElse(
        () => x.s(k.valid),
        () => {
          const addr = fn.temp("i32");
          x.address(k.out, at(k.target), 0);
          fn.emit(["local.tee", addr], get(addr), [f ? "f32.load" : "i32.load", 0]);
          x.s(k.value);
          fn.emit([f ? "f32.add" : "i32.add"], [f ? "f32.store" : "i32.store", 0]);
          fn.release(addr, "i32");
        },
      );
      return fn.emit(get(lin), i32(1), ["i32.add"], set(lin));
    }
    fn.forLoop(
      idx[a]!,
      () => fn.emit(i32(0)),
      () => fn.dim(k.domain[a]!),
      () => level(a + 1),
    );
  };
  level(0);
  return { fn: fn.finish(name), items: 1, scratch: 0 };
}
