// What can be called, and with which parameters: the blocks of every file
// the analysis read (the entry's own first, then its imports, then std),
// the intrinsics (TypeScript-defined, so they have no .dlg declaration),
// and, inside a train block, the optimizers. One signature shape for all
// three, so completion and signature help read them alike.

import type { BlockDecl, Program } from "../grammar/index.ts";
import { STD_PRELUDE } from "../compiler/elaborate.ts";
import { intrinsicTable } from "../compiler/elaborate/intrinsics.ts";
import { defaultOptimizer, optimizerArgs } from "../compiler/elaborate/train-config.ts";
import type { OptimizerKind } from "../compiler/ir.ts";
import { resolveImport } from "../compiler/source-file.ts";
import type { Analysis } from "../compiler/symbols.ts";
import { blockSignature as signatureLine } from "../compiler/symbols/resolve.ts";

export interface SigParam {
  name: string;
  /** This parameter's part of `Signature.label`, as [start, end) offsets. */
  label: [number, number];
  /** `int = -1`, `[..., n]`: what follows the name in the label. */
  detail: string;
  optional: boolean;
}

export interface Signature {
  name: string;
  /** `dense(x: [..., n], units: int, bias: bool = true) -> [..., units]`. */
  label: string;
  params: SigParam[];
  doc?: string;
  origin: "block" | "std" | "intrinsic" | "optimizer";
}

/** Split `name(a, b: [x, y], c = 1) -> r` at its top-level commas into parameters. */
function fromLabel(name: string, label: string, optional: (param: string) => boolean): SigParam[] {
  const open = label.indexOf("(");
  const params: SigParam[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open + 1; i < label.length; i++) {
    const c = label[i]!;
    if (c === "(" || c === "[") depth++;
    else if ((c === ")" || c === "]") && depth > 0) depth--;
    else if (depth === 0 && (c === "," || c === ")")) {
      const piece = label.slice(start, i);
      const lead = piece.length - piece.trimStart().length;
      const text = piece.trim();
      if (text) {
        const pname = /^\w+/.exec(text)?.[0] ?? text;
        const s = start + lead;
        params.push({
          name: pname,
          label: [s, s + text.length],
          detail: text.slice(pname.length).replace(/^:\s*/, "").trim(),
          optional: optional(pname),
        });
      }
      start = i + 1;
      if (c === ")") break;
    }
  }
  if (open < 0) throw new Error(`no parameter list in the signature of ${name}`);
  return params;
}

function blockSignature(b: BlockDecl, std: boolean): Signature {
  // The same line as the elaborator's call hovers and the block's symbol detail.
  const label = signatureLine(b);
  const defaults = new Set(b.params.filter((p) => p.default).map((p) => p.name.name));
  return {
    name: b.name.name,
    label,
    params: fromLabel(b.name.name, label, (n) => defaults.has(n)),
    ...(b.doc ? { doc: b.doc } : {}),
    origin: std ? "std" : "block",
  };
}

let intrinsicSigs: Signature[] | undefined;

/** The intrinsics, as their hovers show them (`argmax(x, axis: int = -1)`). */
export function intrinsics(): Signature[] {
  intrinsicSigs ??= intrinsicTable().map((f) => {
    const optional = new Set(f.params.filter((p) => p.optional).map((p) => p.name));
    return {
      name: f.name,
      label: f.sig,
      params: fromLabel(f.name, f.sig, (n) => optional.has(n)),
      origin: "intrinsic",
    };
  });
  return intrinsicSigs;
}

/** The optimizers a train block's `optimizer` takes, with their defaults (`adam(lr: float = 0.001, ...)`). */
export function optimizers(): Signature[] {
  return (Object.keys(optimizerArgs) as OptimizerKind[]).map((kind) => {
    const d = defaultOptimizer(kind);
    const value: Record<string, number | boolean> = {
      lr: d.lr,
      momentum: d.momentum,
      nesterov: d.nesterov,
      beta1: d.beta1,
      beta2: d.beta2,
      eps: d.eps,
      weight_decay: d.weightDecay,
    };
    // Written as block parameters are: `lr: float = 0.001`.
    const param = (k: string) =>
      `${k}: ${typeof value[k] === "boolean" ? "bool" : "float"} = ${value[k]}`;
    const label = `${kind}(${optimizerArgs[kind].map(param).join(", ")})`;
    return {
      name: kind,
      label,
      params: fromLabel(kind, label, () => true),
      origin: "optimizer",
    };
  });
}

/** Whether `file` is std's prelude (as the analysis names it: relative, or a real path). */
export function isStd(file: string): boolean {
  return file === STD_PRELUDE || file.endsWith(`/${STD_PRELUDE}`);
}

/** Files in lookup order: the entry, its imports, std last. */
function programsInOrder(a: Analysis, file: string): [string, Program][] {
  const rank = (f: string) => (f === file ? 0 : isStd(f) ? 2 : 1);
  return [...a.programs].sort(([f], [g]) => rank(f) - rank(g));
}

/**
 * Every block `file` sees unqualified (its own, its plain imports', std's; not
 * those behind a namespace), nearest definition first for a name defined twice.
 */
export function blocks(a: Analysis | undefined, file: string): Signature[] {
  if (!a) return [];
  const seen = new Set<string>();
  const out: Signature[] = [];
  const visible = new Set(plainGroup(a, file));
  for (const [f, p] of programsInOrder(a, file).filter(([f]) => visible.has(f) || isStd(f)))
    for (const d of p.decls)
      if (d.kind === "Block" && !seen.has(d.name.name)) {
        seen.add(d.name.name);
        out.push(blockSignature(d, isStd(f)));
      }
  return out;
}

function importsOf(a: Analysis, file: string): { alias?: string; file: string }[] {
  return (a.programs.get(file)?.decls ?? []).flatMap((d) =>
    d.kind === "Import" ? [{ alias: d.alias?.name, file: resolveImport(file, d.path.value) }] : [],
  );
}

/** `root` and the files it imports plainly, whose names share its scope (the elaborator's file group). */
function plainGroup(a: Analysis, root: string): string[] {
  const out: string[] = [];
  for (let todo = [root]; todo.length > 0;) {
    const f = todo.pop()!;
    if (out.includes(f) || !a.programs.has(f)) continue;
    out.push(f);
    todo.push(...importsOf(a, f).flatMap((i) => (i.alias === undefined ? [i.file] : [])));
  }
  return out;
}

/**
 * The files `alias.` reads in `file` (`import "x.dlg" as alias`): x.dlg and
 * what it imports plainly. None when no import of `file` has that alias.
 */
export function namespaceFiles(a: Analysis, file: string, alias: string): string[] {
  const root = importsOf(a, file).find((i) => i.alias === alias)?.file;
  return root === undefined ? [] : plainGroup(a, root);
}

/** The signature of what `name(` calls: a block (user or std, or `ns.block`) or an intrinsic; optimizers inside a train block. */
export function signatureOf(
  a: Analysis | undefined,
  file: string,
  name: string,
  inTrain: boolean,
): Signature | undefined {
  if (inTrain) return optimizers().find((s) => s.name === name);
  const dot = name.indexOf(".");
  if (dot > 0) {
    const files = a ? namespaceFiles(a, file, name.slice(0, dot)) : [];
    const member = name.slice(dot + 1);
    for (const f of files)
      for (const d of a!.programs.get(f)!.decls)
        if (d.kind === "Block" && d.name.name === member) return blockSignature(d, false);
    return undefined;
  }
  return blocks(a, file).find((s) => s.name === name) ?? intrinsics().find((s) => s.name === name);
}
