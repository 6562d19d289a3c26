// The AnalysisCache's reuse of imported files' elaboration (compiler/elaborate/reuse.ts):
// after an edit inside the entry's model, an import's models and uncalled blocks are
// replayed, not re-run, and the analysis is exactly what a fresh one (no cache) finds;
// after an edit to a global of the entry or to an import, they are run again.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { analyze } from "../compiler/compile.ts";
import { stdPath } from "../compiler/elaborate.ts";
import type { Analysis } from "../compiler/symbols.ts";
import { AnalysisCache } from "../compiler/symbols/cache.ts";

const stdText = readFileSync(stdPath("prelude.dlg"), "utf8");

function run(files: Record<string, string>, cache?: AnalysisCache): Analysis {
  const host = { readFile: (p: string) => files[p], readStd: () => stdText };
  return analyze("main.dlg", { host, ...(cache ? { cache } : {}) });
}

/** Analyze with the cache and without; the two must agree on every diagnostic and type. */
function same(files: Record<string, string>, cache: AnalysisCache): Analysis {
  const cached = run(files, cache);
  const fresh = run(files);
  expect(cached.diagnostics).toEqual(fresh.diagnostics);
  expect(cached.types).toEqual(fresh.types);
  return cached;
}

const lib = [
  "dim B",
  "const width = 16",
  "/// Widens and narrows back.",
  "block widen(x: [..., n]) -> [..., n] {",
  "  return x |> dense(2 * n) |> relu |> dense(n)",
  "}",
  "block broken(x: [b, n]) -> [b, n] {",
  "  return x + (x |> dense(3))",
  "}",
  "block narrow(x: [..., n]) -> [..., 2] {",
  "  return x |> dense(2)",
  "}",
  "model libnet {",
  "  input x: [B, 8]",
  "  output y = x |> widen |> dense(width)",
  "}",
  "",
].join("\n");

const main = (body: string, globals = "") =>
  [
    'import "lib.dlg"',
    globals,
    "model m {",
    "  input x: [B, 8]",
    `  output y = x |> narrow |> dense(${body})`,
    "}",
    "",
  ].join("\n");

describe("reusing imported files' elaboration", () => {
  it("an edit in the entry's model replays the import's model and uncalled block", () => {
    const cache = new AnalysisCache();
    const first = same({ "main.dlg": main("4"), "lib.dlg": lib }, cache);
    // libnet and the uncalled `broken` (whose shape error is reported) ran once each.
    expect(cache.elaborations).toBe(2);
    expect(first.diagnostics.map((d) => `${d.file} ${d.code}`)).toContain("lib.dlg E3001");
    expect(first.types.some((t) => t.file === "lib.dlg")).toBe(true);

    same({ "main.dlg": main("5"), "lib.dlg": lib }, cache);
    expect([cache.elaborations, cache.reused]).toEqual([2, 2]);
    // The model no longer calls `narrow`: it is checked alone now (run, not replayed: new).
    const alone = "  output y = x |> dense(5)";
    same({ "main.dlg": main("5").replace(/ {2}output y = .*/, alone), "lib.dlg": lib }, cache);
    expect([cache.elaborations, cache.reused]).toEqual([3, 4]);
  });

  it("an edit to the entry's globals or to the import runs them again", () => {
    const cache = new AnalysisCache();
    same({ "main.dlg": main("4"), "lib.dlg": lib }, cache);
    const block = "block twice(x: [..., n]) -> [..., n] {\n  return x * 2\n}";
    same({ "main.dlg": main("4", block), "lib.dlg": lib }, cache);
    expect([cache.elaborations, cache.reused]).toEqual([4, 0]);
    // A dim in the entry that the import also declares: E2005 in main, and a new environment.
    same({ "main.dlg": main("4", "dim B"), "lib.dlg": lib }, cache);
    expect([cache.elaborations, cache.reused]).toEqual([6, 0]);
    same({ "main.dlg": main("4", "dim B"), "lib.dlg": lib.replace("dense(3)", "dense(n)") }, cache);
    expect([cache.elaborations, cache.reused]).toEqual([8, 0]);
  });

  it("a run that reaches into the entry (an import calling the entry's block) is not kept", () => {
    const cache = new AnalysisCache();
    const libCalling = lib.replace("|> widen |>", "|> helper |>");
    const helper = "block helper(x: [..., n]) -> [..., n] {\n  return x |> relu\n}";
    same({ "main.dlg": main("4", helper), "lib.dlg": libCalling }, cache);
    same({ "main.dlg": main("44", helper), "lib.dlg": libCalling }, cache);
    // libnet (it types helper's body, in main.dlg) runs every time; `widen` and `broken`
    // (now both uncalled) are replayed.
    expect([cache.elaborations, cache.reused]).toEqual([4, 2]);
  });

  it("30 random edits of a composed program in two files agree with fresh analyses", () => {
    const composed = readFileSync(new URL("../samples/composed.dlg", import.meta.url), "utf8");
    const cut = composed.indexOf("model composed");
    // The block goes to lib.dlg with a second, uncalled block and a model of lib's own.
    let files: Record<string, string> = {
      "lib.dlg": [
        composed.slice(0, cut),
        "block squash(x: [b, n]) -> [b, 2] {\n  return x |> dense(2) |> tanh\n}",
        "model probe {\n  input x: [B, rows, 28]\n  output f = x |> flatten |> squash\n}\n",
      ].join("\n"),
      "main.dlg": 'import "lib.dlg"\n' + composed.slice(cut),
    };
    const base = files;
    const snippets = [" ", "1", "x", " |> relu", "(", "}", "\n", " + 2", "dense(3)", "width"];
    let seed = 7;
    /** mulberry32: an integer below n, the same sequence every run. */
    const rand = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let r = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
      return ((r ^ (r >>> 14)) >>> 0) % n;
    };
    const cache = new AnalysisCache();
    for (let i = 0; i < 30; i++) {
      // Edits pile up, from the sample again every fifth; mostly inside main's model (the common
      // keystroke), now and then anywhere in main after its import, or in lib.
      if (i % 5 === 0) files = base;
      const file = rand(6) === 0 ? "lib.dlg" : "main.dlg";
      const text = files[file]!;
      const from =
        file === "lib.dlg" ? 0 : rand(4) > 0 ? text.indexOf("model ") : text.indexOf("\n");
      const at = from + rand(text.length - from + 1);
      const edited =
        rand(3) === 0
          ? text.slice(0, at) + text.slice(at + 1 + rand(4))
          : text.slice(0, at) + snippets[rand(snippets.length)] + text.slice(at);
      files = { ...files, [file]: edited };
      same(files, cache);
    }
    expect(cache.reused).toBeGreaterThan(0);
  });
});
