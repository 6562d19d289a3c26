// docs/language.md is tested, so that the reference stays true to the code.
//
// Fence conventions (the doc's introduction states them for readers):
//   ```dlg                  a complete file: parses and checks with no diagnostic
//   ```dlg fragment         a piece of a file: parses without a syntax error
//   ```dlg error E3002 ...  checks with a diagnostic of each listed code; the
//                           ```text block right after it is the exact rendering
//   file=PATH               the file's name (default example.dlg); a fragment
//                           with a file= is on disk for every later example
// Each example is checked in a fresh temporary directory holding its own file
// and the named fragments above it, so the examples are independent.
//
// Also: every catalog code has a heading or table entry (and every code the
// doc mentions exists), every intrinsic and std block is
// documented, and every in-page link points at a heading.
//
// After an intended change of messages, `UPDATE_DOCS=1 npx vitest run
// test/docs.test.ts` rewrites the ```text outputs; read the diff.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { check, type Host } from "../cli/node-host.ts";
import { catalog, renderDiagnostics } from "../compiler/diagnostics.ts";
import { intrinsicTable } from "../compiler/elaborate/intrinsics.ts";
import { parse } from "../grammar/index.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const docPath = join(root, "docs/language.md");
const doc = readFileSync(docPath, "utf8");
const update = process.env.UPDATE_DOCS === "1";

interface Fence {
  lang: string;
  words: string[];
  body: string;
  /** 1-based line of the opening fence, for test names. */
  line: number;
  /** Offsets of the body in `doc`, for UPDATE_DOCS. */
  start: number;
  end: number;
}

function fences(md: string): Fence[] {
  const out: Fence[] = [];
  const lines = md.split("\n");
  let offset = 0;
  let open: Omit<Fence, "body" | "end"> | undefined;
  for (const [i, text] of lines.entries()) {
    const lineStart = offset;
    offset += text.length + 1;
    if (open === undefined) {
      const m = /^```(\S*)\s*(.*)$/.exec(text);
      if (m) {
        const words = m[2]!.split(/\s+/).filter(Boolean);
        open = { lang: m[1]!, words, line: i + 1, start: offset };
      }
    } else if (/^```\s*$/.test(text)) {
      out.push({ ...open, body: md.slice(open.start, lineStart), end: lineStart });
      open = undefined;
    }
  }
  if (open) throw new Error(`docs/language.md: unclosed code fence at line ${open.line}`);
  return out;
}

type Kind = "program" | "fragment" | "error";

interface Example {
  kind: Kind;
  codes: string[];
  file: string;
  fence: Fence;
  /** For errors: the ```text block that follows. */
  output: Fence | undefined;
}

const all = fences(doc);
const examples: Example[] = all.flatMap((f, i): Example[] => {
  if (f.lang !== "dlg") return [];
  const file = f.words.find((w) => w.startsWith("file="))?.slice(5) ?? "example.dlg";
  const rest = f.words.filter((w) => !w.startsWith("file="));
  const kind: Kind =
    rest[0] === "fragment" ? "fragment" : rest[0] === "error" ? "error" : "program";
  const codes = kind === "error" ? rest.slice(1) : [];
  if (kind === "program" && rest.length > 0)
    throw new Error(`docs/language.md:${f.line}: unknown fence words ${rest.join(" ")}`);
  const next = all[i + 1];
  return [{ kind, codes, file, fence: f, output: next?.lang === "text" ? next : undefined }];
});

/** Named fragments written before `ex` in the doc, by path. */
function libraryBefore(ex: Example): Map<string, string> {
  const files = new Map<string, string>();
  for (const e of examples) {
    if (e === ex) break;
    if (e.kind === "fragment" && e.fence.words.some((w) => w.startsWith("file=")))
      files.set(e.file, e.fence.body);
  }
  return files;
}

const dirs: string[] = [];
const updates: { start: number; end: number; text: string }[] = [];

/** Write the example and the library into a fresh directory; check it there. */
function checkExample(ex: Example) {
  const dir = mkdtempSync(join(tmpdir(), "dlg-docs-"));
  dirs.push(dir);
  const files = libraryBefore(ex);
  files.set(ex.file, ex.fence.body);
  for (const [path, text] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const host: Host = {
    readFile(path) {
      try {
        // Example files are named relative to the directory; std comes by absolute path.
        return readFileSync(isAbsolute(path) ? path : join(dir, path), "utf8");
      } catch {
        return undefined;
      }
    },
  };
  return check(ex.file, { host });
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (!update || updates.length === 0) return;
  let text = doc;
  for (const u of [...updates].sort((a, b) => b.start - a.start))
    text = text.slice(0, u.start) + u.text + text.slice(u.end);
  writeFileSync(docPath, text);
});

