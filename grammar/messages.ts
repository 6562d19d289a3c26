// The parser's error messages in plain English (`expected an expression
// after '+', found ')'`) instead of Chevrotain's token dumps, with what each
// message expected kept as data for grammar/parse.ts.

import {
  tokenMatcher,
  EOF,
  type IParserErrorMessageProvider,
  type IToken,
  type TokenType,
} from "chevrotain";
import * as T from "./tokens.ts";

/**
 * What each error message built during a parse expected, and, where the
 * message is about a later token than the one Chevrotain blames, that token.
 */
export type ExpectedByMessage = Map<string, { expected: string[]; at?: IToken }>;

const expressionStarts: TokenType[] = [
  T.NumberLiteral,
  T.StringLiteral,
  T.True,
  T.False,
  T.Identifier,
  T.QualifiedName,
  T.LParen,
  T.LBracket,
  T.If,
  T.Scan,
  T.Minus,
];
const statementStarts: TokenType[] = [
  T.Param,
  T.State,
  T.Update,
  T.Input,
  T.Output,
  T.Metric,
  T.Loss,
  T.Return,
  T.Yield,
  T.Identifier,
];
const declarationStarts: TokenType[] = [T.Import, T.Dim, T.Const, T.Block, T.Model, T.Train];
const tensorTypeStarts: TokenType[] = [T.F32, T.I32, T.Int, T.Bool, T.Float, T.LBracket];
const typeStarts: TokenType[] = [...tensorTypeStarts, T.Dim, T.Fn];

/** How a token type reads in a message: `'+'`, `a name`, `end of file`. */
export function describeTokenType(t: TokenType): string {
  if (t === EOF) return "end of file";
  return t.LABEL ?? t.name;
}

/** How a token found in the input reads in a message. */
export function describeToken(tok: IToken | undefined): string {
  if (!tok || tok.tokenType === EOF) return "end of file";
  if (tok.tokenType === T.UnterminatedString) return "an unterminated string";
  return `'${tok.image}'`;
}

/**
 * Collapses a set of expected first tokens into words a user thinks in:
 * all the ways to begin an expression become "an expression", all
 * statement keywords "a statement".
 */
export function summarizeExpected(types: TokenType[]): string[] {
  const set = new Set(types);
  const out: string[] = [];
  const covers = (group: TokenType[]) => group.every((t) => set.has(t));
  if (covers(declarationStarts)) {
    out.push("a declaration (import, dim, const, block, model or train)");
    declarationStarts.forEach((t) => set.delete(t));
  }
  if (covers(statementStarts)) {
    out.push("a statement");
    statementStarts.forEach((t) => set.delete(t));
  }
  if (covers(typeStarts)) {
    out.push("a type");
    typeStarts.forEach((t) => set.delete(t));
  }
  if (covers(tensorTypeStarts)) {
    out.push("a tensor type");
    tensorTypeStarts.forEach((t) => set.delete(t));
  }
  // Minus is not among the alternatives where `atom` fails (unary minus was
  // already tried), and Identifier may have gone to "a statement" above.
  if (covers(expressionStarts.filter((t) => t !== T.Minus && t !== T.Identifier))) {
    out.push("an expression");
    expressionStarts.forEach((t) => set.delete(t));
  }
  for (const t of set) out.push(describeTokenType(t));
  return [...new Set(out)];
}

/** Rules whose body is `"{" statement* "}"`. */
const bodyRules = ["modelDecl", "blockDecl", "scanExpr"];

/** The item of each comma-separated list, by rule name, for messages. */
const listItems: Record<string, string> = {
  callSuffix: "an argument",
  blockDecl: "a parameter",
  scanExpr: "a carry",
  listExpr: "an expression",
  tensorType: "a dimension",
  indexSuffix: "an index",
};

/**
 * What a mismatch really expected. A closing token expected right after a
 * repetition (statements, settings, list items) could also have been
 * another item, so the message names both: `',' or ')'` after an item,
 * `an argument or ')'` after a comma.
 */
