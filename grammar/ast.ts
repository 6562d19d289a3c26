// The AST of a .dlg file. Every node carries the exact source span it came
// from, so later phases can point diagnostics at the right characters.
// This file is the contract between grammar/ and compiler/: compiler/ sees
// only these types (through grammar/index.ts), never Chevrotain's CST.

/** Half-open range of UTF-16 offsets into the file's text: [start, end). */
export interface Span {
  start: number;
  end: number;
}

export interface Ident {
  kind: "Ident";
  name: string;
  span: Span;
}

// ---------------------------------------------------------------- types

/** `fn` (v2): a function value (`act: fn = relu`), a call with its first tensor argument left out. */
export type ScalarTypeName = "int" | "float" | "bool" | "dim" | "fn";
export type ElemTypeName = "f32" | "int" | "bool" | "i32";

/** `[B, 784]`, `int[B]`, `[..., n]`, `[]`. */
export interface TensorTypeExpr {
  kind: "TensorType";
  /** Element type as written; null means the default (f32). */
  dtype: ElemTypeName | null;
  /** Dimension expressions; an `Ellipsis` entry stands for any leading dims. */
  dims: (Expr | EllipsisExpr)[];
  span: Span;
}

/** `int`, `float`, `bool`, `dim` in a block signature. */
export interface ScalarTypeExpr {
  kind: "ScalarType";
  name: ScalarTypeName;
  span: Span;
}

export type TypeExpr = TensorTypeExpr | ScalarTypeExpr;

// ---------------------------------------------------------------- expressions

export interface NumberLit extends Commented {
  kind: "Number";
  value: number;
  /** The text as written, so `1e-4` prints back as `1e-4`. */
  raw: string;
  /** True when written without `.` or exponent (an int literal). */
  isInt: boolean;
  span: Span;
}

export interface StringLit extends Commented {
  kind: "String";
  value: string;
  span: Span;
}

export interface BoolLit extends Commented {
  kind: "Bool";
  value: boolean;
  span: Span;
}

export interface NameExpr extends Commented {
  kind: "Name";
  /** The name as written; a qualified name (`enc.encoder`, v2) keeps its dot: `"enc.encoder"`. */
  name: string;
  /** A qualified name's namespace (`enc` of `enc.encoder`, the alias of an `import ... as enc`). */
  qualifier?: Ident;
  span: Span;
}

export type BinaryOp =
  "==" | "!=" | "<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "/" | "@" | "div" | "mod" | "^";

export interface BinaryExpr extends Commented {
  kind: "Binary";
  op: BinaryOp;
  left: Expr;
  right: Expr;
  /** Span of the operator token alone (carets for operator errors). */
  opSpan: Span;
  span: Span;
}

export interface UnaryExpr extends Commented {
  kind: "Unary";
  op: "-";
  operand: Expr;
  span: Span;
}

export interface Arg extends Commented {
  /** Named argument (`axis: -1`); null for positional. */
  name: Ident | null;
  value: Expr;
  span: Span;
}

/** `f(a, b, name: v)`; `f` is any expression (usually a Name). */
export interface CallExpr extends Commented {
  kind: "Call";
  callee: Expr;
  args: Arg[];
  span: Span;
}

/** `x |> f(a)` is `f(x, a)`; `x |> f` is `f(x)`. Kept as a node so `print` round-trips. */
export interface PipeExpr extends Commented {
  kind: "Pipe";
  left: Expr;
  /** A Name or a Call (or any expression that evaluates to a callable). */
  right: Expr;
  span: Span;
}

/** `a:b:c` inside an index; each part optional. */
export interface SliceExpr {
  kind: "Slice";
  start: Expr | null;
  end: Expr | null;
  step: Expr | null;
  span: Span;
}

export interface IndexExpr extends Commented {
  kind: "Index";
  target: Expr;
  indices: (Expr | SliceExpr)[];
  span: Span;
}

/** `[a, b, c]`: a list (of tensors for concat, of dims for reshape, ...). */
export interface ListExpr extends Commented {
  kind: "List";
  items: Expr[];
  span: Span;
}

export interface IfExpr extends Commented {
  kind: "If";
  cond: Expr;
  then: Expr;
  else: Expr;
  span: Span;
}

export interface ScanCarry extends Commented {
  name: Ident;
  init: Expr;
  span: Span;
}

/** `scan xt in x along 1 carry (h = ..., c = ...) { ...; yield h }` */
export interface ScanExpr extends Commented {
  kind: "Scan";
  item: Ident;
  source: Expr;
  axis: Expr;
  carries: ScanCarry[];
  body: Stmt[];
  span: Span;
}

/** `...` in a tensor type's dimension list. */
export interface EllipsisExpr {
  kind: "Ellipsis";
  span: Span;
}

export type Expr =
  | NumberLit
  | StringLit
  | BoolLit
  | NameExpr
  | BinaryExpr
  | UnaryExpr
  | CallExpr
  | PipeExpr
  | IndexExpr
  | ListExpr
  | IfExpr
  | ScanExpr;

// ---------------------------------------------------------------- statements

/** `a = e` or `a, b, c = split(...)`. */
export interface AssignStmt extends Commented {
  kind: "Assign";
  targets: Ident[];
  value: Expr;
  span: Span;
}

/** `param w: [n, units] init glorot_uniform` (init optional; defaults per std). */
export interface ParamStmt extends Commented {
  kind: "Param";
  name: Ident;
  type: TensorTypeExpr;
  init: Expr | null;
  span: Span;
}

