// Inlay hints, as Futhark's language server shows inferred types: the shape
// after each assignment's target (`h: f32[B, 256] = ...`, and for outputs
// and metrics) and at the end of each `|>` stage. The last stage of a chain
// that is a statement's whole value is the target's type, shown there once.

import { InlayHintKind, type InlayHint } from "vscode-languageserver";
import type { Expr, Ident, Span } from "../grammar/index.ts";
import type { Analysis } from "../compiler/symbols.ts";
import { forEachExpr, forEachStmt, stmtValue } from "./ast-walk.ts";
import { spanKey, typesBySpan } from "./lookup.ts";
import { positionOf } from "./text.ts";

/** A hint's text: the type alone (`name: ` stripped from a bound name's), one per distinct shape. */
function label(texts: readonly string[], name?: string): string | undefined {
  const types = texts.map((t) =>
    name !== undefined && t.startsWith(`${name}: `) ? t.slice(name.length + 2) : t,
  );
  const distinct = [...new Set(types)];
  return distinct.length > 0 ? `: ${distinct.join(" | ")}` : undefined;
}

/** The hints of `file` whose position lies in `range` (offsets). */
export function inlayHints(a: Analysis, file: string, range: Span): InlayHint[] {
  const program = a.programs.get(file);
  const text = a.sources.get(file);
  if (program === undefined || text === undefined) return [];
  const types = typesBySpan(a);
  const at = (s: Span) => types.get(spanKey(file, s)) ?? [];
  const hints: { offset: number; label: string }[] = [];
  const add = (offset: number, l: string | undefined) => {
    if (l !== undefined && range.start <= offset && offset <= range.end)
      hints.push({ offset, label: l });
  };
  forEachStmt(program, (s) => {
    const value = stmtValue(s);
    const targets: Ident[] =
      s.kind === "Assign" ? s.targets : s.kind === "Output" || s.kind === "Metric" ? [s.name] : [];
    for (const t of targets) {
      // The name's own record (a bound name), else, for one target, its value's type.
      const own = at(t.span);
      const texts = own.length > 0 ? own : targets.length === 1 && value ? at(value.span) : [];
      add(t.span.end, label(texts, t.name));
    }
    if (value === null) return;
    forEachExpr(value, (e: Expr) => {
      if (e.kind !== "Pipe" || (e === value && targets.length > 0)) return;
      add(e.span.end, label(at(e.span)));
    });
  });
  return hints
    .sort((x, y) => x.offset - y.offset)
    .map((h) => ({
      position: positionOf(text, h.offset),
      label: h.label,
      kind: InlayHintKind.Type,
    }));
}
