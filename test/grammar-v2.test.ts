// grammar/ on the v2 surface syntax: `fn` parameters, `import ... as`,
// qualified names, `state`/`update`, `keep best`. The fixtures in
// test/fixtures/v2 are LANGUAGE.md's v2 examples verbatim (and syntax.dlg,
// every form in one file, with the library it imports as a namespace).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, printProgram } from "../grammar/index.ts";
import type { Decl, Program, Span, Stmt, TrainSetting, TypeExpr } from "../grammar/index.ts";
import {
  dlgFiles,
  ex,
  expectSpansParseBack,
  nodesOf,
  parseOk,
  stmt,
  strip,
  sx,
} from "./grammar-helpers.ts";

const root = join(import.meta.dirname, "..");
const v2Dir = join(root, "test/fixtures/v2");
const fixtures = dlgFiles(v2Dir);
const read = (name: string) => readFileSync(join(v2Dir, name), "utf8");

function decl<K extends Decl["kind"]>(p: Program, kind: K, nth = 0): Extract<Decl, { kind: K }> {
  const d = p.decls.filter((x) => x.kind === kind)[nth];
  if (!d) throw new Error(`no ${kind} declaration #${nth}`);
  return d as Extract<Decl, { kind: K }>;
}

function typeText(t: TypeExpr): string {
  if (t.kind === "ScalarType") return t.name;
  return `${t.dtype ?? ""}[${t.dims.map((d) => (d.kind === "Ellipsis" ? "..." : sx(d))).join(" ")}]`;
}

/** A statement as a compact line: its kind, name and parts. */
function line(s: Stmt): string {
  switch (s.kind) {
    case "Assign":
      return `${s.targets.map((t) => t.name).join(",")} = ${sx(s.value)}`;
    case "Param":
    case "State":
      return `${s.kind.toLowerCase()} ${s.name.name}: ${typeText(s.type)}${s.init ? ` init ${sx(s.init)}` : ""}`;
    case "Input":
      return `input ${s.name.name}: ${typeText(s.type)}`;
    case "Update":
    case "Output":
    case "Metric":
      return `${s.kind.toLowerCase()} ${s.name.name} = ${sx(s.value)}`;
    case "Loss":
    case "Return":
    case "Yield":
      return `${s.kind.toLowerCase()} ${sx(s.value)}`;
  }
}

const settings = (ss: TrainSetting[]) => ss.map((s) => `${s.key.name} ${sx(s.value)}`);

