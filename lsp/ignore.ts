// Which folders and files the workspace scan (references and rename across
// files that are not open) leaves out: hidden folders, node_modules, the
// usual build output `out`, and what the root's .gitignore names. Build
// outputs hold copies of .dlg files, whose uses of std names would otherwise
// show up among the references. Only .gitignore's simple forms are read
// (`name`, `name/`, `/name`, `*.ext`, `dir/sub`); negations and `**` are
// skipped, so a pattern it does not understand hides nothing.

import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Whether a path under the root (`a/b`, "/"-separated) is left out; `dir`: it is a folder. */
export type Ignored = (rel: string, dir: boolean) => boolean;

const always = new Set(["node_modules", "out"]);

const glob = (p: string) =>
  new RegExp(
    `^${p
      .replace(/[.+^${}()|\\]/g, "\\$&")
      .replace(/\*/g, "[^/]*")
      .replace(/\?/g, "[^/]")}$`,
  );

export function ignoredUnder(root: string): Ignored {
  let lines: string[] = [];
  try {
    lines = readFileSync(join(root, ".gitignore"), "utf8").split(/\r?\n/);
  } catch {
    // No .gitignore: only the fixed names.
  }
  const rules: { re: RegExp; anchored: boolean; dirOnly: boolean }[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("!") || line.includes("**")) continue;
    const dirOnly = line.endsWith("/");
    const body = line.replace(/^\/|\/$/g, "");
    // A slash inside the pattern anchors it at the root, as git does.
    rules.push({ re: glob(body), anchored: line.startsWith("/") || body.includes("/"), dirOnly });
  }
  return (rel, dir) => {
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    if (name.startsWith(".") || always.has(name)) return true;
    return rules.some(
      (r) => (dir || !r.dirOnly) && (r.anchored ? r.re.test(rel) : r.re.test(name)),
    );
  };
}
