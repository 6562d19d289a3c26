// The kernel IR as text, for `dlg dump --stage kernels` and structure tests:
// the shared scalar printer (scalar-print.ts) with a third syntax table, the
// IR's own notation (`b3[(i0*4 + i1)]`, `exp(b2[lin])`, `t0` for a scan's
// step), and one line per kernel around it. Being no language, it spells
// every op by name and needs no conversions; products are unbracketed
// (`i0*B`) since every other infix form is bracketed.

import { dimToOperand, dimToString, type Dim } from "../dims.ts";
import type { BufId, IExpr, Kernel, KernelProgram, MatmulOperand, SExpr } from "../kernel.ts";
import { ScalarPrinter, type Syntax } from "../scalar-print.ts";

const call1 = (f: string) => (a: string) => `${f}(${a})`;
const call2 = (f: string) => (a: string, b: string) => `${f}(${a}, ${b})`;
export const dumpSyntax: Syntax = {
  lit: (v) => String(v),
  fit: (text) => text,
  // Every op by its own name.
  unary: {
    neg: call1("neg"),
    exp: call1("exp"),
    log: call1("log"),
    sqrt: call1("sqrt"),
    abs: call1("abs"),
    sign: call1("sign"),
    tanh: call1("tanh"),
    sigmoid: call1("sigmoid"),
  },
  binary: {
    add: call2("add"),
    sub: call2("sub"),
    mul: call2("mul"),
    div: call2("div"),
    pow: call2("pow"),
    max: call2("max"),
    min: call2("min"),
  },
  compare: {
    eq: call2("eq"),
    ne: call2("ne"),
    lt: call2("lt"),
    le: call2("le"),
    gt: call2("gt"),
    ge: call2("ge"),
  },
  icompare: { lt: call2("lt"), ge: call2("ge"), eq: call2("eq") },
  and: call2("and"),
  select: (c, a, b) => `select(${c}, ${a}, ${b})`,
  cast: (a, _from, to) => `${to}(${a})`,
  boolValue: (c) => c,
  truth: (v) => v,
  index: (i, dtype) => `${dtype}(${i})`,
  random: (seed, _t, stream, index) => `random(${seed}, ${stream}, ${index})`,
  toIndex: call1("int"),
  ix: {
    const: String,
    loop: (i) => `i${i}`,
    red: (i) => `r${i}`,
    lin: () => "lin",
    iter: (scan) => `t${scan}`,
    add: (a, b) => `(${a} + ${b})`,
    mul: (a, b) => `${a}*${b}`,
    div: (a, b) => `(${a} div ${b})`,
    mod: (a, b) => `(${a} mod ${b})`,
  },
};

const printer = new ScalarPrinter(dumpSyntax, {
  load: (buf, index) => `b${buf}[${index}]`,
  // `i0*(B + 1)`: a sum or a div/mod dim must not bind to a neighbouring `*`.
  dim: dimToOperand,
  acc: () => "acc",
});

export const iexprToString = (e: IExpr): string => printer.ix(e);
export const sexprToString = (e: SExpr): string => printer.val(e);

const shapeStr = (s: readonly Dim[]) => `[${s.map(dimToString).join(", ")}]`;

/** `bN` or `bN[at + ...]`: where a kernel stores. */
function outToString(k: { out: BufId; outAt?: IExpr }): string {
  return k.outAt === undefined ? `b${k.out}` : `b${k.out}[${iexprToString(k.outAt)} + ...]`;
}

type Of<K extends Kernel["kind"]> = Extract<Kernel, { kind: K }>;

const kernelRows: { [K in Kernel["kind"]]: (k: Of<K>) => string } = {
  map: (k) => `${outToString(k)} = map ${shapeStr(k.shape)} ${sexprToString(k.body)}`,
  reduce: (k) =>
    `${outToString(k)} = reduce_${k.op} ${shapeStr(k.shape)} over ${shapeStr(k.red)} ${sexprToString(k.body)}`,
  matmul: (k) => {
    const t = (o: MatmulOperand) =>
      `b${o.buf}${o.at === undefined ? "" : `[${iexprToString(o.at)} + ...]`}${o.transposed ? "^T" : ""}`;
    const batch = k.batch.length > 0 ? `${shapeStr(k.batch)} x ` : "";
    return `${outToString(k)} = matmul ${batch}[${dimToString(k.m)}, ${dimToString(k.k)}] @ [${dimToString(k.k)}, ${dimToString(k.n)}] ${t(k.a)} ${t(k.b)} then ${sexprToString(k.epilogue)}`;
  },
  scatter: (k) =>
    `${outToString(k)} = scatter_add ${shapeStr(k.shape)} from ${shapeStr(k.domain)} at ${iexprToString(k.target)} if ${sexprToString(k.valid)} += ${sexprToString(k.value)}`,
  scan: (k) => {
    const stacked = k.stacked.map((s) => `${s.write ? "out" : "in"} b${s.buf}`);
    const carries = k.carries.map(
      (c) =>
        `b${c.cur} <- b${c.init}, next b${c.next}${c.final === null ? "" : `, final b${c.final}`}`,
    );
    const head = `scan t${k.id} in ${k.reverse ? "reversed " : ""}0..${dimToString(k.length)}: ${[...stacked, ...carries].join("; ")}`;
    // What autodiff chose for the scan's residuals, under its head.
    const note = k.note === undefined ? [] : [`  // ${k.note}`];
    const body = k.body.flatMap((b) =>
      kernelToString(b)
        .split("\n")
        .map((l) => `  ${l}`),
    );
    return [head, ...note, ...body].join("\n");
  },
};

/** One line per kernel (a scan: its head, then its body indented). */
export function kernelToString(k: Kernel): string {
  return (kernelRows[k.kind] as (k: Kernel) => string)(k);
}

export function programToString(p: KernelProgram): string {
  const bufs = p.buffers.map(
    (b) =>
      `b${b.id}: ${b.dtype}${shapeStr(b.shape)} ${b.role.kind}${"slot" in b.role ? ` ${b.role.slot}` : ""}`,
  );
  return [...bufs, ...p.kernels.map(kernelToString)].join("\n");
}
