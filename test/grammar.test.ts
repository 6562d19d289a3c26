// grammar/: text -> AST -> text. Fixtures are the LANGUAGE.md examples,
// verbatim; the spot checks pin precedence, spans and error recovery.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, printProgram } from "../grammar/index.ts";
import type { Span } from "../grammar/index.ts";
import {
  dlgFiles,
  ex,
  lineOf,
  expectSpansParseBack,
  parseOk,
  spansOf,
  stmt,
  strip,
  sx,
} from "./grammar-helpers.ts";

const root = join(import.meta.dirname, "..");
const fixtureDir = join(root, "test/fixtures/language");

const fixtures = dlgFiles(fixtureDir);
const roundTripFiles = [
  ...fixtures,
  ...dlgFiles(join(root, "samples")),
  ...dlgFiles(join(root, "std")),
];

// ---------------------------------------------------------------- fixtures

describe("LANGUAGE.md examples", () => {
  it("are all present as fixtures", () => {
    const names = fixtures.map((f) => f.split("/").pop());
    for (const n of ["linreg.dlg", "mlp.dlg", "lenet.dlg", "my_lstm.dlg", "tagger.dlg"])
      expect(names).toContain(n);
  });

  it.each(fixtures.map((f) => [f.split("/").pop()!, f]))(
    "%s parses without errors",
    (_name, file) => {
      const p = parseOk(readFileSync(file, "utf8"));
      expect(p.decls.length).toBeGreaterThan(0);
    },
  );

  it("reads the declarations of tagger.dlg in order", () => {
    const p = parseOk(readFileSync(join(fixtureDir, "tagger.dlg"), "utf8"));
    expect(p.decls.map((d) => d.kind)).toEqual(["Block", "Block", "Dim", "Const", "Model"]);
    const model = p.decls[4]!;
    if (model.kind !== "Model") throw new Error();
    expect(model.body.map((s) => s.kind)).toEqual([
      "Input",
      "Input",
      "Input",
      "Assign",
      "Assign",
      "Assign",
      "Loss",
    ]);
  });

  it("reads train blocks written on one line", () => {
    const p = parseOk(readFileSync(join(fixtureDir, "linreg.dlg"), "utf8"));
    const trains = p.decls.filter((d) => d.kind === "Train");
    expect(trains.map((t) => t.name.name)).toEqual(["batch_gd", "sgd", "minibatch"]);
    const first = trains[0]!;
    expect(first.model.name).toBe("linreg");
    expect(first.settings.map((s) => `${s.key.name} ${sx(s.value)}`)).toEqual([
      "optimizer (call gd lr=0.01)",
      "batch full",
      "epochs 200",
    ]);
  });
});

// ---------------------------------------------------------------- precedence

