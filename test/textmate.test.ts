// The VS Code TextMate grammar (editors/vscode/syntaxes/dlg.tmLanguage.json)
// checked against the real lexer: every .dlg file of the repository (samples,
// std, fixtures, benches, error baselines) that lexes cleanly is lexed with
// dlgLexer and tokenized with the grammar (vscode-textmate on
// vscode-oniguruma, as VS Code runs it), and each character of each keyword,
// number, string, comment and operator token must carry the scope its kind
// asks for, while a plain identifier must carry none of them. A keyword added
// to grammar/tokens.ts but not to the grammar fails here, even before any
// sample uses it: one of the texts lists every keyword the lexer knows.

import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { IToken, TokenType } from "chevrotain";
import * as oniguruma from "vscode-oniguruma";
import { INITIAL, parseRawGrammar, Registry, type IGrammar } from "vscode-textmate";
import { beforeAll, describe, expect, it } from "vitest";
import * as T from "../grammar/tokens.ts";

const grammarPath = "editors/vscode/syntaxes/dlg.tmLanguage.json";

let grammar: IGrammar;

beforeAll(async () => {
  const wasm = readFileSync(
    createRequire(import.meta.url).resolve("vscode-oniguruma/release/onig.wasm"),
  );
  await oniguruma.loadWASM(wasm);
  const registry = new Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === "source.dlg"
        ? parseRawGrammar(readFileSync(grammarPath, "utf8"), grammarPath)
        : null,
  });
  const loaded = await registry.loadGrammar("source.dlg");
  if (!loaded) throw new Error(`${grammarPath} did not load`);
  grammar = loaded;
});

/** The TextMate scopes over each character of `text`, by offset (none on line breaks). */
function scopesByOffset(text: string): (readonly string[] | undefined)[] {
  const byOffset: (readonly string[] | undefined)[] = new Array(text.length);
  let state = INITIAL;
  let lineStart = 0;
  for (const line of text.split("\n")) {
    const { tokens, ruleStack } = grammar.tokenizeLine(line, state);
    state = ruleStack;
    for (const t of tokens)
      for (let i = t.startIndex; i < Math.min(t.endIndex, line.length); i++)
        byOffset[lineStart + i] = t.scopes;
    lineStart += line.length + 1;
  }
  return byOffset;
}

const operators: TokenType[] = [
  T.Pipe,
  T.Arrow,
  T.Ellipsis,
  T.EqEq,
  T.NotEq,
  T.LessEq,
  T.GreaterEq,
  T.Less,
  T.Greater,
  T.Equals,
  T.Plus,
  T.Minus,
  T.Star,
  T.Slash,
  T.At,
  T.Caret,
];
const typeWords: TokenType[] = [T.Int, T.Float, T.Bool, T.F32, T.I32, T.Fn];
const docComments: TokenType[] = [T.DocLineComment, T.DocBlockComment];
/** The scopes a token's kind owns: a plain identifier must carry none of them. */
const highlighted = /^(keyword|storage\.type|constant\.(numeric|language)|string|comment)\./;

/** The scope every character of a token must carry, or undefined for tokens not checked. */
function expectedScope(type: TokenType): RegExp | undefined {
  if (type === T.True || type === T.False) return /^constant\.language\.boolean\.dlg$/;
  if (typeWords.includes(type)) return /^storage\.type\./;
  // `dim B` declares, `n: dim` is a type.
  if (type === T.Dim) return /^(keyword\.declaration|storage\.type)\./;
  if (T.keywordTokens.includes(type)) return /^keyword\./;
  if (type === T.NumberLiteral) return /^constant\.numeric\./;
  if (type === T.StringLiteral || type === T.UnterminatedString) return /^string\./;
  if (docComments.includes(type)) return /^comment\..*\.documentation\./;
  if (type.GROUP === "comments") return /^comment\./;
  if (operators.includes(type)) return /^keyword\.operator\./;
  return undefined;
}

interface Mismatch {
  line: number;
  column: number;
  token: string;
  text: string;
  scopes: readonly string[];
  wanted: string;
}

/** Every character of `text` whose TextMate scope disagrees with what the lexer made of it. */
function mismatches(text: string): { checked: number; wrong: Mismatch[] } {
  const lexed = T.dlgLexer.tokenize(text);
  expect(lexed.errors).toEqual([]);
  const scopes = scopesByOffset(text);
  const wrong: Mismatch[] = [];
  let checked = 0;
  const tokens: IToken[] = [...lexed.tokens, ...(lexed.groups["comments"] ?? [])];
  for (const token of tokens) {
    const wanted = expectedScope(token.tokenType);
    const isName = token.tokenType === T.Identifier;
    if (!wanted && !isName) continue;
    checked++;
    for (let offset = token.startOffset; offset <= token.endOffset!; offset++) {
      if (text[offset] === "\n" || text[offset] === "\r") continue;
      const here = scopes[offset] ?? [];
      const ok = wanted ? here.some((s) => wanted.test(s)) : !here.some((s) => highlighted.test(s));
      if (ok) continue;
      const before = text.slice(0, offset);
      wrong.push({
        line: before.split("\n").length,
        column: offset - before.lastIndexOf("\n"),
        token: token.tokenType.name,
        text: token.image,
        scopes: here,
        wanted: wanted ? String(wanted) : "no keyword/number/string/comment scope",
      });
      break;
    }
  }
  return { checked, wrong };
}

