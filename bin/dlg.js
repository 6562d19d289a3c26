#!/usr/bin/env node
// The `dlg` executable. The sources are TypeScript run through tsx (no build
// step), so register tsx's ESM loader first, then load the CLI. A failure to
// load is itself a bug in dlg: report it without a stack unless DLG_DEBUG=1.
import { register } from "tsx/esm/api";

register();

// `dlg ... | head` closes stdout early; that is not an error worth a trace.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

try {
  const { run } = await import("../cli/main.ts");
  process.exitCode = await run(process.argv.slice(2));
} catch (e) {
  process.stderr.write(
    `internal error: dlg failed to start: ${e instanceof Error ? e.message : e}\n`,
  );
  process.stderr.write("this is a bug in dlg, not in your input; please report it\n");
  if (process.env.DLG_DEBUG === "1" && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  else process.stderr.write("(set DLG_DEBUG=1 to see the stack trace)\n");
  process.exitCode = 3;
}
