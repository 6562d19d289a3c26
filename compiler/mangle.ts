// How names and strings from a .dlg file enter emitted code: the one place
// every backend (JS, WGSL, WASM; exporters later) goes through.
//
// - An identifier made from a name is `mangle(name)`: `u_` and the name with
//   every character outside [A-Za-z0-9] escaped (`_` as `__`, anything else
//   as `_<hex code point>_`). The map is injective and reversible
//   (`unmangle`), its results match [A-Za-z_][A-Za-z0-9_]* and start with
//   `u_`, which no JS or WGSL keyword or reserved word does, nor any name the
//   code generators or the runtime use (they never start with `u_`), and WGSL's
//   ban on a leading `__` cannot bite.
// - A name that is data (an input, output, metric or parameter path, a file)
//   is a string literal, `jsString`, or inside a literal, `jsData`: JSON
//   with the line and paragraph separators and `<` escaped too, so it
//   survives any JavaScript parser and inlining into an HTML <script>, and
//   with a `__proto__` key computed, so an object literal keeps it.
// - Text in a comment is `commentText`: printable ASCII, with no `*/` and no
//   line break, so it cannot end a block comment or a line comment early.

const plain = /[A-Za-z0-9]/;

/** An identifier for `name`, unique to it, safe in JS and WGSL (see the header). */
export function mangle(name: string): string {
  let out = "u_";
  for (const ch of name) {
    if (plain.test(ch)) out += ch;
    else if (ch === "_") out += "__";
    else out += `_${ch.codePointAt(0)!.toString(16)}_`;
  }
  return out;
}

/** The name `mangle` was given, or null for text `mangle` never produces. */
export function unmangle(id: string): string | null {
  if (!id.startsWith("u_")) return null;
  let out = "";
  for (let i = 2; i < id.length;) {
    const ch = id[i]!;
    if (plain.test(ch)) {
      out += ch;
      i++;
      continue;
    }
    if (ch !== "_") return null;
    if (id[i + 1] === "_") {
      out += "_";
      i += 2;
      continue;
    }
    const end = id.indexOf("_", i + 1);
    const hex = id.slice(i + 1, end);
    if (end < 0 || !/^[0-9a-f]+$/.test(hex)) return null;
    const cp = parseInt(hex, 16);
    const c = cp <= 0x10ffff ? String.fromCodePoint(cp) : "";
    // Only the canonical escape of a character that needs one decodes.
    if (c === "" || plain.test(c) || c === "_" || hex !== cp.toString(16)) return null;
    out += c;
    i = end + 1;
  }
  return out;
}

/** A string as a JS (and TypeScript) string literal, safe anywhere in code. */
export function jsString(s: string): string {
  return JSON.stringify(s).replace(
    /[\u2028\u2029<]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * A JSON value as a JS expression that evaluates to it: JSON text, strings
 * as `jsString` writes them, and a `__proto__` key computed (in an object
 * literal, `"__proto__": v` would set the prototype and drop the key).
 * `indent` lays objects and arrays out over lines (for the .d.ts).
 */
export function jsData(value: unknown, indent = 0): string {
  const pad = (d: number) => (indent ? "\n" + " ".repeat(indent * d) : "");
  const write = (v: unknown, depth: number): string => {
    if (typeof v === "string") return jsString(v);
    if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
    const items = Array.isArray(v)
      ? v.map((x) => write(x, depth + 1))
      : Object.entries(v).map(([k, x]) => {
          const key = k === "__proto__" ? `[${jsString(k)}]` : jsString(k);
          return `${key}:${indent ? " " : ""}${write(x, depth + 1)}`;
        });
    const [open, close] = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
    if (items.length === 0) return open + close;
    return `${open}${items.map((i) => pad(depth + 1) + i).join(",")}${pad(depth)}${close}`;
  };
  return write(value, 0);
}

/** Text safe inside a `//` or `/* *\/` comment: printable ASCII, no `*\/`, no line break. */
export function commentText(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").replace(/\*\//g, "*\\/");
}
