// Signature help: the call around the cursor, its parameters, and which one
// is being typed: the named one while its value is typed (`units: |`), else
// the first parameter not given yet, by position, by name, or by the pipe
// (`x |> f(|)` already gave f its first argument).

import type { SignatureHelp } from "vscode-languageserver";
import type { Analysis } from "../compiler/symbols.ts";
import { signatureOf } from "./callables.ts";
import { cursorContext } from "./context.ts";

export function signatureHelp(
  a: Analysis | undefined,
  file: string,
  text: string,
  offset: number,
): SignatureHelp | null {
  const ctx = cursorContext(text, offset);
  const call = ctx.call;
  if (!call || ctx.where.kind === "none") return null;
  const sig = signatureOf(a, file, call.callee, ctx.enclosing?.kind === "train");
  if (!sig) return null;
  const byName = call.naming === null ? -1 : sig.params.findIndex((p) => p.name === call.naming);
  const filled = call.positional + (call.piped ? 1 : 0);
  const next = sig.params.findIndex((p, i) => i >= filled && !call.given.includes(p.name));
  const active = call.naming !== null ? byName : next < 0 ? sig.params.length : next;
  // Past the last parameter, or an unknown name: no parameter is highlighted.
  const activeParameter = active >= 0 && active < sig.params.length ? active : sig.params.length;
  return {
    signatures: [
      {
        label: sig.label,
        ...(sig.doc ? { documentation: { kind: "markdown", value: sig.doc } } : {}),
        parameters: sig.params.map((p) => ({ label: p.label })),
        activeParameter,
      },
    ],
    activeSignature: 0,
    activeParameter,
  };
}
