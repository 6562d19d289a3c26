// The .dlg grammar: a pure Chevrotain CstParser (no embedded actions), so the
// grammar reads as written below and `to-ast.ts` alone turns CSTs into AST.
//
//   program        ::= declaration*
//   declaration    ::= importDecl | dimDecl | constDecl | blockDecl | modelDecl | trainDecl
//   importDecl     ::= "import" STRING ("as" NAME)?
//   dimDecl        ::= "dim" NAME ("," NAME)*
//   constDecl      ::= "const" NAME "=" expression
//   blockDecl      ::= "block" NAME "(" (blockParam ("," blockParam)* ","?)? ")"
//                      ("->" typeExpr)? "{" statement* "}"
//   blockParam     ::= NAME ":" typeExpr ("=" expression)?
//   modelDecl      ::= "model" NAME "{" statement* "}"
//   trainDecl      ::= "train" NAME "for" NAME "{" trainSetting* "}"
//   trainSetting   ::= "keep" "best" NAME               // the metric (or loss) whose best epoch is kept
//                    | NAME expression                  // optimizer sgd(lr: 0.1) | batch full | epochs 5
//
//   typeExpr       ::= tensorType | scalarType
//   scalarType     ::= "int" | "float" | "bool" | "dim" | "fn"
//   tensorType     ::= elemType? "[" (dimItem ("," dimItem)* ","?)? "]"
//   elemType       ::= "f32" | "i32" | "int" | "bool" | "float"
//   dimItem        ::= "..." | expression
//
//   statement      ::= paramStmt | stateStmt | updateStmt | inputStmt | outputStmt
//                    | metricStmt | lossStmt | returnStmt | yieldStmt | assignStmt
//   paramStmt      ::= "param" NAME ":" tensorType ("init" expression)?
//   stateStmt      ::= "state" NAME ":" tensorType ("init" expression)?
//   updateStmt     ::= "update" NAME "=" expression
//   inputStmt      ::= "input" NAME ":" tensorType
//   outputStmt     ::= "output" NAME "=" expression
//   metricStmt     ::= "metric" NAME "=" expression
//   lossStmt       ::= "loss" expression
//   returnStmt     ::= "return" expression
//   yieldStmt      ::= "yield" expression
//   assignStmt     ::= NAME ("," NAME)* "=" expression
//
//   expression     ::= compareExpr ("|>" compareExpr)*              // loosest, left-assoc
//   compareExpr    ::= additiveExpr (("=="|"!="|"<"|"<="|">"|">=") additiveExpr)*
//   additiveExpr   ::= multiplicativeExpr (("+"|"-") multiplicativeExpr)*
//   multiplicativeExpr ::= unaryExpr (("*"|"/"|"@"|"div"|"mod") unaryExpr)*
//   unaryExpr      ::= "-"* powerExpr                                // -x^2 is -(x^2)
//   powerExpr      ::= postfixExpr ("^" unaryExpr)?                  // right-assoc; x^-1 allowed
//   postfixExpr    ::= atom (callSuffix | indexSuffix)*
//   callSuffix     ::= "(" (argument ("," argument)* ","?)? ")"
//   argument       ::= (NAME ":")? expression
//   indexSuffix    ::= "[" indexItem ("," indexItem)* ","? "]"
//   indexItem      ::= expression (":" sliceRest)? | ":" sliceRest   // i | a:b | a:b:c | : | ::2
//   sliceRest      ::= expression? (":" expression?)?
//   atom           ::= NUMBER | STRING | "true" | "false" | NAME | QNAME | "(" expression ")"
//                    | listExpr | ifExpr | scanExpr
//   listExpr       ::= "[" (expression ("," expression)* ","?)? "]"
//   ifExpr         ::= "if" expression "then" expression "else" expression
//   scanExpr       ::= "scan" NAME "in" expression "along" expression
//                      ("carry" "(" carryItem ("," carryItem)* ","? ")")? "{" statement* "}"
//   carryItem      ::= NAME "=" expression
//
// NAME is an Identifier or a soft keyword (tokens.ts); QNAME is one token,
// `ns.name` with no space around the dot. Newlines are not
// significant: no expression can be followed directly by a NAME, so a new
// statement starts wherever the previous expression cannot continue.

