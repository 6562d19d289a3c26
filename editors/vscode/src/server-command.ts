// Which program the extension starts as the language server. Kept apart from
// extension.ts (no `vscode` import) so test/vscode-extension.test.ts can check
// the choice without an editor.

import { existsSync } from "node:fs";
import * as path from "node:path";

export interface ServerCommand {
  command: string;
  args: string[];
  /** Windows runs npm's `.cmd` shims only through a shell. */
  shell: boolean;
}

const serverArgs = ["lsp", "--stdio"];

/**
 * The `dlg lsp --stdio` to spawn. `setting` is `dlg.server.path`: a command
 * on PATH, or a path (relative ones from the first workspace folder); a `.js`
 * file runs on `node`, so `bin/dlg.js` works in a checkout of dlg itself.
 * Unset, the first workspace folder with `node_modules/.bin/dlg` (dlg
 * installed in the project) wins, else `dlg` on PATH.
 */
export function serverCommand(
  setting: string,
  workspaceFolders: readonly string[],
  platform: NodeJS.Platform = process.platform,
): ServerCommand {
  const windows = platform === "win32";
  const shim = windows ? "dlg.cmd" : "dlg";
  const configured = setting.trim();
  if (configured !== "") {
    const isPath = configured.includes("/") || configured.includes("\\");
    const resolved =
      isPath && !path.isAbsolute(configured) && workspaceFolders[0] !== undefined
        ? path.join(workspaceFolders[0], configured)
        : configured;
    if (resolved.endsWith(".js"))
      return { command: "node", args: [resolved, ...serverArgs], shell: false };
    return { command: resolved, args: serverArgs, shell: windows };
  }
  for (const folder of workspaceFolders) {
    const local = path.join(folder, "node_modules", ".bin", shim);
    if (existsSync(local)) return { command: local, args: serverArgs, shell: windows };
  }
  return { command: shim, args: serverArgs, shell: windows };
}
