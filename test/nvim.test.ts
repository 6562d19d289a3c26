// Neovim's built-in LSP client against `dlg lsp --stdio`: nvim runs headless
// with editors/nvim on its runtimepath (the ftdetect files and lua/dlg.lua,
// as a user installs them), opens a file with a shape error, and
// test/nvim/lsp-check.lua writes out the diagnostics nvim received and its
// hover over a name. Needs `nvim` on PATH (.ci/run installs Debian's, 0.7);
// under CI=true a missing nvim fails the test, elsewhere it skips and says why.

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const inCI = process.env.CI === "true";

/** Why nvim cannot run here, or undefined when it can. */
function noNvim(): string | undefined {
  const r = spawnSync("nvim", ["--version"], { encoding: "utf8" });
  if (r.error) return `no nvim on PATH (${r.error.message}); .ci/run installs Debian's neovim`;
  return r.status === 0 ? undefined : `nvim --version exited ${r.status}: ${r.stderr}`;
}

// `h + x` adds [B, 4] to [B, 3]: E3001 on line 5 (0-based 4), at `h`.
const fixture = `dim B
model m {
  input x: [B, 3]
  h = x |> dense(4)
  output y = h + x
}
`;

interface NvimResult {
  filetype: string;
  errors: string[];
  diagnostics: { lnum: number; col: number; code: string; message: string; severity: number }[];
  /** Each client's hover `contents`: MarkupContent, a MarkedString or a list of them. */
  hovers: unknown[];
}

/** The text of a hover's contents, whichever of the protocol's forms it came in. */
function hoverText(contents: unknown): string {
  if (typeof contents === "string") return contents;
  if (Array.isArray(contents)) return contents.map(hoverText).join("\n");
  return (contents as { value: string }).value;
}

describe("Neovim's LSP client", () => {
  it("receives dlg's shape diagnostic and a hover with the name's shape", (ctx) => {
    const why = noNvim();
    if (why) {
      if (inCI) throw new Error(`CI=true: ${why}`);
      console.warn(`nvim test skipped: ${why}`);
      ctx.skip(why);
    }
    const dir = mkdtempSync(join(tmpdir(), "dlg-nvim-"));
    try {
      const file = join(dir, "shape-error.dlg");
      const out = join(dir, "result.json");
      writeFileSync(file, fixture);
      const started = performance.now();
      const r = spawnSync(
        "nvim",
        ["--headless", "--clean", "-u", resolve("test/nvim/lsp-check.lua"), file],
        {
          cwd: dir,
          encoding: "utf8",
          timeout: 50_000,
          env: {
            ...process.env,
            DLG_NVIM_ROOT: process.cwd(),
            DLG_NVIM_OUT: out,
            // `h` on line 4 (0-based 3), column 2.
            DLG_NVIM_HOVER: "3:2",
          },
        },
      );
      const seconds = (performance.now() - started) / 1000;
      expect(r.status, `nvim: ${r.error?.message ?? ""}\n${r.stdout}\n${r.stderr}`).toBe(0);
      const result = JSON.parse(readFileSync(out, "utf8")) as NvimResult;
      expect(result.errors).toEqual([]);
      expect(result.filetype).toBe("dlg");
      expect(result.diagnostics).toHaveLength(1);
      const [d] = result.diagnostics;
      expect(d).toMatchObject({ code: "E3001", lnum: 4, col: 13, severity: 1 });
      expect(d!.message).toContain("[B, 4]");
      expect(result.hovers).toHaveLength(1);
      expect(hoverText(result.hovers[0])).toMatch(/\bh\b.*\[B, 4\]/);
      console.log(`nvim: diagnostics and hover in ${seconds.toFixed(1)} s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("on 0.8+, calls vim.lsp.start with the config, the root and the buffer, current even when it was not", (ctx) => {
    const why = noNvim();
    if (why) {
      if (inCI) throw new Error(`CI=true: ${why}`);
      ctx.skip(why);
    }
    const dir = mkdtempSync(join(tmpdir(), "dlg-nvim-start-"));
    try {
      // The project root is the nearest directory up with a .git: a submodule's is a file.
      mkdirSync(join(dir, "proj", ".git"), { recursive: true });
      mkdirSync(join(dir, "proj", "sub", "models"), { recursive: true });
      writeFileSync(join(dir, "proj", "sub", ".git"), "gitdir: ../.git/modules/sub\n");
      const file = join(dir, "proj", "sub", "models", "m.dlg");
      const out = join(dir, "result.json");
      writeFileSync(file, fixture);
      const r = spawnSync(
        "nvim",
        ["--headless", "--clean", "-u", resolve("test/nvim/start-check.lua")],
        {
          cwd: dir,
          encoding: "utf8",
          timeout: 30_000,
          env: {
            ...process.env,
            DLG_NVIM_ROOT: process.cwd(),
            DLG_NVIM_OUT: out,
            DLG_NVIM_FILE: file,
          },
        },
      );
      expect(r.status, `nvim: ${r.error?.message ?? ""}\n${r.stdout}\n${r.stderr}`).toBe(0);
      const result = JSON.parse(readFileSync(out, "utf8")) as StartResult;
      expect(result.other).not.toBe(result.shown);
      expect(result.calls).toEqual([
        {
          current: result.other,
          bufnr: result.other,
          name: "dlg",
          cmd: ["dlg-test", "lsp", "--stdio"],
          root_dir: join(dir, "proj", "sub"),
        },
      ]);
      // The buffer shown before is current again.
      expect(result.current_after).toBe(result.shown);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});

interface StartResult {
  shown: number;
  other: number;
  current_after: number;
  calls: { current: number; bufnr: number; name: string; cmd: string[]; root_dir: string }[];
}
