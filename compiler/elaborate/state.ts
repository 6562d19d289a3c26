// v2 `state` and `update` (LANGUAGE.md "State and modes"). A state is a
// param the optimizer never touches: stmts.ts's execParam declares it (same
// shapes and initialisers, zeros by default), and this file keeps, per model
// under construction, which params are states and the value each `update`
// gives them after a step(). model.ts turns that into ModelIR.params'
// `state` flags and ModelIR.updates; entries.ts writes the updates back only
// in step().

import type * as ast from "../../grammar/index.ts";
import type { Span } from "../../grammar/index.ts";
import { shapeEq, shapeToString } from "../dims.ts";
import type { Var } from "../ir.ts";
import { fail, type Ctx, type ModelState } from "./context.ts";
import { evalExpr } from "./expr.ts";
import { inRepeat } from "./repeat.ts";
import { blockParam } from "./sharing.ts";
import { need, toVar } from "./tensor-ops.ts";
import { typeText } from "./values.ts";

/** What one model's states and updates are, by the state's var id. */
interface Book {
  states: Set<number>;
  /** The new value of each updated state, and where the update is written. */
  updates: Map<number, { var: Var; span: Span; file: string }>;
}

const books = new WeakMap<ModelState, Book>();

function book(m: ModelState): Book {
  let b = books.get(m);
  if (!b) books.set(m, (b = { states: new Set(), updates: new Map() }));
  return b;
}

/** Whether `v` is a state of model `m` (not a trainable param). */
export function isState(m: ModelState, v: Var): boolean {
  return books.get(m)?.states.has(v.id) ?? false;
}

/** Each updated state's var id with its new value. */
export function stateUpdates(m: ModelState): ReadonlyMap<number, { var: Var; span: Span }> {
  return books.get(m)?.updates ?? new Map();
}

/** repeat.ts: `v` is a state whose next value is `u` (a stacked state takes its copies' updates, stacked by the loop). */
export function setUpdate(m: ModelState, v: Var, u: { var: Var; span: Span; file: string }): void {
  const b = book(m);
  b.states.add(v.id);
  b.updates.set(v.id, u);
}

/** Called by execParam for a `state` statement: the var it declared is a state. */
export function markState(m: ModelState, v: Var): void {
  book(m).states.add(v.id);
}

/**
 * Both statements belong to a block: a state is what a layer keeps between
 * steps (batch norm's running averages), and the block that declares it is
 * the one that knows how to update it.
 */
function inBlock(ctx: Ctx, what: "state" | "update", span: Span): void {
  if (ctx.stack.length === 0)
    fail(ctx, "E2020", `\`${what}\` can only appear in a block`, span, {
      notes: ["a state belongs to the layer that updates it"],
      help: "declare the state and its `update` in a block, and call the block from the model",
    });
}

export function execState(ctx: Ctx, s: ast.StateStmt): void {
  inBlock(ctx, "state", s.span);
  // Through sharing.ts like a param: a shared binding's applications share its states.
  blockParam(ctx, s);
}

/**
 * `update name = e`: `name` is a state declared above in this block (the
 * block's own scope), updated once per step, and `e` has its type. The
 * name keeps reading the current value; `e` is what step() writes back.
 */
export function execUpdate(ctx: Ctx, s: ast.UpdateStmt): void {
  inBlock(ctx, "update", s.span);
  const m = ctx.m!;
  const b = book(m);
  const entry = ctx.scope.own(s.name.name);
  const current = entry && typeof entry.value !== "function" ? entry.value : null;
  if (current?.kind === "poison") need(current);
  if (current?.kind !== "tensor" || !b.states.has(current.v.id)) {
    const labels =
      entry?.span && entry.file === ctx.file
        ? [{ span: entry.span, message: `\`${s.name.name}\` is defined here` }]
        : [];
    fail(ctx, "E2021", `\`${s.name.name}\` is not a state of this block`, s.name.span, {
      labels,
      notes: ["`update` sets the next value of a `state` declared above it in the same block"],
      help: entry
        ? "a param is trained and a local or an argument is fixed: only a `state` takes updates"
        : `declare it first: \`state ${s.name.name}: [shape] init zeros\``,
    });
  }
  const state = current.v;
  // A scan's body runs once per element: its value there is one step's, not
  // the model's (a repeat's body is fine: repeat.ts stacks its updates).
  if (ctx.b !== m.fwd && !inRepeat(ctx, ctx.path + s.name.name))
    fail(ctx, "E2009", "`update` cannot run inside the body of a `scan`", s.span, {
      notes: [`state \`${state.hint ?? s.name.name}\` would take a value of one step of the scan`],
      help: "call the block that updates it outside the scan, on the whole sequence",
    });
  const prev = b.updates.get(state.id);
  if (prev) {
    // The same statement again is a shared binding's second application; two
    // statements are two updates written in the block.
    const again = prev.file === ctx.file && prev.span.start === s.span.start;
    fail(ctx, "E2023", `state \`${state.hint ?? s.name.name}\` is updated twice`, s.name.span, {
      labels:
        prev.file === ctx.file && !again
          ? [{ span: prev.span, message: "first updated here" }]
          : [],
      notes: [
        "a state takes one new value per step",
        again
          ? "a layer bound to a name and applied twice shares its states, so both applications would update them"
          : "write one `update` whose expression combines both",
      ],
    });
  }
  const v = need(evalExpr(ctx, s.value));
  if (v.kind === "tensor" && v.v.type.dtype !== "f32")
    fail(
      ctx,
      "E2022",
      `the update of \`${state.hint}\` is ${typeText(v.v.type)}, but the state is ${typeText(state.type)}`,
      s.value.span,
      { help: "states are f32: convert with `... * 1.0`" },
    );
  const next = toVar(ctx, v, s.value.span, "f32");
  if (!shapeEq(next.type.shape, state.type.shape))
    fail(
      ctx,
      "E2022",
      `the update of \`${state.hint}\` is ${shapeToString(next.type.shape)}, but the state is ${shapeToString(state.type.shape)}`,
      s.value.span,
      {
        labels:
          entry!.span && entry!.file === ctx.file
            ? [{ span: entry!.span, message: `declared as ${typeText(state.type)} here` }]
            : [],
        help: "an update keeps the state's shape; reduce or reshape the new value to it",
      },
    );
  b.updates.set(state.id, { var: next, span: s.span, file: ctx.file });
}
