// The editor features survive anything typed: the fuzzer's mutations of
// every seed file (test/fuzz/mutate.ts), then completion, signature help and
// semantic tokens at random places of each mutant, with its analysis.
// Fixed seeds, so a failure names a reproducible case.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeHost } from "../cli/node-host.ts";
import { analyze } from "../compiler/compile.ts";
import { AnalysisCache } from "../compiler/symbols/cache.ts";
import { completions } from "../lsp/completion.ts";
import { semanticTokens } from "../lsp/semantic-tokens.ts";
import { signatureHelp } from "../lsp/signature-help.ts";
import { loadCorpus } from "./fuzz/corpus.ts";
import { mutantArb } from "./fuzz/mutate.ts";

const corpus = loadCorpus();

/** Reads the corpus first (a mutant's imports are its siblings in the corpus), then the disk. */
const hostFor = (file: string, text: string) => ({
  readFile: (p: string) => (p === file ? text : (corpus[p] ?? nodeHost.readFile(p))),
});

/** Semantic tokens that decode to places inside the text, one line each, in order. */
function checkTokens(text: string, data: number[]): void {
  expect(data.length % 5).toBe(0);
  const lines = text.split(/\r\n|\r|\n/);
  let line = 0;
  let char = 0;
  for (let i = 0; i < data.length; i += 5) {
    const [dl, dc, len] = data.slice(i, i + 3) as [number, number, number];
    expect(dl >= 0 && dc >= 0 && len > 0).toBe(true);
    line += dl;
    char = dl === 0 ? char + dc : dc;
    expect(char + len).toBeLessThanOrEqual(lines[line]!.length);
  }
}

describe("editor features on mutated programs", () => {
  it("never throw, at any offset", () => {
    const cache = new AnalysisCache();
    const mutants = fc.sample(mutantArb(corpus), { seed: 9, numRuns: 60 });
    const offsets = fc.sample(fc.double({ min: 0, max: 1, noNaN: true }), { seed: 9, numRuns: 12 });
    for (const m of mutants) {
      const a = analyze(m.file, { host: hostFor(m.file, m.text), cache });
      const where = m.origin;
      checkTokens(m.text, semanticTokens(m.text, a, m.file));
      for (const f of [...offsets, 1]) {
        const offset = Math.floor(f * m.text.length);
        expect(() => completions(a, m.file, m.text, offset), `${where} @${offset}`).not.toThrow();
        expect(() => signatureHelp(a, m.file, m.text, offset), `${where} @${offset}`).not.toThrow();
        // Without an analysis too (the server answers before its first one is done).
        expect(() => completions(undefined, m.file, m.text, offset), where).not.toThrow();
      }
    }
  });
});
