// The VS Code extension (editors/vscode): its manifest names files that exist
// and agree with each other, its language configuration's comment tokens and
// brackets are the lexer's, the client picks the `dlg` to start as documented,
// and `npm run build:vsix` packages it into a .vsix holding the manifest, the
// bundled client (self-contained: it needs only `vscode` and Node's built-ins,
// and loads as CommonJS with activate and deactivate) and the grammar.

import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { serverCommand } from "../editors/vscode/src/server-command.ts";
import * as T from "../grammar/tokens.ts";

const dir = "editors/vscode";
const readJson = (path: string): any => JSON.parse(readFileSync(path, "utf8"));
const manifest = readJson(`${dir}/package.json`);

/** The token types dlgLexer makes of `text`, comments included, in order. */
function lexedTypes(text: string): string[] {
  const r = T.dlgLexer.tokenize(text);
  expect(r.errors).toEqual([]);
  return [...r.tokens, ...(r.groups["comments"] ?? [])]
    .sort((a, b) => a.startOffset - b.startOffset)
    .map((t) => t.tokenType.name);
}

describe("the extension manifest", () => {
  const [language] = manifest.contributes.languages;
  const [grammar] = manifest.contributes.grammars;

  it("contributes the dlg language, its grammar and configuration, activated on it", () => {
    expect(manifest.contributes.languages).toHaveLength(1);
    expect(language.id).toBe("dlg");
    expect(language.extensions).toEqual([".dlg"]);
    expect(grammar.language).toBe(language.id);
    expect(readJson(`${dir}/${grammar.path}`).scopeName).toBe(grammar.scopeName);
    expect(grammar.scopeName).toBe("source.dlg");
    expect(manifest.activationEvents).toEqual([`onLanguage:${language.id}`]);
    expect(manifest.main).toBe("./out/extension.js");
    expect(manifest.engines.vscode).toBe("^1.91.0");
    // vsce refuses an engine older than the @types/vscode the client is compiled against.
    const types = readJson("node_modules/@types/vscode/package.json").version as string;
    expect(types.split(".").slice(0, 2).join(".")).toBe("1.91");
    expect(Object.keys(manifest.contributes.configuration.properties).sort()).toEqual([
      "dlg.server.path",
      "dlg.trace.server",
    ]);
  });

  it("has a language configuration whose comments and brackets are the lexer's", () => {
    const config = readJson(`${dir}/${language.configuration}`);
    const { lineComment, blockComment } = config.comments;
    expect(lexedTypes(`x ${lineComment} note`)).toEqual(["Identifier", "LineComment"]);
    expect(lexedTypes(`x ${blockComment[0]} note ${blockComment[1]} y`)).toEqual([
      "Identifier",
      "BlockComment",
      "Identifier",
    ]);
    const pairs = config.brackets.map(([open, close]: string[]) => lexedTypes(`${open}${close}`));
    expect(pairs).toEqual([
      ["LBrace", "RBrace"],
      ["LBracket", "RBracket"],
      ["LParen", "RParen"],
    ]);
    expect(config.folding.offSide).toBe(false);
    for (const rule of Object.values(config.indentationRules) as string[]) new RegExp(rule);
    const opens = new RegExp(config.indentationRules.increaseIndentPattern);
    for (const line of ["model m {", "model m {  // body", "  y = f(a,", "x = [1, 2,"])
      expect(opens.test(line), line).toBe(true);
    // A bracket in a comment or a string opens nothing.
    for (const line of ["x = 1 // see {", 'import "a{b.dlg"', "/// f(x", "y = f(a)"])
      expect(opens.test(line), line).toBe(false);
    expect(new RegExp(config.indentationRules.decreaseIndentPattern).test("  }")).toBe(true);
    // Enter continues a doc comment as the lexer reads one: `///`, not `////`.
    const continues = (line: string) =>
      config.onEnterRules.some(
        (r: { beforeText: string; action: { appendText?: string } }) =>
          r.action.appendText === "/// " && new RegExp(r.beforeText).test(line),
      );
    const docLine = (line: string) => lexedTypes(line).includes("DocLineComment");
    for (const line of ["/// a dense layer", "  ///", "//// a rule", "// plain"])
      expect(continues(line), line).toBe(docLine(line));
    // `/**` typed inside a comment or a string is text: nothing is closed for it.
    const docOpen = config.autoClosingPairs.find((p: { open: string }) => p.open === "/**");
    expect(docOpen.notIn.sort()).toEqual(["comment", "string"]);
  });
});

