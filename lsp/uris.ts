// Document URIs and the compiler's file paths. A `file:` URI is its absolute
// path (imports resolve against it, std is a real file); any other scheme
// (an editor's unsaved `untitled:` buffer) keeps its URI as its path, so it
// is still checked, and its relative imports simply do not resolve. Std's
// prelude, named `std/prelude.dlg` by the analysis, is its file in the package.

import { fileURLToPath, pathToFileURL } from "node:url";
import { STD_PRELUDE, stdPath } from "../compiler/elaborate.ts";

export function pathOf(uri: string): string {
  if (!uri.startsWith("file:")) return uri;
  try {
    return fileURLToPath(uri);
  } catch {
    return uri;
  }
}

export function uriOf(path: string): string {
  // The analysis names std by its relative name; the editor opens the real file.
  if (path === STD_PRELUDE) return pathToFileURL(stdPath(STD_PRELUDE.slice("std/".length))).href;
  return path.startsWith("/") ? pathToFileURL(path).href : path;
}
