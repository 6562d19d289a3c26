// What the editor-feature mutant tests (lsp-fuzz, lsp-mutants) analyse
// through: the fuzzer's corpus, and a host that reads a mutant's own text,
// then the corpus (a mutant's imports are its siblings there), then the disk.

import { nodeHost } from "../cli/node-host.ts";
import { loadCorpus } from "./fuzz/corpus.ts";

export const corpus = loadCorpus();

export const mutantHost = (file: string, text: string) => ({
  readFile: (p: string) => (p === file ? text : (corpus[p] ?? nodeHost.readFile(p))),
});
