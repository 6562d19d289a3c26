// Reading a source file. A .dlg file may come from anyone, so what the
// compiler reads is bounded (regular files, at most MAX_SOURCE_BYTES) and
// must be text: bytes are decoded as strict UTF-8 and a NUL byte refuses the
// file, so a binary file is one E1004, not a screen of unexpected characters.
// Only nodeHost (compile.ts, the pipeline's edge) touches the disk; the
// checks on text apply to every host.

/** The size past which a source file is refused (E1005): far above any real program. */
export const MAX_SOURCE_BYTES = 1024 * 1024;

/** Why a file gave no text; elaborate.ts turns each into its diagnostic. */
export type Unreadable =
  | { reason: "missing" }
  | { reason: "directory" }
  /** A device, a FIFO, a socket: reading could block or never end. */
  | { reason: "special" }
  | { reason: "too-large"; bytes: number }
  /** `prefix`: the text before the first bad byte, which is safe to show. */
  | { reason: "not-text"; what: "invalid UTF-8" | "a NUL byte"; prefix: string; byte: number }
  /** A `.dlg` name that is a link to a file whose name does not end in `.dlg`. */
  | { reason: "link"; target: string };

export function isUnreadable(x: string | Unreadable): x is Unreadable {
  return typeof x !== "string";
}

/** `3.2 MiB`, `812 KiB`, `17 bytes`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

const utf8 = new TextEncoder();

/** The checks any host's text must pass: size, and no NUL byte. */
export function checkText(text: string): string | Unreadable {
  // A UTF-16 unit is at most 3 UTF-8 bytes: encode only when it could matter.
  if (text.length * 3 > MAX_SOURCE_BYTES) {
    const bytes = utf8.encode(text).length;
    if (bytes > MAX_SOURCE_BYTES) return { reason: "too-large", bytes };
  }
  const nul = text.indexOf("\0");
  if (nul >= 0)
    return {
      reason: "not-text",
      what: "a NUL byte",
      prefix: text.slice(0, nul),
      byte: utf8.encode(text.slice(0, nul)).length,
    };
  return text;
}

/** Bytes to text, strictly: the first byte that is not UTF-8 refuses the file. */
export function decodeSource(bytes: Uint8Array): string | Unreadable {
  try {
    return checkText(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    // The decoder notices a bad sequence at the byte after its start: the
    // valid text is what precedes it, less a character it cuts in two.
    const prefix = new TextDecoder("utf-8")
      .decode(bytes.subarray(0, firstBadByte(bytes)))
      .replace(/\ufffd$/, "");
    return { reason: "not-text", what: "invalid UTF-8", prefix, byte: utf8.encode(prefix).length };
  }
}

/**
 * Where strict decoding fails: the byte at which a streaming decoder throws,
 * found a 4 KiB chunk at a time, then byte by byte.
 */
function firstBadByte(bytes: Uint8Array): number {
  const chunk = 4096;
  let d = new TextDecoder("utf-8", { fatal: true });
  let start = 0;
  for (; start < bytes.length; start += chunk) {
    try {
      d.decode(bytes.subarray(start, start + chunk), { stream: true });
    } catch {
      break;
    }
  }
  d = new TextDecoder("utf-8", { fatal: true });
  d.decode(bytes.subarray(0, start), { stream: true });
  for (let i = start; i < bytes.length; i++) {
    try {
      d.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  return bytes.length; // a character cut off at the end of the file
}

/** `dir/of/from.dlg` + `../x.dlg` -> `dir/of/../x.dlg`, normalised; absolute paths stay. */
export function resolveImport(from: string, rel: string): string {
  const base = rel.startsWith("/") ? [] : from.split("/").slice(0, -1);
  const out: string[] = [];
  const lead = rel.startsWith("/") || from.startsWith("/") ? "/" : "";
  for (const part of [...base, ...rel.split("/")]) {
    if (part === "" || part === ".") continue;
    if (part === ".." && out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else out.push(part);
  }
  return lead + out.join("/");
}
