// Completion: what may be typed at the cursor, from where the tokens before
// it say the cursor is (lsp/context.ts) and what the analysis defined. The
// analysis may lag the text or have lost the declaration being typed, so the
// names declared in the text before the cursor are offered too.

import { readdirSync } from "node:fs";
import { basename, dirname } from "node:path";
import { CompletionItemKind, type CompletionItem } from "vscode-languageserver";
import { trainKeys } from "../compiler/elaborate/train-config.ts";
import type { Analysis, SymbolDef, SymbolKind } from "../compiler/symbols.ts";
import {
  blocks,
  intrinsics,
  namespaceFiles,
  optimizers,
  signatureOf,
  type Signature,
} from "./callables.ts";
import { cursorContext, type CursorContext, type Enclosing, type Tok } from "./context.ts";
import { rangeOf } from "./text.ts";

const kindOf: { [K in SymbolKind]: CompletionItemKind } = {
  block: CompletionItemKind.Function,
  model: CompletionItemKind.Class,
  train: CompletionItemKind.Event,
  dim: CompletionItemKind.TypeParameter,
  const: CompletionItemKind.Constant,
  param: CompletionItemKind.Property,
  "block-param": CompletionItemKind.Variable,
  input: CompletionItemKind.Variable,
  output: CompletionItemKind.Variable,
  metric: CompletionItemKind.Variable,
  local: CompletionItemKind.Variable,
};

const topKeywords = ["block", "model", "train", "dim", "const", "import"];
const modelStatements = ["input", "param", "output", "metric", "loss"];
// `state` and `update` belong in blocks (E2020 in a model).
const blockStatements = ["param", "state", "update", "return"];
const exprKeywords = ["if", "then", "else", "scan", "true", "false"];
/** A tensor's element types (`int[B]`), and the scalar types a block parameter may have. */
const typeWords = {
  tensor: ["f32", "int", "bool", "i32"],
  any: ["f32", "int", "bool", "i32", "float", "dim", "fn"],
};

const keyword = (label: string): CompletionItem => ({ label, kind: CompletionItemKind.Keyword });

/** Named things visible at the cursor, by name: the analysis's, then those only the text shows. */
type Scope = Map<string, CompletionItem>;

function item(d: SymbolDef): CompletionItem {
  return {
    label: d.name,
    kind: kindOf[d.kind],
    detail: d.detail,
    ...(d.doc ? { documentation: { kind: "markdown", value: d.doc } } : {}),
  };
}

// Plain names, no snippets: a client need not support them, and `relu` is as often piped
// into (`|> relu`) as called.
function callItem(s: Signature): CompletionItem {
  return {
    label: s.name,
    kind: CompletionItemKind.Function,
    detail: s.label,
    ...(s.doc ? { documentation: { kind: "markdown", value: s.doc } } : {}),
  };
}

/** The analysis's definition of the block or model around the cursor. */
function container(
  a: Analysis | undefined,
  file: string,
  enc: Enclosing | null,
  offset: number,
): SymbolDef | undefined {
  if (!a || !enc || enc.kind === "train") return undefined;
  const same = [...a.symbols.defs.values()].filter(
    (d) => d.file === file && d.kind === enc.kind && d.name === enc.name,
  );
  return same.find((d) => d.declSpan.start <= offset && offset <= d.declSpan.end) ?? same[0];
}

const opening: Partial<Record<string, SymbolKind>> = {
  Param: "param",
  State: "param",
  Input: "input",
  Output: "output",
  Metric: "metric",
  Scan: "local",
};

