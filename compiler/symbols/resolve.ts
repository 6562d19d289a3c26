// Syntactic name resolution for the editor: walks every file's AST (recovered
// ones too) with .dlg's lexical scoping and records where each name is
// defined and used. It evaluates nothing and reports nothing: a name it
// cannot resolve simply gets no reference (the elaborator reports it).
//
// The scoping mirrors the elaborator's: one global namespace for the user's
// files (over std's, which std's own blocks see alone), models in a
// namespace of their own (train blocks name them), a block's scope with its
// scalar params, then per tensor param the dims its type binds and the
// param itself; a model's inputs before its other statements; a scan's item
// and carries in a scope around its body, where assigning a carry gives the
// same carry its next value.
//
// v2 namespaces, as the elaborator groups files (elaborate.ts groupFiles):
// files joined by plain imports share one global scope; `import "x.dlg" as
// ns` gives x.dlg (with its plain imports) a scope of its own, which the
// importer reads through `ns.name`, a reference to that file's definition
// (at the name after the dot, so a rename edits only that part). A `state`
// is defined like a `param`; `update x` refers to the state `x`.

import type * as ast from "../../grammar/index.ts";
import { printExpr, printType } from "../../grammar/index.ts";
import { resolveImport } from "../source-file.ts";
import type { SymbolDef, SymbolIndex, SymbolKind } from "../symbols.ts";

// Not the elaborator's Scope (elaborate/context.ts): symbols/ comes before elaborate/ in the
// compiler's import order (layout test), and this one maps a name to a def id, not a value.
class Scope {
  private readonly names = new Map<string, string>();
  /** `import ... as ns`: the global scope of the file read through `ns.`. */
  private readonly spaces = new Map<string, Scope>();
  constructor(readonly parent: Scope | null) {}
  define(name: string, id: string): void {
    this.names.set(name, id);
  }
  own(name: string): string | undefined {
    return this.names.get(name);
  }
  /** A name, or a qualified one: `enc.encoder` is `encoder` of the namespace `enc`'s own scope. */
  lookup(name: string): string | undefined {
    const dot = name.indexOf(".");
    if (dot > 0) return this.namespace(name.slice(0, dot))?.own(name.slice(dot + 1));
    return this.names.get(name) ?? this.parent?.lookup(name);
  }
  defineNamespace(alias: string, scope: Scope): void {
    if (!this.spaces.has(alias)) this.spaces.set(alias, scope);
  }
  private namespace(alias: string): Scope | undefined {
    return this.spaces.get(alias) ?? this.parent?.namespace(alias);
  }
}

