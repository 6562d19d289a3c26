// `dlg lsp --stdio`: the language server. This file is the protocol edge:
// the connection, the capabilities, and one guarded handler per request,
// each answering from the workspace's latest analyses through a pure
// function of its own module. A handler never throws to the connection: an
// internal error is logged to the client's console and the request gets no
// result, so a half-written file never takes the server down.

import {
  createConnection,
  ProposedFeatures,
  StreamMessageReader,
  StreamMessageWriter,
  TextDocumentSyncKind,
  type Connection,
  type InitializeResult,
} from "vscode-languageserver/node";
import type { Parsed } from "../cli/args.ts";
import type { Io } from "../cli/commands.ts";
import { UsageError } from "../cli/errors.ts";

/** Run the server on stdin/stdout until the client exits (the library ends the process then). */
export function runLsp(p: Parsed, io: Io): Promise<number> {
  if (p.values.stdio !== true)
    throw new UsageError("dlg lsp: the server speaks over stdin/stdout only; pass --stdio");
  void io;
  const connection = createConnection(
    ProposedFeatures.all,
    new StreamMessageReader(process.stdin),
    new StreamMessageWriter(process.stdout),
  );
  serve(connection);
  connection.listen();
  return new Promise((resolve) => process.stdin.on("close", () => resolve(0)));
}

export function serve(connection: Connection): void {
  connection.onInitialize((): InitializeResult => ({
    capabilities: { textDocumentSync: TextDocumentSyncKind.Incremental },
    serverInfo: { name: "dlg" },
  }));
}
