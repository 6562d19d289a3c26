// The canonical text form of a graph, in the spirit of a jaxpr:
//
//   in %0:f32[B, 784] (x), %1:f32[784, 10] (w)
//     %2:f32[B, 10] (logits) = matmul %0 %1
//     %3:f32[B] = reduce_sum{axes=[1]} %2
//   out %2, %3
//
// Vars are renumbered in order of first appearance, so the text depends only
// on the graph's structure, never on the global ids a VarGen handed out; that
// keeps snapshot tests stable when unrelated code allocates more vars.

import { dimToString, shapeToString, type Dim } from "./dims.ts";
import type { Eqn, Graph, TensorType, Var } from "./ir.ts";

export function typeToString(t: TensorType): string {
  return `${t.dtype}${shapeToString(t.shape)}`;
}

function isDim(x: unknown): x is Dim {
  return typeof x === "object" && x !== null && Array.isArray((x as { terms?: unknown }).terms);
}

function isGraph(x: unknown): x is Graph {
  return typeof x === "object" && x !== null && Array.isArray((x as { eqns?: unknown }).eqns);
}

function paramValue(v: unknown): string {
  if (isDim(v)) return dimToString(v);
  // A sub-graph (scan's body) by its canonical text, so equal bodies give equal keys (CSE).
  if (isGraph(v)) return `(${printGraph(v).replaceAll("\n", "; ")})`;
  if (Array.isArray(v)) return `[${v.map(paramValue).join(", ")}]`;
  // -0 is a different constant from 0 (1/x tells them apart), so print it as such.
  return Object.is(v, -0) ? "-0" : String(v);
}

/** `{axes=[1]}`, or "" for an op without params. Keys keep their declaration order. */
export function paramsToString(params: object): string {
  const parts = Object.entries(params).map(([k, v]) => `${k}=${paramValue(v)}`);
  return parts.length ? `{${parts.join(", ")}}` : "";
}

/** Stable short names for the vars of one graph: `%0`, `%1`, ... by first appearance. */
export class VarNamer {
  private readonly names = new Map<number, string>();
  name(v: Var): string {
    let n = this.names.get(v.id);
    if (n === undefined) {
      n = `%${this.names.size}`;
      this.names.set(v.id, n);
    }
    return n;
  }
  /** The defining form: name, type and hint. */
  decl(v: Var): string {
    return `${this.name(v)}:${typeToString(v.type)}${v.hint ? ` (${v.hint})` : ""}`;
  }
}

export function eqnToString(e: Eqn, names: VarNamer): string {
  // Inputs first: a var that is (wrongly) used by the equation defining it
  // should still print with the number it would get from its use.
  const ins = e.inputs.map((v) => ` ${names.name(v)}`).join("");
  const outs = e.outs.map((v) => names.decl(v)).join(", ");
  if (e.op !== "scan") return `${outs} = ${e.op}${paramsToString(e.params)}${ins}`;
  // A scan prints its params, then its body indented below it (its vars numbered on their own).
  const { body, ...rest } = e.params;
  const nested = printGraph(body)
    .split("\n")
    .map((l) => `  ${l}`);
  return [`${outs} = ${e.op}${paramsToString(rest)}${ins}`, ...nested].join("\n");
}

/** The printed graph split into its header, one (indented) line per equation, and footer. */
export interface GraphLines {
  header: string;
  eqns: string[];
  footer: string;
  /** The numbering used, so messages about the graph can name vars the same way. */
  names: VarNamer;
}

export function graphLines(g: Graph): GraphLines {
  const names = new VarNamer();
  const header = `in ${g.inputs.map((v) => names.decl(v)).join(", ")}`.trimEnd();
  // Indent every line of an equation, so a scan's nested body stays under it.
  const eqns = g.eqns.map((e) => eqnToString(e, names).replaceAll(/^/gm, "  "));
  const footer = `out ${g.outputs.map((v) => names.name(v)).join(", ")}`.trimEnd();
  return { header, eqns, footer, names };
}

export function printGraph(g: Graph): string {
  const { header, eqns, footer } = graphLines(g);
  return [header, ...eqns, footer].join("\n");
}