/** Names the text declares before the cursor: at the top level, and in the enclosing declaration. */
function declaredInText(before: Tok[], enc: Enclosing | null): [string, SymbolKind][] {
  const out: [string, SymbolKind][] = [];
  const from = enc ? before.findIndex((t) => t.start >= enc.start) : before.length;
  // A block's signature runs to its body's `{`: `units: int` names a parameter, `[..., n]` a dim.
  const body =
    enc?.kind === "block" ? before.findIndex((t, i) => i > from && t.type === "LBrace") : from;
  const bodyStart = body < 0 ? before.length : body;
  let brackets = 0;
  for (const [i, t] of before.entries()) {
    const next = before[i + 1];
    const prev = before[i - 1];
    // Brackets a broken declaration above left open do not count.
    if (i === from) brackets = 0;
    if (t.type === "LBracket") brackets++;
    else if (t.type === "RBracket") brackets--;
    if (t.type === "Dim" && prev?.type !== "Colon") {
      for (let k = i + 1; before[k]?.name; k += 2) {
        out.push([before[k]!.image, "dim"]);
        if (before[k + 1]?.type !== "Comma") break;
      }
    } else if ((t.type === "Const" || t.type === "Model") && next?.name)
      out.push([next.image, t.type === "Const" ? "const" : "model"]);
    else if (i > from && i < bodyStart && t.name) {
      if (brackets > 0) out.push([t.image, "dim"]);
      else if (next?.type === "Colon") out.push([t.image, "block-param"]);
    } else if (i > bodyStart && next?.name && opening[t.type])
      out.push([next.image, opening[t.type]!]);
    // `h = ...`, and a scan's `carry (h = ...)`; not `==` (another token) nor a named argument.
    else if (i > bodyStart && t.name && next?.type === "Equals") out.push([t.image, "local"]);
  }
  return out;
}

/** The names visible at the cursor, filtered to `kinds`. */
function scope(
  a: Analysis | undefined,
  file: string,
  ctx: CursorContext,
  offset: number,
  kinds: SymbolKind[],
): Scope {
  const out: Scope = new Map();
  const own = container(a, file, ctx.enclosing, offset);
  for (const d of a?.symbols.defs.values() ?? []) {
    if (!kinds.includes(d.kind) || out.has(d.name)) continue;
    const local = own !== undefined && d.container === own.id && d.span.start < offset;
    if (d.container === undefined || local) out.set(d.name, item(d));
  }
  for (const [name, kind] of declaredInText(ctx.before, ctx.enclosing))
    if (kinds.includes(kind) && !out.has(name)) out.set(name, { label: name, kind: kindOf[kind] });
  return out;
}

const valueKinds: SymbolKind[] = [
  "dim",
  "const",
  "param",
  "block-param",
  "input",
  "output",
  "metric",
  "local",
];

/** The namespaces of `file`'s imports (`import "x.dlg" as enc`): `enc`, whose names follow a dot. */
function namespaces(a: Analysis | undefined, file: string): CompletionItem[] {
  return (a?.programs.get(file)?.decls ?? []).flatMap((d) =>
    d.kind === "Import" && d.alias
      ? [
          {
            label: d.alias.name,
            kind: CompletionItemKind.Module,
            detail: `import "${d.path.value}" as ${d.alias.name}`,
          },
        ]
      : [],
  );
}

/**
 * `enc.‸` or `enc.to‸`: the blocks and consts of the namespace, replacing the
 * name typed after the dot; null when the cursor follows no `name.`.
 */
function namespaceMembers(
  a: Analysis | undefined,
  file: string,
  text: string,
  offset: number,
): CompletionItem[] | null {
  const m = /(?<![A-Za-z0-9_.])([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)?$/.exec(
    text.slice(Math.max(0, offset - 256), offset),
  );
  if (!m) return null;
  const files = a ? namespaceFiles(a, file, m[1]!) : [];
  const range = rangeOf(text, { start: offset - (m[2]?.length ?? 0), end: offset });
  const seen = new Set<string>();
  const out: CompletionItem[] = [];
  for (const d of a?.symbols.defs.values() ?? [])
    if (files.includes(d.file) && (d.kind === "block" || d.kind === "const") && !seen.has(d.name)) {
      seen.add(d.name);
      out.push({ ...item(d), textEdit: { range, newText: d.name } });
    }
  return out;
}

/** The metrics of the model a train block trains (`train t for m`), and `loss`: what `keep best` may name. */
function keepable(a: Analysis | undefined, file: string, before: Tok[]): CompletionItem[] {
  const train = before.map((t) => t.type).lastIndexOf("Train");
  const model = before[train + 2]?.type === "For" ? before[train + 3]?.image : undefined;
  const defs = [...(a?.symbols.defs.values() ?? [])];
  const owner = defs.find((d) => d.kind === "model" && d.name === model && d.file === file);
  const metrics = defs.filter((d) => d.kind === "metric" && owner && d.container === owner.id);
  return [...metrics.map(item), keyword("loss")];
}

/** Blocks (user and std) and intrinsics, the user's first, then the file's namespaces. */
function callables(a: Analysis | undefined, file: string): CompletionItem[] {
  const seen = new Set<string>();
  const out: CompletionItem[] = [];
  for (const s of [...blocks(a, file), ...intrinsics()])
    if (!seen.has(s.name)) {
      seen.add(s.name);
      out.push(callItem(s));
    }
  return [...out, ...namespaces(a, file)];
}

/** The named arguments of `sig` the call has not given, by name or position. */
function namedArgs(sig: Signature, ctx: CursorContext): CompletionItem[] {
  const call = ctx.call!;
  const filled = call.positional + (call.piped ? 1 : 0);
  return sig.params
    .filter((p, i) => i >= filled && !call.given.includes(p.name))
    .map((p, i) => ({
      label: `${p.name}:`,
      filterText: p.name,
      kind: CompletionItemKind.Field,
      detail: p.detail || undefined,
      insertText: `${p.name}: `,
      // Before the values in scope, in signature order.
      sortText: `0${String(i).padStart(3, "0")}`,
      labelDetails: p.detail ? { detail: ` ${p.detail}` } : undefined,
    }));
}

/**
 * `import "‸"`: the other .dlg files in the importing file's folder (the
 * path resolves from there), replacing what the string holds so far.
 */
function importPaths(file: string, text: string, from: number, offset: number): CompletionItem[] {
  let names: string[];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return []; // an unsaved buffer's folder may not exist
  }
  const range = rangeOf(text, { start: from, end: offset });
  return names
    .filter((n) => n.endsWith(".dlg") && n !== basename(file))
    .sort()
    .map((n) => ({ label: n, kind: CompletionItemKind.File, textEdit: { range, newText: n } }));
}