describe("expressions", () => {
  it.each([
    ["a + b * c", "(+ a (* b c))"],
    ["a * b + c", "(+ (* a b) c)"],
    ["a - b - c", "(- (- a b) c)"],
    ["-x ^ 2", "(neg (^ x 2))"],
    ["a ^ b ^ c", "(^ a (^ b c))"],
    ["x ^ -1", "(^ x (neg 1))"],
    ["- -x", "(neg (neg x))"],
    ["a * -b", "(* a (neg b))"],
    ["x @ w + b", "(+ (@ x w) b)"],
    ["(W + 2 * P - K) div S + 1", "(+ (div (- (+ W (* 2 P)) K) S) 1)"],
    ["n mod 2 == 0", "(== (mod n 2) 0)"],
    ["a < b + 1", "(< a (+ b 1))"],
    ["x |> f(a) |> g", "(|> (|> x (call f a)) g)"],
    ["x |> f == y", "(|> x (== f y))"],
    ["f(a, b, axis: -1)", "(call f a b axis=(neg 1))"],
    ["f(a)(b)[0]", "(index (call (call f a) b) 0)"],
    ["x[i, :, 1:3]", "(index x i _:_:_ 1:3:_)"],
    ["x[::2, a:, :b, 1:n:2]", "(index x _:_:2 a:_:_ _:b:_ 1:n:2)"],
    ["[a, b]", "[a b]"],
    ["[]", "[]"],
    ["if bias then y + b else y", "(if bias (+ y b) y)"],
    ["if a then b else c |> f", "(if a b (|> c f))"],
    ["(if a then b else c) + 1", "(+ (if a b c) 1)"],
    ['"path/to.dlg"', '"path/to.dlg"'],
    ["true", "true"],
    ["0.5 + .5 + 1e-4 + 2.5E+3", "(+ (+ (+ 0.5 .5) 1e-4) 2.5E+3)"],
  ])("%s", (src, expected) => {
    expect(sx(ex(src))).toBe(expected);
  });

  it("keeps number text and int-ness", () => {
    const n = (src: string) => {
      const e = ex(src);
      if (e.kind !== "Number") throw new Error();
      return [e.value, e.raw, e.isInt];
    };
    expect(n("784")).toEqual([784, "784", true]);
    expect(n("1e-4")).toEqual([1e-4, "1e-4", false]);
    expect(n("0.5")).toEqual([0.5, "0.5", false]);
    expect(n(".5")).toEqual([0.5, ".5", false]);
  });

  it("continues a pipeline across lines", () => {
    const e = ex("x\n    |> conv2d(6, kernel: 5)\n    |> relu");
    expect(sx(e)).toBe("(|> (|> x (call conv2d 6 kernel=5)) relu)");
  });

  it("reads a scan with carries and a body", () => {
    const e = ex(
      "scan xt in x along 1 carry (h = zeros([B, H]), c = h) {\n  h = tanh(xt @ w + h)\n  yield h\n}",
    );
    if (e.kind !== "Scan") throw new Error(`got ${e.kind}`);
    expect(e.item.name).toBe("xt");
    expect(sx(e.source)).toBe("x");
    expect(sx(e.axis)).toBe("1");
    expect(e.carries.map((c) => `${c.name.name}=${sx(c.init)}`)).toEqual([
      "h=(call zeros [B H])",
      "c=h",
    ]);
    expect(e.body.map((s) => s.kind)).toEqual(["Assign", "Yield"]);
  });

  it("reads a scan without carries", () => {
    const e = ex("scan xt in x |> f along -1 { yield xt }");
    if (e.kind !== "Scan") throw new Error();
    expect([sx(e.source), sx(e.axis), e.carries.length]).toEqual(["(|> x f)", "(neg 1)", 0]);
  });
});

// ---------------------------------------------------------------- statements and declarations

