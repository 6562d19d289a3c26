// `dlg lsp --stdio`: the language server. This file is the protocol edge:
// the connection, the capabilities, and one guarded handler per request,
// each answering from the workspace's latest analysis through a pure
// function of its own module. A handler never throws to the connection: an
// internal error is logged to the client's console and the request gets no
// result, so a half-written file never takes the server down.

import {
  createConnection,
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  MarkupKind,
  ProposedFeatures,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type InitializeParams,
  type InitializeResult,
  type MarkupContent,
  type Position,
} from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { Parsed } from "../cli/args.ts";
import { UsageError } from "../cli/errors.ts";
import { checkText, isUnreadable } from "../compiler/source-file.ts";
import type { Analysis } from "../compiler/symbols.ts";
import { isStd } from "./callables.ts";
import { quickFixes } from "./code-actions.ts";
import { completions } from "./completion.ts";
import { formatting } from "./formatting.ts";
import { hover } from "./hover.ts";
import { inlayHints } from "./inlay-hints.ts";
import { symbolAt } from "./lookup.ts";
import {
  definition,
  documentSymbols,
  highlights,
  prepareRename,
  references,
  rename,
  workspaceSymbols,
} from "./navigation.ts";
import { semanticTokens, semanticTokensLegend } from "./semantic-tokens.ts";
import { signatureHelp } from "./signature-help.ts";
import { pathOf } from "./uris.ts";
import { Workspace } from "./workspace.ts";

/**
 * Run the server on stdin/stdout (which then carry nothing but the protocol)
 * until the client exits or goes away.
 */
export function runLsp(p: Parsed): Promise<number> {
  if (p.values.stdio !== true)
    throw new UsageError("dlg lsp: the server speaks over stdin/stdout only; pass --stdio");
  if (p.positionals.length > 0)
    throw new UsageError(`dlg lsp: unexpected argument \`${p.positionals[0]}\``);
  // The streams themselves (not message readers over them), so the library
  // also ends the process when the client closes stdin without `exit`.
  const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
  // The last net under the handlers' own: a stray error is logged, and the server carries on.
  process.on("uncaughtException", (e) =>
    connection.console.error(`dlg: internal error: ${e.stack ?? e.message}`),
  );
  process.on("unhandledRejection", (e) =>
    connection.console.error(`dlg: internal error: ${e instanceof Error ? e.stack : String(e)}`),
  );
  serve(connection);
  connection.listen();
  // Never settles: the library ends the process, at `exit` or when stdin closes.
  return new Promise<number>(() => {});
}

/**
 * Features that read the text itself (formatting, tokens, completion) skip a
 * buffer the analysis refuses (over MAX_SOURCE_BYTES, or binary): a 5 MB
 * buffer would hold the single-threaded server for seconds.
 */
const usable = (text: string) => !isUnreadable(checkText(text));

/** What a request about a position in an open document needs. */
interface At {
  path: string;
  text: string;
  offset: number;
  analysis: Analysis | undefined;
}

/** A doc comment as plain text, for a client that shows no Markdown. */
const plainDoc = (d: string | MarkupContent | undefined) => (typeof d === "object" ? d.value : d);

