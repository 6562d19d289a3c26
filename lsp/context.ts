// What the cursor is in, read from the tokens before it rather than from the
// AST: while a line is being typed the parser's recovered tree usually lacks
// the very node the cursor is in (`dense(units: 3, |` is no Call yet), but
// the brackets and keywords before the cursor still say where it is. Shared
// by completion and signature help.

import { tokens as T, type Span } from "../grammar/index.ts";

/** A lexer token (Chevrotain's, reached through the grammar's lexer: lsp/ imports no chevrotain). */
type LexerToken = ReturnType<typeof T.dlgLexer.tokenize>["tokens"][number];

export interface Tok {
  /** The token type's name (`Identifier`, `LParen`, `Block`, ...). */
  type: string;
  image: string;
  start: number;
  end: number;
  /** In the Identifier category: names, and soft keywords (`input`, `batch`) that may be names. */
  name: boolean;
}

const toTok = (t: LexerToken): Tok => ({
  type: t.tokenType.name,
  image: t.image,
  start: t.startOffset,
  end: t.startOffset + t.image.length,
  name:
    t.tokenType.name === "Identifier" ||
    (t.tokenType.CATEGORIES ?? []).some((c) => c.name === "Identifier"),
});

export interface Lexed {
  tokens: Tok[];
  comments: Tok[];
}

/** Every token and comment of `text` (lexing errors are skipped: they are not tokens). */
export function lex(text: string): Lexed {
  const r = T.dlgLexer.tokenize(text);
  return { tokens: r.tokens.map(toTok), comments: (r.groups["comments"] ?? []).map(toTok) };
}

/** The call whose parentheses hold the cursor. */
export interface CallContext {
  callee: string;
  calleeSpan: Span;
  /**
   * `x |> f(|)`: the piped value is f's first argument; so is the param's own
   * shape for `param w: [3, 4] init normal(|)`.
   */
  piped: boolean;
  /** How many positional arguments come before the one being typed. */
  positional: number;
  /** Named arguments given so far (the one being typed included). */
  given: string[];
  /** `units: |`: the named argument whose value is being typed; null when positional. */
  naming: string | null;
  /** Right after `(` or `,`: an argument name may be typed here. */
  atArgStart: boolean;
}

/** The declaration around the cursor, found from its keyword. */
export interface Enclosing {
  kind: "block" | "model" | "train";
  name: string;
  /** Where its keyword is: the body's tokens come after it. */
  start: number;
}

export type Where =
  /** In a comment or a string: nothing to complete, no call to help with. */
  | { kind: "none" }
  /** In the path of `import "‸"`, whose text so far starts at `from`. */
  | { kind: "import"; from: number }
  /**
   * Between declarations. `after` is the keyword just typed, if it names what
   * comes next; "import" right after an import's path (`as` may follow).
   */
  | { kind: "top"; after: "train-for" | "name" | "import" | null }
  /** `after`: the key just typed (`keep best` is "keep-best"), or "value" after any other. */
  | {
      kind: "train";
      after: "optimizer" | "batch" | "keep" | "keep-best" | "value" | null;
      given: string[];
    }
  | { kind: "type" }
  /**
   * In a block's parameter list or after `input x:` / `param w:` / `state s:`: `typing`
   * says which types may be typed here (a block parameter may also be a
   * scalar), null where a parameter is being named.
   */
  | { kind: "signature"; typing: "any" | "tensor" | null }
  | { kind: "expr"; call: CallContext | null; statementStart: boolean };

export interface CursorContext {
  where: Where;
  enclosing: Enclosing | null;
  /** The innermost call around the cursor, also when the cursor is in a nested `[...]`. */
  call: CallContext | null;
  /** Tokens before the name being typed (the one the cursor is in or just after). */
  before: Tok[];
  /** The cursor is in or just after a number: there is no name to complete. */
  onNumber: boolean;
  /** `h = x |> dense(‸`: the name the statement around the cursor defines (not usable in its own value). */
  defining: string | null;
}

const opens: Record<string, string> = { LParen: "RParen", LBracket: "RBracket", LBrace: "RBrace" };
const declKeywords = new Set(["Block", "Model", "Train", "Import", "Const"]);
const enclosingKinds: Partial<Record<string, Enclosing["kind"]>> = {
  Block: "block",
  Model: "model",
  Train: "train",
};
const elemTypes = new Set(["F32", "I32", "Int", "Bool", "Float"]);

interface Open {
  type: string;
  /** Index in `before` of the bracket token. */
  at: number;
}

