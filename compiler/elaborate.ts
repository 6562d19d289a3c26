// Elaboration: AST -> checked graph IR. Reads the entry file and its imports
// (each once), puts the standard library in scope, registers every top-level
// declaration, then builds one ModelIR per model by inlining blocks and one
// TrainConfig per train block. User errors never throw: each becomes a
// Diagnostic, and elaboration goes on to find as many as it can.
//
// The pieces live in compiler/elaborate/: values and scopes (values.ts,
// context.ts), expressions and calls (expr.ts, block.ts, stmts.ts), tensor
// arithmetic (tensor-ops.ts), shapes in signatures (types.ts), intrinsics
// and initialisers, models, train settings.

import {
  parse,
  type BlockDecl,
  type Ident,
  type ModelDecl,
  type ParseResult,
  type Program,
  type Span,
} from "../grammar/index.ts";
import { diag, type Diagnostic } from "./diagnostics.ts";
import { dimConst, dimToString, dimVar } from "./dims.ts";
import type { ModelIR, TrainConfig } from "./ir.ts";
import type { SizeLimits } from "./limits.ts";
import {
  checkText,
  formatBytes,
  isUnreadable,
  MAX_SOURCE_BYTES,
  type Unreadable,
} from "./source-file.ts";
import type { TypeAt } from "./symbols.ts";
import type { RunStore } from "./symbols/cache.ts";
import {
  fail,
  Scope,
  Session,
  UnreadScope,
  type Ctx,
  type ScopeEntry,
} from "./elaborate/context.ts";
import { evalExpr } from "./elaborate/expr.ts";
import { intrinsicTable } from "./elaborate/intrinsics.ts";
import { elaborateModel, elaborateUncalled } from "./elaborate/model.ts";
import { fingerprint, reusing, runsFor } from "./elaborate/reuse.ts";
import { isState } from "./elaborate/state.ts";
import { guarded } from "./elaborate/stmts.ts";
import { need } from "./elaborate/tensor-ops.ts";
import { elaborateTrain } from "./elaborate/train-config.ts";
import { describe, hoverText, type Value } from "./elaborate/values.ts";
import { resolveImport } from "./source-file.ts";

// lsp/navigation.ts and the tests import it from here.
export { resolveImport };

export interface ElaborateHost {
  /** A file's text, or why there is none (undefined: it does not exist). */
  readFile(path: string): string | Unreadable | undefined;
  /** The text of a std file (`prelude.dlg`); without it, `readFile(stdPath(name))`. */
  readStd?(name: string): string | undefined;
}

export interface ElaborateResult {
  models: Map<string, ModelIR>;
  trains: TrainConfig[];
  diagnostics: Diagnostic[];
  /** Every file read (std included), for rendering diagnostics. */
  sources: Map<string, string>;
  /** Each file's AST (std included; recovered when it has syntax errors), std first, then imports before importers. */
  programs: Map<string, Program>;
  /** Types per span (evaluated expressions, bound names, call signatures), for the language server. */
  types: TypeAt[];
  /** Where each model and train block is named, for errors about choosing one (compile.ts). */
  sites: { models: Map<string, Site>; trains: Map<TrainConfig, Site> };
}

export interface Site {
  file: string;
  span: Span;
}

export const STD_PRELUDE = "std/prelude.dlg";

/**
 * Where std's files live on disk: next to compiler/, found from this module's
 * URL, so the compiler needs no file system of its own (reads go through the
 * host, like every other file).
 */
export function stdPath(name: string): string {
  return decodeURIComponent(new URL(`../std/${name}`, import.meta.url).pathname);
}

function readStd(host: ElaborateHost, name: string): string | undefined {
  const text = host.readStd?.(name) ?? host.readFile(stdPath(name));
  return typeof text === "string" ? text : undefined;
}

// ---------------------------------------------------------------- files and imports

/** Where a file was asked for: the import naming it (null for the entry file). */
type ImportSite = { file: string; span: Span; written: string } | null;

