// The dependency direction of DESIGN.md, checked on every import in the tree,
// plus a line budget per file so nothing grows into a monolith unnoticed.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");

/** compiler/ files in pipeline order; a file may import only files before it. */
const pipeline = [
  "diagnostics",
  "mangle",
  "limits",
  "source-file",
  "dims",
  "ir",
  "train-dims",
  "shapes",
  "builder",
  "elementwise",
  "ir-print",
  "ir-verify",
  "symbols", // the editor's index (symbols.ts) and the syntactic name resolver (symbols/)
  "elaborate", // compiler/elaborate.ts and everything in compiler/elaborate/
  "autodiff",
  "simplify",
  "interpret",
  "optimizers", // the optimizer update entries.ts appends to the step
  "entries",
  "kernel",
  "size-expr",
  "kernel-walk",
  "scalar-print",
  "fuse",
  "memory",
  "backend",
  "codegen-js",
  "codegen-wgsl",
  "codegen-wasm",
  "emit",
  "backends",
  "explain",
  "summary", // dlg summary's layer table: the elaborated model and its predict entry
  "exporter", // the seam for exporters (ONNX, PyTorch): reads the IR, like a Backend
  "export", // compiler/export/: the exporters
  "exporters", // the table of exporters by target
  "compile",
  "cli",
];

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const p = join(dir, name);
    if (statSync(join(root, p)).isDirectory()) out.push(...files(p));
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

interface Import {
  spec: string;
  typeOnly: boolean;
}

function imports(file: string): Import[] {
  const text = readFileSync(join(root, file), "utf8");
  const re = /^\s*(import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gms;
  return [...text.matchAll(re)].map((m) => ({ spec: m[3]!, typeOnly: m[2] !== undefined }));
}

/** Repo-relative target of a relative import, or null for a package. */
function target(file: string, spec: string): string | null {
  return spec.startsWith(".") ? relative(root, resolve(root, dirname(file), spec)) : null;
}

function rank(file: string): number {
  const m = /^compiler\/([^/.]+)/.exec(file);
  const i = m ? pipeline.indexOf(m[1]!) : -1;
  if (i < 0) throw new Error(`${file} is not in the pipeline order of test/layout.test.ts; add it`);
  return i;
}

describe("layout", () => {
  it("runtime/ imports only itself", () => {
    for (const f of files("runtime"))
      for (const { spec } of imports(f))
        expect(target(f, spec)?.startsWith("runtime/"), `${f} imports ${spec}`).toBe(true);
  });

  it("grammar/ imports only chevrotain and itself", () => {
    for (const f of files("grammar"))
      for (const { spec } of imports(f)) {
        const t = target(f, spec);
        expect(spec === "chevrotain" || t?.startsWith("grammar/"), `${f} imports ${spec}`).toBe(
          true,
        );
      }
  });

  it("compiler/ imports no packages, reads grammar/ through its index, runtime/ only for the plan contract, the shared RNG, stacked names and lr schedules, and imports backwards", () => {
    for (const f of files("compiler"))
      for (const { spec, typeOnly } of imports(f)) {
        const t = target(f, spec);
        const where = `${f} imports ${spec}`;
        // No packages at all: no node:fs, no bundler, so a language server
        // or a browser playground can run every phase (cli/node-host.ts reads files).
        if (t === null) expect.fail(where);
        else if (t.startsWith("grammar/")) expect(t, where).toBe("grammar/index.ts");
        else if (t.startsWith("runtime/"))
          // The plan's contract (program.ts: types and the uniform layout), the shared RNG and
          // the names of stacked params' copies (stacked.ts: spec and .d.ts list what params() shows),
          // and the lr schedules (schedule.ts: a train block's warm-up is checked by the runtime's rule).
          expect(
            typeOnly ||
              [
                "runtime/rng.ts",
                "runtime/program.ts",
                "runtime/stacked.ts",
                "runtime/schedule.ts",
              ].includes(t),
            where,
          ).toBe(true);
        else if (t.startsWith("compiler/")) {
          // A phase may be split into `X.ts` and a folder `X/`: files of one phase import each other.
          const same = rank(t) === rank(f);
          expect(same || rank(t) < rank(f), where).toBe(true);
        } else expect.fail(where);
      }
  });

  it("the codegens see only the kernel IR (and mangle.ts, for names; the printer and the seam's types)", () => {
    const js = files("compiler").filter((f) => /^compiler\/codegen-js(\.ts|\/)/.test(f));
    for (const f of js)
      for (const { spec, typeOnly } of imports(f)) {
        const t = target(f, spec)!;
        const ok =
          /^compiler\/(kernel|kernel-walk|scalar-print|dims|mangle|codegen-js)(\.ts|\/)/.test(t) ||
          (typeOnly && t === "compiler/ir.ts");
        expect(ok, `${f} imports ${spec}`).toBe(true);
      }
    const wgsl = files("compiler").filter((f) => /^compiler\/codegen-wgsl(\.ts|\/)/.test(f));
    for (const f of wgsl)
      for (const { spec, typeOnly } of imports(f)) {
        const t = target(f, spec)!;
        const ok =
          /^compiler\/(kernel|kernel-walk|scalar-print|size-expr|dims|mangle|codegen-wgsl)(\.ts|\/)/.test(
            t,
          ) ||
          t === "runtime/program.ts" ||
          (typeOnly && (t === "compiler/backend.ts" || t === "compiler/ir.ts"));
        expect(ok, `${f} imports ${spec}`).toBe(true);
      }
  });

  it("lsp/ imports the LSP libraries, node's built-ins, grammar/ through its index, compiler/ and cli/", () => {
    const packages = /^(node:|vscode-languageserver(\/node)?$|vscode-languageserver-textdocument$)/;
    for (const f of files("lsp"))
      for (const { spec } of imports(f)) {
        const t = target(f, spec);
        const ok =
          t === null
            ? packages.test(spec)
            : /^(lsp|compiler|cli)\//.test(t) || t === "grammar/index.ts";
        expect(ok, `${f} imports ${spec}`).toBe(true);
      }
  });

  it("keeps every source file under 800 lines", () => {
    for (const dir of ["grammar", "compiler", "runtime", "cli", "lsp"])
      for (const f of files(dir)) {
        const lines = readFileSync(join(root, f), "utf8").split("\n").length;
        expect(lines, `${f} has ${lines} lines`).toBeLessThanOrEqual(800);
      }
  });
});