const dlgIn = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".dlg"))
    .map((f) => `${dir}/${f}`);
/** Every .dlg file in the repository the lexer reads without an error (some error baselines have a stray character on purpose). */
const dlgFiles = [
  ...dlgIn("samples"),
  "std/prelude.dlg",
  ...dlgIn("test/fixtures/language"),
  ...dlgIn("test/fixtures/v2"),
  ...dlgIn("bench/cpu-models"),
  ...dlgIn("test/errors"),
  ...dlgIn("test/errors/lib"),
].filter((f) => T.dlgLexer.tokenize(readFileSync(f, "utf8")).errors.length === 0);

/** Each keyword the lexer knows, written as its pattern spells it. */
const keywordWords = T.keywordTokens.map((t) => (t.PATTERN as RegExp).source);

describe("the TextMate grammar agrees with the lexer", () => {
  it.each(dlgFiles)("%s", (file) => {
    const { checked, wrong } = mismatches(readFileSync(file, "utf8"));
    expect(checked).toBeGreaterThan(0);
    expect(wrong).toEqual([]);
  });

  it("scopes every keyword of grammar/tokens.ts, alone and as a name's prefix", () => {
    expect(keywordWords.every((w) => /^[a-z0-9]+$/.test(w))).toBe(true);
    // One a line first: after `block` or `model` on the same line the grammar reads a name.
    const text = [
      keywordWords.join("\n"),
      keywordWords.map((w) => `${w}_x ${w}2 x_${w}`).join(" "),
      keywordWords.map((w) => `(${w}) [${w}] {${w}}`).join(", "),
    ].join("\n");
    const { checked, wrong } = mismatches(text);
    expect(checked).toBe(keywordWords.length * 7);
    expect(wrong).toEqual([]);
  });

  it("scopes the literal, comment and operator forms of the lexer, and names beside them", () => {
    const text = [
      "x = 3 + 0.5 * .5 - 1e-4 / 2.5E+3 ^ 10e4 @ w2 |> f -> [..., n] == a != b <= c >= d < e > g",
      'import "a/b.dlg"  import "esc\\"aped\\\\" // line',
      "/// doc line",
      "//// not a doc line",
      "/** doc",
      "   block */ x /**/ y /* plain",
      " still */ h0 l2 x1e5 _9",
      'u = "unterminated',
      "f(axis: -1, keepdims: true) x[a:b, 1:] div mod",
      "/* unterminated to the end",
      "  of the file",
    ].join("\n");
    const { checked, wrong } = mismatches(text);
    expect(checked).toBeGreaterThan(50);
    expect(wrong).toEqual([]);
  });

  it("names the declared block, model, train block and dims, and named arguments", () => {
    const text =
      "dim B, T\nblock dense(x: [B, n], units: int) -> [B, units] { return x }\n" +
      "model mlp { output y = x |> relu |> dense(units: 3) }\ntrain fast for mlp { batch 8 }";
    const scopes = scopesByOffset(text);
    const at = (needle: string, nth = 0): readonly string[] => {
      let i = -1;
      for (let k = 0; k <= nth; k++) i = text.indexOf(needle, i + 1);
      return scopes[i] ?? [];
    };
    expect(at("T")).toContain("entity.name.type.dim.dlg");
    expect(at("dense")).toContain("entity.name.function.block.dlg");
    expect(at("units")).toContain("variable.parameter.dlg");
    expect(at("mlp")).toContain("entity.name.type.model.dlg");
    expect(at("relu")).toContain("entity.name.function.call.dlg");
    expect(at("dense", 1)).toContain("entity.name.function.call.dlg");
    expect(at("fast")).toContain("entity.name.section.train.dlg");
    expect(at("mlp", 1)).toContain("entity.name.type.model.dlg");
  });

  it("reads a qualified name as a namespace and a member, never a keyword", () => {
    const text =
      'import "a.dlg" as enc\nmodel m { y = x |> enc.state(2) |> enc.loss + enc.update }';
    const scopes = scopesByOffset(text);
    const at = (offset: number): readonly string[] => scopes[offset] ?? [];
    expect(at(text.indexOf("as"))).toContain("keyword.control.import.dlg");
    for (const member of ["state", "loss", "update"]) {
      const dot = text.indexOf(`enc.${member}`);
      expect(at(dot)).toContain("entity.name.namespace.dlg");
      expect(at(dot + 3)).toContain("punctuation.accessor.dot.dlg");
      expect(at(dot + 4).some((s) => s.startsWith("keyword."))).toBe(false);
    }
    expect(at(text.indexOf("state") + 1)).toContain("entity.name.function.call.dlg");
  });
});