describe("LANGUAGE.md's v2 examples", () => {
  it("are all present as fixtures, and parse", () => {
    const names = fixtures.map((f) => f.split("/").pop());
    for (const n of ["siamese", "encoder", "batch_norm", "vgg", "bigru", "autoencoder"])
      expect(names).toContain(`${n}.dlg`);
    for (const f of fixtures) parseOk(readFileSync(f, "utf8"));
  });

  it("siamese: a fn parameter with a default, and a layer bound to a name", () => {
    const p = parseOk(read("siamese.dlg"));
    const tower = decl(p, "Block");
    expect(tower.params.map((q) => `${q.name.name}: ${typeText(q.type)}`)).toEqual([
      "x: [b n]",
      "width: int",
      "act: fn",
    ]);
    expect(sx(tower.params[2]!.default!)).toBe("relu");
    expect(tower.body.map(line)).toEqual([
      "return (|> (|> (|> x (call dense width)) act) (call dense width))",
    ]);
    expect(decl(p, "Model").body.map(line)).toEqual([
      "input left: [B 784]",
      "input right: [B 784]",
      "input same: [B]",
      "encode = (call tower 64 act=(call leaky_relu alpha=0.1))",
      "a = (|> left encode)",
      "b = (|> right encode)",
      "output score = (call sigmoid (call sum (* a b) axis=(neg 1)))",
      "loss (call binary_cross_entropy score same)",
    ]);
  });

  it("encoder: repeat of a partial call, and the v2 train lines", () => {
    const p = parseOk(read("encoder.dlg"));
    expect(decl(p, "Model").body.map(line)[2]).toBe(
      "logits = (|> (|> (|> tokens (call embedding vocab 64)) (call repeat (call encoder_block heads=4) 4)) (call dense vocab))",
    );
    expect(settings(decl(p, "Train").settings)).toEqual([
      "optimizer (call adamw lr=(call cosine 3e-4 warmup=100) weight_decay=0.01)",
      "clip_norm 1.0",
      "batch 32",
      "epochs 3",
    ]);
  });

  it("batch_norm: state declarations and their updates, and `if training`", () => {
    const p = parseOk(read("batch_norm.dlg"));
    const b = decl(p, "Block");
    expect(
      b.params.slice(1).map((q) => `${q.name.name}: ${typeText(q.type)} = ${sx(q.default!)}`),
    ).toEqual(["momentum: float = 0.9", "eps: float = 1e-5"]);
    expect(b.body.map(line)).toEqual([
      "param scale: [c] init ones",
      "param shift: [c] init zeros",
      "state mean_avg: [c] init zeros",
      "state var_avg: [c] init ones",
      "m = (call mean x axis=0)",
      "v = (call mean (^ (- x m) 2) axis=0)",
      "update mean_avg = (+ (* momentum mean_avg) (* (- 1 momentum) m))",
      "update var_avg = (+ (* momentum var_avg) (* (- 1 momentum) v))",
      "mu = (if training m mean_avg)",
      "s2 = (if training v var_avg)",
      "return (+ (* (/ (- x mu) (call sqrt (+ s2 eps))) scale) shift)",
    ]);
  });

  it("vgg: a string option, a pipeline over three lines, keep best and patience", () => {
    const p = parseOk(read("vgg.dlg"));
    expect(decl(p, "Block").body.map(line)).toEqual([
      'return (|> (|> (|> x (call conv2d filters kernel=3 padding="same")) batch_norm) relu)',
    ]);
    const logits = decl(p, "Model").body[2]!;
    expect(line(logits)).toBe(
      "logits = (|> (|> (|> (|> (|> (|> (|> (|> x (call conv_bn 16)) (call conv_bn 16)) (call maxpool 2)) (call conv_bn 32)) (call conv_bn 32)) (call maxpool 2)) flatten) (call dense 10))",
    );
    expect(settings(decl(p, "Train").settings)).toEqual([
      "optimizer (call sgd lr=(call step_decay 0.05 every=2 gamma=0.5) momentum=0.9)",
      "batch 64",
      "epochs 6",
      "keep accuracy",
      "patience 2",
    ]);
  });

  it("bigru and autoencoder: a layer as an argument, a one-line train block", () => {
    const g = parseOk(read("bigru.dlg"));
    expect(decl(g, "Model").body.map(line).slice(2, 4)).toEqual([
      "h = (|> x (call bidirectional (call gru 32)))",
      "logits = (|> (call mean h axis=1) (call dense 3))",
    ]);
    const a = parseOk(read("autoencoder.dlg"));
    expect(decl(a, "Model").body.map(line)).toEqual([
      "input x: [B 784]",
      "code = (|> (|> (|> x (call dense 128)) relu) (call dense 32))",
      "output recon = (|> (|> (|> (|> code (call dense 128)) relu) (call dense 784)) sigmoid)",
      "loss (call mse recon x)",
    ]);
    expect(settings(decl(a, "Train").settings)).toEqual([
      "optimizer (call adam lr=1e-3)",
      "batch 128",
      "epochs 2",
    ]);
  });

  it.each(fixtures.map((f) => [f.split("/").pop()!, f]))(
    "every expression in %s spans text that parses back to it",
    (_name, file) => expectSpansParseBack(file),
  );

  it.each(fixtures.map((f) => [f.split("/").pop()!, f]))(
    "%s prints back to the same program, idempotently",
    (_name, file) => {
      const first = parseOk(readFileSync(file, "utf8"));
      const printed = printProgram(first);
      const second = parseOk(printed);
      expect(strip({ ...second, comments: undefined })).toEqual(
        strip({ ...first, comments: undefined }),
      );
      expect(printProgram(second)).toBe(printed);
    },
  );
});