/** Where `offset` is in `text`. */
export function cursorContext(text: string, offset: number): CursorContext {
  const { tokens, comments } = lex(text);
  const inside = (t: Tok, closed: boolean) =>
    t.start < offset && (closed ? offset < t.end : offset <= t.end);
  const unclosedComment = (t: Tok) =>
    t.type === "LineComment" || t.type === "DocLineComment" || t.type === "UnterminatedComment";
  const inComment = comments.some((c) => inside(c, !unclosedComment(c)));
  const under = tokens.find((t) => t.start < offset && offset <= t.end);
  const prefixStart = under && under.name ? under.start : offset;
  const before = tokens.filter((t) => t.end <= prefixStart);
  const inString =
    under !== undefined &&
    ((under.type === "StringLiteral" && offset < under.end) || under.type === "UnterminatedString");
  if (inComment || inString) {
    const path = inString && !inComment && before[before.length - 1]?.type === "Import";
    return {
      where: path ? { kind: "import", from: under.start + 1 } : { kind: "none" },
      enclosing: null,
      call: null,
      before,
      onNumber: false,
      defining: null,
    };
  }

  // The open brackets, and the declaration they belong to. A declaration
  // keyword can only start a new top-level declaration, so it closes
  // whatever a half-written one left open.
  let stack: Open[] = [];
  let enclosing: Enclosing | null = null;
  for (const [i, t] of before.entries()) {
    // `dim` is also a parameter's type (`n: dim`).
    const isDim = t.type === "Dim" && before[i - 1]?.type !== "Colon";
    if (declKeywords.has(t.type) || isDim) {
      stack = [];
      const kind = enclosingKinds[t.type];
      const next = before[i + 1];
      enclosing = kind && next?.name ? { kind, name: next.image, start: t.start } : null;
    } else if (opens[t.type]) stack.push({ type: t.type, at: i });
    else if (Object.values(opens).includes(t.type)) {
      const top = stack[stack.length - 1];
      if (top && opens[top.type] === t.type) stack.pop();
    }
  }

  const prev = before[before.length - 1];
  const call = innermostCall(before, stack);
  const onNumber = under?.type === "NumberLiteral";
  const base = {
    enclosing,
    call,
    before,
    onNumber,
    defining: definedHere(text, before, prefixStart),
  };
  const top = stack[stack.length - 1];

  if (!top) {
    // `block relu(x) {}` closed: back at the top level.
    const after =
      prev?.type === "For" && before[before.length - 3]?.type === "Train"
        ? "train-for"
        : prev?.type === "StringLiteral" && before[before.length - 2]?.type === "Import"
          ? "import"
          : prev &&
              (declKeywords.has(prev.type) ||
                prev.type === "Dim" ||
                prev.type === "Comma" ||
                prev.type === "Train" ||
                prev.type === "As")
            ? "name"
            : null;
    // `const n = ‸`: a value, from the top level's names.
    if (after === null && prev && continues(prev))
      return {
        ...base,
        enclosing: null,
        where: { kind: "expr", call: null, statementStart: false },
      };
    return { ...base, enclosing: null, where: { kind: "top", after } };
  }

  const opener = before[top.at - 1];
  if (top.type === "LBrace" && enclosing?.kind === "train" && stack.length === 1) {
    return { ...base, where: { kind: "train", ...settings(before.slice(top.at + 1)) } };
  }
  if (
    top.type === "LBracket" &&
    opener &&
    (opener.type === "Colon" || opener.type === "Arrow" || elemTypes.has(opener.type))
  )
    return { ...base, where: { kind: "type" } };
  if (
    top.type === "LParen" &&
    opener?.name &&
    before[top.at - 2]?.type === "Block" &&
    stack.length === 1 &&
    !inDefault(before.slice(top.at + 1))
  ) {
    const naming = prev === undefined || prev.type === "LParen" || prev.type === "Comma";
    return { ...base, where: { kind: "signature", typing: naming ? null : "any" } };
  }
  if (prev?.type === "Colon" && /^(Input|Param|State)$/.test(before[before.length - 3]?.type ?? ""))
    return { ...base, where: { kind: "signature", typing: "tensor" } };
  const direct =
    top.type === "LParen" && call !== null && call.calleeSpan.end === opener?.end ? call : null;
  const statementStart =
    top.type === "LBrace" &&
    (prev === undefined || prev.type === "LBrace" || startsStatement(text, prev, prefixStart));
  return { ...base, where: { kind: "expr", call: direct, statementStart } };
}

/**
 * The name defined by the statement the cursor is in: `h = ...`, `output y =
 * ...`, `metric m = ...`. Walks back over closed brackets from `at` to the
 * statement's start: a `{`, or a line break after a token that does not go on.
 */