/** Why `file` could not be used, as words after "cannot read `x`: ". */
const unreadableWhy: Record<"missing" | "directory" | "special", string> = {
  missing: "no such file",
  directory: "it is a directory",
  special: "it is not a regular file",
};

/**
 * Read one source file through the host and check it is text of a sane
 * size. On failure: the diagnostic, at the import that named the file (or,
 * for text that is not UTF-8, at the first bad byte in the file itself),
 * and the text that may be shown for it.
 */
export function readSource(
  host: ElaborateHost,
  file: string,
  from: ImportSite,
): { text: string } | { diagnostic: Diagnostic; shown?: string } {
  const got = host.readFile(file);
  const r: string | Unreadable =
    got === undefined ? { reason: "missing" } : isUnreadable(got) ? got : checkText(got);
  if (!isUnreadable(r)) return { text: r };
  const at = from ? { file: from.file, span: from.span } : { file, span: { start: 0, end: 0 } };
  const named = from ? `imported file \`${from.written}\`` : `\`${file}\``;
  const looked = from
    ? [`looked for \`${file}\` (imports are relative to the importing file)`]
    : [];
  switch (r.reason) {
    case "missing":
    case "directory":
    case "special":
      return {
        diagnostic: diag(
          "E2006",
          `cannot read ${named}: ${unreadableWhy[r.reason]}`,
          at.file,
          at.span,
          {
            notes: looked,
          },
        ),
      };
    case "too-large":
      return {
        diagnostic: diag(
          "E1005",
          `${named} is ${formatBytes(r.bytes)}; source files may be at most ${formatBytes(MAX_SOURCE_BYTES)}`,
          at.file,
          at.span,
        ),
      };
    case "link":
      return {
        diagnostic: diag(
          "E2010",
          `${named} is a link to a file that is not .dlg`,
          at.file,
          at.span,
          {
            notes: ["only .dlg files are read, whatever a link points at"],
          },
        ),
      };
    case "not-text": {
      const end = r.prefix.length;
      return {
        diagnostic: diag(
          "E1004",
          `\`${file}\` is not UTF-8 text: ${r.what} at byte ${r.byte}`,
          file,
          { start: end, end },
          { notes: from ? [`imported at ${from.file}`] : [] },
        ),
        shown: r.prefix,
      };
    }
  }
}

interface Unit {
  file: string;
  program: Program;
  syntaxOk: boolean;
  /** The files it imports (those that could be read have units of their own), with the namespace alias if any. */
  imports: { file: string; alias: Ident | null; span: Span }[];
}

function unterminated(text: string, s: Span): boolean {
  return s.end - s.start < 2 || text[s.end - 1] !== '"';
}

/**
 * Parses one file's text. The language server passes a cache's (compiler/symbols/cache.ts)
 * so that a file whose text did not change is not parsed again.
 */
export type Parser = (file: string, text: string) => ParseResult;

const parseFile: Parser = (_file, text) => parse(text);

/** Parse the entry file and, depth first, everything it imports; imports come before importers. */
function loadFiles(s: Session, host: ElaborateHost, entry: string, parse: Parser): Unit[] {
  const units: Unit[] = [];
  const state = new Map<string, "loading" | "done">();
  const load = (file: string, from: ImportSite, chain: string[]) => {
    const st = state.get(file);
    if (st === "done") return;
    if (st === "loading") {
      const cycle = [...chain.slice(chain.indexOf(file)), file].join(" -> ");
      s.report(
        diag("E2008", `import cycle: ${cycle}`, from!.file, from!.span, {
          notes: [
            "files may not import each other in a circle; move what both need into a third file",
          ],
        }),
      );
      return;
    }
    const got = readSource(host, file, from);
    if ("diagnostic" in got) {
      if (got.shown !== undefined) s.sources.set(file, got.shown);
      s.report(got.diagnostic);
      state.set(file, "done");
      return;
    }
    const { text } = got;
    state.set(file, "loading");
    s.sources.set(file, text);
    const { program, errors } = parse(file, text);
    for (const e of errors) s.report(diag(e.code, e.message, file, e.span));
    const imports: Unit["imports"] = [];
    // An unterminated path (`import "layers.dl`) is already E1002: reading it would only add a follow-on error.
    for (const d of program.decls) {
      if (d.kind !== "Import" || unterminated(text, d.path.span)) continue;
      const site = { file, span: d.path.span, written: d.path.value };
      // Decided from the name, before anything is read: an import can never
      // pull in (and so quote in an excerpt) a file that is not a .dlg program.
      if (!d.path.value.endsWith(".dlg")) {
        s.report(
          diag("E2010", `can only import .dlg files, not \`${d.path.value}\``, file, d.path.span, {
            notes: ["an import names another .dlg file, relative to this one"],
          }),
        );
        continue;
      }
      const target = resolveImport(file, d.path.value);
      imports.push({ file: target, alias: d.alias, span: d.alias?.span ?? d.path.span });
      load(target, site, [...chain, file]);
    }
    state.set(file, "done");
    units.push({ file, program, syntaxOk: errors.length === 0, imports });
    s.programs.set(file, program);
  };
  load(entry, null, []);
  return units;
}