/** Completion items at `offset` of `text` (the open buffer of `file`; `a` its analysis, if any). */
export function completions(
  a: Analysis | undefined,
  file: string,
  text: string,
  offset: number,
): CompletionItem[] {
  const ctx = cursorContext(text, offset);
  const w = ctx.where;
  if (ctx.onNumber || w.kind === "none") return [];
  const members = w.kind === "import" ? null : namespaceMembers(a, file, text, offset);
  if (members) return members;
  // A statement's own name is not yet defined in its value (`h = x |> dense(h` is an error).
  const values = () =>
    [...scope(a, file, ctx, offset, valueKinds).values()].filter((i) => i.label !== ctx.defining);
  switch (w.kind) {
    case "import":
      return importPaths(file, text, w.from, offset);
    case "top":
      if (w.after === "train-for") return [...scope(a, file, ctx, offset, ["model"]).values()];
      if (w.after === "name") return [];
      if (w.after === "import") return [keyword("as"), ...topKeywords.map(keyword)];
      return topKeywords.map(keyword);
    case "train": {
      if (w.after === "optimizer") return optimizers().map(callItem);
      if (w.after === "batch") return [keyword("full")];
      if (w.after === "keep") return [keyword("best")];
      if (w.after === "keep-best") return keepable(a, file, ctx.before);
      if (w.after === "value") return [];
      return trainKeys.filter((k) => !w.given.includes(k)).map(keyword);
    }
    case "type":
      return [
        ...scope(a, file, ctx, offset, ["dim", "const"]).values(),
        { label: "...", kind: CompletionItemKind.Operator, detail: "any leading dims" },
      ];
    case "signature":
      return w.typing === null ? [] : typeWords[w.typing].map(keyword);
    case "expr": {
      // Inside a train block, only an optimizer's settings (`adam(lr: ...)`) are expressions.
      const inTrain = ctx.enclosing?.kind === "train";
      const args = w.call?.atArgStart ? signatureOf(a, file, w.call.callee, inTrain) : undefined;
      if (inTrain)
        return [
          ...(args ? namedArgs(args, ctx) : []),
          ...scope(a, file, ctx, offset, ["const"]).values(),
        ];
      // Only a block or an intrinsic can follow `|>`, or be a param's `init`.
      const prev = ctx.before[ctx.before.length - 1]?.type;
      if (prev === "Pipe" || prev === "Init") return callables(a, file);
      const statements = !w.statementStart
        ? []
        : ctx.enclosing?.kind === "model"
          ? modelStatements
          : blockStatements;
      return [
        ...(args ? namedArgs(args, ctx) : []),
        ...statements.map(keyword),
        ...values(),
        ...callables(a, file),
        ...exprKeywords.map(keyword),
      ];
    }
  }
}
