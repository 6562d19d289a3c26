// Mutations of real .dlg files, at the token level so most mutants still
// lex: delete, duplicate, swap or replace tokens, truncate, edit numbers
// (0, -1, huge, 2^1024, fractions), rename a name everywhere to a JS or WGSL
// keyword or a prototype property, and the odd raw character. Each mutation
// splices the original text, so comments and layout survive around it.

import fc from "fast-check";
import { dlgLexer } from "../../grammar/tokens.ts";
import type { FuzzCase } from "./oracle.ts";

interface Tok {
  image: string;
  start: number;
  end: number;
  type: string;
}

function tokens(text: string): Tok[] {
  return dlgLexer.tokenize(text).tokens.map((t) => ({
    image: t.image,
    start: t.startOffset,
    end: t.startOffset + t.image.length,
    type: t.tokenType.name,
  }));
}

/** Names that break naive code generation: JS and WGSL keywords, prototype members, runtime internals. */
export const hostileNames = [
  "__proto__",
  "constructor",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "prototype",
  "fn",
  "var",
  "let",
  "await",
  "async",
  "function",
  "this",
  "new",
  "delete",
  "typeof",
  "arguments",
  "eval",
  "undefined",
  "NaN",
  "Infinity",
  "null",
  "class",
  "switch",
  "loop",
  "struct",
  "array",
  "ptr",
  "workgroup",
  "storage",
  "uniform",
  "Math",
  "Float32Array",
  "globalThis",
  "process",
  "require",
  "exports",
  "createModel",
  "spec",
  "plan",
  "params",
  "steps",
  "b",
  "D",
  "i",
  "k0",
];

const numbers = [
  "0",
  "1",
  "2",
  "-1",
  "0.0",
  "0.5",
  "1.5",
  "-0.5",
  "1e-30",
  "1e30",
  "1e308",
  "1e400",
  "65536",
  "1000000000",
  "99999999999999999999",
  "2 ^ 1024",
  "2 ^ 31",
  "(0 - 3)",
  "3 / 2",
  "7 div 0",
  "5 mod 0",
];

const punctuation = "|> -> ... == != <= >= < > = + - * / @ ^ ( ) [ ] { } , :".split(" ");
const words = [
  "import",
  "dim",
  "const",
  "block",
  "model",
  "train",
  "for",
  "return",
  "yield",
  "scan",
  "if",
  "then",
  "else",
  "div",
  "mod",
  "true",
  "false",
  "int",
  "float",
  "bool",
  "f32",
  "i32",
  "param",
  "input",
  "output",
  "metric",
  "loss",
  "init",
  "in",
  "along",
  "carry",
  "batch",
  "epochs",
  "seed",
  "optimizer",
  "full",
  "params",
  "training",
  "dense",
  "relu",
  "softmax",
  "zeros",
  "B",
];
const raw = ["\r", "\0", "\t", "\u00e9", "\u{1F600}", "\ufeff", '"', "/*", "#", "\\"];

type Mutation = (text: string, toks: Tok[], g: fc.GeneratorValue) => { text: string; what: string };
type MutationName =
  "delete" | "duplicate" | "swap" | "replace" | "truncate" | "number" | "rename" | "character";

const at = (g: fc.GeneratorValue, n: number) => g(fc.integer, { min: 0, max: Math.max(0, n - 1) });
const splice = (text: string, start: number, end: number, by: string) =>
  text.slice(0, start) + by + text.slice(end);

