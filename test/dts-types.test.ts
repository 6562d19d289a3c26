// The shape-typed .d.ts as a user's tsc meets it: test/fixtures/mlp-256.dlg (the v1 mlp sample) and
// samples/linreg.dlg (and a model without a loss) compiled to a temp dir, and the callers in test/dts/
// type-checked against their .d.ts by the TypeScript compiler (strict, one
// program over every fixture). test/dts/good.ts must pass without a
// diagnostic; each misuse fixture marks the diagnostics tsc must give with a
// `//! TSnnnn text` comment on the line: exactly those, no others. Then
// `dlg typegen`: the same .d.ts without compiling the module, beside the
// .dlg, and again under --watch when the file or an import changes.

import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../cli/main.ts";
import { compile, nodeHost, typegen } from "../cli/node-host.ts";
import { typegenFiles } from "../cli/typegen-command.ts";
import { moduleDts } from "../compiler/emit/dts.ts";
import { jsString } from "../compiler/mangle.ts";
import { strictCallerOptions } from "./tsc-options.ts";

const tmp = mkdtempSync(join(tmpdir(), "dlg-dts-types-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const fixtures = readdirSync("test/dts").filter((f) => f.endsWith(".ts"));

interface Found {
  line: number;
  code: number;
  text: string;
}

/** What each fixture's `//! TSnnnn text` comments expect, by file name. */
function expected(file: string): Found[] {
  return readFileSync(join("test/dts", file), "utf8")
    .split("\n")
    .flatMap((l, i) => {
      const m = /\/\/! TS(\d+) (.+)$/.exec(l);
      return m ? [{ line: i + 1, code: Number(m[1]), text: m[2]! }] : [];
    });
}

/** Every diagnostic tsc gives the fixtures, by file name. */
let found: Map<string, Found[]>;

beforeAll(() => {
  const mlp = compile("test/fixtures/mlp-256.dlg", { target: "wasm" });
  const linreg = compile("samples/linreg.dlg", { target: "js" });
  expect(mlp.ok && linreg.ok).toBe(true);
  writeFileSync(join(tmp, "mlp.d.ts"), mlp.dts!);
  writeFileSync(join(tmp, "linreg.d.ts"), linreg.dts!);
  // A model without a loss: no step().
  const encoder = "dim B\nmodel encoder {\n  input x: [B, 4]\n  output z = x |> dense(2)\n}\n";
  const host = { readFile: (f: string) => (f === "encoder.dlg" ? encoder : nodeHost.readFile(f)) };
  const enc = typegen("encoder.dlg", { host, target: "js" });
  expect(enc.ok).toBe(true);
  writeFileSync(join(tmp, "encoder.d.ts"), enc.dts!);
  for (const f of fixtures) copyFileSync(join("test/dts", f), join(tmp, f));
  const program = ts.createProgram(
    fixtures.map((f) => join(tmp, f)),
    strictCallerOptions,
  );
  found = new Map(fixtures.map((f) => [f, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    // A diagnostic in a .d.ts or without a file would be the .d.ts's own fault: fail on it.
    const file = d.file ? basename(d.file.fileName) : "(none)";
    const line = d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1 : 0;
    if (!found.has(file)) found.set(file, []);
    found.get(file)!.push({ line, code: d.code, text });
  }
}, 60_000);

describe("the .d.ts, as tsc checks a caller", () => {
  it("types each tensor with its dtype and shape: numbers for sizes, strings for named dims", () => {
    const dts = readFileSync(join(tmp, "mlp.d.ts"), "utf8");
    expect(dts).toContain('/** f32[B, 784] */\n  "x": Tensor<"f32", ["B", 784]>;');
    expect(dts).toContain('"y": Tensor<"i32", ["B"]>;');
    expect(dts).toContain('"probs": FreshTensor<"f32", ["B", 10]>;');
    expect(dts).toContain('readonly "dense_1.w": FreshTensor<"f32", [784, 256]>;');
    const lin = readFileSync(join(tmp, "linreg.d.ts"), "utf8");
    expect(lin).toContain('export interface ModelDims {\n  "F": number;\n}');
    expect(lin).toContain('readonly "theta": FreshTensor<"f32", ["F"]>;');
  });

  it("passes a caller that uses the models correctly, without a diagnostic", () => {
    expect(found.get("good.ts")).toEqual([]);
    // Nothing outside the fixtures: the .d.ts files themselves type-check.
    expect([...found.keys()].filter((f) => !fixtures.includes(f))).toEqual([]);
  });

  for (const file of fixtures.filter((f) => f !== "good.ts")) {
    it(`rejects ${file} with exactly the diagnostics it marks`, () => {
      const want = expected(file);
      expect(want.length).toBeGreaterThan(0);
      const got = found.get(file)!;
      expect(got.map((d) => `${d.line}: TS${d.code}`)).toEqual(
        want.map((d) => `${d.line}: TS${d.code}`),
      );
      got.forEach((d, i) => expect(d.text).toContain(want[i]!.text));
    });
  }
});

describe("the .d.ts, against names that try to escape", () => {
  /** `program` with every string equal to a key of `names` replaced (dims in shapes too). */
  function renamed<T>(program: T, names: Record<string, string>): T {
    const walk = (v: unknown): unknown =>
      typeof v === "string"
        ? (names[v] ?? v)
        : Array.isArray(v)
          ? v.map(walk)
          : v && typeof v === "object"
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
            : v;
    return walk(program) as T;
  }
  /** The names a .d.ts declares at its top level. */
  const declared = (text: string) =>
    ts
      .createSourceFile("m.d.ts", text, ts.ScriptTarget.ES2022, true)
      .statements.map((st) =>
        ts.isVariableStatement(st)
          ? st.declarationList.declarations.map((d) => d.name.getText()).join()
          : ((st as ts.DeclarationStatement).name?.getText() ?? ts.SyntaxKind[st.kind]),
      );

  it("keeps a dim, input, output or param name inside its string literal type or comment", () => {
    const program = compile("samples/linreg.dlg", { target: "js" }).program!;
    const evil = (s: string) => `${s}"]>; export declare const pwned: 1; /* */ // \n\u2028'\\`;
    const names = { F: evil("F"), B: evil("B"), x: evil("x"), pred: evil("p"), theta: evil("t") };
    const text = moduleDts(renamed(program, names), evil("m"), "wasm");
    const parsed = ts.transpileModule(text, { fileName: "m.ts", reportDiagnostics: true });
    expect(parsed.diagnostics).toEqual([]);
    expect(declared(text)).toEqual(declared(moduleDts(program, "linreg", "wasm")));
    expect(text).toContain(`Tensor<"f32", [${jsString(names.B)}, ${jsString(names.F)}]>`);
  });
});

/** An Io that keeps what a command prints, and can wait for a line. */
function capture() {
  const lines: string[] = [];
  const io = { out: (t: string) => void lines.push(t), err: (t: string) => void lines.push(t) };
  const waitFor = async (pred: (l: string) => boolean, count = 1, ms = 10_000) => {
    const end = Date.now() + ms;
    while (lines.filter(pred).length < count) {
      if (Date.now() > end) throw new Error(`timed out; printed:\n${lines.join("\n")}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { lines, io, waitFor };
}

describe("dlg typegen", () => {
  it("writes FILE.d.ts beside FILE.dlg: the .d.ts compile writes beside the module", async () => {
    const dir = mkdtempSync(join(tmp, "gen-"));
    copyFileSync("samples/mlp.dlg", join(dir, "mlp.dlg"));
    const { lines, io } = capture();
    expect(await run(["typegen", join(dir, "mlp.dlg")], io)).toBe(0);
    expect(lines).toEqual([`wrote ${join(dir, "mlp.d.ts")} (model mlp)`]);
    // The same text as `dlg compile` writes, for its default target (wasm).
    const compiled = compile(join(dir, "mlp.dlg"), { target: "wasm" }).dts;
    expect(readFileSync(join(dir, "mlp.d.ts"), "utf8")).toBe(compiled);
    // Again: nothing to write.
    expect(await run(["typegen", join(dir, "mlp.dlg")], io)).toBe(0);
    expect(lines[1]).toBe(`${join(dir, "mlp.d.ts")} is up to date (model mlp)`);
    // -o and --out-dir; --target as for compile.
    const out = join(dir, "types", "m.d.ts");
    expect(await run(["typegen", join(dir, "mlp.dlg"), "-o", out, "--target", "js"], io)).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(compile("samples/mlp.dlg", { target: "js" }).dts);
    const both = ["samples/mlp.dlg", "samples/linreg.dlg"];
    expect(await run(["typegen", ...both, "--out-dir", join(dir, "all")], io)).toBe(0);
    expect(readdirSync(join(dir, "all")).sort()).toEqual(["linreg.d.ts", "mlp.d.ts"]);
    expect(await run(["typegen", ...both, "-o", out], io)).toBe(2);
    // Two files of one name would write one .d.ts: refused before anything is written.
    mkdirSync(join(dir, "a"));
    mkdirSync(join(dir, "b"));
    copyFileSync("samples/mlp.dlg", join(dir, "a", "m.dlg"));
    copyFileSync("samples/linreg.dlg", join(dir, "b", "m.dlg"));
    const same = [join(dir, "a", "m.dlg"), join(dir, "b", "m.dlg")];
    expect(await run(["typegen", ...same, "--out-dir", join(dir, "one")], io)).toBe(2);
    expect(lines.join("\n")).toContain(`would both write ${join(dir, "one", "m.d.ts")}`);
    expect(existsSync(join(dir, "one"))).toBe(false);
  });

  it("builds the entries but never lowers: the .d.ts equals compile's for every target", () => {
    for (const target of ["js", "wasm", "webgpu"] as const) {
      const r = typegen("samples/linreg.dlg", { host: nodeHost, target });
      expect(r.ok).toBe(true);
      expect(r.dts).toBe(compile("samples/linreg.dlg", { target }).dts);
    }
  });

  it("reports a file's errors in rustc layout and writes nothing for it", async () => {
    const dir = mkdtempSync(join(tmp, "bad-"));
    const file = join(dir, "bad.dlg");
    writeFileSync(file, "dim B\nmodel m {\n  input x: [B, 3]\n  output y = x @ zeros([4, 2])\n}\n");
    const { lines, io } = capture();
    expect(await run(["typegen", file], io)).toBe(1);
    expect(lines.join("\n")).toMatch(/^error\[E\d{4}\]: .*\n\s+--> .*bad\.dlg:4:/m);
    expect(lines.at(-1)).toBe(`${file}: 1 error; ${join(dir, "bad.d.ts")} not written`);
    expect(readdirSync(dir)).toEqual(["bad.dlg"]);
  });

  it("--watch writes again when the file or an import changes, and keeps the last good .d.ts", async () => {
    const dir = mkdtempSync(join(tmp, "watch-"));
    const main = join(dir, "main.dlg");
    const lib = join(dir, "lib.dlg");
    const dts = join(dir, "main.d.ts");
    writeFileSync(lib, "const units = 4\n");
    const model = (n: number) =>
      `import "lib.dlg"\ndim B\nmodel m {\n  input x: [B, ${n}]\n  output y = x |> dense(units)\n}\n`;
    writeFileSync(main, model(3));
    const { lines, io, waitFor } = capture();
    const stop = new AbortController();
    const done = typegenFiles(
      { files: [main], outs: [dts], opts: { host: nodeHost }, watch: stop.signal },
      io,
    );
    try {
      const wrote = (l: string) => l.startsWith(`wrote ${dts}`);
      await waitFor((l) => l.startsWith("watching"));
      expect(lines.filter(wrote)).toHaveLength(1);
      expect(readFileSync(dts, "utf8")).toContain('"x": Tensor<"f32", ["B", 3]>;');
      writeFileSync(main, model(5));
      await waitFor(wrote, 2);
      expect(readFileSync(dts, "utf8")).toContain('"x": Tensor<"f32", ["B", 5]>;');
      writeFileSync(lib, "const units = 7\n");
      await waitFor(wrote, 3);
      expect(readFileSync(dts, "utf8")).toContain('"y": FreshTensor<"f32", ["B", 7]>;');
      // A broken edit: diagnostics, and the last good .d.ts stays.
      writeFileSync(main, model(5).replace("dense(units)", "dense(nope)"));
      await waitFor((l) => l.endsWith(`${dts} not written`));
      expect(lines.join("\n")).toMatch(/^error\[E\d{4}\]/m);
      expect(readFileSync(dts, "utf8")).toContain('"y": FreshTensor<"f32", ["B", 7]>;');
      expect(lines.filter(wrote)).toHaveLength(3);
    } finally {
      stop.abort();
    }
    expect(await done).toBe(0);
  }, 30_000);
});
