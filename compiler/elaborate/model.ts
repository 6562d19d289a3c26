// A `model` statement list to a ModelIR: inputs first (they fix the run-time
// dims), then the body in order, building the forward graph and, for each
// param, its initial value in the init graph.

import type * as ast from "../../grammar/index.ts";
import { Builder } from "../builder.ts";
import {
  dimAdd,
  dimConst,
  dimEq,
  dimVar,
  dimVars,
  shapeAsConst,
  shapeToString,
  type Dim,
} from "../dims.ts";
import { liveEqns, VarGen, type Eqn, type ModelIR, type Var } from "../ir.ts";
import { fail, makeDiag, Scope, Session, type Ctx, type ModelState } from "./context.ts";
import { bytesDim, bytesText, minBytes } from "./dim-checks.ts";
import { evalExpr } from "./expr.ts";
import { define, execAssign, execParam, guarded } from "./stmts.ts";
import { execState, execUpdate, isState, stateUpdates } from "./state.ts";
import { cast, need, toVar } from "./tensor-ops.ts";
import { evalTensorType } from "./types.ts";
import { typeText, type BlockFn, type Value } from "./values.ts";
import { callUncalled } from "./block.ts";
import { resolveBlockNames } from "./names.ts";

interface Named {
  name: string;
  var: Var;
  span: ast.Span;
}

/**
 * A statement's value as a graph variable. A number or dim becomes f32,
 * except that an output keeps an int's type (`output n = 3` is int[], like
 * `output k = argmax(...)` is int[B]); metrics and the loss are floats.
 */
function asTensorVar(ctx: Ctx, v: Value, span: ast.Span, ints: "f32" | "i32" = "f32"): Var {
  v = need(v);
  const dtype =
    v.kind === "tensor"
      ? v.v.type.dtype
      : v.kind === "bool"
        ? "bool"
        : v.kind === "int" || v.kind === "dim"
          ? ints
          : "f32";
  return toVar(ctx, v, span, dtype);
}

function modelState(name: string): ModelState {
  const gen = new VarGen();
  return {
    name,
    gen,
    fwd: new Builder(gen),
    init: new Builder(gen),
    seed: gen.fresh({ dtype: "i32", shape: [] }, "seed"),
    training: gen.fresh({ dtype: "bool", shape: [] }, "training"),
    initSeed: gen.fresh({ dtype: "i32", shape: [] }, "seed"),
    params: [],
    nextStream: 0,
    batchDims: new Map(),
    inputDims: new Set(),
    checks: [],
  };
}

/** Any dim may shape a param of a block checked on its own: its callers decide. */
class AllDims extends Set<string> {
  override has(): boolean {
    return true;
  }
}

/**
 * Check a block that no model calls, in a model of its own (thrown away):
 * its names, statement placement and shapes, with symbolic stand-ins for its
 * arguments (block.ts's callUncalled). What only a stand-in causes (a value
 * that must be a compile-time number, a division or range that depends on
 * one) is dropped; so are notes that name a call, since there is none.
 */
export function elaborateUncalled(s: Session, fn: BlockFn): void {
  const sandbox = s.sandbox();
  const m = modelState(fn.name);
  m.inputDims = new AllDims();
  const ctx: Ctx = {
    s: sandbox,
    m,
    b: m.fwd,
    scope: new Scope(fn.scope),
    file: fn.file,
    path: "",
    counters: new Map(),
    stack: [],
  };
  guarded(ctx, [], () => callUncalled(ctx, fn));
  const artifact = /compile[- ]time|only known at run time|the dimension /;
  const dropCodes = new Set(["E3004", "E3011", "E3030", "E3031"]);
  const spans = new Set<string>();
  for (const d of sandbox.diagnostics) {
    const text = [d.message, ...d.notes, ...d.labels.map((l) => l.message)].join("\n");
    if (dropCodes.has(d.code) || artifact.test(text)) continue;
    spans.add(`${d.file}:${d.span.start}:${d.span.end}`);
    s.report({ ...d, notes: d.notes.filter((n) => !n.startsWith("in the call at ")) });
  }
  // What the run could not reach (a statement a stand-in aborted) still has its names resolved.
  for (const d of resolveBlockNames(ctx, fn.decl))
    if (!spans.has(`${d.file}:${d.span.start}:${d.span.end}`)) s.report(d);
  s.takeTypes(sandbox);
  for (const decl of sandbox.called) s.markCalled(decl);
}

