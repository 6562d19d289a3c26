// A real protocol client for tests: spawns `node bin/dlg.js lsp --stdio` as
// a child process and talks to it over vscode-jsonrpc's stream connection,
// as an editor does. Diagnostics the server publishes are kept per URI, and
// a test waits for the next list that satisfies what it expects.

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from "vscode-jsonrpc/node";
import type { Diagnostic, InitializeResult, PublishDiagnosticsParams } from "vscode-languageserver";

const root = resolve(import.meta.dirname, "..");

export const fileUri = (path: string) => pathToFileURL(path).href;

interface Waiter {
  uri: string;
  ok: (ds: Diagnostic[]) => boolean;
  resolve: (ds: Diagnostic[]) => void;
}

export class LspClient {
  readonly connection: MessageConnection;
  /** The server's stderr and its window/logMessage lines (internal errors are logged there). */
  readonly log: string[] = [];
  private readonly latest = new Map<string, Diagnostic[]>();
  private waiters: Waiter[] = [];
  private readonly versions = new Map<string, number>();
  /** Set once the server process has ended, with its exit code. */
  exitCode: number | null | undefined;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.setEncoding("utf8").on("data", (t: string) => this.log.push(t));
    child.on("exit", (code) => (this.exitCode = code));
    this.connection = createMessageConnection(
      new StreamMessageReader(child.stdout),
      new StreamMessageWriter(child.stdin),
    );
    this.connection.onNotification(
      "textDocument/publishDiagnostics",
      (p: PublishDiagnosticsParams) => {
        this.latest.set(p.uri, p.diagnostics);
        const ready = this.waiters.filter((w) => w.uri === p.uri && w.ok(p.diagnostics));
        this.waiters = this.waiters.filter((w) => !ready.includes(w));
        for (const w of ready) w.resolve(p.diagnostics);
      },
    );
    this.connection.onNotification("window/logMessage", (p: { message: string }) => {
      this.log.push(p.message);
    });
    // The server asks the client to pull inlay hints or semantic tokens again (counted here).
    for (const method of ["workspace/inlayHint/refresh", "workspace/semanticTokens/refresh"])
      this.connection.onRequest(method, () => {
        this.refreshes.push(method);
        return null;
      });
    this.connection.listen();
  }

  /** The refresh requests the server sent, in order. */
  readonly refreshes: string[] = [];

  /** Start the server (not yet initialized). */
  static start(): LspClient {
    const child = spawn(process.execPath, ["bin/dlg.js", "lsp", "--stdio"], {
      cwd: root,
      env: { ...process.env, DLG_DEBUG: "" },
    });
    return new LspClient(child);
  }

  /** `initialize` + `initialized`, with `rootPath` as the workspace folder if given, and the client's capabilities. */
  async initialize(rootPath?: string, capabilities: object = {}): Promise<InitializeResult> {
    const folder = rootPath ? { uri: fileUri(rootPath), name: "test" } : undefined;
    const r = await this.request<InitializeResult>("initialize", {
      processId: process.pid,
      rootUri: folder?.uri ?? null,
      workspaceFolders: folder ? [folder] : null,
      capabilities,
    });
    await this.connection.sendNotification("initialized", {});
    return r;
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.connection.sendRequest(method, params) as Promise<R>;
  }

  async open(uri: string, text: string): Promise<void> {
    this.versions.set(uri, 1);
    await this.connection.sendNotification("textDocument/didOpen", {
      textDocument: { uri, languageId: "dlg", version: 1, text },
    });
  }

  /** Replace the whole text (a full-content change, which every server must accept). */
  async change(uri: string, text: string): Promise<void> {
    const version = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, version);
    await this.connection.sendNotification("textDocument/didChange", {
      textDocument: { uri, version },
      contentChanges: [{ text }],
    });
  }

  async close(uri: string): Promise<void> {
    await this.connection.sendNotification("textDocument/didClose", { textDocument: { uri } });
  }

  /**
   * The diagnostics of `uri` once they satisfy `ok` (any list by default):
   * the latest published if it already does, else the next that does.
   */
  diagnostics(
    uri: string,
    ok: (ds: Diagnostic[]) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<Diagnostic[]> {
    const now = this.latest.get(uri);
    if (now !== undefined && ok(now)) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const last = JSON.stringify(this.latest.get(uri));
        reject(new Error(`no matching diagnostics for ${uri} in ${timeoutMs} ms (last: ${last})`));
      }, timeoutMs);
      const waiter: Waiter = {
        uri,
        ok,
        resolve: (ds) => {
          clearTimeout(timer);
          resolve(ds);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** `shutdown` + `exit`, then wait for the process to end. */
  async stop(): Promise<number | null> {
    if (this.exitCode === undefined) {
      const ended = new Promise<void>((r) => this.child.once("exit", () => r()));
      await this.request("shutdown", null);
      await this.connection.sendNotification("exit");
      await ended;
    }
    this.connection.dispose();
    return this.exitCode ?? null;
  }
}