const mutations: { [K in MutationName]: Mutation } = {
  delete(text, toks, g) {
    const i = at(g, toks.length);
    const n = g(fc.integer, { min: 1, max: 3 });
    const last = toks[Math.min(toks.length - 1, i + n - 1)]!;
    return { text: splice(text, toks[i]!.start, last.end, ""), what: `delete ${n} at token ${i}` };
  },
  duplicate(text, toks, g) {
    const t = toks[at(g, toks.length)]!;
    return { text: splice(text, t.end, t.end, ` ${t.image}`), what: `duplicate "${t.image}"` };
  },
  swap(text, toks, g) {
    const i = at(g, toks.length);
    const j = g(fc.boolean) ? Math.min(toks.length - 1, i + 1) : at(g, toks.length);
    const [a, b] = [toks[Math.min(i, j)]!, toks[Math.max(i, j)]!];
    if (a === b) return { text, what: "swap (nothing)" };
    const swapped =
      text.slice(0, a.start) + b.image + text.slice(a.end, b.start) + a.image + text.slice(b.end);
    return { text: swapped, what: `swap "${a.image}" and "${b.image}"` };
  },
  replace(text, toks, g) {
    const t = toks[at(g, toks.length)]!;
    const idents = toks.filter((x) => x.type === "Identifier").map((x) => x.image);
    const pool = [...punctuation, ...words, ...numbers, ...(idents.length ? idents : ["x"])];
    const by = pool[at(g, pool.length)]!;
    return { text: splice(text, t.start, t.end, by), what: `replace "${t.image}" by "${by}"` };
  },
  truncate(text, _toks, g) {
    const n = at(g, text.length + 1);
    return { text: text.slice(0, n), what: `truncate at ${n}` };
  },
  number(text, toks, g) {
    const nums = toks.filter((t) => t.type === "NumberLiteral");
    if (nums.length === 0) return mutations.replace(text, toks, g);
    const t = nums[at(g, nums.length)]!;
    const by = numbers[at(g, numbers.length)]!;
    return { text: splice(text, t.start, t.end, by), what: `number ${t.image} -> ${by}` };
  },
  rename(text, toks, g) {
    const idents = [...new Set(toks.filter((t) => t.type === "Identifier").map((t) => t.image))];
    if (idents.length === 0) return mutations.replace(text, toks, g);
    const name = idents[at(g, idents.length)]!;
    const by = hostileNames[at(g, hostileNames.length)]!;
    // Every occurrence, back to front so earlier offsets stay valid: the program stays consistent.
    let out = text;
    for (const t of [...toks].reverse())
      if (t.image === name) out = splice(out, t.start, t.end, by);
    return { text: out, what: `rename ${name} -> ${by}` };
  },
  character(text, _toks, g) {
    const n = at(g, text.length + 1);
    const c = raw[at(g, raw.length)]!;
    return { text: splice(text, n, n, c), what: `insert ${JSON.stringify(c)} at ${n}` };
  },
};

/** Weights: structure-preserving edits (numbers, renames) are the most likely to get past the checker. */
const weighted: [MutationName, number][] = [
  ["delete", 3],
  ["duplicate", 2],
  ["swap", 2],
  ["replace", 3],
  ["truncate", 1],
  ["number", 4],
  ["rename", 4],
  ["character", 1],
];

/** One to three mutations of `text`. */
function mutateText(text: string, g: fc.GeneratorValue): { text: string; what: string } {
  const total = weighted.reduce((a, [, w]) => a + w, 0);
  const whats: string[] = [];
  const n = g(fc.integer, { min: 1, max: 3 });
  for (let k = 0; k < n; k++) {
    let r = g(fc.integer, { min: 0, max: total - 1 });
    const [name] = weighted.find(([, w]) => (r -= w) < 0)!;
    const toks = tokens(text);
    if (toks.length === 0) break;
    const m = mutations[name](text, toks, g);
    text = m.text;
    whats.push(m.what);
  }
  return { text, what: whats.join("; ") };
}

/** A case: one seed file with one to three mutations. */
export function mutantArb(corpus: Record<string, string>): fc.Arbitrary<FuzzCase> {
  const paths = Object.keys(corpus);
  return fc.gen().map((g): FuzzCase => {
    const file = paths[at(g, paths.length)]!;
    const m = mutateText(corpus[file]!, g);
    return {
      origin: `${file}: ${m.what}`,
      file,
      text: m.text,
      dim: g(fc.integer, { min: 1, max: 3 }),
    };
  });
}

/** Mutants of generated programs: small, nearly valid, so many get past the checker. */
export function mutatedGeneratedArb(
  generate: (g: fc.GeneratorValue) => string,
): fc.Arbitrary<FuzzCase> {
  return fc.gen().map((g): FuzzCase => {
    const m = mutateText(generate(g), g);
    return {
      origin: `generated, then ${m.what}`,
      file: "gen.dlg",
      text: m.text,
      dim: g(fc.integer, { min: 1, max: 3 }),
    };
  });
}
