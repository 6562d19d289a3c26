// The VS Code client for dlg: starts `dlg lsp --stdio` (see server-command.ts
// for which `dlg`) for .dlg files and restarts it when `dlg.server.path`
// changes or on the "dlg: Restart Language Server" command. Everything the
// editor shows beyond colours (diagnostics, hover, completion, ...) comes
// from the server.

import { commands, window, workspace, type ExtensionContext, type FileSystemWatcher } from "vscode";
import { LanguageClient, type LanguageClientOptions } from "vscode-languageclient/node";
import { serverCommand } from "./server-command.ts";

let client: LanguageClient | undefined;
/** Imported files edited outside the editor change what an open file sees. */
let dlgFiles: FileSystemWatcher | undefined;

async function start(): Promise<void> {
  const setting = workspace.getConfiguration("dlg").get<string>("server.path", "");
  const folders = (workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  const { command, args, shell } = serverCommand(setting, folders);
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "dlg" },
      { scheme: "untitled", language: "dlg" },
    ],
    synchronize: { fileEvents: dlgFiles },
  };
  // The client id "dlg" makes the client read `dlg.trace.server` itself.
  client = new LanguageClient(
    "dlg",
    "dlg language server",
    { command, args, options: { shell, cwd: folders[0] } },
    clientOptions,
  );
  try {
    await client.start();
  } catch (e) {
    client = undefined;
    const why = e instanceof Error ? e.message : String(e);
    void window.showErrorMessage(
      `dlg: could not start \`${[command, ...args].join(" ")}\` (${why}). ` +
        "Install dlg in the project or on PATH, or set dlg.server.path.",
    );
  }
}

async function restart(): Promise<void> {
  const running = client;
  client = undefined;
  // A client whose start failed is not running, and stop() would throw.
  if (running?.isRunning()) await running.stop();
  await start();
}

export async function activate(context: ExtensionContext): Promise<void> {
  dlgFiles = workspace.createFileSystemWatcher("**/*.dlg");
  context.subscriptions.push(
    dlgFiles,
    commands.registerCommand("dlg.restartServer", restart),
    workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("dlg.server.path")) void restart();
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
