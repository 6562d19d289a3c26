// Document URIs and the compiler's file paths. A `file:` URI is its absolute
// path (imports resolve against it, std is a real file); any other scheme
// (an editor's unsaved `untitled:` buffer) keeps its URI as its path, so it
// is still checked, and its relative imports simply do not resolve. Std's
// prelude is named `std/prelude.dlg` by the analyses, whichever file opens
// it, so its definitions are the same ones seen from every importer.

import { fileURLToPath, pathToFileURL } from "node:url";
import { STD_PRELUDE, stdPath } from "../compiler/elaborate.ts";

/** Std's prelude on disk: opened in the editor, it is the file the analyses name STD_PRELUDE. */
export const preludeFile = stdPath(STD_PRELUDE.slice("std/".length));

export function pathOf(uri: string): string {
  if (!uri.startsWith("file:")) return uri;
  try {
    const path = fileURLToPath(uri);
    return path === preludeFile ? STD_PRELUDE : path;
  } catch {
    return uri;
  }
}

export function uriOf(path: string): string {
  // The analysis names std by its relative name; the editor opens the real file.
  if (path === STD_PRELUDE) return pathToFileURL(preludeFile).href;
  return path.startsWith("/") ? pathToFileURL(path).href : path;
}