describe("v2 forms", () => {
  it("import ... as: the alias and its span", () => {
    const text = 'import "blocks/encoders.dlg" as enc\nimport "plain.dlg"';
    const p = parseOk(text);
    const [a, b] = [decl(p, "Import"), decl(p, "Import", 1)];
    expect(a.path.value).toBe("blocks/encoders.dlg");
    expect(a.alias?.name).toBe("enc");
    expect(text.slice(a.alias!.span.start, a.alias!.span.end)).toBe("enc");
    expect(text.slice(a.span.start, a.span.end)).toBe('import "blocks/encoders.dlg" as enc');
    expect(b.alias).toBeNull();
  });

  it("a qualified name is one Name: its whole text, and its namespace with its own span", () => {
    const text = "model m {\n  y = x |> enc.encoder(4) + enc.width\n}";
    const s = parseOk(text).decls[0];
    if (s?.kind !== "Model" || s.body[0]?.kind !== "Assign") throw new Error();
    expect(sx(s.body[0].value)).toBe("(|> x (+ (call enc.encoder 4) enc.width))");
    const names = nodesOf(s).filter((n) => n.kind === "Name" && n.qualifier);
    expect(names.map((n) => n.name)).toEqual(["enc.encoder", "enc.width"]);
    for (const n of names) {
      const span = n.span as Span;
      const q = n.qualifier as { name: string; span: Span };
      expect(text.slice(span.start, span.end)).toBe(n.name);
      expect(q.name).toBe("enc");
      expect(text.slice(q.span.start, q.span.end)).toBe("enc");
      expect(q.span.start).toBe(span.start);
    }
    // A plain name has no qualifier at all (not an undefined one to compare).
    expect(Object.keys(ex("x"))).not.toContain("qualifier");
  });

  it("numbers and `...` lex as before beside qualified names", () => {
    expect(sx(ex("a.b * 1.5 + .5 - 1e-3 + 2.5E+3"))).toBe("(+ (- (+ (* a.b 1.5) .5) 1e-3) 2.5E+3)");
    const p = parseOk("block f(x: [..., n], g: fn) -> [..., n] { return x }");
    expect(decl(p, "Block").params.map((q) => typeText(q.type))).toEqual(["[... n]", "fn"]);
  });

  it("state without init, and update, span their whole statement", () => {
    const text = "block f(x: [n]) -> [n] {\n  state s: [n]\n  update s = s + x\n  return s\n}";
    const b = decl(parseOk(text), "Block");
    expect(b.body.map(line)).toEqual(["state s: [n]", "update s = (+ s x)", "return s"]);
    expect(b.body.slice(0, 2).map((s) => text.slice(s.span.start, s.span.end))).toEqual([
      "state s: [n]",
      "update s = s + x",
    ]);
  });

  it("keep best: the setting `keep` whose value is the metric's name", () => {
    const text = "train t for m { keep best loss  patience 3 }";
    const t = decl(parseOk(text), "Train");
    const keep = t.settings[0]!;
    expect(keep.key.name).toBe("keep");
    expect(keep.value).toMatchObject({ kind: "Name", name: "loss" });
    expect(text.slice(keep.span.start, keep.span.end)).toBe("keep best loss");
    expect(text.slice(keep.value.span.start, keep.value.span.end)).toBe("loss");
    expect(printProgram(parseOk(text))).toBe(`${text}\n`);
  });

  it("the new words stay names where no statement or setting starts with them", () => {
    const b = decl(parseOk(read("syntax.dlg")), "Block", 1);
    expect(b.params.map((q) => `${q.name.name}: ${typeText(q.type)}`)).toEqual([
      "x: [n]",
      "fn: fn",
    ]);
    expect(b.body.map(line)).toEqual([
      "state = (call fn x)",
      "update = (* state 2)",
      "keep = (+ update state)",
      "best = (|> keep (call layers.mlp2 layers.width))",
      "return best",
    ]);
    expect(line(stmt("as = best(keep, fn)"))).toBe("as = (call best keep fn)");
    const t = decl(parseOk("train t for m { best 3  state 4 }"), "Train");
    expect(settings(t.settings)).toEqual(["best 3", "state 4"]);
  });
});

describe("half-written v2 forms", () => {
  it.each([
    ["model m { state x [3] }", "expected ':' after 'x', found '['", "[", ["':'"]],
    ["model m { state : [3] }", "expected a name after 'state', found ':'", ":", ["a name"]],
    ["model m { update x 3 }", "expected '=' after 'x', found '3'", "3", ["'='"]],
    ['import "a.dlg" as', "expected a name after 'as', found end of file", "", ["a name"]],
    ['import "a.dlg" as 3', "expected a name after 'as', found '3'", "3", ["a name"]],
    [
      "train t for m { keep accuracy }",
      "expected 'best' after 'keep', found 'accuracy'",
      "accuracy",
      ["'best'"],
    ],
    ["train t for m { keep best }", "expected a name after 'best', found '}'", "}", ["a name"]],
    [
      "block f(x: [n], g: fn =) -> [n] { return x }",
      "expected an expression after '=', found ')'",
      ")",
      ["an expression"],
    ],
  ])("%s: %s", (text, message, blamed, expected) => {
    const r = parse(text);
    expect(r.errors.map((e) => [e.code, e.message])).toEqual([["E1001", message]]);
    expect(text.slice(r.errors[0]!.span.start, r.errors[0]!.span.end)).toBe(blamed);
    expect(r.errors[0]!.expected).toEqual(expected);
  });

  it("a space around a qualified name's dot is an unexpected character", () => {
    const text = "model m { y = enc . x }";
    const r = parse(text);
    expect(r.errors[0]).toMatchObject({ code: "E1003", span: { start: 18, end: 19 } });
  });

  it("recovery keeps the statements around a broken state", () => {
    const r = parse("block f(x: [n]) -> [n] {\n  state s [n]\n  update s = x\n  return x\n}");
    expect(r.errors).toHaveLength(1);
    expect(decl(r.program, "Block").body.map((s) => s.kind)).toContain("Return");
  });
});
