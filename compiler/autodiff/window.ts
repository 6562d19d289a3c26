// VJP rules of the sliding-window primitives. The set is closed: every
// cotangent is again one of these primitives, so gradients of gradients (and
// the finite-difference table, which differentiates each of them) never need
// anything new.
//
//   conv2d(x, w)               -> grad_input(ct, w),  grad_filter(x, ct)
//   conv2d_grad_input(ct, w)   -> conv2d(g, w),       grad_filter(g, ct)
//   conv2d_grad_filter(x, ct)  -> grad_input(ct, g),  conv2d(x, g)
//   max_pool(x)                -> max_pool_grad(x, ct)
//   max_pool_grad(x, ct)       -> (none: piecewise constant in x), max_pool_pick(x, g)
//   max_pool_pick(x, g)        -> (none), max_pool_grad(x, ct)
//   avg_pool(x)                -> avg_pool_grad(ct)
//   avg_pool_grad(ct)          -> avg_pool(g)

import type { VjpArgs } from "../autodiff.ts";
import type { Op, OpParams, Pool2d, Var, Window2d, WindowOp } from "../ir.ts";

type Rules = { [P in WindowOp]: (a: VjpArgs<P>) => (Var | null)[] };

/** The conv geometry alone (the transposes' params carry a `size` too). */
const conv = (p: Window2d): Window2d => ({
  stride: p.stride,
  padding: p.padding,
  dilation: p.dilation,
});
const pool = (p: Pool2d): Pool2d => ({ window: p.window, stride: p.stride, padding: p.padding });
/** The spatial sizes [H, W] of an [N, C, H, W] var. */
const spatial = (v: Var) => v.type.shape.slice(2);

function emitter<P extends Op>(a: VjpArgs<P>) {
  return <Q extends Op>(op: Q, params: OpParams[Q], ...xs: Var[]) => a.b.emit(op, params, xs);
}

export const windowVjpRules: Rules = {
  conv2d: (a) => {
    const e = emitter(a);
    const [x, w] = a.x as [Var, Var];
    return [
      e("conv2d_grad_input", { ...conv(a.params), size: spatial(x) }, a.ct, w),
      e("conv2d_grad_filter", { ...conv(a.params), size: spatial(w) }, x, a.ct),
    ];
  },
  conv2d_grad_input: (a) => {
    const e = emitter(a);
    const [ct, w] = a.x as [Var, Var];
    return [
      e("conv2d", conv(a.params), a.ct, w),
      e("conv2d_grad_filter", { ...conv(a.params), size: spatial(w) }, a.ct, ct),
    ];
  },
  conv2d_grad_filter: (a) => {
    const e = emitter(a);
    const [x, ct] = a.x as [Var, Var];
    return [
      e("conv2d_grad_input", { ...conv(a.params), size: spatial(x) }, ct, a.ct),
      e("conv2d", conv(a.params), x, a.ct),
    ];
  },
  max_pool: (a) => [emitter(a)("max_pool_grad", pool(a.params), a.x[0]!, a.ct)],
  max_pool_grad: (a) => [null, emitter(a)("max_pool_pick", pool(a.params), a.x[0]!, a.ct)],
  max_pool_pick: (a) => [null, emitter(a)("max_pool_grad", pool(a.params), a.x[0]!, a.ct)],
  avg_pool: (a) => [
    emitter(a)("avg_pool_grad", { ...pool(a.params), size: spatial(a.x[0]!) }, a.ct),
  ],
  avg_pool_grad: (a) => [emitter(a)("avg_pool", pool(a.params), a.ct)],
};
