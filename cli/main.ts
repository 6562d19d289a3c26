// The dlg command line. bin/dlg.js registers tsx and calls `run`. This file
// is the error boundary: a UserError prints its message (exit 1, or 2 for a
// bad command line); anything else is a bug in dlg and says so, with the
// stack only under DLG_DEBUG=1. Commands load lazily, so `--help` works
// even while a compiler phase is broken.

import { DataMisfit, exitCode, UsageError, UserError } from "./errors.ts";
import { parseCommand, type Parsed } from "./args.ts";
import {
  checkValues,
  commandHelp,
  commandNames,
  commandOptions,
  mainHelp,
  type CommandName,
} from "./usage.ts";
import type { Io } from "./commands.ts";

const defaultIo: Io = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : t + "\n"),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : t + "\n"),
};

async function dispatch(cmd: CommandName, p: Parsed, io: Io): Promise<number> {
  switch (cmd) {
    case "check":
      return (await import("./commands.ts")).runCheck(p, io);
    case "compile":
      return (await import("./commands.ts")).runCompile(p, io);
    case "dump":
      return (await import("./commands.ts")).runDump(p, io);
    case "train":
      return (await import("./train-command.ts")).runTrain(p, io);
    case "predict":
      return (await import("./predict-command.ts")).runPredict(p, io);
    case "evaluate":
      return (await import("./predict-command.ts")).runEvaluate(p, io);
    case "summary":
      return (await import("./summary-command.ts")).runSummary(p, io);
    case "bench":
      return (await import("./bench-command.ts")).runBench(p, io);
    case "lsp":
      return (await import("../lsp/server.ts")).runLsp(p);
    case "typegen":
      return (await import("./typegen-command.ts")).runTypegen(p, io);
    case "fmt":
      return (await import("./fmt-command.ts")).runFmt(p, io);
  }
}

export async function run(argv: string[], io: Io = defaultIo): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
      const topic = rest[0];
      if (
        cmd === "help" &&
        topic !== undefined &&
        (commandNames as readonly string[]).includes(topic)
      ) {
        io.out(commandHelp[topic as CommandName]);
      } else {
        io.out(mainHelp);
      }
      return cmd === undefined ? exitCode.usage : exitCode.ok;
    }
    if (cmd === "--version" || cmd === "-v") {
      const { createRequire } = await import("node:module");
      io.out(
        String((createRequire(import.meta.url)("../package.json") as { version: string }).version),
      );
      return exitCode.ok;
    }
    if (!(commandNames as readonly string[]).includes(cmd)) {
      throw new UsageError(
        `unknown command \`${cmd}\`; expected one of ${commandNames.join(", ")}`,
      );
    }
    const name = cmd as CommandName;
    // Flags and --help are settled before a command loads the compiler.
    const p = parseCommand(name, rest, commandOptions[name]);
    if (p.values.help) {
      io.out(commandHelp[name]);
      return exitCode.ok;
    }
    checkValues(name, p);
    return await dispatch(name, p, io);
  } catch (e) {
    const known =
      cmd !== undefined && (commandNames as readonly string[]).includes(cmd) ? cmd : undefined;
    return reportError(e, io, known);
  }
}

export function reportError(e: unknown, io: Io, cmd?: string): number {
  if (e instanceof UserError) {
    io.err(`${e instanceof DataMisfit ? `error[${e.diagCode}]` : "error"}: ${e.message}`);
    if (e instanceof UsageError) io.err(`run \`dlg ${cmd ? cmd + " " : ""}--help\` for usage`);
    return e.code;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  io.err(`internal error: ${err.message}`);
  io.err("this is a bug in dlg, not in your input; please report it with the command you ran");
  if (process.env.DLG_DEBUG === "1") io.err(err.stack ?? "(no stack)");
  else io.err("(set DLG_DEBUG=1 to see the stack trace)");
  return exitCode.internal;
}