export interface InputStmt extends Commented {
  kind: "Input";
  name: Ident;
  type: TensorTypeExpr;
  span: Span;
}

/** `output probs = softmax(logits)` */
export interface OutputStmt extends Commented {
  kind: "Output";
  name: Ident;
  value: Expr;
  span: Span;
}

/** `metric accuracy = mean(...)` */
export interface MetricStmt extends Commented {
  kind: "Metric";
  name: Ident;
  value: Expr;
  span: Span;
}

/** `loss cross_entropy(logits, y)` */
export interface LossStmt extends Commented {
  kind: "Loss";
  value: Expr;
  span: Span;
}

export interface ReturnStmt extends Commented {
  kind: "Return";
  value: Expr;
  span: Span;
}

export interface YieldStmt extends Commented {
  kind: "Yield";
  value: Expr;
  span: Span;
}

/** `state mean_avg: [c] init zeros` (v2): a non-trainable tensor of a block, kept in checkpoints. */
export interface StateStmt extends Commented {
  kind: "State";
  name: Ident;
  type: TensorTypeExpr;
  init: Expr | null;
  span: Span;
}

/** `update mean_avg = momentum * mean_avg + (1 - momentum) * m` (v2): the state's value after a step(). */
export interface UpdateStmt extends Commented {
  kind: "Update";
  name: Ident;
  value: Expr;
  span: Span;
}

export type Stmt =
  | AssignStmt
  | ParamStmt
  | StateStmt
  | UpdateStmt
  | InputStmt
  | OutputStmt
  | MetricStmt
  | LossStmt
  | ReturnStmt
  | YieldStmt;

// ---------------------------------------------------------------- top level

export interface ImportDecl extends Commented {
  kind: "Import";
  path: StringLit;
  /** `import "layers.dlg" as layers` (v2): the namespace its blocks and consts are read through; null for a plain import. */
  alias: Ident | null;
  span: Span;
}

/** `dim B, T` */
export interface DimDecl extends Commented {
  kind: "Dim";
  names: Ident[];
  span: Span;
}

/** `const vocab = 1000` */
export interface ConstDecl extends Commented {
  kind: "Const";
  name: Ident;
  value: Expr;
  span: Span;
}

export interface BlockParam extends Commented {
  name: Ident;
  type: TypeExpr;
  default: Expr | null;
  span: Span;
}

/** `block dense(x: [..., n], units: int, bias: bool = true) -> [..., units] { ... }` */
export interface BlockDecl extends Commented {
  kind: "Block";
  name: Ident;
  params: BlockParam[];
  /** Declared result type; null when omitted. */
  result: TypeExpr | null;
  body: Stmt[];
  // Text of the `///` or `/** */` doc comment just above, if any (hover text).
  doc: string | null;
  span: Span;
}

export interface ModelDecl extends Commented {
  kind: "Model";
  name: Ident;
  body: Stmt[];
  doc: string | null;
  span: Span;
}

/**
 * One line of a train block: `optimizer sgd(lr: 0.1)`, `batch 64`,
 * `batch full`, `epochs 5`, `seed 42`. The key is free-form here; the
 * elaborator checks which keys exist.
 */
export interface TrainSetting extends Commented {
  key: Ident;
  value: Expr;
  span: Span;
}

/** `train fast for mlp { ... }` */
export interface TrainDecl extends Commented {
  kind: "Train";
  name: Ident;
  model: Ident;
  settings: TrainSetting[];
  span: Span;
}

export type Decl = ImportDecl | DimDecl | ConstDecl | BlockDecl | ModelDecl | TrainDecl;

/**
 * A comment as written (`// note`, `/* note *\/`), kept so that `print`
 * (`dlg fmt`) does not drop it. A doc comment attached to a block or model
 * is in that declaration's `doc` instead, not here.
 */
export interface SourceComment {
  text: string;
  span: Span;
  /** True when only whitespace precedes it on its line (otherwise it trails code). */
  ownLine: boolean;
  /** A blank line separates it from the code or comment above (kept by `print`, at most one). */
  blankBefore?: boolean;
}

/**
 * The comments grammar/comments.ts attached to a node, so `print` puts each
 * back where it was written. Layout only: compiler/ never reads them.
 */
export interface Trivia {
  /** Comments on their own lines just above the node. */
  leading?: SourceComment[];
  /** Comments after the node at the end of its line (`x = 1  // note`). */
  trailing?: SourceComment[];
  /** Block comments just before the node on its line (`/* note *\/ x`). */
  before?: SourceComment[];
  /** Block comments just after the node with more code following on the line (`a /* note *\/, b`). */
  after?: SourceComment[];
  /** Comments right after the opening bracket of the node's list, on its line (`f(  // note`). */
  open?: SourceComment[];
  /** Comments on their own lines after the last item of the node's list (before `}`, `)` or the end of file). */
  inner?: SourceComment[];
  /** The same two for a block's parameter list or a scan's carry list (its body uses the two above). */
  headOpen?: SourceComment[];
  headInner?: SourceComment[];
  /** A blank line separated the node (with its leading comments) from the item above it. */
  blankBefore?: boolean;
  /** A train block written on one line (`train t for m { batch 32  epochs 5 }`), which print keeps if it fits. */
  oneLine?: boolean;
  /** A block's or model's doc comment as written (its `///` lines, or the `/** *\/`), which print keeps. */
  doc?: string[];
}

export interface Commented {
  trivia?: Trivia;
}

export interface Program extends Commented {
  kind: "Program";
  decls: Decl[];
  /** Comments in source order; absent on programs not built from text. */
  comments?: SourceComment[];
  span: Span;
}
