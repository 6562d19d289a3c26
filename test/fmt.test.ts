// The formatter: print.ts with the comments grammar/comments.ts attaches,
// `dlg fmt [--check]`, and the prettier plugin. Over every .dlg file of the
// repo and over the fuzzer's well-formed programs with comments sprinkled
// between their tokens: formatting keeps the program, prints each comment
// exactly once, and formatting the result again changes nothing.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import fc from "fast-check";
import * as prettier from "prettier";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../cli/main.ts";
import * as plugin from "../cli/prettier-plugin.ts";
import { decodeSource, isUnreadable } from "../compiler/source-file.ts";
import { parse, printProgram, tokens, type Program } from "../grammar/index.ts";
import { generateProgram } from "./fuzz/generate.ts";

const root = join(import.meta.dirname, "..");

function dlgFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return dlgFiles(p);
    return e.name.endsWith(".dlg") ? [p] : [];
  });
}

const files = ["samples", "std", "test", "bench"].flatMap(dlgFiles).sort();
/** The .dlg files .prettierignore leaves out, by name. */
const ignored = new Set(
  readFileSync(join(root, ".prettierignore"), "utf8")
    .split("\n")
    .filter((l) => l.endsWith(".dlg")),
);

/** The file's text, or null when it is not UTF-8 text. */
function textOf(file: string): string | null {
  const t = decodeSource(readFileSync(join(root, file)));
  return isUnreadable(t) ? null : t;
}

/** The AST without spans or attached comments, for structural equality. */
function strip(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(strip);
  if (x && typeof x === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x))
      if (!["span", "opSpan", "trivia", "comments"].includes(k)) out[k] = strip(v);
    return out;
  }
  return x;
}

const commentTexts = (p: Program) => (p.comments ?? []).map((c) => c.text).sort();

/**
 * Formats `text` twice and checks the guarantees: the result parses to the
 * same program, keeps every comment's text exactly once, and is a fixed point.
 */
function checkFormat(text: string): string {
  const first = parse(text);
  expect(first.errors).toEqual([]);
  const once = printProgram(first.program);
  const again = parse(once);
  expect(again.errors, once).toEqual([]);
  expect(strip(again.program)).toEqual(strip(first.program));
  expect(commentTexts(again.program)).toEqual(commentTexts(first.program));
  expect(printProgram(again.program)).toBe(once);
  return once;
}

describe("formatting the repo's .dlg files", () => {
  const unparseable = files.filter((f) => {
    const t = textOf(f);
    return t === null || parse(t).errors.length > 0;
  });

  it("finds them all, and only the fixtures meant to be broken do not parse", () => {
    expect(files.length).toBeGreaterThan(60);
    expect(unparseable).toEqual([
      "test/errors/binary_file.dlg",
      "test/errors/deep_nesting.dlg",
      "test/errors/long_chain.dlg",
      "test/errors/syntax_errors.dlg",
    ]);
    // Each is left out of prettier's check by name, with the CRLF fixture.
    for (const f of unparseable) expect(ignored.has(f), f).toBe(true);
  });

  it.each(files.filter((f) => !unparseable.includes(f)))(
    "%s: keeps the program and its comments, idempotently",
    (file) => {
      const text = textOf(file)!;
      const once = checkFormat(text);
      // Those prettier checks are already in that layout (`dlg fmt --check` passes).
      if (!ignored.has(file)) expect(once).toBe(text);
    },
  );
});

