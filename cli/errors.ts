// Errors the CLI shows to a person. A `UserError` is the user's to fix (a
// bad flag, a missing file, data that does not fit the model): main.ts prints
// its message and exits with its code, never a stack trace. Anything else
// that reaches main.ts is a bug in dlg and is reported as one.

/** Exit codes, documented in docs/cli.md. */
export const exitCode = {
  ok: 0,
  /** The input is wrong: diagnostics, unreadable files, data that does not fit. */
  error: 1,
  /** The command line is wrong: unknown command or flag, bad flag value. */
  usage: 2,
  /** A bug in dlg. */
  internal: 3,
} as const;

export class UserError extends Error {
  constructor(
    message: string,
    readonly code: number = exitCode.error,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/**
 * Data that does not fit the model's inputs (columns, values per example,
 * element types): printed as `error[E4003]: ...`, the catalog's code for it.
 */
export class DataMisfit extends UserError {
  readonly diagCode = "E4003";
  constructor(message: string) {
    super(message);
    this.name = "DataMisfit";
  }
}

/** A command-line mistake: printed with a pointer to `--help`. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, exitCode.usage);
    this.name = "UsageError";
  }
}
