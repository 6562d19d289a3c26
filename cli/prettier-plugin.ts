// The prettier plugin for .dlg files: prettier's parse gives the program,
// and its printer writes print.ts's canonical text (what `dlg fmt` writes),
// so `prettier --write` and `dlg fmt` always agree. prettier/index.js is the entry
// prettier loads under plain Node (it runs this file through tsx).

import { positionAt } from "../compiler/diagnostics.ts";
import { parse, printProgram, type Program } from "../grammar/index.ts";

/**
 * What prettier holds as the AST. Not the Program itself: prettier would
 * take a root's `comments` for its own comment handling, and print.ts
 * places the comments already (grammar/comments.ts).
 */
export interface DlgRoot {
  kind: "DlgFile";
  program: Program;
  span: { start: number; end: number };
}

export const languages = [{ name: "dlg", parsers: ["dlg"], extensions: [".dlg"] }];

/** A syntax error as prettier reports one: the message, and `loc` for its code frame (1-based). */
function syntaxError(text: string, offset: number, message: string): Error {
  const { line, col } = positionAt(text, offset);
  return Object.assign(new SyntaxError(`${message} (${line}:${col})`), {
    loc: { start: { line, column: col } },
  });
}

export const parsers = {
  dlg: {
    astFormat: "dlg-ast",
    parse(text: string): DlgRoot {
      const { program, errors } = parse(text);
      const first = errors[0];
      if (first) throw syntaxError(text, first.span.start, first.message);
      return { kind: "DlgFile", program, span: program.span };
    },
    locStart: (node: { span?: { start: number } }) => node.span?.start ?? 0,
    locEnd: (node: { span?: { end: number } }) => node.span?.end ?? 0,
  },
};

export const printers = {
  "dlg-ast": {
    print(path: { node: DlgRoot }): string {
      return printProgram(path.node.program);
    },
  },
};