describe("comments stay where they were written", () => {
  it.each([
    [
      "a trailing comment after a call argument on a broken line",
      "model m {\n  y = f(a,  // why a\n    b)\n}\n",
      "model m {\n  y = f(\n    a,  // why a\n    b,\n  )\n}\n",
    ],
    [
      "block comments in an empty call, list or parameter list stay on its line",
      "block z( /* none */ ) -> [2] {\n  return f( /* a */ /* b */ ) + g([ /* c */ ])\n}\n",
      "block z(/* none */) -> [2] {\n  return f(/* a */ /* b */) + g([/* c */])\n}\n",
    ],
    [
      "a comment between pipeline stages",
      "model m {\n  y = x |> dense(4)\n    // then squash\n    |> relu\n}\n",
      "model m {\n  y = x\n    |> dense(4)\n    // then squash\n    |> relu\n}\n",
    ],
    [
      "a comment after a stage, and a blank line between statements (one kept)",
      "model m {\n  a = x |> dense(4) // wide\n   |> relu\n\n\n  b = a\n}\n",
      "model m {\n  a = x\n    |> dense(4)  // wide\n    |> relu\n\n  b = a\n}\n",
    ],
    [
      "inline block comments beside expressions, list items and params",
      "block f(x: [n] /* in */, k: int) -> [n] {\n  return g([1, /* two */ 2], x) /* done */\n}\n",
      "block f(x: [n] /* in */, k: int) -> [n] {\n  return g([1, /* two */ 2], x)  /* done */\n}\n",
    ],
    [
      "comments on settings, after an opening brace and before a closing one",
      "train t for m { // fast\n  optimizer sgd(lr: 0.1) // plain\n  batch 4\n  // more later\n}\n",
      "train t for m {  // fast\n  optimizer sgd(lr: 0.1)  // plain\n  batch 4\n  // more later\n}\n",
    ],
    [
      "v2 forms: an aliased import, state and update, qualified names, keep best",
      'import "a.dlg"  as enc // encoders\nblock f(x: [n]) -> [n] {\n  state s: [n]  init zeros // running\n  update s = s + /* one */ 1\n  return x |> enc.g(  4 ) |> enc.h\n}\ntrain t for m {\n  keep  best accuracy // the best\n  patience 2\n}\n',
      'import "a.dlg" as enc  // encoders\nblock f(x: [n]) -> [n] {\n  state s: [n] init zeros  // running\n  update s = s + /* one */ 1\n  return x |> enc.g(4) |> enc.h\n}\ntrain t for m {\n  keep best accuracy  // the best\n  patience 2\n}\n',
    ],
    [
      "scan carries and doc comments",
      "/// Doc.\nblock f(x: [B, T, n]) -> [B, n] {\n  return scan t in x along 1 carry (h = zeros([B, n]), // state\n  ) { yield h + t }\n}\n",
      "/// Doc.\nblock f(x: [B, T, n]) -> [B, n] {\n  return scan t in x along 1 carry (\n    h = zeros([B, n]),  // state\n  ) {\n    yield h + t\n  }\n}\n",
    ],
    [
      "a comment between operands, which cannot stay there, goes above its statement",
      "model m {\n  y = a + // why\n    b\n}\n",
      "model m {\n  // why\n  y = a + b\n}\n",
    ],
  ])("%s", (_what, src, expected) => {
    expect(checkFormat(src)).toBe(expected);
  });

  it("keeps a doc comment as written, `/** */` or `///` lines", () => {
    const src = "/**\n * Doc,\n * two lines.\n */\nblock f(x: [n]) -> [n] {\n  return x\n}\n";
    expect(checkFormat(src)).toBe(src);
    const d = parse(src).program.decls[0];
    expect(d?.kind === "Block" && d.doc).toBe("Doc,\ntwo lines.");
  });

  it("keeps a plain `///` comment from joining the doc comment below it", () => {
    expect(checkFormat("/// plain\n\n/// Doc.\nmodel m {}\n")).toBe(
      "/// plain\n\n/// Doc.\nmodel m {}\n",
    );
  });
});

describe("line endings", () => {
  it("writes LF everywhere for a CRLF file, inside its multi-line comments too", () => {
    const crlf =
      "dim B /* two\r\n lines */\r\n/** doc\r\n  more */\r\nblock f(x: [n]) -> [n] {\r\n  return x\r\n}\r\n";
    const out = printProgram(parse(crlf).program);
    expect(out).not.toContain("\r");
    expect(out).toBe(checkFormat(crlf.replace(/\r\n/g, "\n")));
  });
});

