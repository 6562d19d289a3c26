// The state elaboration threads through: scopes of names, the session that
// collects diagnostics and types (for hovers), the model being built, and the context
// of one block invocation (its scope, its param path, its graph builder).

import type { BlockDecl, Program, Span } from "../../grammar/index.ts";
import type { Builder } from "../builder.ts";
import { diag, type DiagCode, type Diagnostic, type Label } from "../diagnostics.ts";
import type { DimCheck, Var, VarGen } from "../ir.ts";
import { defaultLimits, type SizeLimits } from "../limits.ts";
import type { TypeAt } from "../symbols.ts";
import type { RunLog } from "../symbols/cache.ts";
import type { SharedFn, Value } from "./values.ts";

/** A user error: aborts the current statement, which records it and moves on. */
export class ElabError extends Error {
  constructor(readonly diagnostic: Diagnostic) {
    super(diagnostic.message);
  }
}

/**
 * The value needed depends on something that already failed (and was
 * reported). Aborts the statement silently, so one mistake gives one
 * diagnostic instead of a cascade.
 */
export class Poisoned extends Error {
  constructor() {
    super("poisoned");
  }
}

export interface ScopeEntry {
  /** A value, or one computed from the context at each use (`params`, `training`). */
  value: Value | ((ctx: Ctx, span: Span) => Value);
  /** Where it was defined (for "first defined here" labels). */
  span?: Span;
  file?: string;
  /** For a dim bound by unifying a block signature: the argument that fixed it. */
  origin?: { arg: string; span: Span; shape: string };
}

/** What `import "layers.dlg" as layers` names: the global scope of that file (and its plain imports). */
export interface Namespace {
  scope: Scope;
  /** The imported file, and the alias as written in the importer. */
  file: string;
  span: Span;
  importer: string;
}

export class Scope {
  private readonly vars = new Map<string, ScopeEntry>();
  private readonly spaces = new Map<string, Namespace>();
  constructor(readonly parent: Scope | null = null) {}

  define(name: string, entry: ScopeEntry): void {
    this.vars.set(name, entry);
  }

  /** Defined in this scope itself (not a parent)? */
  own(name: string): ScopeEntry | undefined {
    return this.vars.get(name);
  }

  /** A name, or a qualified one (`layers.encoder`: `encoder` of the namespace `layers`). */
  lookup(name: string): ScopeEntry | undefined {
    const dot = name.indexOf(".");
    if (dot > 0) return this.namespace(name.slice(0, dot))?.scope.own(name.slice(dot + 1));
    return this.vars.get(name) ?? this.parent?.lookup(name);
  }

  /** The names defined in this scope itself, in order. */
  ownNames(): string[] {
    return [...this.vars.keys()];
  }

  defineNamespace(alias: string, ns: Namespace): void {
    this.spaces.set(alias, ns);
  }

  namespace(alias: string): Namespace | undefined {
    return this.spaces.get(alias) ?? this.parent?.namespace(alias);
  }

  /** Every namespace alias visible here. */
  namespaces(): string[] {
    const out = new Set<string>();
    for (let s: Scope | null = this; s; s = s.parent) for (const k of s.spaces.keys()) out.add(k);
    return [...out];
  }

  /**
   * Every visible name, innermost scope first (suggestions prefer locals),
   * then each namespace's names qualified (`layers.encoder`).
   */
  *entries(): Iterable<[string, ScopeEntry]> {
    const seen = new Set<string>();
    for (let s: Scope | null = this; s; s = s.parent)
      for (const [k, v] of s.vars)
        if (!seen.has(k)) {
          seen.add(k);
          yield [k, v];
        }
    for (const alias of this.namespaces())
      for (const [k, v] of this.namespace(alias)!.scope.vars) yield [`${alias}.${k}`, v];
  }
}

/**
 * The namespace of an import that could not be read (already reported): every
 * `ns.name` is poison, so its uses stay silent instead of each being unknown.
 */
export class UnreadScope extends Scope {
  override own(): ScopeEntry {
    return { value: { kind: "poison" } };
  }
}

/** Distinct type texts kept per span: a block called with many shapes shows the first few, then `…`. */
const MAX_TYPE_TEXTS = 4;

/** Everything one `elaborate` call accumulates. */
export class Session {
  readonly diagnostics: Diagnostic[] = [];
  /**
   * What hover shows, per file: each evaluated expression's type, bound names, call signatures,
   * in the order recorded, found by span start then end (small integers: no number is boxed
   * per lookup, as a `start * 2^21 + end` key was).
   */
  private readonly types = new Map<
    string,
    { list: TypeAt[]; at: Map<number, Map<number, TypeAt>> }
  >();
  readonly sources = new Map<string, string>();
  /** Each file's AST, in the order read (std first, then imports before importers). */
  readonly programs = new Map<string, Program>();
  /** Files of the standard library: errors inside them are reported at the user's call. */
  readonly stdFiles = new Set<string>();
  /** The standard library's scope (intrinsics and std blocks), the root of every lookup. */
  std: Scope = new Scope();
  /** Blocks some call inlined (the others are checked on their own, elaborateUncalled): `markCalled`. */
  readonly called = new Set<BlockDecl>();
  /** While set, each type, report and call mark is also logged, to be replayed (elaborate/reuse.ts). */
  log: RunLog | null = null;
  /** How large tensors may be (E3015, E3016). */
  limits: SizeLimits = defaultLimits;
  /** Expressions being evaluated inside one another, across inlined blocks (expr.ts). */
  depth = 0;
  private readonly seen = new Set<string>();

