// Failure classes the fuzzer finds that other work in progress is fixing.
// This is the ONE place they are exempted, each by a precise predicate on the
// failure (and, where the message alone is ambiguous, on the case's text);
// remove an entry when its fix lands, and the fuzz test must still pass.

import type { FailureKind, FuzzCase, FuzzTarget } from "./oracle.ts";

interface Known {
  /** The defect, as issue 6 names it. */
  defect: string;
  matches(kind: FailureKind, message: string, c: FuzzCase, target?: FuzzTarget): boolean;
}

export const knownFailures: Known[] = [];

/** The known defect a failure belongs to, if any. */
export function knownDefect(
  kind: FailureKind,
  message: string,
  c: FuzzCase,
  target?: FuzzTarget,
): string | undefined {
  return knownFailures.find((k) => k.matches(kind, message, c, target))?.defect;
}