function definedHere(text: string, before: Tok[], at: number): string | null {
  let depth = 0;
  let i = before.length - 1;
  // A statement of its own starts at the cursor.
  if (i >= 0 && startsStatement(text, before[i]!, at)) return null;
  for (; i >= 0; i--) {
    const t = before[i]!;
    if (t.type === "RParen" || t.type === "RBracket" || t.type === "RBrace") depth++;
    else if (t.type === "LBrace" && depth === 0) break;
    else if (t.type === "LParen" || t.type === "LBracket" || t.type === "LBrace")
      depth = Math.max(0, depth - 1);
    const prev = before[i - 1];
    if (depth === 0 && prev && startsStatement(text, prev, t.start)) break;
  }
  if (i < 0) return null;
  const first = before[i]!.type === "LBrace" ? i + 1 : i;
  const named = /^(Output|Metric)$/.test(before[first]?.type ?? "") ? first + 1 : first;
  return before[named]?.name && before[named + 1]?.type === "Equals" ? before[named]!.image : null;
}

/** Whether the last of a block's parameters typed so far is at its default value (`stride: int = ‸`). */
function inDefault(params: Tok[]): boolean {
  let depth = 0;
  for (let i = params.length - 1; i >= 0; i--) {
    const t = params[i]!;
    if (t.type === "RParen" || t.type === "RBracket") depth++;
    else if (t.type === "LParen" || t.type === "LBracket") depth--;
    else if (depth === 0 && t.type === "Comma") return false;
    else if (depth === 0 && t.type === "Equals") return true;
  }
  return false;
}

/** Whether a new line (statement) begins between `prev` and `at`: the body's statements are one per line. */
function startsStatement(text: string, prev: Tok, at: number): boolean {
  return /[\r\n]/.test(text.slice(prev.end, at)) && !continues(prev);
}

/** A token after which an expression must go on (`x |>`, `a +`). */
function continues(t: Tok): boolean {
  return /^(Pipe|Arrow|EqEq|NotEq|LessEq|GreaterEq|Less|Greater|Equals|Plus|Minus|Star|Slash|At|Caret|Comma|Colon|Div|Mod|LParen|LBracket)$/.test(
    t.type,
  );
}

/**
 * Where a train block's body stands: each setting is `key value`, the value a
 * number, `full`, or an optimizer name with or without its `(...)`; `keep`'s
 * is `best NAME`.
 */
function settings(body: Tok[]): {
  after: "optimizer" | "batch" | "keep" | "keep-best" | "value" | null;
  given: string[];
} {
  const given: string[] = [];
  let key: string | null = null;
  let depth = 0;
  for (const t of body) {
    if (t.type === "LParen") depth++;
    else if (t.type === "RParen") depth--;
    else if (depth > 0 || t.type === "Minus") continue;
    else if (key === null && t.name) given.push((key = t.image));
    else if (key === "keep" && t.type === "Best") key = "keep-best";
    else key = null;
  }
  const named = ["optimizer", "batch", "keep", "keep-best"] as const;
  const after = key === null ? null : (named.find((k) => k === key) ?? "value");
  return { after, given };
}

/** The innermost `name(` around the cursor, with the arguments typed so far. */
function innermostCall(before: Tok[], stack: Open[]): CallContext | null {
  for (let k = stack.length - 1; k >= 0; k--) {
    const o = stack[k]!;
    if (o.type !== "LParen") continue;
    const callee = before[o.at - 1];
    const named = callee?.name || callee?.type === "QualifiedName"; // `enc.tower(`
    if (!callee || !named || callee.type === "Carry" || before[o.at - 2]?.type === "Block")
      continue;
    const inner = stack[k + 1]?.at ?? before.length;
    // The call's own arguments: tokens at its depth, up to the nested bracket the cursor is in.
    const args: Tok[][] = [[]];
    let depth = 0;
    for (const t of before.slice(o.at + 1, inner)) {
      if (opens[t.type]) depth++;
      else if (Object.values(opens).includes(t.type)) depth--;
      else if (depth === 0 && t.type === "Comma") {
        args.push([]);
        continue;
      }
      args[args.length - 1]!.push(t);
    }
    const nameOf = (a: Tok[]) => (a[0]?.name && a[1]?.type === "Colon" ? a[0].image : null);
    const current = args[args.length - 1]!;
    return {
      callee: callee.image,
      calleeSpan: { start: callee.start, end: callee.end },
      piped: before[o.at - 2]?.type === "Pipe" || before[o.at - 2]?.type === "Init",
      positional: args.slice(0, -1).filter((a) => nameOf(a) === null).length,
      given: args.map(nameOf).filter((n): n is string => n !== null),
      naming: nameOf(current),
      atArgStart: current.length === 0 && k === stack.length - 1,
    };
  }
  return null;
}
