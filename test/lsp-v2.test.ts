// The editor features on the v2 syntax: completion of `state`, `update`,
// `fn`, `import ... as`, a namespace's names after `ns.`, `keep best`;
// signature help through a namespace; semantic tokens of the new keywords
// and of qualified names. Each text is analysed as written (in memory, with
// the library it imports), the cursor marked `‸`.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CompletionItemKind, type CompletionItem } from "vscode-languageserver";
import { analyze } from "../compiler/compile.ts";
import { stdPath } from "../compiler/elaborate.ts";
import { trainKeys } from "../compiler/elaborate/train-config.ts";
import type { Analysis } from "../compiler/symbols.ts";
import { completions } from "../lsp/completion.ts";
import { hover } from "../lsp/hover.ts";
import { definition, prepareRename, rename } from "../lsp/navigation.ts";
import { semanticTokens, semanticTokensLegend } from "../lsp/semantic-tokens.ts";
import { signatureHelp } from "../lsp/signature-help.ts";
import { positionOf } from "../lsp/text.ts";
import { uriOf } from "../lsp/uris.ts";

const CURSOR = "‸";
const stdText = readFileSync(stdPath("prelude.dlg"), "utf8");

const lib = `dim F
const width = 8

/// A tower of two dense layers.
block tower(x: [b, n], units: int, act: fn = relu) -> [b, units] {
  return x |> dense(units) |> act |> dense(units)
}
`;

/** `marked` without its cursor, as main.dlg importing lib/enc.dlg, and its analysis. */
function at(marked: string): { text: string; offset: number; a: Analysis } {
  const offset = marked.indexOf(CURSOR);
  expect(offset, "the text has a cursor").toBeGreaterThanOrEqual(0);
  const text = marked.slice(0, offset) + marked.slice(offset + CURSOR.length);
  const files: Record<string, string> = { "main.dlg": text, "lib/enc.dlg": lib };
  const host = { readFile: (p: string) => files[p], readStd: () => stdText };
  return { text, offset, a: analyze("main.dlg", { host }) };
}

function complete(marked: string): CompletionItem[] {
  const { text, offset, a } = at(marked);
  return completions(a, "main.dlg", text, offset);
}

const labels = (items: CompletionItem[]) => items.map((i) => i.label);

const model = (body: string) =>
  `import "lib/enc.dlg" as enc\ndim B\nmodel m {\n  input x: [B, 4]\n  ${body}\n}\n`;

describe("completion", () => {
  it("offers state and update as a block's statements, fn as a parameter's type", () => {
    const inBlock = labels(complete(`block f(x: [n]) -> [n] {\n  ${CURSOR}\n}`));
    expect(inBlock).toEqual(expect.arrayContaining(["param", "state", "update", "return"]));
    // Not in a model, where they are E2020.
    expect(labels(complete(model(CURSOR)))).not.toContain("state");
    expect(labels(complete(`block f(x: [3], act: ${CURSOR}`))).toContain("fn");
    expect(labels(complete(`block f(x: [n]) -> [n] {\n  state s: ${CURSOR}`))).toEqual([
      "f32",
      "int",
      "bool",
      "i32",
    ]);
    // A state declared in the text is a value below it, even before any analysis.
    const text = "block f(x: [n]) -> [n] {\n  state s: [n]\n  update s = ";
    expect(labels(completions(undefined, "m.dlg", text, text.length))).toContain("s");
  });

  it("offers `as` after an import's path, and nothing to name the namespace", () => {
    const after = labels(complete(`import "lib/enc.dlg" ${CURSOR}`));
    expect(after[0]).toBe("as");
    expect(after).toEqual(expect.arrayContaining(["block", "model"]));
    expect(complete(`import "lib/enc.dlg" as ${CURSOR}`)).toEqual([]);
  });

  it("after `ns.`, offers the namespace's blocks and consts, replacing the name after the dot", () => {
    const items = complete(model(`h = x |> enc.${CURSOR}`));
    expect(labels(items).sort()).toEqual(["tower", "width"]);
    expect(items.find((i) => i.label === "tower")).toMatchObject({
      kind: CompletionItemKind.Function,
      detail: "block tower(x: [b, n], units: int, act: fn = relu) -> [b, units]",
      documentation: { value: "A tower of two dense layers." },
    });
    const { text, offset } = at(model(`h = x |> enc.to${CURSOR}`));
    const partial = completions(at(model(`h = x |> enc.to${CURSOR}`)).a, "main.dlg", text, offset);
    const start = positionOf(text, offset - 2);
    expect(partial.find((i) => i.label === "tower")?.textEdit).toMatchObject({
      range: { start, end: positionOf(text, offset) },
      newText: "tower",
    });
    // A name that is no namespace has no members; a number's dot is no namespace's.
    expect(complete(model(`h = x.${CURSOR}`))).toEqual([]);
    expect(labels(complete(model(`h = 1.5 + ${CURSOR}`)))).toContain("x");
  });

  it("offers the namespace itself where a value or a callable goes", () => {
    const piped = complete(model(`h = x |> ${CURSOR}`));
    expect(piped.find((i) => i.label === "enc")).toMatchObject({ kind: CompletionItemKind.Module });
    // The namespace's blocks are not visible unqualified, so not offered so.
    expect(labels(piped)).not.toContain("tower");
    expect(labels(piped)).toContain("dense");
  });

  it("completes the train keys of train-config.ts, `best` after `keep`, then the metrics and loss", () => {
    const train = (s: string) =>
      `dim B\nmodel m {\n  input x: [B, 4]\n  metric acc = mean(x)\n  loss mean(x)\n}\ntrain t for m {\n  ${s}\n}\n`;
    expect(labels(complete(train(CURSOR))).sort()).toEqual([...trainKeys].sort());
    expect(labels(complete(train(`keep ${CURSOR}`)))).toEqual(["best"]);
    expect(labels(complete(train(`keep best ${CURSOR}`)))).toEqual(["acc", "loss"]);
    // Once given, a key is not offered again; the line after `keep best acc` is a new setting.
    const next = labels(complete(train(`keep best acc\n  ${CURSOR}`)));
    expect(next).not.toContain("keep");
    expect(next).toContain("patience");
  });
});