export function elaborateModel(
  s: Session,
  decl: ast.ModelDecl,
  file: string,
  globals: Scope,
): ModelIR | null {
  const m = modelState(decl.name.name);
  const gen = m.gen;
  const ctx: Ctx = {
    s,
    m,
    b: m.fwd,
    scope: new Scope(globals),
    file,
    path: "",
    counters: new Map(),
    stack: [],
  };
  let ok = true;
  const step = (names: ast.Ident[], run: () => void) => {
    if (!guarded(ctx, names, run)) ok = false;
  };

  // Inputs first: a param declared before them may still use the dims they bind.
  const inputs: Named[] = [];
  const dims: string[] = [];
  for (const st of decl.body) {
    if (st.kind !== "Input") continue;
    step([st.name], () => {
      const t = evalTensorType(ctx, st.type, `input \`${st.name.name}\``, false);
      const v = gen.fresh(t, st.name.name);
      define(ctx, st.name, { kind: "tensor", v, graph: m.fwd });
      inputs.push({ name: st.name.name, var: v, span: st.name.span });
      for (const d of t.shape) for (const n of dimVars(d)) if (!dims.includes(n)) dims.push(n);
      for (const n of t.shape.flatMap(dimVars)) m.inputDims.add(n);
      const first = t.shape[0];
      const batch = first && dimVars(first).length === 1 ? dimVars(first)[0]! : null;
      if (batch && dimEq(first!, dimVar(batch)) && !m.batchDims.has(batch))
        m.batchDims.set(batch, { input: st.name.name, span: st.type.span, file });
    });
  }

  const outputs: Named[] = [];
  const metrics: Named[] = [];
  let loss: Var | null = null;
  let lossSpan: ast.Span | null = null;
  for (const st of decl.body) {
    switch (st.kind) {
      case "Input":
        break;
      case "Assign":
        step(st.targets, () => execAssign(ctx, st));
        break;
      case "Param":
        step([st.name], () => execParam(ctx, st));
        break;
      case "State":
        step([st.name], () => execState(ctx, st));
        break;
      case "Update":
        step([], () => execUpdate(ctx, st));
        break;
      case "Output":
        step([st.name], () => {
          const v = asTensorVar(ctx, evalExpr(ctx, st.value), st.value.span, "i32");
          define(ctx, st.name, { kind: "tensor", v, graph: m.fwd });
          outputs.push({ name: st.name.name, var: v, span: st.name.span });
        });
        break;
      case "Metric":
        step([st.name], () => {
          let v = asTensorVar(ctx, evalExpr(ctx, st.value), st.value.span);
          if (v.type.shape.length !== 0)
            fail(
              ctx,
              "E3003",
              `metric \`${st.name.name}\` must be a scalar, but it is ${shapeToString(v.type.shape)}`,
              st.value.span,
              {
                help: "average it over the batch with `mean(...)`",
              },
            );
          // Accuracy-style metrics are means of bools; report every metric as f32.
          v = cast(ctx, v, "f32", st.value.span);
          define(ctx, st.name, { kind: "tensor", v, graph: m.fwd });
          metrics.push({ name: st.name.name, var: v, span: st.name.span });
        });
        break;
      case "Loss":
        step([], () => {
          if (lossSpan)
            fail(ctx, "E2005", "a model has exactly one loss", st.span, {
              labels: [{ span: lossSpan, message: "the loss is already defined here" }],
              help: "add the terms into one expression: `loss a + b`",
            });
          lossSpan = st.span;
          const v = asTensorVar(ctx, evalExpr(ctx, st.value), st.value.span);
          if (v.type.shape.length !== 0)
            fail(
              ctx,
              "E3012",
              `the loss must be a scalar, but it is ${shapeToString(v.type.shape)}`,
              st.value.span,
              {
                help: "reduce it to one number, e.g. with `mean(...)` or `sum(...)`",
              },
            );
          if (v.type.dtype !== "f32")
            fail(
              ctx,
              "E3008",
              `the loss must be a float, but it is ${typeText(v.type)}`,
              st.value.span,
              {
                notes: ["training differentiates the loss, which needs a float"],
              },
            );
          loss = v;
        });
        break;
      case "Return":
        step([], () => fail(ctx, "E2009", "`return` can only appear in a block", st.span));
        break;
      case "Yield":
        step([], () =>
          fail(ctx, "E2009", "`yield` can only appear in the body of a `scan`", st.span),
        );
        break;
    }
  }
  if (!ok) return null;
  if (!checkDimsBound(ctx, dims, decl)) return null;

  // A param the forward graph never reads (`b` of `dense(x, n, bias: false)`,
  // declared before the `if` that skips it) does not exist: it is dropped
  // from the params, the checkpoints and the init graph. A state with an
  // update stays, read or not: step() keeps it.
  const updates = stateUpdates(m);
  const read = new Set<number>(updates.keys());
  for (const e of m.fwd.eqns) for (const x of e.inputs) read.add(x.id);
  for (const o of [...outputs, ...metrics]) read.add(o.var.id);
  m.params = m.params.filter((p) => read.has(p.var.id));
  const initEqns = liveEqns(
    m.init.eqns,
    m.params.map((p) => p.init),
  );

  if (!checkParamBytes(ctx, decl)) return null;

  const params = m.params.map((p) => ({
    path: p.path,
    var: p.var,
    span: p.span,
    ...(isState(m, p.var) && { state: true as const }),
    ...(p.stack && { stack: p.stack }),
  }));
  const lossVar = loss as Var | null;
  return {
    name: m.name,
    dims,
    inputs: inputs.map((i) => ({ name: i.name, var: i.var, span: i.span })),
    params,
    updates: m.params.flatMap((p, index) => {
      const u = updates.get(p.var.id);
      return u ? [{ index, var: u.var, span: u.span }] : [];
    }),
    seed: m.seed,
    training: m.training,
    forward: {
      inputs: [...inputs.map((i) => i.var), ...m.params.map((p) => p.var), m.seed, m.training],
      eqns: m.fwd.eqns,
      outputs: [
        ...outputs.map((o) => o.var),
        ...metrics.map((x) => x.var),
        ...(lossVar ? [lossVar] : []),
      ],
    },
    outputs: outputs.map((o) => ({ name: o.name, var: o.var, span: o.span })),
    metrics: metrics.map((x) => ({ name: x.name, var: x.var, span: x.span })),
    loss: lossVar,
    init: { inputs: [m.initSeed], eqns: initEqns, outputs: m.params.map((p) => p.init) },
    checks: m.checks,
  };
}