describe("the server command", () => {
  it("prefers the workspace's node_modules/.bin/dlg, else dlg on PATH", () => {
    const root = mkdtempSync(join(tmpdir(), "dlg-vscode-"));
    try {
      const bare = join(root, "bare");
      const project = join(root, "project");
      mkdirSync(bare);
      mkdirSync(join(project, "node_modules", ".bin"), { recursive: true });
      const local = join(project, "node_modules", ".bin", "dlg");
      writeFileSync(local, "#!/bin/sh\n");
      chmodSync(local, 0o755);
      const args = ["lsp", "--stdio"];
      expect(serverCommand("", [bare, project], "linux")).toEqual({
        command: local,
        args,
        shell: false,
      });
      expect(serverCommand("", [bare], "linux")).toEqual({ command: "dlg", args, shell: false });
      expect(serverCommand("", [], "win32")).toEqual({ command: "dlg.cmd", args, shell: true });
      expect(serverCommand(" /opt/dlg/bin/dlg ", [project], "linux").command).toBe(
        "/opt/dlg/bin/dlg",
      );
      expect(serverCommand("bin/dlg.js", [project], "linux")).toEqual({
        command: "node",
        args: [join(project, "bin/dlg.js"), ...args],
        shell: false,
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/** The entries of a zip archive, read from its central directory, with a reader for each. */
function zipEntries(zip: Buffer): Map<string, () => Buffer> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(eocd).toBeGreaterThan(0);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries = new Map<string, () => Buffer>();
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50);
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    entries.set(name, () => {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + size);
      return method === 8 ? inflateRawSync(data) : data;
    });
    at += 46 + nameLength + extra + comment;
  }
  return entries;
}

/**
 * What the bundle exports when Node loads it as VS Code does (CommonJS, with
 * `vscode` resolvable): here a stand-in answering every property, as only
 * loading is checked, not the editor API.
 */
function loadedExports(bundle: string): Record<string, string> {
  const root = mkdtempSync(join(tmpdir(), "dlg-vsix-"));
  try {
    mkdirSync(join(root, "node_modules", "vscode"), { recursive: true });
    writeFileSync(
      join(root, "node_modules", "vscode", "index.js"),
      "const any = () => new Proxy(function () {}, { get: () => any(), apply: () => any(), construct: () => any() });\n" +
        "module.exports = any();\n",
    );
    writeFileSync(join(root, "extension.js"), bundle);
    const script =
      "const e = require(process.argv[1]);" +
      "console.log(JSON.stringify(Object.fromEntries(Object.entries(e).map(([k, v]) => [k, typeof v]))))";
    const r = spawnSync(process.execPath, ["-e", script, join(root, "extension.js")], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe("npm run build:vsix", () => {
  it("packages the extension into a .vsix with the manifest, the bundled client and the grammar", () => {
    const vsix = `${dir}/out/dlg.vsix`;
    rmSync(`${dir}/out`, { recursive: true, force: true });
    const started = performance.now();
    const r = spawnSync("npm", ["run", "--silent", "build:vsix"], { encoding: "utf8" });
    const seconds = (performance.now() - started) / 1000;
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const zip = readFileSync(vsix);
    expect(zip.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
    const entries = zipEntries(zip);
    for (const name of [
      "extension.vsixmanifest",
      "extension/package.json",
      "extension/out/extension.js",
      "extension/syntaxes/dlg.tmLanguage.json",
      "extension/language-configuration.json",
    ])
      expect(entries.has(name), `${name} in ${[...entries.keys()].join(", ")}`).toBe(true);
    // Only what the extension runs on: no sources, no nested package.
    expect([...entries.keys()].filter((n) => /\.ts$|node_modules|\.vsix$/.test(n))).toEqual([]);
    expect(JSON.parse(entries.get("extension/package.json")!().toString()).name).toBe("dlg");
    // --no-dependencies ships no node_modules, so the bundle must need nothing
    // but the editor's `vscode` module and Node's built-ins.
    const bundle = entries.get("extension/out/extension.js")!().toString();
    const required = new Set([...bundle.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!));
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    expect([...required].filter((m) => m !== "vscode" && !builtins.has(m))).toEqual([]);
    expect(required.has("vscode")).toBe(true);
    expect(loadedExports(bundle)).toEqual({ activate: "function", deactivate: "function" });
    console.log(`build:vsix: ${(zip.length / 1024).toFixed(0)} KiB in ${seconds.toFixed(1)} s`);
  }, 60_000);
});