describe("statements", () => {
  it("destructures", () => {
    const s = stmt("ig, fg, gg, og = split(x, 4, axis: -1)");
    if (s.kind !== "Assign") throw new Error();
    expect(s.targets.map((t) => t.name)).toEqual(["ig", "fg", "gg", "og"]);
  });

  it("reads every model statement", () => {
    const d = parseOk(`model m {
      input x: [B, 784]
      input y: int[B]
      param w: [784, 10] init normal(0, 0.02)
      param b: [10]
      output probs = softmax(x @ w + b)
      metric acc = mean(y == y)
      loss mse(probs, y)
    }`).decls[0];
    if (d?.kind !== "Model") throw new Error();
    expect(d.body.map((s) => s.kind)).toEqual([
      "Input",
      "Input",
      "Param",
      "Param",
      "Output",
      "Metric",
      "Loss",
    ]);
    const [, y, w, b] = d.body;
    expect(y?.kind === "Input" && y.type.dtype).toBe("int");
    expect(w?.kind === "Param" && w.init && sx(w.init)).toBe("(call normal 0 0.02)");
    expect(b?.kind === "Param" && b.init).toBe(null);
  });

  it("lets soft keywords be names where unambiguous", () => {
    const d = parseOk(`model m {
      input input: [B]
      loss = input * 2
      output = loss
      in, carry = split(output, 2)
      metric batch = init + along
      loss loss
      y = f(in: param, seed: 1)
    }`).decls[0];
    if (d?.kind !== "Model") throw new Error();
    expect(d.body.map((s) => s.kind)).toEqual([
      "Input",
      "Assign",
      "Assign",
      "Assign",
      "Metric",
      "Loss",
      "Assign",
    ]);
    const [input, lossAssign, , destr, metric, loss, call] = d.body;
    expect(input?.kind === "Input" && input.name.name).toBe("input");
    expect(lossAssign?.kind === "Assign" && sx(lossAssign.value)).toBe("(* input 2)");
    expect(destr?.kind === "Assign" && destr.targets.map((t) => t.name)).toEqual(["in", "carry"]);
    expect(metric?.kind === "Metric" && [metric.name.name, sx(metric.value)]).toEqual([
      "batch",
      "(+ init along)",
    ]);
    expect(loss?.kind === "Loss" && sx(loss.value)).toBe("loss");
    expect(call?.kind === "Assign" && sx(call.value)).toBe("(call f in=param seed=1)");
  });

  it("accepts trailing commas in multi-line lists, and prints without them", () => {
    const p = parseOk(`block f(
  x: [n],
  k: int,
) -> [n] {
  y = g(
    x,
    axis: -1,
  )
  return concat([x, y,], axis: 0)
}`);
    expect(printProgram(p)).toBe(
      "block f(x: [n], k: int) -> [n] {\n  y = g(x, axis: -1)\n  return concat([x, y], axis: 0)\n}\n",
    );
  });

  it("lexes identifiers that start with a keyword as identifiers", () => {
    expect(sx(ex("inputs + format + dims + iffy + integer"))).toBe(
      "(+ (+ (+ (+ inputs format) dims) iffy) integer)",
    );
  });
});

describe("declarations", () => {
  it("reads imports, dims and consts", () => {
    const p = parseOk(
      'import "layers/encoders.dlg"\ndim B, T\nconst vocab = 1000\nconst eps = 1e-5',
    );
    expect(p.decls.map((d) => d.kind)).toEqual(["Import", "Dim", "Const", "Const"]);
    const [imp, dim] = p.decls;
    expect(imp?.kind === "Import" && imp.path.value).toBe("layers/encoders.dlg");
    expect(dim?.kind === "Dim" && dim.names.map((n) => n.name)).toEqual(["B", "T"]);
  });

  it("reads block signatures: tensor and scalar types, defaults, result type", () => {
    const d = parseOk(
      "block f(x: [..., n], i: int[B], h: f32[...], s: [], k: float[2], u: int, r: float, b: bool = true, d: dim) -> [..., n] { return x }",
    ).decls[0];
    if (d?.kind !== "Block") throw new Error();
    const types = d.params.map((p) =>
      p.type.kind === "ScalarType"
        ? p.type.name
        : `${p.type.dtype ?? ""}[${p.type.dims.map((x) => (x.kind === "Ellipsis" ? "..." : sx(x))).join(" ")}]`,
    );
    // `float[...]` is the default element type spelled out: f32.
    expect(types).toEqual([
      "[... n]",
      "int[B]",
      "f32[...]",
      "[]",
      "f32[2]",
      "int",
      "float",
      "bool",
      "dim",
    ]);
    expect(d.params[7]?.default && sx(d.params[7].default)).toBe("true");
    expect(d.result?.kind).toBe("TensorType");
    const g = parseOk("block g(x: [n]) { return x }").decls[0];
    expect(g?.kind === "Block" && g.result).toBe(null);
  });

  it("attaches the doc comment just above a block or model", () => {
    const p = parseOk(`/// Dense layer.
/// Acts on the last axis.
block dense(x: [n]) { return x }

/**
 * The model.
 */
model m { }

/// Detached by a blank line.

model n { }
// A plain comment is not documentation.
model o { }`);
    expect(
      p.decls.map((d) => (d.kind === "Block" || d.kind === "Model" ? d.doc : undefined)),
    ).toEqual(["Dense layer.\nActs on the last axis.", "The model.", null, null]);
  });
});

// ---------------------------------------------------------------- spans