function expectedAt(ruleName: string, expected: TokenType, previous: IToken | undefined): string[] {
  if (ruleName === "program") return summarizeExpected(declarationStarts);
  const closer = describeTokenType(expected);
  if (expected === T.RBrace && bodyRules.includes(ruleName)) {
    return ["a statement", closer];
  }
  if (expected === T.RBrace && ruleName === "trainDecl")
    return ["a setting (like 'epochs 5')", closer];
  const item = listItems[ruleName];
  if (item && (expected === T.RParen || expected === T.RBracket)) {
    return previous?.tokenType === T.Comma ? [item, closer] : ["','", closer];
  }
  return [closer];
}

function joinOr(items: string[]): string {
  if (items.length <= 1) return items[0] ?? "something else";
  return `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}

function after(previous: IToken | undefined): string {
  // LA(0) before the first token is a synthetic token with no image.
  if (!previous || previous.tokenType === EOF || !previous.image) return "";
  return ` after ${describeToken(previous)}`;
}

/**
 * Plain-English messages (`expected an expression after '+', found ')'`)
 * instead of Chevrotain's token dumps. It also records the expected list of
 * each message so `parse` can return it as data.
 */
export class DlgErrorMessages implements IParserErrorMessageProvider {
  readonly expected: ExpectedByMessage = new Map();

  /** The token stream being parsed, so messages can look one token past the one blamed. */
  tokens: IToken[] = [];

  private tokenAfter(t: IToken): IToken | undefined {
    const i = this.tokens.indexOf(t);
    return i >= 0 ? this.tokens[i + 1] : undefined;
  }

  /**
   * A statement that starts with a name but whose second token fits no
   * statement (`y softmax(x)`, `loss }`): blame the second token, and say
   * what the first one calls for.
   */
  private badStatementStart(first: IToken): string {
    const second = this.tokenAfter(first);
    const wanted = tokenMatcher(first, T.Loss)
      ? ["an expression"]
      : [T.Output, T.Metric, T.Param, T.State, T.Update, T.Input].some((k) =>
            tokenMatcher(first, k),
          )
        ? ["a name"]
        : ["'='"];
    return this.build(wanted, second, first, second);
  }

  private build(
    expected: string[],
    actual: IToken | undefined,
    previous: IToken | undefined,
    at?: IToken,
  ) {
    const msg = `expected ${joinOr(expected)}${after(previous)}, found ${describeToken(actual)}`;
    this.expected.set(msg, at ? { expected, at } : { expected });
    return msg;
  }

  buildMismatchTokenMessage(o: {
    expected: TokenType;
    actual: IToken;
    previous: IToken;
    ruleName: string;
  }) {
    // Repetition recovery builds this message after skipping junk, so its
    // `previous` lies after `actual`; "after" would then be nonsense.
    const previous =
      o.previous && o.actual && o.previous.startOffset >= o.actual.startOffset
        ? undefined
        : o.previous;
    if (
      o.expected === T.RBrace &&
      bodyRules.includes(o.ruleName) &&
      tokenMatcher(o.actual, T.Identifier)
    ) {
      return this.badStatementStart(o.actual);
    }
    return this.build(expectedAt(o.ruleName, o.expected, previous), o.actual, previous);
  }

  buildNotAllInputParsedMessage(o: { firstRedundant: IToken; ruleName: string }) {
    return this.build(summarizeExpected(declarationStarts), o.firstRedundant, undefined);
  }

  buildNoViableAltMessage(o: {
    expectedPathsPerAlt: TokenType[][][];
    actual: IToken[];
    previous: IToken;
    ruleName: string;
  }) {
    const first = o.actual[0];
    if (o.ruleName === "statement" && first && tokenMatcher(first, T.Identifier)) {
      return this.badStatementStart(first);
    }
    const firsts = o.expectedPathsPerAlt.flatMap((alt) =>
      alt.map((path) => path[0]).filter((t) => t !== undefined),
    );
    return this.build(summarizeExpected(firsts), first, o.previous);
  }

  buildEarlyExitMessage(o: {
    expectedIterationPaths: TokenType[][];
    actual: IToken[];
    previous: IToken;
    ruleName: string;
  }) {
    const firsts = o.expectedIterationPaths.map((path) => path[0]).filter((t) => t !== undefined);
    return this.build(summarizeExpected(firsts), o.actual[0], o.previous);
  }
}