/** One line of source for a detail: long expressions are cut. */
function short(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** `dense(x: [..., n], units: int, bias: bool = true) -> [..., units]`, on one line. */
export function blockSignature(d: ast.BlockDecl): string {
  const params = d.params.map(paramDetail).join(", ");
  return `${d.name.name}(${params})${d.result ? ` -> ${printType(d.result)}` : ""}`;
}

function blockDetail(d: ast.BlockDecl): string {
  return `block ${blockSignature(d)}`;
}

function paramDetail(p: ast.BlockParam): string {
  return `${p.name.name}: ${printType(p.type)}${p.default ? ` = ${printExpr(p.default)}` : ""}`;
}

/** Where a def sits: its file and the enclosing block or model. */
interface Where {
  file: string;
  container?: string;
}

class Resolver {
  readonly index: SymbolIndex = { defs: new Map(), refs: [] };
  /** A block's params by name, for named arguments (`dense(units: 3)`). */
  private readonly blockParams = new Map<string, Map<string, string>>();
  /** A model's metrics by name (by the model's def id), for `keep best METRIC`. */
  private readonly metrics = new Map<string, Map<string, string>>();
  /** `keep best METRIC`s, resolved once every model is (a train block may come first). */
  private readonly keeps: { at: Where; metric: ast.NameExpr; model: string | undefined }[] = [];

  def(
    at: Where,
    kind: SymbolKind,
    name: ast.Ident,
    declSpan: ast.Span,
    detail: string,
    doc?: string | null,
  ): string {
    const id = `${at.file}:${name.span.start}`;
    const d: SymbolDef = {
      id,
      name: name.name,
      kind,
      file: at.file,
      span: name.span,
      declSpan,
      detail,
    };
    if (doc) d.doc = doc;
    if (at.container !== undefined) d.container = at.container;
    this.index.defs.set(id, d);
    return id;
  }

  ref(at: Where, span: ast.Span, def: string | undefined): void {
    if (def !== undefined) this.index.refs.push({ file: at.file, span, def });
  }

  // ------------------------------------------------------------ top level

  /** Register a file's dims, consts and blocks in `scope`, and its models in `models`. */
  declare(file: string, p: ast.Program, scope: Scope, models: Map<string, string>): void {
    const at = { file };
    const global = (name: ast.Ident, id: string) => {
      if (!scope.own(name.name)) scope.define(name.name, id);
    };
    for (const d of p.decls) {
      switch (d.kind) {
        case "Dim":
          for (const n of d.names) global(n, this.def(at, "dim", n, d.span, `dim ${n.name}`));
          break;
        case "Const": {
          const detail = short(`const ${d.name.name} = ${printExpr(d.value)}`);
          global(d.name, this.def(at, "const", d.name, d.span, detail));
          break;
        }
        case "Block": {
          const id = this.def(at, "block", d.name, d.span, blockDetail(d), d.doc);
          global(d.name, id);
          const params = new Map<string, string>();
          const inBlock = { file, container: id };
          for (const bp of d.params)
            if (!params.has(bp.name.name))
              params.set(
                bp.name.name,
                this.def(inBlock, "block-param", bp.name, bp.span, paramDetail(bp)),
              );
          this.blockParams.set(id, params);
          break;
        }
        case "Model": {
          const id = this.def(at, "model", d.name, d.span, `model ${d.name.name}`, d.doc);
          if (!models.has(d.name.name)) models.set(d.name.name, id);
          break;
        }
        case "Train":
          this.def(at, "train", d.name, d.span, `train ${d.name.name} for ${d.model.name}`);
          break;
        case "Import":
          break;
      }
    }
  }

  /** Resolve the uses in a file's declarations (after every file is declared). */
  uses(file: string, p: ast.Program, scope: Scope, models: Map<string, string>): void {
    const at = { file };
    for (const d of p.decls) {
      switch (d.kind) {
        case "Const":
          this.expr(at, d.value, scope);
          break;
        case "Block":
          this.block(file, d, scope);
          break;
        case "Model":
          this.model(file, d, scope);
          break;
        case "Train": {
          const model = models.get(d.model.name);
          this.ref(at, d.model.span, model);
          for (const s of d.settings)
            if (s.key.name === "keep" && s.value.kind === "Name")
              this.keeps.push({ at, metric: s.value, model });
            else this.setting(at, s, scope);
          break;
        }
        case "Dim":
        case "Import":
          break;
      }
    }
  }

  /** `keep best accuracy` refers to the trained model's metric `accuracy` (`loss` to nothing). */
  keptMetrics(): void {
    for (const k of this.keeps)
      if (k.model !== undefined)
        this.ref(k.at, k.metric.span, this.metrics.get(k.model)?.get(k.metric.name));
  }

  /**
   * A train block's keys are not names, nor is the optimizer (`adam`) or `batch full`; the
   * values may use consts (`lr: rate`).
   */
  private setting(at: Where, s: ast.TrainSetting, scope: Scope): void {
    const v = s.value;
    if (s.key.name === "optimizer") {
      if (v.kind === "Call") for (const a of v.args) this.expr(at, a.value, scope);
      else if (v.kind !== "Name") this.expr(at, v, scope);
      return;
    }
    if (s.key.name === "batch" && v.kind === "Name" && v.name === "full") return;
    this.expr(at, v, scope);
  }

  private block(file: string, d: ast.BlockDecl, globals: Scope): void {
    const id = `${file}:${d.name.span.start}`;
    const params = this.blockParams.get(id);
    if (!params) return;
    const scope = new Scope(globals);
    const at = { file, container: id };
    // Scalars bind first, so a tensor's type may use them (`x: [b, 4 * h]`).
    for (const p of d.params)
      if (p.type.kind === "ScalarType") this.local(scope, p.name, params.get(p.name.name)!);
    for (const p of d.params) {
      if (p.type.kind !== "TensorType") continue;
      this.signature(at, p, p.type, scope);
      this.local(scope, p.name, params.get(p.name.name)!);
    }
    for (const p of d.params) if (p.default) this.expr(at, p.default, scope);
    this.stmts(at, d.body, scope, null);
    // The result type is resolved after the body, in the block's scope (as elaborate does).
    if (d.result) this.type(at, d.result, scope);
  }

  /** A signature's tensor type: a name not yet visible is a dim the call binds. */
  private signature(at: Where, p: ast.BlockParam, t: ast.TensorTypeExpr, scope: Scope): void {
    for (const e of t.dims) {
      if (e.kind === "Ellipsis") continue;
      if (e.kind !== "Name") {
        this.expr(at, e, scope);
        continue;
      }
      const known = scope.lookup(e.name);
      if (known !== undefined) {
        this.ref(at, e.span, known);
        continue;
      }
      const ident: ast.Ident = { kind: "Ident", name: e.name, span: e.span };
      const detail = `dim ${e.name} (bound by ${p.name.name}: ${printType(t)})`;
      scope.define(e.name, this.def(at, "dim", ident, e.span, detail));
    }
  }

  private model(file: string, d: ast.ModelDecl, globals: Scope): void {
    const at = { file, container: `${file}:${d.name.span.start}` };
    const scope = new Scope(globals);
    // Inputs first: statements before an input may still use the dims it binds.
    for (const s of d.body)
      if (s.kind === "Input") {
        this.type(at, s.type, scope);
        const detail = `input ${s.name.name}: ${printType(s.type)}`;
        this.local(scope, s.name, this.def(at, "input", s.name, s.span, detail));
      }
    this.stmts(
      at,
      d.body.filter((s) => s.kind !== "Input"),
      scope,
      null,
    );
  }

  /** Define a name unless this scope already has it (a redefinition keeps the first). */
  private local(scope: Scope, name: ast.Ident, id: string): void {
    if (!scope.own(name.name)) scope.define(name.name, id);
  }

  /** Statements in order; `carries` is the carry scope when these are a scan's body. */
  private stmts(at: Where, body: ast.Stmt[], scope: Scope, carries: Scope | null): void {
    for (const s of body) {
      switch (s.kind) {
        case "Assign": {
          this.expr(at, s.value, scope);
          const names = s.targets.map((t) => t.name).join(", ");
          const detail = short(`${names} = ${printExpr(s.value)}`);
          for (const t of s.targets) {
            // `h = ...` in a scan body is the carry `h`'s next value.
            const carry = carries?.own(t.name);
            if (carry !== undefined && !scope.own(t.name)) {
              this.ref(at, t.span, carry);
              scope.define(t.name, carry);
              continue;
            }
            this.local(scope, t, this.def(at, "local", t, s.span, detail));
          }
          break;
        }
        case "Param":
        case "State": {
          this.type(at, s.type, scope);
          if (s.init?.kind === "Call") this.call(at, s.init, scope);
          else if (s.init) this.expr(at, s.init, scope);
          const detail = `${s.kind === "Param" ? "param" : "state"} ${s.name.name}: ${printType(s.type)}`;
          this.local(scope, s.name, this.def(at, "param", s.name, s.span, detail));
          break;
        }
        case "Update":
          this.expr(at, s.value, scope);
          this.ref(at, s.name.span, scope.lookup(s.name.name));
          break;
        case "Input":
          // Only a model's own inputs are names (model() defines them); elsewhere it is E2009.
          this.type(at, s.type, scope);
          break;
        case "Output":
        case "Metric": {
          this.expr(at, s.value, scope);
          const kind = s.kind === "Output" ? "output" : "metric";
          const detail = short(`${kind} ${s.name.name} = ${printExpr(s.value)}`);
          const id = this.def(at, kind, s.name, s.span, detail);
          this.local(scope, s.name, id);
          if (kind === "metric" && at.container !== undefined) {
            const own = this.metrics.get(at.container) ?? new Map<string, string>();
            if (!own.has(s.name.name)) own.set(s.name.name, id);
            this.metrics.set(at.container, own);
          }
          break;
        }
        case "Loss":
        case "Return":
        case "Yield":
          this.expr(at, s.value, scope);
          break;
      }
    }
  }

  private type(at: Where, t: ast.TypeExpr, scope: Scope): void {
    if (t.kind === "TensorType")
      for (const d of t.dims) if (d.kind !== "Ellipsis") this.expr(at, d, scope);
  }

  // ------------------------------------------------------------ expressions

  /** A call: a named argument of a block refers to the block's param (intrinsics have none). */
  private call(at: Where, c: ast.CallExpr, scope: Scope): void {
    const callee = this.expr(at, c.callee, scope);
    const params = callee === undefined ? undefined : this.blockParams.get(callee);
    for (const a of c.args) {
      if (a.name && params) this.ref(at, a.name.span, params.get(a.name.name));
      this.expr(at, a.value, scope);
    }
  }

  /** Resolve the names in `e`; returns the def a plain name refers to (for callees). */
  private expr(at: Where, e: ast.Expr, scope: Scope): string | undefined {
    switch (e.kind) {
      case "Name": {
        const id = scope.lookup(e.name);
        // `enc.encoder` refers to `encoder` (the namespace is not the definition's name).
        const q = e.qualifier;
        this.ref(at, q ? { start: q.span.end + 1, end: e.span.end } : e.span, id);
        return id;
      }
      case "Number":
      case "String":
      case "Bool":
        return undefined;
      case "Binary":
        this.expr(at, e.left, scope);
        this.expr(at, e.right, scope);
        return undefined;
      case "Unary":
        this.expr(at, e.operand, scope);
        return undefined;
      case "Call":
        this.call(at, e, scope);
        return undefined;
      case "Pipe":
        this.expr(at, e.left, scope);
        if (e.right.kind === "Call") this.call(at, e.right, scope);
        else this.expr(at, e.right, scope);
        return undefined;
      case "Index":
        this.expr(at, e.target, scope);
        for (const i of e.indices) {
          if (i.kind !== "Slice") this.expr(at, i, scope);
          else for (const x of [i.start, i.end, i.step]) if (x) this.expr(at, x, scope);
        }
        return undefined;
      case "List":
        for (const i of e.items) this.expr(at, i, scope);
        return undefined;
      case "If":
        this.expr(at, e.cond, scope);
        this.expr(at, e.then, scope);
        this.expr(at, e.else, scope);
        return undefined;
      case "Scan":
        this.scan(at, e, scope);
        return undefined;
    }
  }

  private scan(at: Where, e: ast.ScanExpr, scope: Scope): void {
    this.expr(at, e.source, scope);
    this.expr(at, e.axis, scope);
    for (const c of e.carries) this.expr(at, c.init, scope);
    const carries = new Scope(scope);
    for (const c of e.carries) {
      const detail = short(`carry ${c.name.name} = ${printExpr(c.init)}`);
      this.local(carries, c.name, this.def(at, "local", c.name, c.span, detail));
    }
    const detail = short(`${e.item.name} in ${printExpr(e.source)}`);
    this.local(carries, e.item, this.def(at, "local", e.item, e.item.span, detail));
    this.stmts(at, e.body, new Scope(carries), carries);
  }
}

/**
 * Every definition and use in `programs` (in load order: std first, then
 * imports before importers). `std` names the standard library's files,
 * whose blocks see only std.
 */
export function resolveNames(
  programs: ReadonlyMap<string, ast.Program>,
  std: ReadonlySet<string>,
): SymbolIndex {
  const r = new Resolver();
  const stdScope = new Scope(null);
  const models = new Map<string, string>();
  const scopeOf = globalScopes(programs, std, stdScope);
  for (const [file, p] of programs) r.declare(file, p, scopeOf(file), models);
  for (const [file, p] of programs) r.uses(file, p, scopeOf(file), models);
  r.keptMetrics();
  return r.index;
}

/**
 * Each file's global scope. Plain imports join files into one scope, from
 * the entry (the last file loaded) down; an aliased import's file roots a
 * scope of its own, bound to the alias in its importer's scope. A file
 * reached first plainly stays in that scope, as in the elaborator.
 */
function globalScopes(
  programs: ReadonlyMap<string, ast.Program>,
  std: ReadonlySet<string>,
  stdScope: Scope,
): (file: string) => Scope {
  const scopes = new Map<string, Scope>();
  const imports = (file: string) =>
    (programs.get(file)?.decls ?? []).flatMap((d) =>
      d.kind === "Import" ? [{ alias: d.alias, file: resolveImport(file, d.path.value) }] : [],
    );
  const group = (root: string): Scope => {
    const known = scopes.get(root);
    if (known) return known;
    const scope = new Scope(stdScope);
    const files: string[] = [];
    const todo = [root];
    while (todo.length > 0) {
      const f = todo.pop()!;
      if (scopes.has(f) || !programs.has(f) || std.has(f)) continue;
      scopes.set(f, scope);
      files.push(f);
      for (const imp of imports(f)) if (!imp.alias) todo.push(imp.file);
    }
    for (const f of files)
      for (const imp of imports(f))
        if (imp.alias && programs.has(imp.file) && !std.has(imp.file))
          scope.defineNamespace(imp.alias.name, group(imp.file));
    return scope;
  };
  const users = [...programs.keys()].filter((f) => !std.has(f));
  // The entry first; then any file it does not reach (none, when the programs are one load's).
  for (const f of [...users.slice(-1), ...users]) group(f);
  return (file) => (std.has(file) ? stdScope : (scopes.get(file) ?? stdScope));
}
