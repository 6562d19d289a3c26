// What an expression evaluates to during elaboration. Tensors are graph
// variables; everything else (numbers, dims, lists, functions) exists only at
// compile time and disappears once the graph is built.

import type { BlockDecl, Span } from "../../grammar/index.ts";
import type { Builder } from "../builder.ts";
import { dimAsConst, dimToString, shapeToString, type Dim } from "../dims.ts";
import type { TensorType, Var } from "../ir.ts";
import type { Ctx, Scope } from "./context.ts";

export type Value =
  /** A graph variable; `graph` is the builder it lives in (forward or init). */
  | { kind: "tensor"; v: Var; graph: Builder }
  | { kind: "int"; value: number }
  /** `inexact` records an int division that did not divide (`10 / 3`), in case a dimension was meant. */
  | { kind: "float"; value: number; inexact?: string }
  | { kind: "bool"; value: boolean }
  /** A symbolic dimension (`B`, `4 * H`), or a concrete one bound from a shape. */
  | { kind: "dim"; dim: Dim }
  /** `spans` (when written as a list literal) lets errors point at one item. */
  | { kind: "list"; items: Value[]; spans?: Span[] }
  | { kind: "string"; value: string }
  | { kind: "fn"; fn: Callable }
  /** A name whose definition failed; using it stays silent (the error is already reported). */
  | { kind: "poison" };

export type Tensor = Extract<Value, { kind: "tensor" }>;

/** An evaluated argument, with the span to blame if it turns out wrong. */
export interface Arg {
  value: Value;
  span: Span;
}

/** Where a call happens, for diagnostics and param naming. */
export interface CallSite {
  name: string;
  span: Span;
  /** The callee's name as written, where hover shows what this call bound and returned. */
  callee?: Span;
  /**
   * The param path a block call uses instead of a fresh `name_k.` (a shared
   * binding's `encode.`; repeat's `repeat_1.0.`).
   */
  path?: string;
  /** Set when this applies a shared binding: its params are created once and then reused. */
  shared?: SharedFn;
}

export interface ParamSpec {
  name: string;
  /** Optional params may be absent from the bound arguments; the intrinsic applies its default. */
  optional?: true;
}

export interface BlockFn {
  kind: "block";
  name: string;
  decl: BlockDecl;
  file: string;
  /** The global scope of the file that defines the block (std blocks see only std). */
  scope: Scope;
}

export interface IntrinsicFn {
  kind: "intrinsic";
  name: string;
  params: ParamSpec[];
  /** Signature as shown in diagnostics and hovers. */
  sig: string;
  /** Shown on hover under the signature, as a block's `///` doc comment. */
  doc?: string;
  impl: (ctx: Ctx, args: Map<string, Arg>, site: CallSite) => Value;
}

/**
 * A call that left out its first tensor argument (`dense(10)`,
 * `leaky_relu(alpha: 0.2)`): a function of that tensor. Applying it supplies
 * the tensor and calls `base` with the arguments bound here.
 */
export interface PartialFn {
  kind: "partial";
  name: string;
  base: Callable;
  /** Positional arguments, which bind from the base's second parameter on. */
  bound: Arg[];
  named: Map<string, Arg & { nameSpan?: Span }>;
  /** The call as written (`leaky_relu(alpha: 0.2)`), for hovers and messages. */
  text: string;
}

/**
 * A function value bound by an assignment (`encode = tower(64)`): every
 * application shares one param set, under the binding's path (`encode.`).
 */
export interface SharedFn {
  kind: "shared";
  name: string;
  fn: Callable;
  /** The param path of every application: the binding's name under the path where it was bound. */
  path: string;
  span: Span;
  file: string;
}

export type Callable = BlockFn | IntrinsicFn | PartialFn | SharedFn;

export const int = (value: number): Value => ({ kind: "int", value });
export const float = (value: number): Value => ({ kind: "float", value });
export const bool = (value: boolean): Value => ({ kind: "bool", value });
export const dimValue = (dim: Dim): Value => ({ kind: "dim", dim });
export const list = (items: Value[]): Value => ({ kind: "list", items });

export function typeText(t: TensorType): string {
  return `${t.dtype}${shapeToString(t.shape)}`;
}

/** A short phrase for messages: "a tensor f32[B, 784]", "the int 3". */
export function describe(v: Value): string {
  switch (v.kind) {
    case "tensor":
      return `a tensor ${typeText(v.v.type)}`;
    case "int":
      return `the int ${v.value}`;
    case "float":
      return `the float ${v.value}`;
    case "bool":
      return `the bool ${v.value}`;
    case "dim": {
      const c = dimAsConst(v.dim);
      return c === null ? `the dimension ${dimToString(v.dim)}` : `the dimension ${c}`;
    }
    case "list":
      return `a list of ${v.items.length} value${v.items.length === 1 ? "" : "s"}`;
    case "string":
      return `the string "${v.value}"`;
    case "fn":
      return describeFn(v.fn);
    case "poison":
      return "an invalid value";
  }
}

/** A dim that is just the name it is read through (`B` is `B`): nothing to show on hover. */
export function namesItself(name: string, v: Value): boolean {
  return v.kind === "dim" && dimToString(v.dim) === name;
}

/** Hover text for a value bound to `name`. */
export function hoverText(name: string, v: Value): string {
  switch (v.kind) {
    case "tensor":
      return `${name}: ${typeText(v.v.type)}`;
    case "int":
    case "float":
    case "bool":
      return `${name}: ${v.kind} = ${v.value}`;
    case "dim":
      return `${name}: dim = ${dimToString(v.dim)}`;
    case "fn": {
      if (v.fn.kind === "shared")
        return `${name}: fn = ${fnText(v.fn.fn)}\n\nshared: every application uses one param set, \`${v.fn.path}*\``;
      // A function named by itself (an uncalled block's stand-in for a `fn` argument) shows no value.
      const text = fnText(v.fn);
      return text === name ? `${name}: fn` : `${name}: fn = ${text}`;
    }
    default:
      return `${name}: ${describe(v)}`;
  }
}

/** A function value as written: `relu`, `leaky_relu(alpha: 0.2)`, `encode`. */
export function fnText(fn: Callable): string {
  return fn.kind === "partial" ? fn.text : fn.name;
}

function describeFn(fn: Callable): string {
  switch (fn.kind) {
    case "block":
      return `the block \`${fn.name}\``;
    case "intrinsic":
      return `the function \`${fn.name}\``;
    case "partial":
      return `the function \`${fn.text}\``;
    case "shared":
      return `the shared function \`${fn.name}\` (\`${fnText(fn.fn)}\`)`;
  }
}
