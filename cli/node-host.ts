// The compiler on Node: the pure pipeline of compiler/compile.ts bound to
// the disk. Source files are read through here only: stat first (nothing
// huge or special is ever read), then strict decoding.

import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import * as pipeline from "../compiler/compile.ts";
import type { CompileOptions, DumpOptions, Host } from "../compiler/compile.ts";
import { decodeSource, MAX_SOURCE_BYTES, type Unreadable } from "../compiler/source-file.ts";

export * from "../compiler/compile.ts";

export const nodeHost: Host = { readFile: readSourceFile };

/** A file from disk: stat first (nothing huge or special is ever read), then strict decoding. */
function readSourceFile(path: string): string | Unreadable | undefined {
  let fd: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) return { reason: "directory" };
    if (!st.isFile()) return { reason: "special" };
    if (path.endsWith(".dlg")) {
      const target = realpathSync(path);
      if (!target.endsWith(".dlg")) return { reason: "link", target };
    }
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    // The size from the open file, so a file swapped after `statSync` is still bounded.
    const size = fstatSync(fd).size;
    if (size > MAX_SOURCE_BYTES) return { reason: "too-large", bytes: size };
    const bytes = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, bytes, got, size - got, null);
      if (n === 0) break;
      got += n;
    }
    return decodeSource(bytes.subarray(0, got));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Options with the disk as the default host. */
export type NodeOptions = Omit<CompileOptions, "host"> & { host?: Host };
export type { NodeOptions as CompileOptions };

const withDisk = (opts: NodeOptions): CompileOptions => ({ ...opts, host: opts.host ?? nodeHost });

export const check = (file: string, opts: NodeOptions = {}) => pipeline.check(file, withDisk(opts));
export const compile = (file: string, opts: NodeOptions = {}) =>
  pipeline.compile(file, withDisk(opts));
export const dump = (
  file: string,
  stage: pipeline.Stage,
  opts: NodeOptions & Pick<DumpOptions, "explain"> = {},
) => pipeline.dump(file, stage, { ...withDisk(opts), explain: opts.explain });