describe("spans", () => {
  it("a matmul's operands cover exactly their text", () => {
    const text = "model m {\n  y = (a + b) @ transpose(w_xh)\n}";
    const s = parseOk(text).decls[0];
    if (s?.kind !== "Model" || s.body[0]?.kind !== "Assign") throw new Error();
    const mm = s.body[0].value;
    if (mm.kind !== "Binary") throw new Error();
    const at = (sp: Span) => text.slice(sp.start, sp.end);
    expect(at(mm.left.span)).toBe("a + b");
    expect(at(mm.right.span)).toBe("transpose(w_xh)");
    expect(at(mm.opSpan)).toBe("@");
    // The operation spans both operands, parentheses included.
    expect(at(mm.span)).toBe("(a + b) @ transpose(w_xh)");
    expect(at(s.body[0].span)).toBe("y = (a + b) @ transpose(w_xh)");
  });

  it.each(fixtures.map((f) => [f.split("/").pop()!, f]))(
    "every expression in %s spans text that parses back to it",
    (_name, file) => expectSpansParseBack(file),
  );
});

// ---------------------------------------------------------------- printing

describe("printProgram", () => {
  it.each(roundTripFiles.map((f) => [f.slice(root.length + 1), f]))(
    "round-trips %s",
    (_name, file) => {
      const text = readFileSync(file, "utf8");
      const first = parseOk(text);
      const printed = printProgram(first);
      const second = parseOk(printed);
      expect(strip({ ...second, comments: undefined })).toEqual(
        strip({ ...first, comments: undefined }),
      );
      expect(second.comments?.map((c) => c.text)).toEqual(first.comments?.map((c) => c.text));
      expect(printProgram(second)).toBe(printed);
    },
  );

  it.each([
    ["(a + b) * c", "(a + b) * c"],
    ["a - (b - c)", "a - (b - c)"],
    ["(a - b) - c", "a - b - c"],
    ["(a ^ b) ^ c", "(a ^ b) ^ c"],
    ["a ^ (b ^ c)", "a ^ b ^ c"],
    ["(-x) ^ 2", "(-x) ^ 2"],
    ["-(x ^ 2)", "-x ^ 2"],
    ["-(a + b)", "-(a + b)"],
    ["- -x", "-(-x)"],
    ["x ^ (-1)", "x ^ -1"],
    ["a * (-b)", "a * -b"],
    ["(if c then a else b) + 1", "(if c then a else b) + 1"],
    ["a + (if c then x else y) + b", "a + (if c then x else y) + b"],
    ["f(if c then x else y, axis: 0)", "f(if c then x else y, axis: 0)"],
    ["(x |> f)(3)", "(x |> f)(3)"],
    ["x |> (f |> g)", "x |> (f |> g)"],
    ["(x |> f) |> g", "x |> f |> g"],
    ["(a + b)[0, :, 1:, ::2]", "(a + b)[0, :, 1:, ::2]"],
    ["a == (b == c)", "a == (b == c)"],
    ["((a))", "a"],
    ["x[1:n:2]", "x[1:n:2]"],
    ["(scan t in x along 1 { yield t })[0]", "scan t in x along 1 {\n  yield t\n}[0]"],
  ])("prints %s as %s", (src, expected) => {
    const p = parseOk(`const c = ${src}`);
    const printed = printProgram(p);
    expect(printed).toBe(`const c = ${expected}\n`);
    expect(strip(parseOk(printed))).toEqual(strip(p));
  });

  it("breaks a long pipeline one stage per line and keeps a short one on one line", () => {
    const lenet = readFileSync(join(fixtureDir, "lenet.dlg"), "utf8");
    const printed = printProgram(parseOk(lenet));
    expect(printed).toContain(
      "  logits = x\n    |> conv2d(6, kernel: 5, padding: 2)\n    |> relu\n    |> maxpool(2)\n",
    );
    const mlp = printProgram(parseOk(readFileSync(join(fixtureDir, "mlp.dlg"), "utf8")));
    expect(mlp).toContain("  logits = x |> dense(256) |> relu |> dropout(0.2) |> dense(10)\n");
  });

  it("prints the canonical layout, with the source's blank lines and one-line train blocks", () => {
    const src = `// Comment above.
dim B
const k = 3


block f(x: [..., n], bias: bool = true) -> [..., n] {
  /// not a doc: it is inside a body
  y = x @ w   // trailing
  return if bias then y + b else y
}
train t for m { optimizer sgd(lr: 0.1)  batch full }
train u for m {
  optimizer sgd(lr: 0.1)  batch full }`;
    expect(printProgram(parseOk(src))).toBe(`// Comment above.
dim B
const k = 3

block f(x: [..., n], bias: bool = true) -> [..., n] {
  /// not a doc: it is inside a body
  y = x @ w  // trailing
  return if bias then y + b else y
}
train t for m { optimizer sgd(lr: 0.1)  batch full }
train u for m {
  optimizer sgd(lr: 0.1)
  batch full
}
`);
  });

  it("prints doc comments and an empty program", () => {
    expect(printProgram(parseOk("/** Doc. */ model m {}"))).toBe("/** Doc. */\nmodel m {}\n");
    expect(printProgram(parseOk("///  Two\n/// lines.\nmodel m {}"))).toBe(
      "///  Two\n/// lines.\nmodel m {}\n",
    );
    expect(printProgram(parseOk(""))).toBe("");
  });
});