describe("signature help", () => {
  it("reads a qualified callee's parameters from the namespace's block", () => {
    const { text, offset, a } = at(model(`h = x |> enc.tower(8, ${CURSOR})`));
    const help = signatureHelp(a, "main.dlg", text, offset);
    expect(help?.signatures[0]?.label).toBe(
      "tower(x: [b, n], units: int, act: fn = relu) -> [b, units]",
    );
    // `x` is piped, 8 is `units`: the cursor is at `act`.
    expect(help?.activeParameter).toBe(2);
  });
});

describe("go to definition", () => {
  it("goes from ns.tower to the block, and from the namespace or its alias to the imported file", () => {
    const { text, a } = at(model(`h = x |> enc.tower(enc.width)${CURSOR}`));
    const lib = { uri: uriOf("lib/enc.dlg") };
    const towerAt = text.indexOf("enc.tower");
    expect(definition(a, "main.dlg", towerAt + 5)).toMatchObject({
      ...lib,
      range: { start: { line: 4, character: 6 } },
    });
    const top = { start: { line: 0, character: 0 } };
    expect(definition(a, "main.dlg", towerAt + 1)).toMatchObject({ ...lib, range: top });
    expect(definition(a, "main.dlg", text.indexOf("as enc") + 4)).toMatchObject({
      ...lib,
      range: top,
    });
    // `enc.width`'s namespace too, but not a plain name nor a number's digits.
    expect(definition(a, "main.dlg", text.indexOf("enc.width"))).toMatchObject(lib);
    expect(definition(a, "main.dlg", text.indexOf("4]"))).toBeNull();
  });
});

describe("rename", () => {
  it("renames a block across the alias, editing only the name after the dot", () => {
    const { text, a } = at(model(`h = x |> enc.tower(enc.width)${CURSOR}`));
    const offset = text.indexOf("enc.tower") + 5;
    expect(prepareRename(a, "main.dlg", offset)?.placeholder).toBe("tower");
    const def = [...a.symbols.defs.values()].find((d) => d.name === "tower")!;
    const edits = rename([a], def, "pillar").changes!;
    const start = positionOf(text, offset - 1);
    expect(edits[uriOf("main.dlg")]).toEqual([
      { range: { start, end: positionOf(text, offset + 4) }, newText: "pillar" },
    ]);
    // The block's own name in the library is renamed too.
    expect(edits[uriOf("lib/enc.dlg")]).toHaveLength(1);
  });
});

describe("hover", () => {
  it("shows a qualified callee's signature and doc, and a qualified const's value", () => {
    const { text, a } = at(model(`h = x |> enc.tower(enc.width)${CURSOR}`));
    const show = (offset: number) => {
      const h = hover(a, "main.dlg", offset, true);
      return h ? (h.contents as { value: string }).value : "";
    };
    const tower = show(text.indexOf("enc.tower") + 6);
    expect(tower).toContain("tower(x: [b, n], units: int, act: fn = relu) -> [b, units]");
    expect(tower).toContain("A tower of two dense layers.");
    expect(show(text.indexOf("enc.width") + 5)).toContain("8");
  });
});

describe("semantic tokens", () => {
  function decode(text: string, data: number[]) {
    const lines = text.split("\n");
    const out: { text: string; type: string }[] = [];
    let line = 0;
    let char = 0;
    for (let i = 0; i < data.length; i += 5) {
      const [dl, dc, len, type] = data.slice(i, i + 4) as [number, number, number, number];
      line += dl;
      char = dl === 0 ? char + dc : dc;
      out.push({
        text: lines[line]!.slice(char, char + len),
        type: semanticTokensLegend.tokenTypes[type]!,
      });
    }
    return out;
  }

  it("marks the v2 keywords, `fn` as a type, and a qualified name's two parts", () => {
    const marked = `import "lib/enc.dlg" as enc
block run(x: [b, c], act: fn = relu) -> [b, c] {
  state avg: [c] init zeros
  update avg = avg + mean(x, axis: 0)
  return x |> enc.tower(enc.width) |> act
}
${CURSOR}`;
    const { text, a } = at(marked);
    const toks = decode(text, semanticTokens(text, a, "main.dlg"));
    const all = (t: string) => toks.filter((d) => d.text === t).map((d) => d.type);
    expect(all("as")).toEqual(["keyword"]);
    expect(all("state")).toEqual(["keyword"]);
    expect(all("update")).toEqual(["keyword"]);
    expect(all("fn")).toEqual(["type"]);
    expect(all("enc")).toEqual(["namespace", "namespace", "namespace"]);
    expect(all("tower")).toEqual(["function"]);
    expect(all("width")).toEqual(["variable"]);
    expect(all("avg")).toEqual(["property", "property", "property"]);
    // No token but the path's string covers a dot.
    expect(toks.filter((d) => d.text.includes(".")).map((d) => d.type)).toEqual(["string"]);
  });
});