/**
 * All parameters together must fit `maxParamBytes` (E3016 at the model's
 * name, listing the largest); when their sizes depend on dims given at
 * createModel, the runtime checks the total then.
 */
function checkParamBytes(ctx: Ctx, decl: ast.ModelDecl): boolean {
  const m = ctx.m!;
  const max = ctx.s.limits.maxParamBytes;
  const sizes = m.params.map((p) => ({ path: p.path, least: minBytes(p.var.type.shape) }));
  const least = sizes.reduce((t, p) => t + p.least, 0);
  if (least > max) {
    const largest = [...sizes].sort((a, b) => b.least - a.least).slice(0, 3);
    ctx.s.report(
      makeDiag(
        ctx,
        "E3016",
        `the parameters of \`${decl.name.name}\` take ${bytesText(least)} in total, more than the limit of ${bytesText(max)}`,
        decl.name.span,
        {
          notes: largest.map((p) => `\`${p.path}\` takes ${bytesText(p.least)}`),
          help: "raise the limit with `--max-param-bytes` (`maxParamBytes` in CompileOptions), or make the model smaller",
        },
      ),
    );
    return false;
  }
  if (m.params.some((p) => !shapeAsConst(p.var.type.shape))) {
    const total = m.params.reduce((t, p) => dimAdd(t, bytesDim(p.var.type.shape)), dimConst(0));
    m.checks.push({
      dim: total,
      min: 0,
      max,
      unit: "bytes",
      message: `the parameters of \`${decl.name.name}\` may take at most ${max} bytes in total (the limit set by --max-param-bytes)`,
    });
  }
  return true;
}

/**
 * Every named dim in the graph must come from an input's shape, or the
 * runtime has no way to learn its size (`zeros([T])` with no input over `T`).
 */
function checkDimsBound(ctx: Ctx, dims: string[], decl: ast.ModelDecl): boolean {
  const reported = new Set<string>();
  const eqns = [...ctx.m!.fwd.eqns, ...ctx.m!.init.eqns];
  for (const e of eqns)
    for (const n of eqnDims(e))
      if (!dims.includes(n) && !reported.has(n)) {
        reported.add(n);
        ctx.s.report({
          code: "E2002",
          severity: "error",
          message: `dimension \`${n}\` is not bound by any input of \`${decl.name.name}\``,
          file: e.file ?? ctx.file,
          span: e.span ?? decl.name.span,
          labels: [],
          notes: [`named dims get their size from the inputs' shapes when the model runs`],
          help: `use \`${n}\` in an input's type, or make it a \`const\``,
        });
      }
  return reported.size === 0;
}

/**
 * The named dims an equation needs at run time: those in its outputs'
 * shapes and in its params (a dim used as a value, `f / T`, is a `dimval`;
 * slice bounds, scan lengths), nested graphs (scan bodies) included.
 */
function eqnDims(e: Eqn): string[] {
  const out = new Set<string>();
  for (const o of e.outs) addDimNames(o.type.shape, out);
  addDimNames(e.params, out);
  return [...out];
}

/** eqnDims' walk, at module level: tsx names a local closure with a defineProperty per call. */
function addDimNames(x: unknown, out: Set<string>): void {
  if (x === null || typeof x !== "object") return;
  if (Array.isArray(x)) {
    for (const y of x) addDimNames(y, out);
    return;
  }
  if ("terms" in x && Array.isArray((x as Dim).terms)) {
    // A dim's names, read off its terms (most dims are constants, with none).
    for (const t of (x as Dim).terms)
      for (const a of t.atoms)
        if (a.kind === "var") out.add(a.name);
        else addDimNames(a, out);
    return;
  }
  for (const k in x) addDimNames((x as Record<string, unknown>)[k], out);
}
