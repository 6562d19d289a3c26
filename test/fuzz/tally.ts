// Counting outcomes: how many cases were rejected with diagnostics, checked,
// compiled, ran, and failed (by kind; known defects apart), with the first
// few failing cases of each kind kept for the report.

import { knownDefect } from "./known.ts";
import { failureKinds, type FailureKind, type FuzzCase, type Outcome } from "./oracle.ts";

export interface Example {
  c: FuzzCase;
  message: string;
  /** The backend that failed; absent for the front half. */
  target?: string;
}

export class Tally {
  cases = 0;
  rejected = 0;
  checked = 0;
  compiled = 0;
  ran = 0;
  /** Compiled but not run: too large here, or the runtime refused the call with an Error. */
  notRun = 0;
  readonly failures = Object.fromEntries(failureKinds.map((k) => [k, 0])) as Record<
    FailureKind,
    number
  >;
  /** Unexpected failures of each kind by target ("front": before compiling). */
  readonly byTarget = new Map<FailureKind, Map<string, number>>();
  readonly known = new Map<string, number>();
  /** Why compiled cases were not run, by reason (its first line, numbers as N), for the summary. */
  readonly notes = new Map<string, number>();
  /** Unexpected failures, a few per kind. */
  readonly examples = new Map<FailureKind, Example[]>();

  add(c: FuzzCase, o: Outcome, keep = 5): void {
    this.cases++;
    if (o.stage === "rejected" && !o.failure) this.rejected++;
    if (o.stage !== "rejected") this.checked++;
    if (o.stage === "compiled" || o.stage === "ran") this.compiled++;
    if (o.stage === "ran") this.ran++;
    if (o.stage === "compiled" && !o.failure) {
      this.notRun++;
      const why = (o.note ?? "(no note)").split("\n")[0]!.replace(/\d+/g, "N").slice(0, 160);
      this.notes.set(why, (this.notes.get(why) ?? 0) + 1);
    }
    if (!o.failure) return;
    const { kind, message, target } = o.failure;
    const defect = knownDefect(kind, message, c, target);
    if (defect) {
      this.known.set(defect, (this.known.get(defect) ?? 0) + 1);
      return;
    }
    this.failures[kind]++;
    const on = this.byTarget.get(kind) ?? new Map<string, number>();
    on.set(target ?? "front", (on.get(target ?? "front") ?? 0) + 1);
    this.byTarget.set(kind, on);
    const list = this.examples.get(kind) ?? [];
    if (list.length < keep) list.push({ c, message, target });
    this.examples.set(kind, list);
  }

  /** Unexpected failures, all kinds together. */
  get failed(): number {
    return failureKinds.reduce((a, k) => a + this.failures[k], 0);
  }

  summary(): string {
    const lines = [
      `cases     ${this.cases}`,
      `rejected  ${this.rejected}  (diagnostics with valid spans)`,
      `checked   ${this.checked}`,
      `compiled  ${this.compiled}  (${this.notRun} of them not run: too large, or refused by the runtime)`,
      `ran       ${this.ran}  (agreed with the interpreter, checkpoint round trip exact)`,
      `failed    ${this.failed}`,
      ...failureKinds
        .filter((k) => this.failures[k] > 0)
        .map(
          (k) =>
            `  ${k.padEnd(10)} ${this.failures[k]}  (` +
            [...this.byTarget.get(k)!].map(([t, n]) => `${t} ${n}`).join(", ") +
            ")",
        ),
    ];
    for (const [why, n] of [...this.notes].sort((a, b) => b[1] - a[1]).slice(0, 5))
      lines.push(`  not run ${String(n).padStart(4)}  ${why}`);
    if (this.known.size > 0) {
      lines.push("known defects (exempted, see test/fuzz/known.ts)");
      for (const [d, n] of this.known) lines.push(`  ${String(n).padStart(5)}  ${d}`);
    }
    return lines.join("\n");
  }

  details(): string {
    const out: string[] = [];
    for (const [kind, list] of this.examples)
      for (const { c, message, target } of list)
        out.push(
          `--- ${kind}${target ? ` on ${target}` : ""}: ${c.origin} (dims = ${c.dim})\n${message}\n${c.text}`,
        );
    return out.join("\n");
  }
}