describe("long lines", () => {
  const long = (n: number) => Array.from({ length: n }, (_, i) => `input_number_${i}`);

  it("breaks a call or list value past 100 columns one argument or item per line, nested ones as needed", () => {
    const args = long(6);
    const text = `model m {\n  h = concat([${args.join(", ")}], axis: -1)\n  loss f(g(${args.slice(0, 4).join(", ")}), ${args[4]}, ${args[5]})\n}\n`;
    const out = checkFormat(text);
    expect(out.split("\n").every((l) => l.length <= 100)).toBe(true);
    expect(out).toBe(
      [
        "model m {",
        "  h = concat(",
        "    [",
        ...args.map((a) => `      ${a},`),
        "    ],",
        "    axis: -1,",
        "  )",
        "  loss f(",
        `    g(${args.slice(0, 4).join(", ")}),`,
        `    ${args[4]},`,
        `    ${args[5]},`,
        "  )",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("breaks a long sum one operand per line, each after its operator; tighter operators stay", () => {
    const term = (n: string) => `sigmoid(forget_gate_${n}) * cell_state_${n}`;
    const out = checkFormat(
      `model m {\n  c = ${term("a")} + ${term("b")} - ${term("c")}\n  d = a - (b - c)\n}\n`,
    );
    expect(out).toBe(
      `model m {\n  c = ${term("a")}\n    + ${term("b")}\n    - ${term("c")}\n  d = a - (b - c)\n}\n`,
    );
  });

  it("fits a long call at the head of a broken pipeline, a stage, or a broken sum's operand", () => {
    const args = [
      "queries_of_the_layer",
      "keys_of_the_layer",
      "values_of_the_layer",
      "causal: causal_flag",
    ];
    const call = `attention_layer(${args.join(", ")})`;
    const broken = `attention_layer(\n${args.map((a) => `    ${a},\n`).join("")}  )`;
    const out = checkFormat(
      `model m {\n  y = ${call} |> dense(d)\n  z = other_function(first_argument) + ${call} + 1\n}\n`,
    );
    expect(out).toContain(`  y = ${broken}\n    |> dense(d)\n`);
    expect(out).toContain(
      `  z = other_function(first_argument)\n    + ${broken.replace(/\n/g, "\n  ")}\n    + 1\n`,
    );
    expect(out.split("\n").every((l) => l.length <= 100)).toBe(true);
  });

  it("breaks a scan's carries past 100 columns one per line", () => {
    const carry = (n: string) => `${n}_state = zeros([batch_size, hidden_units])`;
    const out = checkFormat(
      `block f(x: [batch_size, t, d], hidden_units: int) -> [batch_size, hidden_units] {\n` +
        `  return scan xt in x along 1 carry (${carry("h")}, ${carry("c")}) { h_state = h_state + c_state\n yield h_state }\n}\n`,
    );
    expect(out).toContain(
      `  return scan xt in x along 1 carry (\n    ${carry("h")},\n    ${carry("c")},\n  ) {\n    h_state = h_state + c_state\n`,
    );
  });

  it("breaks a long const list and a long train setting, and leaves a value that fits alone", () => {
    const nums = Array.from({ length: 12 }, (_, i) => String(1000000 * (i + 1)));
    const out = checkFormat(
      `const sizes = [${nums.join(", ")}]\nconst small = [1, 2]\n` +
        `model m { input x: [2] }\ntrain t for m { optimizer adam(${long(5)
          .map((a) => `${a.slice(0, 10)}: 1`)
          .join(", ")}, extra_setting: 0.001) }\n`,
    );
    expect(out).toContain(`const sizes = [\n${nums.map((n) => `  ${n},\n`).join("")}]\n`);
    expect(out).toContain("const small = [1, 2]\n");
    expect(out).toContain("train t for m {\n  optimizer adam(\n    input_numb: 1,\n");
    expect(out.split("\n").every((l) => l.length <= 100)).toBe(true);
  });
});

// ------------------------------------------------------------ property test

/**
 * `text` with a comment at some of its token boundaries: inline block
 * comments, line comments ending the line there, and comments on a line of
 * their own. Newlines are not significant in .dlg, so the program is the same.
 */
function sprinkle(text: string, picks: { at: number; kind: number }[]): string {
  const ends = tokens.dlgLexer.tokenize(text).tokens.map((t) => t.startOffset + t.image.length);
  const at = new Map<number, number>();
  picks.forEach((p, i) => at.set(ends[p.at % ends.length]!, p.kind * 1000 + i));
  let out = "";
  let last = 0;
  for (const [offset, code] of [...at].sort((a, b) => a[0] - b[0])) {
    const n = code % 1000;
    const comment = [
      ` /* c${n}. */ `,
      ` // c${n}.\n`,
      `\n// c${n}.\n`,
      `\n\n/* c${n}. */\n`,
      ` /* c${n}.\n  two */ `,
      ` /*c${n}.*/`,
    ][Math.floor(code / 1000)]!;
    out += text.slice(last, offset) + comment;
    last = offset;
  }
  return out + text.slice(last);
}

describe("formatting with comments sprinkled between tokens", () => {
  const picks = fc.array(fc.record({ at: fc.nat(), kind: fc.integer({ min: 0, max: 5 }) }), {
    maxLength: 40,
  });

  /** Formatting `text` with comments added keeps `plain`'s program and each added comment once. */
  function checkSprinkled(plain: string, marks: { at: number; kind: number }[]): void {
    const text = sprinkle(plain, marks);
    const once = checkFormat(text);
    expect(strip(parse(once).program)).toEqual(strip(parse(plain).program));
    for (let i = 0; i < marks.length; i++)
      if (text.includes(`c${i}.`)) expect(once.split(`c${i}.`).length, once).toBe(2);
  }

  it("the fuzzer's well-formed programs: idempotent, the program kept, every comment once", () => {
    fc.assert(
      fc.property(fc.gen(), picks, (g, marks) => checkSprinkled(generateProgram(g), marks)),
      { numRuns: 400, seed: 20261201 },
    );
  });

  it("the repo's .dlg files: the same", () => {
    const texts = files
      .filter(
        (f) =>
          !["binary_file", "deep_nesting", "long_chain", "syntax_errors"].some((n) =>
            f.includes(n),
          ),
      )
      .map((f) => textOf(f)!);
    fc.assert(
      fc.property(fc.nat(), picks, (i, marks) => checkSprinkled(texts[i % texts.length]!, marks)),
      { numRuns: 300, seed: 20261201 },
    );
  });
});

// ------------------------------------------------------------ dlg fmt

async function dlg(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, { out: (t) => void out.push(t), err: (t) => void err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("dlg fmt", () => {
  const dir = mkdtempSync(join(tmpdir(), "dlg-fmt-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("--check passes on every .dlg file of the repo that prettier checks", async () => {
    const checked = files.filter((f) => !ignored.has(f)).map((f) => join(root, f));
    const r = await dlg("fmt", "--check", ...checked);
    expect(r.err).toContain(`${checked.length} files formatted`);
    expect([r.code, r.out]).toEqual([0, ""]);
  });

  it("--check lists a messy file and exits 1; fmt rewrites it to the canonical text", async () => {
    const original = readFileSync(join(root, "samples/mlp.dlg"), "utf8");
    const messy = original.replace(/^ +/gm, "      ").replace(/ = /g, "=").replace(/\n\n/g, "\n");
    const file = join(dir, "messy.dlg");
    writeFileSync(file, messy);
    const check = await dlg("fmt", "--check", file);
    expect([check.code, check.out]).toEqual([1, file]);
    expect(check.err).toContain("1 file would be reformatted");
    expect(readFileSync(file, "utf8")).toBe(messy);
    const fixed = await dlg("fmt", file);
    expect([fixed.code, fixed.out]).toEqual([0, file]);
    expect(readFileSync(file, "utf8")).toBe(printProgram(parse(messy).program));
    expect((await dlg("fmt", "--check", file)).code).toBe(0);
  });

  it("reports a file with syntax errors as diagnostics and leaves it untouched", async () => {
    const bad = join(dir, "bad.dlg");
    const good = join(dir, "good.dlg");
    writeFileSync(bad, "model m {\n  x =\n}\n");
    writeFileSync(good, "model m {x = 1}\n");
    const r = await dlg("fmt", bad, good);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error[E1001]: expected an expression after '=', found '}'`);
    expect(r.err).toContain(`--> ${bad}:2:6`);
    expect(r.err).toContain("1 file left as it is (errors above)");
    expect(readFileSync(bad, "utf8")).toBe("model m {\n  x =\n}\n");
    expect(readFileSync(good, "utf8")).toBe("model m {\n  x = 1\n}\n");
    expect((await dlg("fmt")).code).toBe(2);
  });

  it("reports a missing file as check does, and has a help text", async () => {
    const missing = join(dir, "nowhere.dlg");
    const r = await dlg("fmt", "--check", missing);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error[E2006]: cannot read \`${missing}\``);
    const help = await dlg("fmt", "--help");
    expect([help.code, help.out.split("\n")[0]]).toEqual([0, "Usage: dlg fmt [--check] FILE..."]);
  });

  it("formats stdin to stdout with `-` (nothing else on either), and with errors prints none", () => {
    const fmt = (input: string, ...args: string[]) => {
      const r = spawnSync(process.execPath, [join(root, "bin/dlg.js"), "fmt", ...args, "-"], {
        input,
        encoding: "utf8",
      });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const messy = "dim   B\nconst a=1 // c\n";
    const text = printProgram(parse(messy).program);
    expect(fmt(messy)).toEqual({ code: 0, out: text, err: "" });
    expect(fmt(messy, "--check")).toEqual({ code: 1, out: "-\n", err: "" });
    expect(fmt(text, "--check")).toEqual({ code: 0, out: "", err: "" });
    const bad = fmt("dim\n");
    expect([bad.code, bad.out]).toEqual([1, ""]);
    expect(bad.err).toContain("--> <stdin>:1:4");
  });
});

// ------------------------------------------------------------ prettier

describe("the prettier plugin", () => {
  const sample = readFileSync(join(root, "test/fixtures/language/lenet.dlg"), "utf8");

  it("formats as print.ts does, through prettier's API", async () => {
    const viaPrettier = await prettier.format(sample, { parser: "dlg", plugins: [plugin] });
    expect(viaPrettier).toBe(printProgram(parse(sample).program));
    expect(viaPrettier).not.toBe(sample);
  });

  it("reports a syntax error as prettier's error with its line and column", async () => {
    await expect(
      prettier.format("model m {\n  x =\n}\n", { parser: "dlg", plugins: [plugin] }),
    ).rejects.toMatchObject({ loc: { start: { line: 2, column: 6 } } });
  });

  it("loads under plain Node from its package entry, as the repo's .prettierrc.json names it", () => {
    const bin = join(root, "node_modules/prettier/bin/prettier.cjs");
    const r = spawnSync(process.execPath, [bin, "--stdin-filepath", "x.dlg"], {
      cwd: root,
      input: sample,
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(printProgram(parse(sample).program));
    const rel = relative(root, join(root, "prettier/index.js"));
    expect(JSON.parse(readFileSync(join(root, ".prettierrc.json"), "utf8")).plugins).toEqual([
      `./${rel}`,
    ]);
  });
});
