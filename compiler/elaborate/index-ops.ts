// Intrinsics that work with integer positions: `gather` looks rows up by id
// (std's `embedding` is a gather from its table), `iota` counts along an
// axis (std's causal mask compares a row iota with a column iota) and `flip`
// reverses one (a gather at n - 1 - iota).

import { dimConst, dimSub } from "../dims.ts";
import { fail } from "./context.ts";
import { staticInt } from "./expr.ts";
import { arg, intrinsic, shapeArg, tensorVar } from "./intrinsics.ts";
import { emit, need, normAxis, tensor, toVar } from "./tensor-ops.ts";
import { describe, type IntrinsicFn } from "./values.ts";

/** `gather(x, indices, axis: 0)`: x's slices at `indices` along `axis`; out-of-range ids read zeros. */
function gather(): IntrinsicFn {
  return intrinsic(
    "gather(x, indices, axis?)",
    "gather(x, indices: int tensor, axis: int = 0) -> x.shape[:axis] ++ indices.shape ++ x.shape[axis+1:]",
    (ctx, args, site) => {
      const xa = arg(args, "x", site);
      const x = tensorVar(ctx, xa);
      const ia = arg(args, "indices", site);
      const iv = need(ia.value);
      if ((iv.kind === "tensor" && iv.v.type.dtype !== "i32") || iv.kind === "float")
        fail(ctx, "E3008", `\`gather\` needs int indices, but these are ${describe(iv)}`, ia.span, {
          help: "declare token ids as `int[...]`, e.g. `input tokens: int[B, T]`",
        });
      const idx = toVar(ctx, iv, ia.span, "i32");
      const aa = args.get("axis");
      const axis = normAxis(
        ctx,
        aa ? staticInt(ctx, aa.value, aa.span, "`axis`") : 0,
        x.type.shape.length,
        aa?.span ?? xa.span,
      );
      return tensor(ctx, emit(ctx, "gather", { axis }, [x, idx], site.span, [xa.span, ia.span]));
    },
  );
}

/** `iota(shape, axis: -1)`: the int position along `axis` at every element of `shape`. */
function iota(): IntrinsicFn {
  return intrinsic(
    "iota(shape, axis?)",
    "iota(shape: [dim, ...], axis: int = -1) -> int[shape]",
    (ctx, args, site) => {
      const shape = shapeArg(ctx, arg(args, "shape", site));
      if (shape.length === 0)
        fail(ctx, "E3003", "`iota` counts along an axis, so its shape needs one", site.span);
      const aa = args.get("axis");
      const axis = normAxis(
        ctx,
        aa ? staticInt(ctx, aa.value, aa.span, "`axis`") : -1,
        shape.length,
        aa?.span ?? site.span,
      );
      return tensor(ctx, emit(ctx, "iota", { shape, axis, dtype: "i32" }, [], site.span));
    },
  );
}

/**
 * `flip(x, axis:)`: x with `axis` reversed, as a gather at positions n - 1,
 * ..., 0. The lowering reads a gather as index arithmetic in its consumer's
 * loads, so the data moves in no kernel of its own (only the n positions are
 * computed, once); its gradient, a scatter to the same positions, is the flip
 * of the incoming gradient.
 */
function flip(): IntrinsicFn {
  return intrinsic("flip(x, axis)", "flip(x, axis: int) -> x.shape", (ctx, args, site) => {
    const xa = arg(args, "x", site);
    const x = tensorVar(ctx, xa);
    const aa = arg(args, "axis", site);
    const rank = x.type.shape.length;
    if (rank === 0) fail(ctx, "E3003", "`flip` reverses an axis, but this is a scalar", xa.span);
    const axis = normAxis(ctx, staticInt(ctx, aa.value, aa.span, "`axis`"), rank, aa.span);
    const n = x.type.shape[axis]!;
    const span = site.span;
    const last = emit(ctx, "dimval", { dim: dimSub(n, dimConst(1)), dtype: "i32" }, [], span);
    const up = emit(ctx, "iota", { shape: [n], axis: 0, dtype: "i32" }, [], span);
    const idx = emit(ctx, "sub", {}, [last, up], span);
    return tensor(ctx, emit(ctx, "gather", { axis }, [x, idx], span, [xa.span]));
  });
}

export function indexOps(): IntrinsicFn[] {
  return [gather(), iota(), flip()];
}
