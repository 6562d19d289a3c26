// grammar/to-ast.ts reads the CST through the types Chevrotain generates
// from the grammar (grammar/cst.ts, scripts/gen-cst-dts.ts). Two things
// make that a guarantee: the checked-in types are those of the grammar as
// it is (so a grammar change without `npm run gen:cst` fails here), and
// to-ast.ts really depends on them (so regenerating after renaming a rule or
// a label makes to-ast.ts fail to compile until it follows). The second is
// checked by compiling to-ast.ts against types regenerated from a grammar
// with one rule, or one rule's child, renamed.

import { NonTerminal, Terminal, type IProduction, type Rule } from "chevrotain";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { cstTypesText, generatedFile, grammarProductions } from "../scripts/gen-cst-dts.ts";

const root = resolve(import.meta.dirname, "..");
const toAst = join(root, "grammar/to-ast.ts");

/** The project's compiler options, without DOM and Node types (to-ast.ts needs neither). */
const options: ts.CompilerOptions = {
  ...ts.parseJsonConfigFileContent(
    ts.readConfigFile(join(root, "tsconfig.json"), ts.sys.readFile).config,
    ts.sys,
    root,
  ).options,
  lib: ["lib.es2022.d.ts"],
  types: [],
};

/** Parsed files other than cst.ts, shared by the compilations (lib and chevrotain's types are most of the time). */
const parsed = new Map<string, ts.SourceFile | undefined>();

/** The type errors of grammar/to-ast.ts (and the files it imports) when grammar/cst.ts reads `cst`. */
function typeErrors(cst: string): string[] {
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError) => {
    if (resolve(name) === generatedFile) return ts.createSourceFile(name, cst, lang);
    if (!parsed.has(name)) parsed.set(name, read(name, lang, onError));
    return parsed.get(name);
  };
  const program = ts.createProgram([toAst], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName.slice(root.length + 1)}: ` : "";
    return where + ts.flattenDiagnosticMessageText(d.messageText, "\n");
  });
}

/** Every rule reference and token in a rule's body, at any depth (not into the rules referred to). */
function elements(productions: IProduction[]): (NonTerminal | Terminal)[] {
  return productions.flatMap((p) => {
    // A NonTerminal's `definition` is the body of the rule it refers to.
    if (p instanceof NonTerminal || p instanceof Terminal) return [p];
    return "definition" in p ? elements(p.definition as IProduction[]) : [];
  });
}

/** The key of a rule reference or token among its node's children. */
function childKey(e: NonTerminal | Terminal): string {
  return e.label ?? (e instanceof NonTerminal ? e.nonTerminalName : e.terminalType.name);
}

/** A fresh copy of the grammar's productions with rule `from` renamed `to`, as editing parser.ts would make it. */
function withRuleRenamed(from: string, to: string): Record<string, Rule> {
  const productions = grammarProductions();
  const rule = productions[from];
  if (!rule) throw new Error(`no rule ${from}`);
  rule.name = to;
  for (const r of Object.values(productions))
    for (const e of elements(r.definition))
      if (e instanceof NonTerminal && e.nonTerminalName === from) e.nonTerminalName = to;
  return productions;
}

/** A fresh copy of the grammar's productions where rule `ruleName`'s child `from` is labelled `to`. */
function withChildRenamed(ruleName: string, from: string, to: string): Record<string, Rule> {
  const productions = grammarProductions();
  const children = elements(productions[ruleName]?.definition ?? []).filter(
    (e) => childKey(e) === from,
  );
  if (children.length === 0) throw new Error(`no child ${from} in ${ruleName}`);
  for (const e of children) e.label = to;
  return productions;
}

describe("the CST types", () => {
  it("grammar/cst.ts is current with the grammar", async () => {
    const current = readFileSync(generatedFile, "utf8") === (await cstTypesText());
    expect(current, "grammar/cst.ts is stale: run `npm run gen:cst`").toBe(true);
  });

  it("to-ast.ts compiles against them", () => {
    expect(typeErrors(readFileSync(generatedFile, "utf8"))).toEqual([]);
  });

  it("renaming a rule in the grammar is a type error in to-ast.ts", async () => {
    const errors = typeErrors(await cstTypesText(withRuleRenamed("importDecl", "importStmt")));
    expect(errors.length).toBeGreaterThan(0);
    expect(
      errors.every((e) => e.startsWith("grammar/to-ast.ts: ")),
      errors.join("\n"),
    ).toBe(true);
    expect(errors.some((e) => e.includes("'importDecl'"))).toBe(true);
  });

  // A label on a subrule (ifExpr's `cond`), and a label given to a token
  // child that was read by its token's name (outputStmt's Identifier).
  it.each([
    ["ifExpr", "cond", "condition"],
    ["outputStmt", "Identifier", "name"],
  ])("renaming %s's child %s is a type error in to-ast.ts", async (rule, from, to) => {
    const errors = typeErrors(await cstTypesText(withChildRenamed(rule, from, to)));
    expect(errors, `no error for ${rule}'s ${from}`).toContainEqual(
      expect.stringMatching(new RegExp(`^grammar/to-ast\\.ts: Property '${from}' does not exist`)),
    );
  });
});
