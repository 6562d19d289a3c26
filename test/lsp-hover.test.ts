// Hover on what has no recorded expression type (lsp/hover-decls.ts): a
// train block's settings and optimizer, a model's signature; nothing on
// blanks; plain text for a client that shows no Markdown. Called directly on
// test/fixtures/lsp/mlp.dlg's analysis, and once through the server.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { CompletionItem, Hover, MarkupContent } from "vscode-languageserver";
import { nodeHost } from "../cli/node-host.ts";
import { analyze } from "../compiler/compile.ts";
import { hover } from "../lsp/hover.ts";
import { positionOf } from "../lsp/text.ts";
import { fileUri, LspClient } from "./lsp-client.ts";

/** samples/mlp.dlg as it was at v1 (test/fixtures/lsp/mlp.dlg): tuning the sample leaves these hovers be. */
const file = "test/fixtures/lsp/mlp.dlg";
const text = readFileSync(file, "utf8");
const a = analyze(file, { host: nodeHost });

/** The hover's text at `delta` characters into the `nth` occurrence of `needle`. */
function at(needle: string, delta = 0, nth = 0, markdown = true): string | null {
  let i = -1;
  for (let k = 0; k <= nth; k++) i = text.indexOf(needle, i + 1);
  expect(i, `${needle} in mlp.dlg`).toBeGreaterThanOrEqual(0);
  const h = hover(a, file, i + delta, markdown);
  return h ? (h.contents as MarkupContent).value : null;
}

describe("hover on declarations", () => {
  const train = "train default for mlp { optimizer adam(lr: 0.001)  batch 128  epochs 10 }";

  it("explains a train block's keys, its optimizer and the optimizer's settings (review R1-19)", () => {
    expect(text).toContain(train);
    const opt = at(train, train.indexOf("optimizer") + 2);
    expect(opt).toContain("optimizer: setting of train default");
    expect(opt).toMatch(/`gd`, `sgd`, `adam` or `adamw`/);
    const adam = at(train, train.indexOf("adam") + 1);
    expect(adam).toContain(
      "adam(lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0)",
    );
    expect(adam).toContain("Adam:");
    const lr = at(train, train.indexOf("lr") + 1);
    expect(lr).toContain("lr: float = 0.001");
    expect(lr).toContain("learning rate");
    expect(at(train, train.indexOf("batch") + 1)).toMatch(/Examples per training step.*Default 32/);
    expect(at(train, train.indexOf("epochs"))).toContain("Passes over the training data");
    // The second train block's sgd has its own defaults.
    const sgd = "optimizer sgd(lr: 0.1, momentum: 0.9)";
    expect(at(sgd, sgd.indexOf("momentum") + 2)).toContain("momentum: float = 0");
  });

  it("shows a model's inputs, outputs, metrics, loss and parameters (review R1-35)", () => {
    const m = at("model mlp", 7);
    expect(m).toContain("model mlp(x: f32[B, 784], y: i32[B]) -> probs: f32[B, 10]");
    expect(m).toContain("metric accuracy: f32[]");
    expect(m).toContain("loss cross_entropy(logits, y) + 1e-4 * l2(params)");
    // 784*256 + 256 + 256*10 + 10.
    expect(m).toContain("4 parameter tensors, 203530 values");
    // The same at a use of the model's name.
    expect(at("for mlp", 5)).toContain("-> probs: f32[B, 10]");
  });

  it("gives nothing on blanks and loose brackets, but on a name, its call's `(` and |> (review R1-30)", () => {
    const line = "  logits = x |> dense(256)";
    expect(at(line, 0)).toBeNull(); // indentation
    expect(at(line, line.indexOf("(256"))).toContain("dense("); // just after `dense`
    expect(at(line, line.indexOf("x |>"))).toContain("f32[B, 784]");
    expect(at(line, line.indexOf("x |>") + 1)).toBeNull(); // the blank after `x`
    expect(at("(256)", 0)).toContain("dense("); // a call's `(` is the call's
    expect(at("x |> dense(256)", 2)).toContain("|> f32[B, 784]");
    expect(at("256) |> relu", 4)).toBeNull(); // the blank after `)`
  });

  it("writes plain text, without fences, for a client that asks for it (review R1-34)", () => {
    const md = at("dense(256)", 1)!;
    const plain = at("dense(256)", 1, 0, false)!;
    expect(md).toContain("```dlg");
    expect(plain).not.toContain("```");
    expect(plain).toContain("dense(x: [..., n], units: int, bias: bool = true)");
  });
});

describe("through the server", () => {
  it("honours the client's hover and completion documentation formats", async () => {
    const client = LspClient.start();
    try {
      await client.initialize(resolve("."), {
        textDocument: {
          hover: { contentFormat: ["plaintext"] },
          completion: { completionItem: { documentationFormat: ["plaintext"] } },
        },
      });
      const uri = fileUri(resolve(file));
      await client.open(uri, text);
      const h = await client.request<Hover>("textDocument/hover", {
        textDocument: { uri },
        position: positionOf(text, text.indexOf("dense(256)") + 1),
      });
      expect(h.contents).toMatchObject({ kind: "plaintext" });
      expect((h.contents as MarkupContent).value).not.toContain("```");
      // A doc comment in completion is a plain string, not MarkupContent.
      const items = await client.request<CompletionItem[]>("textDocument/completion", {
        textDocument: { uri },
        position: positionOf(text, text.indexOf("dense(256)") + 6),
      });
      const dense = items.find((i) => i.label === "dense")!;
      expect(typeof dense.documentation).toBe("string");
      expect(dense.documentation).toContain("Fully connected");
    } finally {
      await client.stop();
    }
  }, 60_000);
});