const codes = Object.keys(catalog);
/** Codes that no checked program can trigger (E4003 is about data, E4010 about a run, E4011 about options, E4012 about a target, E402x about an export); the doc says why instead of showing an example. */
const withoutExample = [
  ...["E1004", "E1005", "E4003", "E4010", "E4011", "E4012"],
  // Raised by an export (`dlg compile --target onnx|pytorch`), never by check.
  ...["E4020", "E4021", "E4022", "E4023"],
  "E9001",
];

describe("docs/language.md: the diagnostics catalog", () => {
  it("has a heading or table entry for every code", () => {
    const lines = doc.split("\n");
    const missing = codes.filter(
      (c) => !lines.some((l) => (/^#{1,6} /.test(l) || /^\|/.test(l)) && l.includes(c)),
    );
    expect(missing).toEqual([]);
  });

  it("mentions only codes that exist", () => {
    const mentioned = new Set(doc.match(/\bE\d{4}\b/g) ?? []);
    expect([...mentioned].filter((c) => !codes.includes(c))).toEqual([]);
  });

  it("shows an error example for every code a program can trigger", () => {
    const shown = new Set(examples.flatMap((e) => e.codes));
    expect(codes.filter((c) => !shown.has(c) && !withoutExample.includes(c))).toEqual([]);
    expect(withoutExample.filter((c) => shown.has(c))).toEqual([]);
  });
});

describe("docs/language.md: examples from the error baselines", () => {
  // An example named after a file in test/errors/ is that file, verbatim, so
  // its output is the baseline's (the baselines test renders it the same way).
  const fromBaselines = examples.filter((e) => e.file.startsWith("test/errors/"));
  it("quotes at least the baselines it names", () => {
    expect(fromBaselines.length).toBeGreaterThan(0);
  });
  for (const ex of fromBaselines)
    it(`${ex.file} is quoted verbatim`, () => {
      // Up to trailing whitespace, which markdown formatting strips.
      const norm = (t: string) =>
        t
          .trimEnd()
          .split("\n")
          .map((l) => l.trimEnd())
          .join("\n");
      const text = readFileSync(join(root, ex.file), "utf8");
      expect(norm(ex.fence.body)).toBe(norm(text));
    });
});

describe("docs/language.md: the standard library", () => {
  const prelude = parse(readFileSync(join(root, "std/prelude.dlg"), "utf8")).program;
  const names = [
    ...intrinsicTable().map((f) => f.name),
    ...prelude.decls.flatMap((d) => (d.kind === "Block" ? [d.name.name] : [])),
  ];
  it("documents every intrinsic and std block", () => {
    expect(names.filter((n) => !new RegExp("`" + n + "[`(]").test(doc))).toEqual([]);
  });
});

describe("docs/language.md: links", () => {
  it("points every in-page link at a heading", () => {
    const slugs = new Set(
      doc
        .split("\n")
        .filter((l) => /^#{1,6} /.test(l))
        .map((l) =>
          l
            .replace(/^#+ /, "")
            .toLowerCase()
            .replace(/[^\p{L}\p{N}\s_-]/gu, "")
            .replace(/\s/g, "-"),
        ),
    );
    const links = [...doc.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.filter((l) => !slugs.has(l))).toEqual([]);
  });
});

describe("docs/language.md: examples", () => {
  it("has examples of every kind", () => {
    const kinds = new Set(examples.map((e) => e.kind));
    expect([...kinds].sort()).toEqual(["error", "fragment", "program"]);
  });

  for (const ex of examples) {
    const name = `line ${ex.fence.line}: ${ex.kind}${ex.codes.length ? " " + ex.codes.join(" ") : ""} (${ex.file})`;
    it(name, () => {
      const parsed = parse(ex.fence.body);
      if (ex.kind === "fragment") {
        expect(parsed.errors.map((e) => `${e.code}: ${e.message}`)).toEqual([]);
        return;
      }
      const r = checkExample(ex);
      const rendered = renderDiagnostics(r.diagnostics, r.sources);
      if (ex.kind === "program") {
        expect(parsed.errors.map((e) => `${e.code}: ${e.message}`)).toEqual([]);
        expect(rendered).toBe("");
        return;
      }
      expect(ex.codes.length, "an error example names its codes").toBeGreaterThan(0);
      for (const c of ex.codes) expect(codes).toContain(c);
      const got = new Set(r.diagnostics.map((d) => d.code));
      for (const c of ex.codes) expect([...got], rendered).toContain(c);
      expect(ex.output, "an error example is followed by its ```text output").toBeDefined();
      const out = ex.output!;
      if (update) updates.push({ start: out.start, end: out.end, text: rendered + "\n" });
      else expect(out.body.trimEnd()).toBe(rendered.trimEnd());
    });
  }
});
