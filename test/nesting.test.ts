// Nesting guards (grammar/nesting.ts, E1006; elaborate's block and
// evaluation depth, E2011): past each limit a diagnostic at the place the
// limit is passed, never a stack overflow; at each limit the program still
// goes through every phase: check, dump --stage ast, compile, and the
// emitted module runs.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { compile, dump, type Host } from "../cli/node-host.ts";
import { positionAt } from "../compiler/diagnostics.ts";
import { BLOCK_CALL_DEPTH, MAX_BLOCK_CALLS, MAX_BLOCK_DEPTH } from "../compiler/elaborate/block.ts";
import { MAX_EVAL_DEPTH } from "../compiler/elaborate/expr.ts";
import { parse } from "../grammar/index.ts";
import { MAX_AST_DEPTH, MAX_PARSE_NESTING } from "../grammar/nesting.ts";

const dir = mkdtempSync(join(tmpdir(), "dlg-nesting-"));

function hostFor(text: string): Host {
  return {
    readFile: (p) => (p === "main.dlg" ? text : readFileSync(p, "utf8")),
  };
}

function model(output: string, blocks = ""): string {
  return `dim B\n${blocks}model m {\n  input x: [B]\n  output y = ${output}\n}\n`;
}

/** Compile, load the module, predict on two numbers: what a user of the deepest program gets. */
async function compileAndRun(text: string): Promise<Float32Array> {
  const r = compile("main.dlg", { host: hostFor(text) });
  expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  const file = join(dir, `m${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, r.js!);
  const mod = (await import(pathToFileURL(file).href)) as {
    createModel(o: object): Promise<{ predict(b: object): Promise<{ y: Float32Array }> }>;
  };
  const m = await mod.createModel({ seed: 1 });
  return (await m.predict({ x: new Float32Array([0.5, -0.25]) })).y;
}

function errorsOf(text: string): { code: string; line: number; col: number; message: string }[] {
  const r = compile("main.dlg", { host: hostFor(text) });
  return r.diagnostics.map((d) => ({
    code: d.code,
    message: d.message,
    ...positionAt(text, d.span.start),
  }));
}

// The chains the parser reads in a loop, each `n` expression levels deep.
const chains: Record<string, (n: number) => string> = {
  negation: (n) => "-".repeat(n - 1) + "x",
  pipe: (n) => "x" + " |> relu".repeat(n - 1),
  sum: (n) => "x" + " + x".repeat(n - 1),
  index: (n) => "x" + "[:]".repeat(n - 1),
};

describe("expression depth (E1006)", { timeout: 60_000 }, () => {
  it("rejects a chain one level past the limit, where the limit is passed", () => {
    const text = model("-".repeat(4000) + "x");
    const [e, ...rest] = parse(text).errors;
    expect(rest).toEqual([]);
    expect(e!.code).toBe("E1006");
    expect(e!.message).toContain(`more than ${MAX_AST_DEPTH} levels`);
    // Not 1:1: on the output line, at one of the minus signs.
    expect(positionAt(text, e!.span.start).line).toBe(4);
    expect(text[e!.span.start]).toBe("-");
    for (const [name, chain] of Object.entries(chains))
      expect(
        parse(model(chain(MAX_AST_DEPTH + 1))).errors.map((e) => e.code),
        name,
      ).toEqual(["E1006"]);
  });

  it("keeps the printer safe: dump --stage ast on 6,000 pipe stages reports, not overflows", () => {
    const r = dump("main.dlg", "ast", { host: hostFor(model("x" + " |> relu".repeat(6000))) });
    expect(r.diagnostics.map((d) => d.code)).toEqual(["E1006"]);
    expect(r.text).toBe("dim B\n");
  });

  it("rejects brackets nested past the parser's limit at the bracket that passes it", () => {
    const n = MAX_PARSE_NESTING + 1;
    for (const e of [
      "(".repeat(n) + "x" + ")".repeat(n),
      "relu(".repeat(n) + "x" + ")".repeat(n),
    ]) {
      const text = model(e);
      const errs = errorsOf(text);
      expect(errs.map((d) => d.code)).toEqual(["E1006"]);
      expect(errs[0]!.line).toBe(4);
      // The bracket (or call) that opens level n.
      const before = e.startsWith("(") ? n - 1 : (n - 1) * "relu(".length;
      expect(errs[0]!.col).toBe("  output y = ".length + before + 1);
    }
  });

  it("compiles and runs the deepest chains it accepts", async () => {
    for (const [name, chain] of Object.entries(chains)) {
      const e = chain(MAX_AST_DEPTH);
      expect(parse(model(e)).errors, name).toEqual([]);
      const y = await compileAndRun(model(e));
      expect(y.length, name).toBe(2);
    }
    const neg = await compileAndRun(model(chains.negation!(MAX_AST_DEPTH)));
    expect(Array.from(neg)).toEqual([-0.5, 0.25].map((v) => ((MAX_AST_DEPTH - 1) % 2 ? v : -v)));
  });

  it("compiles and runs the deepest nesting the parser accepts", async () => {
    const n = MAX_PARSE_NESTING - 1;
    for (const e of [
      "(".repeat(n) + "x" + ")".repeat(n),
      "relu(".repeat(n) + "x" + ")".repeat(n),
      // Two levels each: the call's argument and the list's item.
      "concat([".repeat(Math.floor(n / 2)) + "x" + "])".repeat(Math.floor(n / 2)),
      "if true then ".repeat(n) + "x" + " else x".repeat(n),
    ]) {
      expect(parse(model(e)).errors).toEqual([]);
      expect((await compileAndRun(model(e))).length).toBeGreaterThan(0);
    }
  });
});

/** Blocks b0 … b<n>: each returns `wrap(call of the next)`, the last `x * 2.0`. */
function blockChain(n: number, wrap: (call: string) => string = (c) => c): string {
  let blocks = "";
  for (let i = 0; i < n; i++)
    blocks += `block b${i}(x: [B]) -> [B] { return ${wrap(`b${i + 1}(x)`)} }\n`;
  // Not `relu`: a std block is a call too.
  blocks += `block b${n}(x: [B]) -> [B] { return x * 2.0 }\n`;
  return model("b0(x)", blocks);
}

describe("block calls (E2008, E2011)", { timeout: 60_000 }, () => {
  it("names the chain of a recursion through several blocks", () => {
    const text = model(
      "a(x)",
      "block a(x: [B]) -> [B] { return b(x) }\n" +
        "block b(x: [B]) -> [B] { return c(x) }\n" +
        "block c(x: [B]) -> [B] { return a(x) }\n",
    );
    const errs = errorsOf(text);
    expect(errs.map((e) => [e.code, e.message, e.line])).toEqual([
      ["E2008", "block `a` calls itself through `b`, `c`", 4],
    ]);
  });

  it("stops a chain of calls past the depth limit with one error at the call that passes it", () => {
    const errs = errorsOf(blockChain(1000));
    expect(errs.map((e) => e.code)).toEqual(["E2011"]);
    expect(errs[0]!.message).toContain(`more than ${MAX_BLOCK_DEPTH} deep`);
    // Line 1 is `dim B`, block b<i> is line i + 2; b63 calls b64.
    expect(errs[0]!.line).toBe(MAX_BLOCK_DEPTH + 1);
  });

  it("stops exponential inlining (each block calling the next twice)", () => {
    const errs = errorsOf(blockChain(40, (c) => `${c} + ${c}`));
    expect(errs.map((e) => e.code)).toEqual(["E2011"]);
    expect(errs[0]!.message).toContain(`more than ${MAX_BLOCK_CALLS} block calls`);
  });

  it("compiles and runs the deepest chain of calls it accepts, deep expressions in each", async () => {
    // 64 nested calls, each inside index chains (the costliest level to
    // elaborate), filling the evaluation budget.
    const spare = MAX_EVAL_DEPTH - MAX_BLOCK_DEPTH * BLOCK_CALL_DEPTH;
    const per = Math.floor(spare / MAX_BLOCK_DEPTH) - 3;
    const text = blockChain(MAX_BLOCK_DEPTH - 1, (c) => c + "[:]".repeat(per));
    expect((await compileAndRun(text)).length).toBe(2);
    // A few levels more of the same is E2011, not a stack overflow.
    const deeper = blockChain(MAX_BLOCK_DEPTH - 1, (c) => c + "[:]".repeat(per + 4));
    expect(errorsOf(deeper).map((e) => e.code)).toEqual(["E2011"]);
  });
});