  /** A session of its own for a run whose diagnostics are judged apart (or dropped), over the same files and std. */
  sandbox(): Session {
    const out = new Session();
    out.std = this.std;
    out.limits = this.limits;
    for (const f of this.stdFiles) out.stdFiles.add(f);
    for (const [k, v] of this.sources) out.sources.set(k, v);
    return out;
  }

  /** Merge the types another session recorded. */
  takeTypes(from: Session): void {
    for (const t of from.typeList()) for (const text of t.texts) this.type(t.file, t.span, text);
  }

  /** Record a type text at a span (once; a span evaluated again with another shape gets a second text). */
  type(file: string, span: Span, text: string): void {
    this.log?.types.push({ file, span, text });
    let inFile = this.types.get(file);
    if (!inFile) this.types.set(file, (inFile = { list: [], at: new Map() }));
    let byEnd = inFile.at.get(span.start);
    if (!byEnd) inFile.at.set(span.start, (byEnd = new Map()));
    const t = byEnd.get(span.end);
    if (!t) {
      const added = { file, span, texts: [text] };
      byEnd.set(span.end, added);
      inFile.list.push(added);
    } else if (t.texts.length <= MAX_TYPE_TEXTS && !t.texts.includes(text))
      t.texts.push(t.texts.length < MAX_TYPE_TEXTS ? text : "…");
  }

  /** Every recorded type, file by file. */
  typeList(): TypeAt[] {
    return [...this.types.values()].flatMap((f) => f.list);
  }

  /** Record a diagnostic once: a block called twice with the same mistake reports it once. */
  report(d: Diagnostic): void {
    // Logged before the dedupe: a run replayed into another session may be the first to report it.
    this.log?.reports.push(d);
    const key = `${d.code}|${d.file}|${d.span.start}|${d.span.end}|${d.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.diagnostics.push(d);
  }

  /** A block some call inlined (so it is not also checked alone). */
  markCalled(decl: BlockDecl): void {
    this.log?.called.push(decl);
    this.called.add(decl);
  }
}

export interface ParamInfo {
  path: string;
  var: Var;
  span: Span;
  file: string;
  /** Its initial value, computed in the init graph. */
  init: Var;
  /** v2 `repeat`: the param stacks the copies' params on its leading axes (ir.ts ModelParam.stack). */
  stack?: { prefix: string; n: number }[];
}

/** The model under construction. */
export interface ModelState {
  name: string;
  gen: VarGen;
  fwd: Builder;
  init: Builder;
  /** Forward-graph inputs: per-call seed (i32) and training flag (bool). */
  seed: Var;
  training: Var;
  /** The init graph's only input. */
  initSeed: Var;
  params: ParamInfo[];
  /** Each random call site gets its own stream, so masks never repeat across layers. */
  nextStream: number;
  /**
   * Dims that size the first (batch) axis of some input: they change from
   * call to call (a last partial batch, predict on one example), so no param
   * may depend on them. Maps the dim to the input that binds it.
   */
  batchDims: Map<string, { input: string; span: Span; file: string }>;
  /** Every named dim that some input's shape binds at run time. */
  inputDims: Set<string>;
  /** Conditions on run-time dims that elaboration could not prove (dim-checks.ts). */
  checks: DimCheck[];
}

/** One active block call, innermost last. */
export interface Frame {
  decl: BlockDecl;
  name: string;
  file: string;
  site: Span;
  siteFile: string;
}

export interface Ctx {
  s: Session;
  /** Null outside a model (consts, train settings): no tensors there. */
  m: ModelState | null;
  /** Where tensor ops go: the forward graph, or the init graph for param initialisers. */
  b: Builder | null;
  scope: Scope;
  file: string;
  /** Param path prefix: "" at model level, "attend_1.dense_2." inside nested calls. */
  path: string;
  /** Per block name, how many calls this level has made (`dense_1`, `dense_2`). */
  counters: Map<string, number>;
  stack: Frame[];
  /** Inside an application of a shared binding (sharing.ts): the params under it are reused. */
  shared?: SharedApplication;
}

/** One application of a shared binding: `left |> encode` at its span. */
export interface SharedApplication {
  fn: SharedFn;
  span: Span;
  file: string;
}

export interface Extra {
  labels?: Label[];
  notes?: string[];
  help?: string | undefined;
}

export function makeDiag(
  ctx: Ctx,
  code: DiagCode,
  message: string,
  span: Span,
  extra: Extra = {},
): Diagnostic {
  const opts: { labels?: Label[]; notes?: string[]; help?: string } = {};
  if (extra.labels) opts.labels = extra.labels;
  if (extra.notes) opts.notes = extra.notes;
  if (extra.help !== undefined) opts.help = extra.help;
  return diag(code, message, ctx.file, span, opts);
}

/** Abort the current statement with a diagnostic in the current file. */
export function fail(
  ctx: Ctx,
  code: DiagCode,
  message: string,
  span: Span,
  extra: Extra = {},
): never {
  throw new ElabError(makeDiag(ctx, code, message, span, extra));
}
