// The server's own answers (hover, definition, inlay hints, outline,
// formatting, rename) survive half-written files: the fuzzer's mutations of
// every seed file (test/fuzz/mutate.ts), each analysed, then every feature
// asked at places spread over the text. None may throw (a ResponseError is
// an answer, a refused rename), and what they return points inside the
// text. Fixed seeds, so a failure names a reproducible case.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ResponseError, type DocumentSymbol, type Range } from "vscode-languageserver";
import { analyze } from "../compiler/compile.ts";
import { AnalysisCache } from "../compiler/symbols/cache.ts";
import { formatting } from "../lsp/formatting.ts";
import { hover } from "../lsp/hover.ts";
import { inlayHints } from "../lsp/inlay-hints.ts";
import { symbolAt } from "../lsp/lookup.ts";
import {
  definition,
  documentSymbols,
  prepareRename,
  references,
  rename,
} from "../lsp/navigation.ts";
import { positionOf } from "../lsp/text.ts";
import { corpus, mutantHost } from "./lsp-mutant-host.ts";
import { mutantArb } from "./fuzz/mutate.ts";

const before = (a: Range["start"], b: Range["start"]) =>
  a.line < b.line || (a.line === b.line && a.character <= b.character);

/** An outline whose every name lies inside its node, and every node inside the file. */
function checkOutline(syms: DocumentSymbol[], end: Range["start"]): void {
  for (const s of syms) {
    expect(before(s.range.start, s.selectionRange.start)).toBe(true);
    expect(before(s.selectionRange.end, s.range.end)).toBe(true);
    expect(before(s.range.end, end)).toBe(true);
    checkOutline(s.children ?? [], end);
  }
}

/** Runs `f`; a ResponseError (the client is told why not) counts as an answer. */
function answered<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof ResponseError) return undefined;
    throw e;
  }
}

describe("the server's features on mutated programs", () => {
  it("never throw, and point inside the text", () => {
    const cache = new AnalysisCache();
    const mutants = fc.sample(mutantArb(corpus), { seed: 17, numRuns: 40 });
    const spots = fc.sample(fc.double({ min: 0, max: 1, noNaN: true }), { seed: 17, numRuns: 10 });
    for (const m of mutants) {
      const a = analyze(m.file, { host: mutantHost(m.file, m.text), cache });
      const end = positionOf(m.text, m.text.length);
      const program = a.programs.get(m.file);
      if (program) checkOutline(documentSymbols(m.text, program.decls), end);
      for (const h of inlayHints(a, m.file, { start: 0, end: m.text.length }))
        expect(before(h.position, end), m.origin).toBe(true);
      const f = formatting(m.text);
      if (f) expect(f.length).toBeLessThanOrEqual(1);
      for (const x of [...spots, 1]) {
        const offset = Math.floor(x * m.text.length);
        const h = hover(a, m.file, offset);
        if (h?.range) expect(before(h.range.end, end), m.origin).toBe(true);
        definition(a, m.file, offset);
        answered(() => prepareRename(a, m.file, offset));
        const s = symbolAt(a, m.file, offset);
        if (s) {
          const refs = references([a], s.def, true);
          expect(refs.length).toBeGreaterThan(0);
          answered(() => rename([a], s.def, "renamed"));
        }
      }
    }
  });
});