// ---------------------------------------------------------------- errors

describe("errors", () => {
  it("reports three separate syntax errors, each on its own line", () => {
    const text = `dim B
model m {
  input x: [B, 784
  h = x |> dense(10)
  y = h + * 2
  output o = softmax(y)
}
train t for m { epochs = 5 }
`;
    const r = parse(text);
    // The unclosed `[` is blamed where it is: at the end of line 3, not at `h`.
    expect(r.errors.map((e) => [e.code, lineOf(text, e.span.start)])).toEqual([
      ["E1001", 3],
      ["E1001", 5],
      ["E1001", 8],
    ]);
    expect(r.errors[0]!.message).toBe("expected ',' or ']' after '784', found 'h'");
    expect(r.errors[1]!.message).toBe("expected an expression after '+', found '*'");
    expect(r.errors[1]!.expected).toEqual(["an expression"]);
    expect(r.errors[2]!.message).toMatch(/^expected .* after 'epochs', found '='$/);
    // Recovery keeps what is intact: the dim, the model and its later statements.
    const model = r.program.decls.find((d) => d.kind === "Model");
    expect(model?.kind === "Model" && model.body.map((s) => s.kind)).toContain("Output");
    expect(r.program.decls[0]?.kind).toBe("Dim");
  });

  it("names what was expected at the end of the file", () => {
    const text = "model m {\n  y = f(x,";
    const r = parse(text);
    expect(r.errors[0]?.message).toBe("expected an argument or ')' after ',', found end of file");
    expect(r.errors[0]?.span).toEqual({ start: text.length, end: text.length });
  });

  it.each([
    ["model m { y softmax(x) }", "expected '=' after 'y', found 'softmax'", "softmax"],
    ["model m { loss }", "expected an expression after 'loss', found '}'", "}"],
    ["model m { param 3 }", "expected a name after 'param', found '3'", "3"],
    ["model m { input x [B] }", "expected ':' after 'x', found '['", "["],
    ["block f(x: [n]) -> { return x }", "expected a type after '->', found '{'", "{"],
    ["model m { y = if a then b }", "expected 'else' after 'b', found '}'", "}"],
    ["model m { y = f(a b) }", "expected ',' or ')' after 'a', found 'b'", "b"],
    ["model m { 3 + 4 }", "expected a statement or '}', found '3'", "3"],
    ["train t m { }", "expected 'for' after 't', found 'm'", "m"],
  ])("%s: %s", (text, message, blamed) => {
    const r = parse(text);
    expect(r.errors.map((e) => e.message)).toEqual([message]);
    expect(text.slice(r.errors[0]!.span.start, r.errors[0]!.span.end)).toBe(blamed);
  });

  it("skips junk between declarations and keeps going", () => {
    const r = parse("dim B\n}} oops\nmodel m { }\n");
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.message).toMatch(/^expected a declaration/);
    expect(r.program.decls.map((d) => d.kind)).toEqual(["Dim", "Model"]);
  });

  it("reports unknown characters as E1003 with their span", () => {
    const text = "model m {\n  y = x $ 2\n}";
    const r = parse(text);
    expect(r.errors[0]).toMatchObject({ code: "E1003", span: { start: 18, end: 19 } });
    expect(r.errors[0]?.message).toBe("unexpected character '$'");
  });

  it("reports an unterminated string or comment as E1002", () => {
    const s = parse('import "layers.dlg\ndim B');
    expect(s.errors).toEqual([
      expect.objectContaining({ code: "E1002", span: { start: 7, end: 18 } }),
    ]);
    expect(s.program.decls.map((d) => d.kind)).toEqual(["Import", "Dim"]);
    const c = parse("dim B\n/* never closed\nmodel m {}");
    expect(c.errors).toEqual([
      expect.objectContaining({ code: "E1002", span: { start: 6, end: 8 } }),
    ]);
  });

  it("reports a statement that cannot start once, not again where the parser resumes", () => {
    const r = parse("dim B\nmodel m {\n  input x: [B]\n  for = x\n  output y = x\n}");
    expect(r.errors.map((e) => e.message)).toEqual(["expected a statement or '}', found 'for'"]);
  });

  it("reports nesting too deep for the parser instead of overflowing, then parses on", () => {
    const r = parse(`const c = ${"(".repeat(20000)}1${")".repeat(20000)}`);
    expect(r.errors.map((e) => [e.code, e.message])).toEqual([
      [
        "E1006",
        "expressions nest more than 64 levels deep here; give the inner parts names (`h = ...`)",
      ],
    ]);
    // At the parenthesis that opens level 65, not at 1:1.
    expect(r.errors[0]!.span).toEqual({ start: 10 + 64, end: 10 + 65 });
    parseOk("dim B");
  });

  it("names control and invisible characters by code point, never raw", () => {
    const r = parse("dim B \u001b[2J \u200b");
    expect(r.errors.map((e) => e.message)).toEqual([
      "unexpected character 'U+001B'",
      "unexpected character 'U+200B'",
    ]);
  });

  it("never throws, and keeps every span inside the text", () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pieces = [
      "model",
      "m",
      "{",
      "}",
      "(",
      ")",
      "[",
      "]",
      "=",
      "|>",
      "x",
      "1",
      ",",
      ":",
      "scan",
      "in",
      "along",
      "carry",
      "if",
      "then",
      "else",
      "-",
      "^",
      "@",
      "block",
      "->",
      "param",
      "init",
      '"s',
      "/*",
      "...",
      "$",
      "\n",
    ];
    const inputs = [
      "",
      "   \n\t ",
      "// only a comment",
      "}}}}",
      "((((((((",
      "model",
      "block b(",
      `const c = ${"(".repeat(100)}1${")".repeat(100)}`,
      "\u0000\u0001\uffff garbage \ud800",
    ];
    for (let i = 0; i < 100; i++) {
      const n = 1 + Math.floor(rand() * 30);
      inputs.push(
        Array.from({ length: n }, () => pieces[Math.floor(rand() * pieces.length)]).join(" "),
      );
    }
    for (const text of inputs) {
      const r = parse(text);
      for (const sp of [...spansOf(r.program), ...r.errors.map((e) => e.span)]) {
        expect(Number.isInteger(sp.start) && Number.isInteger(sp.end), text).toBe(true);
        expect(0 <= sp.start && sp.start <= sp.end && sp.end <= text.length, text).toBe(true);
      }
      for (const e of r.errors) expect(e.message, text).not.toMatch(/Expecting|-->|<\w+>/);
      // Whatever was recovered prints and reparses.
      expect(() => printProgram(r.program)).not.toThrow();
    }
  });
});