// ---------------------------------------------------------------- declarations

function globalCtx(s: Session, scope: Scope, file: string): Ctx {
  return { s, m: null, b: null, scope, file, path: "", counters: new Map(), stack: [] };
}

/** `training` and `params` mean something only inside a model, computed per use. */
function modelNames(ctx: Ctx, name: "training" | "params", span: Span): Value {
  const m = ctx.m;
  if (!m) fail(ctx, "E2007", `\`${name}\` only exists inside a model`, span);
  if (name === "training") return { kind: "tensor", v: m.training, graph: m.fwd };
  return {
    kind: "list",
    items: m.params
      .filter((p) => !isState(m, p.var))
      .map((p) => ({ kind: "tensor", v: p.var, graph: m.fwd }) as Value),
  };
}

function defineGlobal(ctx: Ctx, name: { name: string; span: Span }, value: Value): void {
  const prev = ctx.scope.own(name.name);
  if (prev) {
    ctx.s.report(
      diag("E2005", `\`${name.name}\` is already defined`, ctx.file, name.span, {
        labels:
          prev.file === ctx.file && prev.span
            ? [{ span: prev.span, message: "first defined here" }]
            : [],
        notes:
          prev.file && prev.file !== ctx.file
            ? [`the first definition is in \`${prev.file}\``]
            : [],
      }),
    );
    return;
  }
  ctx.scope.define(name.name, { value, span: name.span, file: ctx.file });
}

/**
 * A dim another file already declared: dims are named (`B` is `B`
 * everywhere), so the two declarations are one dimension, not a clash.
 */
function sameDim(prev: ScopeEntry | undefined, name: string, file: string): boolean {
  if (!prev || prev.file === file || typeof prev.value === "function") return false;
  return prev.value.kind === "dim" && dimToString(prev.value.dim) === name;
}

/** Files that share one global scope, and the namespaces it sees. */
interface Group {
  scope: Scope;
  files: Set<string>;
}

/**
 * The global scopes. Files joined by plain imports share one (as in v1: an
 * importer sees everything its imports define); `import "x.dlg" as ns`
 * gives `x.dlg` (with its own plain imports) a scope of its own, which the
 * importer reads through `ns.` (context.ts Scope.lookup). Groups are listed
 * so that a namespace's is declared before its importers' (their consts may
 * read it); each file's scope is that of the first group holding it.
 */
