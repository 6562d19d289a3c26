// Finding things in an Analysis by place: the symbol whose name is under the
// cursor (a definition or a use), and the types recorded for a span.

import type { Span } from "../grammar/index.ts";
import type { Analysis, SymbolDef, TypeAt } from "../compiler/symbols.ts";
import { holds } from "./text.ts";

export interface SymbolAt {
  def: SymbolDef;
  /** The name under the cursor (the definition's name or the use). */
  span: Span;
}

const width = (s: Span) => s.end - s.start;

/** The definition or use of a name at `offset` in `file` (the narrowest, when spans touch). */
export function symbolAt(a: Analysis, file: string, offset: number): SymbolAt | undefined {
  let best: SymbolAt | undefined;
  const consider = (def: SymbolDef | undefined, span: Span) => {
    if (def !== undefined && holds(span, offset) && (!best || width(span) < width(best.span)))
      best = { def, span };
  };
  for (const d of a.symbols.defs.values()) if (d.file === file) consider(d, d.span);
  for (const r of a.symbols.refs) if (r.file === file) consider(a.symbols.defs.get(r.def), r.span);
  return best;
}

/** The innermost expression at `offset` that has a recorded type. */
export function typeAt(a: Analysis, file: string, offset: number): TypeAt | undefined {
  let best: TypeAt | undefined;
  for (const t of a.types)
    if (t.file === file && holds(t.span, offset) && (!best || width(t.span) < width(best.span)))
      best = t;
  return best;
}

const bySpan = new WeakMap<Analysis, ReadonlyMap<string, readonly string[]>>();

/**
 * The type texts recorded for exactly `span` in each file, by `file:start:end`: built once
 * per analysis (an analysis never changes), not at every hover and inlay-hint request.
 */
export function typesBySpan(a: Analysis): ReadonlyMap<string, readonly string[]> {
  const had = bySpan.get(a);
  if (had) return had;
  const out = new Map<string, string[]>();
  for (const t of a.types) {
    const key = spanKey(t.file, t.span);
    const list = out.get(key) ?? [];
    for (const text of t.texts) if (!list.includes(text)) list.push(text);
    out.set(key, list);
  }
  bySpan.set(a, out);
  return out;
}

export const spanKey = (file: string, s: Span) => `${file}:${s.start}:${s.end}`;
