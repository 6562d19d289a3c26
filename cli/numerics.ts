// `dlg train --check-numerics`: a module compiled with `checkNumerics` throws
// a NumericsError (runtime/kernels.ts) at the first NaN or infinity a kernel
// stores. The module bundles its own copy of the runtime, so the error is
// recognised by name and shape, not by class, and becomes an E4010
// diagnostic at the operation's span, or one line when it has none.

import { diag, type Diagnostic } from "../compiler/diagnostics.ts";
import type { NumericsSource } from "../runtime/kernels.ts";

interface NumericsErrorLike {
  name: "NumericsError";
  message: string;
  source: NumericsSource | null;
  value: number;
  entry: string;
}

function isNumericsError(e: unknown): e is NumericsErrorLike {
  return e instanceof Error && e.name === "NumericsError" && "value" in e && "entry" in e;
}

/** Where in the run it happened, for the message. */
function during(entry: string, step: number): string {
  const table: Record<string, string> = {
    step: `in training step ${step}`,
    evaluate: "while evaluating",
    predict: "in predict",
    init: "while initialising the parameters",
  };
  return table[entry] ?? `in ${entry}`;
}

/**
 * A NumericsError as what to print: an E4010 diagnostic at the operation's
 * span, or its one-line rendering when the operation has none (the compiler
 * made it, e.g. an optimizer update); null for any other error. `step` is the
 * 1-based number of the step that was running.
 */
export function numericsFailure(e: unknown, step: number): Diagnostic | string | null {
  if (!isNumericsError(e)) return null;
  const s = e.source;
  const op = !s
    ? "a copy"
    : s.vjpOf
      ? `the gradient of \`${s.vjpOf}\` (\`${s.op}\`)`
      : `\`${s.op}\``;
  const message = `${op} produced ${e.value} ${during(e.entry, step)}`;
  if (!s || s.file === undefined || s.start === undefined || s.end === undefined) {
    const value = s?.name === undefined ? "" : `, computing \`${s.name}\``;
    return `error[E4010]: ${message} (no source location${value})`;
  }
  return diag(
    "E4010",
    message,
    s.file,
    { start: s.start, end: s.end },
    {
      notes: ["--check-numerics stops at the first operation whose value is NaN or infinite"],
      help: "check the values reaching this operation; a smaller learning rate may keep them in range",
    },
  );
}
