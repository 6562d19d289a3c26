// Command-line parsing shared by the commands: node:util parseArgs in strict
// mode, with its errors turned into UsageErrors (one line, no stack) and
// numeric flags validated here rather than deep inside a command.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  /** A flag declared `multiple` (`--dim T=32 --dim S=8`) gives every value, in order. */
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parse `argv` for one command (options from usage.ts); `--help`/`-h` is always accepted. */
export function parseCommand(cmd: string, argv: string[], options: Options): Parsed {
  try {
    const r = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    return { values: r.values as Parsed["values"], positionals: r.positionals };
  } catch (e) {
    // parseArgs messages are clear but mention internals ("strict:false"); keep the first sentence.
    const full = (e as Error).message;
    const msg = full.split("\n")[0]!.split(". ")[0]!.replace(/\.$/, "");
    // `--lr -1`: the value starts with a dash; say how to pass it.
    const dash = /use '(--[\w-]+)=-XYZ'/.exec(full);
    throw new UsageError(
      `dlg ${cmd}: ${msg}` + (dash ? ` (a value starting with "-" goes as ${dash[1]}=-X)` : ""),
    );
  }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
}

/** Every value of a repeatable string flag (none when absent). */
export function strs(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

/** An integer flag within [min, max], or undefined when absent. */
export function intFlag(
  p: Parsed,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in ${min}..${max}`;
    throw new UsageError(`--${name} expects ${range}, got \`${v}\``);
  }
  return n;
}

/** A positive, finite number flag (`--lr 0.01`, `--lr 1e-3`), or undefined when absent. */
export function positiveFlag(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} expects a positive number, got \`${v}\``);
  return n;
}

export function oneFile(cmd: string, p: Parsed): string {
  if (p.positionals.length === 0) throw new UsageError(`dlg ${cmd}: expected a .dlg file`);
  if (p.positionals.length > 1) {
    throw new UsageError(
      `dlg ${cmd}: expected one .dlg file, got ${p.positionals.length}: ${p.positionals.join(" ")}`,
    );
  }
  return p.positionals[0]!;
}