export function serve(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const ws = new Workspace({
    publish: (uri, diagnostics) => void connection.sendDiagnostics({ uri, diagnostics }),
    log: (m) => connection.console.error(m),
    // Clients pull hints and tokens for the edited document only: ask for the importers' again.
    othersChanged: () => {
      if (refresh.hints) connection.languages.inlayHint.refresh().catch(failed("hint refresh"));
      if (refresh.tokens)
        connection.languages.semanticTokens.refresh().catch(failed("token refresh"));
    },
    // Tokens answer from the last analysis (no re-check per keystroke): pull them again once it is current.
    rechecked: () => {
      if (refresh.tokens)
        connection.languages.semanticTokens.refresh().catch(failed("token refresh"));
    },
  });
  const refresh = { hints: false, tokens: false };
  const markdown = { hover: true, completion: true, signature: true };
  /** A request to the client that fails (it declined) is logged, never an unhandled rejection. */
  const failed = (what: string) => (e: unknown) =>
    connection.console.error(`dlg: ${what} failed: ${e instanceof Error ? e.message : String(e)}`);

  /**
   * A handler that cannot fail: an internal error is logged and answered
   * with `fallback`. A ResponseError is the handler's answer to the client
   * (a rename refused), so it goes through.
   */
  const guard =
    <P, R>(name: string, fallback: R, f: (p: P) => R) =>
    (p: P): R => {
      try {
        return f(p);
      } catch (e) {
        if (e instanceof ResponseError) throw e;
        connection.console.error(
          `dlg: ${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
        );
        return fallback;
      }
    };

  /** The document, the cursor and the analysis (`typing`: the last one, even if it lags the text). */
  const at = (uri: string, pos: Position, typing = false): At | undefined => {
    const doc = documents.get(uri);
    if (!doc) return undefined;
    const path = pathOf(uri);
    const analysis = typing ? ws.lastAnalysisOf(path) : ws.analysisOf(path);
    return { path, text: doc.getText(), offset: doc.offsetAt(pos), analysis };
  };

  connection.onInitialize(
    guard("initialize", { capabilities: {} }, (params: InitializeParams): InitializeResult => {
      const folders = params.workspaceFolders?.map((f) => f.uri) ?? [];
      if (folders.length === 0 && params.rootUri) folders.push(params.rootUri);
      ws.roots = folders.filter((u) => u.startsWith("file:")).map(pathOf);
      const w = params.capabilities.workspace;
      watchFiles = w?.didChangeWatchedFiles?.dynamicRegistration === true;
      folderChanges = w?.workspaceFolders === true;
      refresh.hints = w?.inlayHint?.refreshSupport === true;
      refresh.tokens = w?.semanticTokens?.refreshSupport === true;
      // Markdown unless the client lists formats without it (a plain-text client shows fences).
      const td = params.capabilities.textDocument;
      const md = (formats: MarkupKind[] | undefined) =>
        formats === undefined || formats.includes(MarkupKind.Markdown);
      markdown.hover = md(td?.hover?.contentFormat);
      markdown.completion = md(td?.completion?.completionItem?.documentationFormat);
      markdown.signature = md(td?.signatureHelp?.signatureInformation?.documentationFormat);
      return {
        capabilities: {
          textDocumentSync: TextDocumentSyncKind.Incremental,
          hoverProvider: true,
          definitionProvider: true,
          documentHighlightProvider: true,
          workspaceSymbolProvider: true,
          codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
          referencesProvider: true,
          renameProvider: { prepareProvider: true },
          documentSymbolProvider: true,
          documentFormattingProvider: true,
          inlayHintProvider: true,
          completionProvider: { triggerCharacters: ["(", ",", ":"] },
          signatureHelpProvider: { triggerCharacters: ["(", ","], retriggerCharacters: [":"] },
          semanticTokensProvider: { legend: semanticTokensLegend, full: true },
          workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
        },
        serverInfo: { name: "dlg" },
      };
    }),
  );

  // Ask the client to tell about .dlg files changed on disk (an import saved,
  // created or deleted outside the editor), where it lets the server ask.
  let watchFiles = false;
  // Folders added to or removed from the window: references and rename search the new set.
  let folderChanges = false;
  connection.onInitialized(
    guard("initialized", undefined, () => {
      if (folderChanges)
        connection.workspace.onDidChangeWorkspaceFolders(
          guard("workspace folders", undefined, (e) => {
            const removed = new Set(e.removed.map((f) => pathOf(f.uri)));
            const added = e.added
              .filter((f) => f.uri.startsWith("file:"))
              .map((f) => pathOf(f.uri));
            ws.roots = [...ws.roots.filter((r) => !removed.has(r)), ...added];
          }),
        );
      if (watchFiles)
        connection.client
          .register(DidChangeWatchedFilesNotification.type, {
            watchers: [{ globPattern: "**/*.dlg" }],
          })
          .catch(failed("file watching"));
    }),
  );

  // An opened file is checked at once; an edited one after the pause.
  const sync = (now: boolean) =>
    guard("analysis", undefined, (e: { document: TextDocument }) =>
      ws.update(pathOf(e.document.uri), e.document.uri, e.document.getText(), now),
    );
  documents.onDidOpen(sync(true));
  documents.onDidChangeContent(sync(false));
  documents.onDidClose(guard("close", undefined, (e) => ws.close(pathOf(e.document.uri))));
  connection.onDidChangeWatchedFiles(
    guard("watched files", undefined, (p) => {
      for (const c of p.changes) ws.changedOnDisk(pathOf(c.uri));
    }),
  );

  connection.onHover(
    guard("hover", null, (p) => {
      const q = at(p.textDocument.uri, p.position);
      return q?.analysis ? hover(q.analysis, q.path, q.offset, markdown.hover) : null;
    }),
  );
  connection.onDefinition(
    guard("definition", null, (p) => {
      const q = at(p.textDocument.uri, p.position);
      return q?.analysis ? definition(q.analysis, q.path, q.offset) : null;
    }),
  );
  connection.onCodeAction(
    guard("code actions", [], (p) => {
      const doc = documents.get(p.textDocument.uri);
      return doc ? quickFixes(doc, p.textDocument, p.context.diagnostics) : [];
    }),
  );
  connection.onWorkspaceSymbol(
    guard("workspace symbols", [], (p) => workspaceSymbols(ws.openAnalyses(), p.query)),
  );
  connection.onDocumentHighlight(
    guard("document highlight", [], (p) => {
      const q = at(p.textDocument.uri, p.position);
      return q?.analysis ? highlights(q.analysis, q.path, q.offset) : [];
    }),
  );
  connection.onReferences(
    guard("references", [], (p) => {
      const q = at(p.textDocument.uri, p.position);
      const s = q?.analysis && symbolAt(q.analysis, q.path, q.offset);
      if (!s) return [];
      return references(ws.analysesMentioning(s.def), s.def, p.context.includeDeclaration);
    }),
  );
  connection.onPrepareRename(
    guard("prepare rename", null, (p) => {
      const q = at(p.textDocument.uri, p.position);
      return q?.analysis ? prepareRename(q.analysis, q.path, q.offset) : null;
    }),
  );
  connection.onRenameRequest(
    guard("rename", null, (p) => {
      const q = at(p.textDocument.uri, p.position);
      const s = q?.analysis && symbolAt(q.analysis, q.path, q.offset);
      // Std's names are refused before the workspace is searched for them.
      return s
        ? rename(isStd(s.def.file) ? [] : ws.analysesMentioning(s.def), s.def, p.newName)
        : null;
    }),
  );
  connection.onDocumentSymbol(
    guard("document symbols", [], (p) => {
      // The outline needs only the parse (the cache's, which the re-check then reuses), not
      // the elaboration a pending re-check would run on every keystroke.
      const doc = documents.get(p.textDocument.uri);
      if (!doc || !usable(doc.getText())) return [];
      const { program } = ws.cache.parse(pathOf(doc.uri), doc.getText());
      return documentSymbols(doc.getText(), program.decls);
    }),
  );
  connection.onDocumentFormatting(
    guard("formatting", null, (p) => {
      const doc = documents.get(p.textDocument.uri);
      return doc && usable(doc.getText()) ? formatting(doc.getText()) : null;
    }),
  );
  connection.languages.inlayHint.on(
    guard("inlay hints", [], (p) => {
      const doc = documents.get(p.textDocument.uri);
      const path = pathOf(p.textDocument.uri);
      const a = doc && ws.analysisOf(path);
      if (!doc || !a) return [];
      const range = { start: doc.offsetAt(p.range.start), end: doc.offsetAt(p.range.end) };
      return inlayHints(a, path, range);
    }),
  );
  connection.onCompletion(
    guard("completion", [], (p) => {
      const q = at(p.textDocument.uri, p.position, true);
      if (!q || !usable(q.text)) return [];
      const items = completions(q.analysis, q.path, q.text, q.offset);
      return markdown.completion
        ? items
        : items.map((i) => ({ ...i, documentation: plainDoc(i.documentation) }));
    }),
  );
  connection.onSignatureHelp(
    guard("signature help", null, (p) => {
      const q = at(p.textDocument.uri, p.position, true);
      const h = q && usable(q.text) ? signatureHelp(q.analysis, q.path, q.text, q.offset) : null;
      if (!h || markdown.signature) return h;
      return {
        ...h,
        signatures: h.signatures.map((g) => ({ ...g, documentation: plainDoc(g.documentation) })),
      };
    }),
  );
  connection.languages.semanticTokens.on(
    guard("semantic tokens", { data: [] }, (p) => {
      const doc = documents.get(p.textDocument.uri);
      const path = pathOf(p.textDocument.uri);
      const text = doc?.getText();
      const ok = text !== undefined && usable(text);
      // With the client's refresh support, the last analysis (mapped around the edit); else the current one.
      const a = refresh.tokens
        ? (ws.lastAnalysisOf(path) ?? ws.analysisOf(path))
        : ws.analysisOf(path);
      return { data: ok ? semanticTokens(text, a, path) : [] };
    }),
  );

  documents.listen(connection);
}
