// Imports with a namespace (LANGUAGE.md v2): `import "x.dlg" as ns` reads
// x's blocks and consts as `ns.name`; plain imports keep v1's one shared
// scope; a `dim` declared in two files is one dimension; and each file's
// models and train blocks are its own, so importing runnable files works.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../cli/node-host.ts";
import { renderDiagnostics, type Diagnostic } from "../compiler/diagnostics.ts";
import { shapeToString } from "../compiler/dims.ts";
import { elaborate, stdPath, type ElaborateResult } from "../compiler/elaborate.ts";

function host(files: Record<string, string>) {
  return {
    readFile: (p: string) => files[p],
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
}

const run = (files: Record<string, string>): ElaborateResult => elaborate("main.dlg", host(files));

function ok(files: Record<string, string>): ElaborateResult {
  const r = run(files);
  expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
  return r;
}

const params = (r: ElaborateResult, model: string) =>
  r.models.get(model)!.params.map((p) => `${p.path}: ${shapeToString(p.var.type.shape)}`);

/** A library that is also runnable: its own dim, model and train block. */
const layers = `dim B
const width = 16
block encoder(x: [b, n], w: int = width, act: fn = relu) -> [b, w] {
  return x |> dense(w) |> act
}
model demo {
  input x: [B, 4]
  input y: [B, 16]
  loss mse(encoder(x), y)
}
train default for demo { optimizer sgd(lr: 0.1) batch 4 epochs 1 }
`;

/** Another runnable file, with a block and a model of the same names. */
const other = `dim B
block encoder(x: [b, n]) -> [b, n] { return x |> tanh }
model demo {
  input x: [B, 3]
  output o = encoder(x)
  loss mean(o)
}
train default for demo { optimizer sgd(lr: 0.5) batch 2 epochs 1 }
`;

function only(files: Record<string, string>): Diagnostic & { at: string } {
  const r = run(files);
  expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toHaveLength(1);
  const d = r.diagnostics[0]!;
  return { ...d, at: files[d.file]!.slice(d.span.start, d.span.end) };
}

describe("namespaced imports", () => {
  it("read the imported file's blocks and consts as ns.name", () => {
    const r = ok({
      "layers.dlg": layers,
      "main.dlg": `import "layers.dlg" as layers
dim B
model main {
  input x: [B, 8]
  input y: [B, 16]
  h = x |> layers.encoder(act: tanh)
  k = layers.encoder(x, w: 2 * layers.width)
  loss mse(h, y) + mean(k)
}`,
    });
    expect(params(r, "main")).toEqual([
      "encoder_1.dense_1.w: [8, 16]",
      "encoder_1.dense_1.b: [16]",
      "encoder_2.dense_1.w: [8, 32]",
      "encoder_2.dense_1.b: [32]",
    ]);
  });

  it("give a function value from a namespace like any other (shared when bound)", () => {
    const r = ok({
      "layers.dlg": layers,
      "main.dlg": `import "layers.dlg" as layers
dim B
model main {
  input a: [B, 8]
  input b: [B, 8]
  enc = layers.encoder(w: 8)
  output o = (a |> enc) + (b |> enc)
}`,
    });
    expect(params(r, "main")).toEqual(["enc.dense_1.w: [8, 8]", "enc.dense_1.b: [8]"]);
  });

  it("keep a namespaced file's names out of the importer's scope", () => {
    const d = only({
      "layers.dlg": layers,
      "main.dlg": `import "layers.dlg" as layers
dim B
model main {
  input x: [B, 8]
  output o = x |> encoder
}`,
    });
    expect(d.code).toBe("E2003");
    expect(d.message).toBe("unknown function or block `encoder`");
    expect(d.help).toBe("`encoder` is in the namespace `layers`: write `layers.encoder`");
    expect(d.at).toBe("encoder");
  });

  it("import two runnable files, each with the same dim, block and model names", () => {
    const files = {
      "layers.dlg": layers,
      "other.dlg": other,
      "main.dlg": `import "layers.dlg" as layers
import "other.dlg" as other
dim B
model demo {
  input x: [B, 8]
  output o = x |> layers.encoder |> other.encoder
}`,
    };
    const r = ok(files);
    // The entry's `demo` is the one selectable; the imported models were still checked.
    expect([...r.models.keys()]).toEqual(["demo"]);
    expect(r.models.get("demo")!.inputs.map((i) => shapeToString(i.var.type.shape))).toEqual([
      "[B, 8]",
    ]);
    expect(r.trains).toEqual([]);
    const c = compile("main.dlg", { host: host(files) });
    expect(renderDiagnostics(c.diagnostics, c.sources)).toBe("");
    expect(c.ok).toBe(true);
  });

  it("report an imported model's errors in its own file", () => {
    const r = run({
      "layers.dlg": layers.replace("mse(encoder(x), y)", "mse(encoder(x), zz)"),
      "main.dlg": `import "layers.dlg" as layers\ndim B\nmodel main {\n  input x: [B, 8]\n  output o = x\n}`,
    });
    expect(r.diagnostics.map((d) => `${d.file} ${d.code} ${d.message}`)).toEqual([
      "layers.dlg E2001 unknown name `zz`",
    ]);
  });
});

describe("plain imports", () => {
  it("keep v1's shared scope, and a dim declared in both files is one dimension", () => {
    const r = ok({
      "layers.dlg": layers,
      "main.dlg": `import "layers.dlg"
dim B
model main {
  input x: [B, 8]
  output o = x |> encoder(w: width)
}`,
    });
    // The entry's model comes first; the imported `demo` stays selectable by name.
    expect([...r.models.keys()]).toEqual(["main", "demo"]);
    expect(params(r, "main")).toEqual([
      "encoder_1.dense_1.w: [8, 16]",
      "encoder_1.dense_1.b: [16]",
    ]);
    // The imported train block is for the imported model: not the entry's default.
    expect(r.trains).toEqual([]);
  });

  it("an imported train block is selectable when the entry file has no model", () => {
    const r = ok({ "layers.dlg": layers, "main.dlg": `import "layers.dlg"\n` });
    expect(r.trains.map((t) => `${t.name} for ${t.model}`)).toEqual(["default for demo"]);
  });

  it("still report a const defined in two plainly imported files", () => {
    const d = only({
      "a.dlg": "const k = 1\n",
      "main.dlg": `import "a.dlg"\nconst k = 2\n`,
    });
    expect(d.code).toBe("E2005");
    expect(d.message).toBe("`k` is already defined");
    expect(d.notes).toEqual(["the first definition is in `a.dlg`"]);
  });
});

describe("namespace errors", () => {
  const files = (main: string) => ({ "layers.dlg": layers, "main.dlg": main });
  const model = (body: string) =>
    `import "layers.dlg" as layers\ndim B\nmodel main {\n  input x: [B, 8]\n${body}\n}`;

  it("an unknown member is E2003 or E2001 with a did-you-mean over the namespace", () => {
    const call = only(files(model("  output o = x |> layers.encodr")));
    expect(call.code).toBe("E2003");
    expect(call.message).toBe("`layers` (`layers.dlg`) has no block or const named `encodr`");
    expect(call.help).toBe("did you mean `layers.encoder`?");
    expect(call.at).toBe("layers.encodr");
    const name = only(files(model("  output o = x * layers.widht")));
    expect(name.code).toBe("E2001");
    expect(name.message).toBe("`layers` (`layers.dlg`) has no block or const named `widht`");
    expect(name.help).toBe("did you mean `layers.width`?");
    expect(name.at).toBe("layers.widht");
  });

  it("an unknown namespace is E2003 with a did-you-mean over the aliases", () => {
    const d = only(files(model("  output o = x |> lyers.encoder")));
    expect(d.code).toBe("E2003");
    expect(d.message).toBe("unknown namespace `lyers` in `lyers.encoder`");
    expect(d.help).toBe("did you mean `layers`?");
    expect(d.notes).toEqual(['a namespace is the alias of an import: `import "file.dlg" as NAME`']);
    expect(d.at).toBe("lyers.encoder");
  });

  it("a namespace used as a value is E2001", () => {
    const d = only(files(model("  output o = x * layers")));
    expect(d.code).toBe("E2001");
    expect(d.message).toBe(
      '`layers` is a namespace (`import "layers.dlg" as layers`), not a value',
    );
    expect(d.help).toBe("name one of its blocks or consts: `layers.width`");
    expect(d.at).toBe("layers");
  });

  it("one alias for two files is E2005", () => {
    const d = only({
      "layers.dlg": layers,
      "other.dlg": other,
      "main.dlg": `import "layers.dlg" as lib\nimport "other.dlg" as lib\n`,
    });
    expect(d.code).toBe("E2005");
    expect(d.message).toBe("namespace `lib` is already defined");
    expect(d.labels.map((l) => l.message)).toEqual(["`lib` is `layers.dlg` here"]);
    expect(d.at).toBe("lib");
    expect(d.span.start).toBe(`import "layers.dlg" as lib\nimport "other.dlg" as `.length);
  });

  it("a namespace whose file cannot be read reports the import alone", () => {
    const d = only({
      "main.dlg": `import "nope.dlg" as lib
dim B
model m {
  input x: [B, 4]
  output o = x |> lib.f
  output p = x * lib.k
}`,
    });
    expect(d.code).toBe("E2006");
    expect(d.at).toBe('"nope.dlg"');
  });

  it("an unknown name inside a block that no model calls is reported the same way", () => {
    const d = only(
      files(`import "layers.dlg" as layers
block f(x: [b, n]) -> [b, n] {
  return x |> layers.encodr
}`),
    );
    expect(d.code).toBe("E2003");
    expect(d.message).toBe("`layers` (`layers.dlg`) has no block or const named `encodr`");
    expect(d.help).toBe("did you mean `layers.encoder`?");
  });
});
