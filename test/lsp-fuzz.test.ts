// The editor features survive anything typed: the fuzzer's mutations of
// every seed file (test/fuzz/mutate.ts), then completion, signature help and
// semantic tokens at random places of each mutant, with its analysis.
// Then the real server (a child process, test/lsp-client.ts): a file typed
// character by character and mutated, with requests in between; it must keep
// answering, log no internal error, and end with the diagnostics a fresh
// check of the final text gives (none stale). Fixed seeds, so a failure names
// a reproducible case.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnostic, Hover } from "vscode-languageserver";
import { check, nodeHost } from "../cli/node-host.ts";
import { analyze } from "../compiler/compile.ts";
import { AnalysisCache } from "../compiler/symbols/cache.ts";
import { completions } from "../lsp/completion.ts";
import { semanticTokens } from "../lsp/semantic-tokens.ts";
import { diagnosticsByFile } from "../lsp/diagnostics.ts";
import { positionOf } from "../lsp/text.ts";
import { signatureHelp } from "../lsp/signature-help.ts";
import { corpus, mutantHost } from "./lsp-mutant-host.ts";
import { mutantArb } from "./fuzz/mutate.ts";
import { dlgProcess } from "./dlg-process.ts";
import { fileUri, LspClient } from "./lsp-client.ts";

/** The message itself, without the notes and help the server appends on later lines. */
const firstLine = (m: Diagnostic["message"]) =>
  (typeof m === "string" ? m : m.value).split("\n")[0];

/** A diagnostic as `dlg check --json` prints it (positions 1-based). */
interface CliDiagnostic {
  code: string;
  message: string;
  file: string;
  span: { start: { line: number; col: number } };
}

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
    const mutants = fc.sample(mutantArb(corpus), { seed: 9, numRuns: 40 });
    const offsets = fc.sample(fc.double({ min: 0, max: 1, noNaN: true }), { seed: 9, numRuns: 12 });
    for (const m of mutants) {
      const a = analyze(m.file, { host: mutantHost(m.file, m.text), cache });
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

/** What a check of `text` as `path` reports for that file, as the server would publish it. */
function expected(path: string, text: string): string[] {
  const r = check(path, { host: { readFile: (p) => (p === path ? text : nodeHost.readFile(p)) } });
  return comparable(diagnosticsByFile(r.diagnostics, r.sources).get(path) ?? []);
}

const comparable = (ds: Diagnostic[]) =>
  ds.map((d) => JSON.stringify([d.range, d.code, d.message])).sort();

describe("the server while a file is typed and mutated", () => {
  let client: LspClient;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dlg-lsp-fuzz-"));
    client = LspClient.start();
    await client.initialize(dir);
  }, 30_000);
  afterAll(async () => {
    await client.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps answering and never leaves stale diagnostics", async () => {
    const path = join(dir, "typed.dlg");
    const uri = fileUri(path);
    const target = readFileSync("samples/mlp.dlg", "utf8");
    const rng = fc.sample(fc.integer({ min: 0, max: 1 << 30 }), { seed: 5, numRuns: 400 });
    const ask = (text: string, k: number) => {
      const position = positionOf(text, rng[k % rng.length]! % (text.length + 1));
      const doc = { textDocument: { uri }, position };
      return Promise.all([
        client.request("textDocument/hover", doc),
        client.request("textDocument/completion", doc),
        client.request("textDocument/signatureHelp", doc),
        client.request("textDocument/semanticTokens/full", { textDocument: { uri } }),
      ]);
    };

    // Typed a character at a time (as fast as the client sends), asking every few keys.
    await client.open(uri, "");
    for (let n = 1; n <= target.length; n++) {
      const text = target.slice(0, n);
      await client.change(uri, text);
      if (n % 16 === 0) await ask(text, n);
    }
    await client.diagnostics(uri, (ds) => comparable(ds).join() === expected(path, target).join());

    // Mutants of the sample, each followed by the sample again: every step changes what is
    // wrong, so a stale list cannot pass for the new one.
    const mutants = fc.sample(mutantArb({ "samples/mlp.dlg": target }), { seed: 5, numRuns: 12 });
    let wrong = 0;
    for (const [k, m] of mutants.entries()) {
      await client.change(uri, m.text);
      await ask(m.text, k);
      const want = expected(path, m.text);
      if (want.length > 0) wrong++;
      await client.diagnostics(uri, (ds) => comparable(ds).join() === want.join(), 10_000);
      if (k === mutants.length - 1) break;
      await client.change(uri, target);
      await client.diagnostics(uri, (ds) => ds.length === 0, 10_000);
    }
    expect(wrong).toBeGreaterThanOrEqual(8);

    // The last text, as a fresh `dlg check` process reads it from disk.
    const last = mutants[mutants.length - 1]!.text;
    writeFileSync(path, last);
    const settled = await client.diagnostics(uri);
    const run = await dlgProcess("check", path, "--json");
    const fresh = (JSON.parse(run.stdout) as { diagnostics: CliDiagnostic[] }).diagnostics;
    const where = (line: number, character: number) => ({
      line: line - 1,
      character: character - 1,
    });
    const asCli = (ds: Diagnostic[]) =>
      ds.map((d) => JSON.stringify([d.code, d.range.start, firstLine(d.message)])).sort();
    const cli = fresh
      .filter((d) => d.file === path)
      .map((d) => JSON.stringify([d.code, where(d.span.start.line, d.span.start.col), d.message]))
      .sort();
    expect(cli.length).toBeGreaterThan(0);
    expect(asCli(settled)).toEqual(cli);
    await client.change(uri, target);
    await client.diagnostics(uri, (ds) => ds.length === 0);
    const offset = target.indexOf("logits =");
    const h = await client.request<Hover | null>("textDocument/hover", {
      textDocument: { uri },
      position: positionOf(target, offset),
    });
    expect(JSON.stringify(h?.contents)).toContain("logits: f32[B, 10]");
    expect(client.log.filter((l) => l.includes("failed"))).toEqual([]);
    expect(client.exitCode).toBeUndefined();
  }, 60_000);
});
