// `if training then a else b` (LANGUAGE.md "State and modes"). The model is
// elaborated once, into one forward graph whose `training` input entries.ts
// binds to a constant per entry (true for step(), false for predict() and
// evaluate()). So both branches are elaborated and joined by a select on
// that input; once it is bound, simplify folds the select to one branch and
// drops the other's equations, so no entry computes the branch it does not
// take.

import type * as ast from "../../grammar/index.ts";
import type { Span } from "../../grammar/index.ts";
import { shapeEq, shapeToString } from "../dims.ts";
import type { DType, Var } from "../ir.ts";
import { fail, type Ctx } from "./context.ts";
import { evalExpr } from "./expr.ts";
import { emit, isStatic, need, toVar } from "./tensor-ops.ts";
import { describe, typeText, type Value } from "./values.ts";

/**
 * Whether `v` is the model's `training` flag. In a scan body it is a capture
 * of the forward graph's flag, and the select stays in the body (simplify
 * does not fold a scan's consts into its body): correct, but both branches
 * run there.
 */
export function isTrainingFlag(ctx: Ctx, v: Value): boolean {
  return v.kind === "tensor" && ctx.m !== null && v.v === ctx.m.training;
}

/** The dtype a compile-time value takes as a tensor next to a branch of `other`'s dtype. */
function staticDType(v: Value, other: Value): DType {
  if (other.kind === "tensor") return other.v.type.dtype;
  if (v.kind === "bool") return "bool";
  return v.kind === "float" || other.kind === "float" ? "f32" : "i32";
}

/**
 * Both branches of an `if` on `training`, as one select. A compile-time
 * number next to a tensor takes the tensor's type (`if training then x
 * else 0.0`); two tensors must agree in dtype and shape (E2024).
 */
export function trainingIf(ctx: Ctx, e: ast.IfExpr): Value {
  const a = need(evalExpr(ctx, e.then));
  const b = need(evalExpr(ctx, e.else));
  const branch = (v: Value, span: Span, other: Value): Var => {
    if (v.kind !== "tensor" && !isStatic(v))
      fail(
        ctx,
        "E2024",
        `a branch of \`if training\` is ${describe(v)}, but both must be tensors or numbers`,
        span,
        {
          notes: [
            "`training` is known only per entry (step() or predict()), so both branches are built and one is chosen per entry",
          ],
        },
      );
    const x = toVar(ctx, v, span, staticDType(v, other));
    return other.kind === "tensor" && v.kind !== "tensor" && x.type.shape.length === 0
      ? emit(ctx, "broadcast", { shape: other.v.type.shape }, [x], span)
      : x;
  };
  const x = branch(a, e.then.span, b);
  const y = branch(b, e.else.span, a);
  if (x.type.dtype !== y.type.dtype || !shapeEq(x.type.shape, y.type.shape))
    fail(ctx, "E2024", `the branches of \`if training\` differ in type`, e.span, {
      labels: [
        { span: e.then.span, message: `this is ${typeText(x.type)}` },
        { span: e.else.span, message: `this is ${typeText(y.type)}` },
      ],
      notes: [
        "`training` is known only per entry (step() or predict()), so both branches are built and must have one type",
      ],
      help:
        x.type.dtype === y.type.dtype
          ? `make both ${shapeToString(x.type.shape)}, e.g. by broadcasting the smaller one`
          : undefined,
    });
  const flag: Value = { kind: "tensor", v: ctx.m!.training, graph: ctx.m!.fwd };
  const c = toVar(ctx, flag, e.cond.span, "bool");
  return { kind: "tensor", v: emit(ctx, "select", {}, [c, x, y], e.span), graph: ctx.b! };
}