function groupFiles(
  s: Session,
  std: Scope,
  units: Unit[],
  entry: string,
): { order: Group[]; scopeOf: (file: string) => Scope } {
  const byFile = new Map(units.map((u) => [u.file, u]));
  const roots = new Map<string, Group>();
  const order: Group[] = [];
  const make = (root: string): Group => {
    const known = roots.get(root);
    if (known) return known;
    const g: Group = { scope: new Scope(std), files: new Set() };
    roots.set(root, g);
    const todo = [root];
    while (todo.length > 0) {
      const f = todo.pop()!;
      if (g.files.has(f) || !byFile.has(f)) continue;
      g.files.add(f);
      for (const imp of byFile.get(f)!.imports) if (!imp.alias) todo.push(imp.file);
    }
    for (const f of g.files)
      for (const imp of byFile.get(f)!.imports) {
        if (!imp.alias) continue;
        const alias = imp.alias.name;
        if (!byFile.has(imp.file)) {
          const ns = { file: imp.file, span: imp.alias.span, importer: f };
          g.scope.defineNamespace(alias, { ...ns, scope: new UnreadScope() });
          continue;
        }
        // Made even when the alias is taken: the file's own models and blocks are still checked.
        const target = make(imp.file);
        const prev = g.scope.namespace(alias);
        if (prev && prev.file !== imp.file) {
          s.report(
            diag("E2005", `namespace \`${alias}\` is already defined`, f, imp.alias.span, {
              labels:
                prev.importer === f
                  ? [{ span: prev.span, message: `\`${alias}\` is \`${prev.file}\` here` }]
                  : [],
              notes: [`\`${alias}\` already names \`${prev.file}\``],
              help: "give this import another alias",
            }),
          );
          continue;
        }
        g.scope.defineNamespace(alias, {
          scope: target.scope,
          file: imp.file,
          span: imp.alias.span,
          importer: f,
        });
      }
    order.push(g);
    return g;
  };
  make(entry);
  const scopeOf = (file: string): Scope =>
    [...roots.values()].find((g) => g.files.has(file))?.scope ?? std;
  return { order, scopeOf };
}

/** Register a file's dims, consts and blocks; consts are evaluated in order. */
function declare(s: Session, scope: Scope, u: Unit): void {
  const ctx = globalCtx(s, scope, u.file);
  for (const d of u.program.decls) {
    switch (d.kind) {
      case "Dim":
        for (const n of d.names)
          if (!sameDim(scope.own(n.name), n.name, u.file))
            defineGlobal(ctx, n, { kind: "dim", dim: dimVar(n.name) });
        break;
      case "Const":
        guarded(ctx, [d.name], () => {
          const v = need(evalExpr(ctx, d.value));
          const ok =
            v.kind === "int" || v.kind === "float" || v.kind === "bool" || v.kind === "dim";
          if (!ok) {
            s.report(
              diag(
                "E2007",
                `a const must be a number or a bool, but this is ${describe(v)}`,
                u.file,
                d.value.span,
              ),
            );
            defineGlobal(ctx, d.name, { kind: "poison" });
            return;
          }
          defineGlobal(ctx, d.name, v);
          s.type(u.file, d.name.span, hoverText(d.name.name, v));
        });
        break;
      case "Block":
        defineGlobal(ctx, d.name, {
          kind: "fn",
          fn: { kind: "block", name: d.name.name, decl: d, file: u.file, scope },
        });
        break;
      default:
        break;
    }
  }
}

function loadStd(s: Session, host: ElaborateHost, parse: Parser): Scope {
  const scope = new Scope();
  for (const fn of intrinsicTable()) scope.define(fn.name, { value: { kind: "fn", fn } });
  scope.define("training", { value: (ctx, span) => modelNames(ctx, "training", span) });
  scope.define("params", { value: (ctx, span) => modelNames(ctx, "params", span) });
  s.std = scope;
  const text = readStd(host, "prelude.dlg");
  s.stdFiles.add(STD_PRELUDE);
  if (text === undefined) {
    s.report(
      diag("E9001", "cannot read the standard library (std/prelude.dlg)", STD_PRELUDE, {
        start: 0,
        end: 0,
      }),
    );
    return scope;
  }
  s.sources.set(STD_PRELUDE, text);
  const { program, errors } = parse(STD_PRELUDE, text);
  s.programs.set(STD_PRELUDE, program);
  for (const e of errors)
    s.report(diag("E9001", `std does not parse: ${e.message}`, STD_PRELUDE, e.span));
  declare(s, scope, { file: STD_PRELUDE, program, syntaxOk: errors.length === 0, imports: [] });
  return scope;
}