import { CstParser, type IOrAlt } from "chevrotain";
import type { DlgErrorMessages } from "./messages.ts";
import { MAX_PARSE_NESTING, NestingTooDeep } from "./nesting.ts";
import * as T from "./tokens.ts";

// parse.ts and scripts/gen-cst-dts.ts build the parser with its messages from here.
export { DlgErrorMessages } from "./messages.ts";

export class DlgParser extends CstParser {
  constructor(messages: DlgErrorMessages) {
    super(T.allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      nodeLocationTracking: "onlyOffset",
      errorMessageProvider: messages,
    });
    this.performSelfAnalysis();
  }

  program = this.RULE("program", () => {
    this.MANY(() => this.SUBRULE(this.declaration));
  });

  // Each OR's alternatives are built once, as fields, not per rule call: a
  // fresh array of fresh closures per `atom` or `statement` was a tenth of a
  // parse (under tsx each closure is also named by an Object.defineProperty).
  private readonly declarationAlts: IOrAlt<unknown>[] = [
    { ALT: () => this.SUBRULE(this.importDecl) },
    { ALT: () => this.SUBRULE(this.dimDecl) },
    { ALT: () => this.SUBRULE(this.constDecl) },
    { ALT: () => this.SUBRULE(this.blockDecl) },
    { ALT: () => this.SUBRULE(this.modelDecl) },
    { ALT: () => this.SUBRULE(this.trainDecl) },
  ];

  declaration = this.RULE("declaration", () => {
    this.OR(this.declarationAlts);
  });

  importDecl = this.RULE("importDecl", () => {
    this.CONSUME(T.Import);
    this.CONSUME(T.StringLiteral);
    this.OPTION(() => {
      this.CONSUME(T.As);
      this.CONSUME(T.Identifier);
    });
  });

  dimDecl = this.RULE("dimDecl", () => {
    this.CONSUME(T.Dim);
    this.CONSUME(T.Identifier);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.CONSUME2(T.Identifier);
    });
  });

  constDecl = this.RULE("constDecl", () => {
    this.CONSUME(T.Const);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  blockDecl = this.RULE("blockDecl", () => {
    this.CONSUME(T.Block);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.blockParam);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.blockParam);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RParen);
    this.OPTION3(() => {
      this.CONSUME(T.Arrow);
      this.SUBRULE(this.typeExpr);
    });
    this.CONSUME(T.LBrace);
    this.MANY2(() => this.SUBRULE(this.statement));
    this.CONSUME(T.RBrace);
  });

  blockParam = this.RULE("blockParam", () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.typeExpr);
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expression);
    });
  });

  modelDecl = this.RULE("modelDecl", () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.statement));
    this.CONSUME(T.RBrace);
  });

  trainDecl = this.RULE("trainDecl", () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.For);
    this.CONSUME2(T.Identifier, { LABEL: "model" });
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.trainSetting));
    this.CONSUME(T.RBrace);
  });

  private readonly trainSettingAlts: IOrAlt<unknown>[] = [
    {
      // `keep` is a NAME too: listed first, it wins (one token of lookahead),
      // so `keep accuracy` is an error at `accuracy`, not a setting `keep`.
      IGNORE_AMBIGUITIES: true,
      ALT: () => {
        this.CONSUME(T.Keep);
        this.CONSUME(T.Best);
        this.CONSUME(T.Identifier, { LABEL: "metric" });
      },
    },
    {
      ALT: () => {
        this.CONSUME2(T.Identifier, { LABEL: "key" });
        this.SUBRULE(this.expression);
      },
    },
  ];

  trainSetting = this.RULE("trainSetting", () => {
    // One token decides, so a broken value (`epochs = 5`) is blamed inside
    // its setting, as before `keep` existed.
    this.OR({ DEF: this.trainSettingAlts, MAX_LOOKAHEAD: 1 });
  });

  // ---------------------------------------------------------------- types

  private readonly typeExprAlts: IOrAlt<unknown>[] = [
    { ALT: () => this.SUBRULE(this.tensorType) },
    { ALT: () => this.SUBRULE(this.scalarType) },
  ];

  typeExpr = this.RULE("typeExpr", () => {
    // Listed first so `int[` is a tensor type and a bare `int` a scalar.
    this.OR(this.typeExprAlts);
  });

  private readonly scalarTypeAlts: IOrAlt<unknown>[] = [
    { ALT: () => this.CONSUME(T.Int) },
    { ALT: () => this.CONSUME(T.Float) },
    { ALT: () => this.CONSUME(T.Bool) },
    { ALT: () => this.CONSUME(T.Dim) },
    { ALT: () => this.CONSUME(T.Fn) },
  ];

  scalarType = this.RULE("scalarType", () => {
    this.OR(this.scalarTypeAlts);
  });

  tensorType = this.RULE("tensorType", () => {
    this.OPTION(() => this.SUBRULE(this.elemType));
    this.CONSUME(T.LBracket);
    this.OPTION2(() => {
      this.SUBRULE(this.dimItem);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.dimItem);
      });
      this.OPTION3(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RBracket);
  });

  private readonly elemTypeAlts: IOrAlt<unknown>[] = [
    { ALT: () => this.CONSUME(T.F32) },
    { ALT: () => this.CONSUME(T.I32) },
    { ALT: () => this.CONSUME(T.Int) },
    { ALT: () => this.CONSUME(T.Bool) },
    { ALT: () => this.CONSUME(T.Float) },
  ];

  elemType = this.RULE("elemType", () => {
    this.OR(this.elemTypeAlts);
  });

  private readonly dimItemAlts: IOrAlt<unknown>[] = [
    { ALT: () => this.CONSUME(T.Ellipsis) },
    { ALT: () => this.SUBRULE(this.expression) },
  ];

  dimItem = this.RULE("dimItem", () => {
    this.OR(this.dimItemAlts);
  });

  // ---------------------------------------------------------------- statements

  private readonly statementAlts: IOrAlt<unknown>[] = [
    { ALT: () => this.SUBRULE(this.paramStmt) },
    { ALT: () => this.SUBRULE(this.stateStmt) },
    { ALT: () => this.SUBRULE(this.updateStmt) },
    { ALT: () => this.SUBRULE(this.inputStmt) },
    { ALT: () => this.SUBRULE(this.outputStmt) },
    { ALT: () => this.SUBRULE(this.metricStmt) },
    { ALT: () => this.SUBRULE(this.lossStmt) },
    { ALT: () => this.SUBRULE(this.returnStmt) },
    { ALT: () => this.SUBRULE(this.yieldStmt) },
    { ALT: () => this.SUBRULE(this.assignStmt) },
  ];

  statement = this.RULE("statement", () => {
    // Keyword statements come before assignment: a soft keyword is also a
    // NAME, and LL(2) lookahead (`loss x` vs `loss = x`) picks the right one.
    this.OR(this.statementAlts);
  });

  paramStmt = this.RULE("paramStmt", () => {
    this.CONSUME(T.Param);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType);
    this.OPTION(() => {
      this.CONSUME(T.Init);
      this.SUBRULE(this.expression);
    });
  });

  stateStmt = this.RULE("stateStmt", () => {
    this.CONSUME(T.State);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType);
    this.OPTION(() => {
      this.CONSUME(T.Init);
      this.SUBRULE(this.expression);
    });
  });

  updateStmt = this.RULE("updateStmt", () => {
    this.CONSUME(T.Update);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  inputStmt = this.RULE("inputStmt", () => {
    this.CONSUME(T.Input);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType);
  });

  outputStmt = this.RULE("outputStmt", () => {
    this.CONSUME(T.Output);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  metricStmt = this.RULE("metricStmt", () => {
    this.CONSUME(T.Metric);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  lossStmt = this.RULE("lossStmt", () => {
    this.CONSUME(T.Loss);
    this.SUBRULE(this.expression);
  });

  returnStmt = this.RULE("returnStmt", () => {
    this.CONSUME(T.Return);
    this.SUBRULE(this.expression);
  });

  yieldStmt = this.RULE("yieldStmt", () => {
    this.CONSUME(T.Yield);
    this.SUBRULE(this.expression);
  });

  assignStmt = this.RULE("assignStmt", () => {
    this.CONSUME(T.Identifier);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.CONSUME2(T.Identifier);
    });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  // ---------------------------------------------------------------- expressions

  expression = this.RULE("expression", () => {
    this.SUBRULE(this.compareExpr);
    this.MANY(() => {
      this.CONSUME(T.Pipe);
      this.SUBRULE2(this.compareExpr);
    });
  });

  private readonly compareExprAlts: IOrAlt<unknown>[] = [
    { ALT: () => this.CONSUME(T.EqEq) },
    { ALT: () => this.CONSUME(T.NotEq) },
    { ALT: () => this.CONSUME(T.LessEq) },
    { ALT: () => this.CONSUME(T.GreaterEq) },
    { ALT: () => this.CONSUME(T.Less) },
    { ALT: () => this.CONSUME(T.Greater) },
  ];

  compareExpr = this.RULE("compareExpr", () => {
    this.SUBRULE(this.additiveExpr);
    this.MANY(() => {
      this.OR(this.compareExprAlts);
      this.SUBRULE2(this.additiveExpr);
    });
  });

  private readonly additiveExprAlts: IOrAlt<unknown>[] = [
    { ALT: () => this.CONSUME(T.Plus) },
    { ALT: () => this.CONSUME(T.Minus) },
  ];

  additiveExpr = this.RULE("additiveExpr", () => {
    this.SUBRULE(this.multiplicativeExpr);
    this.MANY(() => {
      this.OR(this.additiveExprAlts);
      this.SUBRULE2(this.multiplicativeExpr);
    });
  });

  private readonly multiplicativeExprAlts: IOrAlt<unknown>[] = [
    { ALT: () => this.CONSUME(T.Star) },
    { ALT: () => this.CONSUME(T.Slash) },
    { ALT: () => this.CONSUME(T.At) },
    { ALT: () => this.CONSUME(T.Div) },
    { ALT: () => this.CONSUME(T.Mod) },
  ];

  multiplicativeExpr = this.RULE("multiplicativeExpr", () => {
    this.SUBRULE(this.unaryExpr);
    this.MANY(() => {
      this.OR(this.multiplicativeExprAlts);
      this.SUBRULE2(this.unaryExpr);
    });
  });

  /** Expressions being parsed inside one another; see grammar/nesting.ts. */
  private nesting = 0;

  // Every recursion of the expression grammar (brackets, calls, `if`, `^`)
  // passes through this rule, so counting its active calls bounds the depth.
  unaryExpr = this.RULE("unaryExpr", () => {
    try {
      this.ACTION(() => {
        if (++this.nesting <= MAX_PARSE_NESTING) return;
        const t = this.LA(1);
        throw new NestingTooDeep({ start: t.startOffset, end: t.startOffset + t.image.length });
      });
      this.MANY(() => this.CONSUME(T.Minus));
      this.SUBRULE(this.powerExpr);
    } finally {
      this.ACTION(() => this.nesting--);
    }
  });

  powerExpr = this.RULE("powerExpr", () => {
    this.SUBRULE(this.postfixExpr);
    this.OPTION(() => {
      this.CONSUME(T.Caret);
      this.SUBRULE(this.unaryExpr);
    });
  });

  private readonly postfixExprAlts: IOrAlt<unknown>[] = [
    { ALT: () => this.SUBRULE(this.callSuffix) },
    { ALT: () => this.SUBRULE(this.indexSuffix) },
  ];

  postfixExpr = this.RULE("postfixExpr", () => {
    this.SUBRULE(this.atom);
    this.MANY(() => {
      this.OR(this.postfixExprAlts);
    });
  });

  callSuffix = this.RULE("callSuffix", () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.argument);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.argument);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RParen);
  });

  argument = this.RULE("argument", () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier);
      this.CONSUME(T.Colon);
    });
    this.SUBRULE(this.expression);
  });

  indexSuffix = this.RULE("indexSuffix", () => {
    this.CONSUME(T.LBracket);
    this.SUBRULE(this.indexItem);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.indexItem);
    });
    this.OPTION(() => this.CONSUME2(T.Comma));
    this.CONSUME(T.RBracket);
  });

  private readonly indexItemAlts: IOrAlt<unknown>[] = [
    {
      ALT: () => {
        this.SUBRULE(this.expression, { LABEL: "start" });
        this.OPTION(() => {
          this.CONSUME(T.Colon);
          this.SUBRULE(this.sliceRest);
        });
      },
    },
    {
      ALT: () => {
        this.CONSUME2(T.Colon);
        this.SUBRULE2(this.sliceRest);
      },
    },
  ];

  indexItem = this.RULE("indexItem", () => {
    this.OR(this.indexItemAlts);
  });

  sliceRest = this.RULE("sliceRest", () => {
    this.OPTION(() => this.SUBRULE(this.expression, { LABEL: "end" }));
    this.OPTION2(() => {
      this.CONSUME(T.Colon);
      this.OPTION3(() => this.SUBRULE2(this.expression, { LABEL: "step" }));
    });
  });

  private readonly atomAlts: IOrAlt<unknown>[] = [
    { ALT: () => this.CONSUME(T.NumberLiteral) },
    { ALT: () => this.CONSUME(T.StringLiteral) },
    { ALT: () => this.CONSUME(T.True) },
    { ALT: () => this.CONSUME(T.False) },
    { ALT: () => this.CONSUME(T.Identifier) },
    { ALT: () => this.CONSUME(T.QualifiedName) },
    { ALT: () => this.SUBRULE(this.parenExpr) },
    { ALT: () => this.SUBRULE(this.listExpr) },
    { ALT: () => this.SUBRULE(this.ifExpr) },
    { ALT: () => this.SUBRULE(this.scanExpr) },
  ];

  atom = this.RULE("atom", () => {
    this.OR(this.atomAlts);
  });

  parenExpr = this.RULE("parenExpr", () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.expression);
    this.CONSUME(T.RParen);
  });

  listExpr = this.RULE("listExpr", () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expression);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.expression);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RBracket);
  });

  ifExpr = this.RULE("ifExpr", () => {
    this.CONSUME(T.If);
    this.SUBRULE(this.expression, { LABEL: "cond" });
    this.CONSUME(T.Then);
    this.SUBRULE2(this.expression, { LABEL: "then" });
    this.CONSUME(T.Else);
    this.SUBRULE3(this.expression, { LABEL: "else" });
  });

  scanExpr = this.RULE("scanExpr", () => {
    this.CONSUME(T.Scan);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.In);
    this.SUBRULE(this.expression, { LABEL: "source" });
    this.CONSUME(T.Along);
    this.SUBRULE2(this.expression, { LABEL: "axis" });
    this.OPTION(() => {
      this.CONSUME(T.Carry);
      this.CONSUME(T.LParen);
      this.SUBRULE(this.carryItem);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.carryItem);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
      this.CONSUME(T.RParen);
    });
    this.CONSUME(T.LBrace);
    this.MANY2(() => this.SUBRULE(this.statement));
    this.CONSUME(T.RBrace);
  });

  carryItem = this.RULE("carryItem", () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });
}