/** The types of a model in a file with syntax errors, from its recovered AST (diagnostics dropped). */
function recoveredModelTypes(s: Session, decl: ModelDecl, file: string, globals: Scope): void {
  const sandbox = s.sandbox();
  try {
    elaborateModel(sandbox, decl, file, globals);
  } catch {
    // Recovered fragments are the elaborator's least-trodden input: what it had is kept.
  }
  s.takeTypes(sandbox);
}

// ---------------------------------------------------------------- entry point

export function elaborate(
  entryFile: string,
  host: ElaborateHost,
  opts: {
    dims?: Record<string, number>;
    limits?: SizeLimits;
    parse?: Parser;
    /**
     * Also run the models of files with syntax errors, for their types alone (an editor's
     * half-typed file still has hovers); what they would report is dropped, as noise.
     */
    recoveredTypes?: boolean;
    /**
     * Kept between calls (the language server's AnalysisCache): while the global environment
     * is unchanged, imported files' models and uncalled blocks are replayed, not re-run.
     */
    reuse?: RunStore;
  } = {},
): ElaborateResult {
  const s = new Session();
  if (opts.limits) s.limits = opts.limits;
  const std = loadStd(s, host, opts.parse ?? parseFile);
  const units = loadFiles(s, host, entryFile, opts.parse ?? parseFile);
  const store = opts.reuse;
  const runs =
    store &&
    runsFor(
      store,
      entryFile,
      fingerprint(entryFile, units, s.sources, {
        stdText: s.sources.get(STD_PRELUDE),
        recoveredTypes: opts.recoveredTypes === true,
        ...(opts.limits ? { limits: opts.limits } : {}),
        ...(opts.dims ? { dims: opts.dims } : {}),
      }),
    );
  const entry = {
    file: entryFile,
    blocks: new Set(units.find((u) => u.file === entryFile)?.program.decls ?? []),
  };
  /** Run one model or uncalled block: replayed when it is an imported file's and nothing changed. */
  const runOf = <T extends ModelIR | null | void>(
    file: string,
    decl: ModelDecl | BlockDecl,
    run: () => T,
  ): T => (file === entryFile ? run() : reusing(s, store, runs, entry, decl, run));

  const { order, scopeOf } = groupFiles(s, std, units, entryFile);
  for (const g of order) for (const u of units) if (g.files.has(u.file)) declare(s, g.scope, u);
  // Specialise dims the caller already knows (the CLI, from the data): `F` becomes 13.
  for (const [name, n] of Object.entries(opts.dims ?? {}))
    for (const { scope } of order)
      if (scope.own(name))
        scope.define(name, { ...scope.own(name)!, value: { kind: "dim", dim: dimConst(n) } });

  // Each file's models are its own: the entry file's come first, and an
  // imported file's model by the same name is checked but not selectable.
  const byEntryFirst = [
    ...units.filter((u) => u.file === entryFile),
    ...units.filter((u) => u.file !== entryFile),
  ];
  const modelDecls = new Map<string, { decl: ModelDecl; unit: Unit }>();
  const everyModel: { decl: ModelDecl; unit: Unit }[] = [];
  for (const u of byEntryFirst) {
    const own = new Map<string, ModelDecl>();
    for (const d of u.program.decls) {
      if (d.kind !== "Model") continue;
      const prev = own.get(d.name.name);
      if (prev) {
        s.report(
          diag("E2005", `model \`${d.name.name}\` is already defined`, u.file, d.name.span, {
            labels: [{ span: prev.name.span, message: "first defined here" }],
          }),
        );
        continue;
      }
      own.set(d.name.name, d);
      everyModel.push({ decl: d, unit: u });
      if (!modelDecls.has(d.name.name)) modelDecls.set(d.name.name, { decl: d, unit: u });
    }
  }

  // A file with syntax errors still contributes its names, but its models and
  // train blocks wait until it parses: recovered fragments would only add noise.
  const irOf = new Map<ModelDecl, ModelIR>();
  for (const { decl, unit } of everyModel) {
    const scope = scopeOf(unit.file);
    if (!unit.syntaxOk) {
      if (opts.recoveredTypes)
        runOf(unit.file, decl, () => recoveredModelTypes(s, decl, unit.file, scope));
      continue;
    }
    const ir = runOf(unit.file, decl, () => elaborateModel(s, decl, unit.file, scope));
    if (ir) irOf.set(decl, ir);
  }
  const models = new Map<string, ModelIR>();
  for (const [name, { decl }] of modelDecls) {
    const ir = irOf.get(decl);
    if (ir) models.set(name, ir);
  }

  // Blocks no model called are still checked, once each (a block they call counts as called).
  // A chain of calls cut short by E2011 leaves its tail uncalled: checked alone,
  // each tail would report the same chain again.
  const cut = s.diagnostics.some((d) => d.code === "E2011");
  for (const u of units) {
    if (!u.syntaxOk || cut) continue;
    for (const d of u.program.decls)
      if (d.kind === "Block" && !s.called.has(d))
        runOf(u.file, d, () =>
          elaborateUncalled(s, {
            kind: "block",
            name: d.name.name,
            decl: d,
            file: u.file,
            scope: scopeOf(u.file),
          }),
        );
  }

  // A train block is for its own file's model of that name, else for the
  // selectable one. An imported file's train blocks are selectable only when
  // the entry file defines no model: otherwise they would pick an imported
  // model over the entry's.
  const trains: TrainConfig[] = [];
  const trainSites = new Map<TrainConfig, Site>();
  const entryHasModels = everyModel.some((m) => m.unit.file === entryFile);
  for (const u of byEntryFirst) {
    if (!u.syntaxOk) continue;
    const ctx = globalCtx(s, scopeOf(u.file), u.file);
    const ownModels = new Map(
      everyModel.filter((m) => m.unit === u).map((m) => [m.decl.name.name, m]),
    );
    const seenTrains = new Set<string>();
    for (const d of u.program.decls) {
      if (d.kind !== "Train") continue;
      const key = `${d.name.name} for ${d.model.name}`;
      if (seenTrains.has(key)) {
        s.report(
          diag(
            "E2005",
            `train block \`${d.name.name}\` for \`${d.model.name}\` is already defined`,
            u.file,
            d.name.span,
          ),
        );
        continue;
      }
      seenTrains.add(key);
      const declOf = (name: string) => ownModels.get(name) ?? modelDecls.get(name);
      const t = elaborateTrain(
        ctx,
        d,
        [...new Set([...ownModels.keys(), ...modelDecls.keys()])],
        (m) => {
          const decl = declOf(m);
          return decl && irOf.get(decl.decl)?.metrics.map((x) => x.name);
        },
      );
      if (!t) continue;
      const decl = declOf(t.model);
      const selectable =
        u.file === entryFile || (!entryHasModels && decl?.decl === modelDecls.get(t.model)?.decl);
      if (selectable) {
        trains.push(t);
        trainSites.set(t, { file: u.file, span: d.name.span });
      }
      const model = decl && irOf.get(decl.decl);
      if (model && decl && model.loss === null)
        s.report(
          diag(
            "E4004",
            `train block \`${t.name}\` is for model \`${t.model}\`, which has no \`loss\``,
            u.file,
            d.name.span,
            {
              labels:
                decl.unit.file === u.file
                  ? [{ span: decl.decl.name.span, message: "this model declares no loss" }]
                  : [],
              help: `training minimises a loss: add \`loss <expression>\` to \`${t.model}\`, or remove this train block`,
            },
          ),
        );
    }
  }

  const fileOrder = [...s.sources.keys()];
  const diagnostics = [...s.diagnostics].sort(
    (a, b) => fileOrder.indexOf(a.file) - fileOrder.indexOf(b.file) || a.span.start - b.span.start,
  );
  const modelSites = new Map(
    [...modelDecls].map(([name, { decl, unit }]) => [
      name,
      { file: unit.file, span: decl.name.span },
    ]),
  );
  return {
    models,
    trains,
    diagnostics,
    sources: s.sources,
    programs: s.programs,
    types: s.typeList(),
    sites: { models: modelSites, trains: trainSites },
  };
}
