// `dlg dump --stage kernels --explain`: what fusion put in each kernel and
// why, checked against the kernels the compiler really builds (the numbers
// are recomputed here from the kernel IR and the model's shapes, not copied
// from the output).

import { describe, expect, it } from "vitest";
import { backends, compile, dump, nodeHost } from "../cli/node-host.ts";
import { run } from "../cli/main.ts";
import { lowerEntry } from "../compiler/emit.ts";
import { sexprCost } from "../compiler/kernel-walk.ts";

/** The explain text of one entry (from its `// entry NAME` header to the next). */
function entrySection(text: string, name: string): string {
  const parts = text.split(/\n(?=\/\/ entry )/);
  const part = parts.find((p) => p.startsWith(`// entry ${name}:`));
  expect(part, `entry ${name}`).toBeDefined();
  return part!;
}

/** The lines of kernel `path` (its header and the indented lines under it). */
function kernelSection(entry: string, path: string): string {
  const lines = entry.split("\n");
  const at = lines.findIndex((l) => l.startsWith(`kernel ${path}:`));
  expect(at, `kernel ${path}`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > at && !l.startsWith("  "));
  return lines.slice(at, end < 0 ? undefined : end).join("\n");
}

describe("dump --explain on the mlp sample", () => {
  const r = dump("test/fixtures/mlp-256.dlg", "kernels", { explain: true });
  const text = r.text ?? "";
  const predict = entrySection(text, "predict");
  // The train block `default` has batch 128: sizes are evaluated at B = 128.
  const B = 128;

  it("evaluates sizes at the train block's batch", () => {
    expect(r.ok).toBe(true);
    expect(text.split("\n")[0]).toContain("sizes evaluated at B = 128");
  });

  it("lists the ops fused into the first dense layer's kernel, and its kind", () => {
    const k = kernelSection(predict, "e1_0");
    expect(k).toMatch(/^kernel e1_0: matmul with epilogue \((.*)\)/);
    const kind = /epilogue \((.*)\)/.exec(k)![1]!.split(", ");
    // dense's bias add and the relu (max with 0), folded into the matmul's store.
    expect(kind.sort()).toEqual(["add", "max"]);
    const ops = /\n {2}ops: (.*)/.exec(k)![1]!;
    expect(ops).toContain("matmul dense_1.y");
    expect(ops).toMatch(/\badd\b/);
    expect(ops).toMatch(/\bmax\b/);
    expect(k).toMatch(/reads: .*b0 f32\[B, 784\] input x/);
    expect(k).toMatch(/reads: .*param dense_1\.w/);
    expect(k).toMatch(/writes: b\d+ f32\[B, 256\] temp, pool slot \d+/);
  });

  it("counts the matmul's FLOPs as 2·B·784·256 plus its epilogue", () => {
    const program = compile("test/fixtures/mlp-256.dlg").program!;
    const entry = program.entries.find((e) => e.name === "predict")!;
    const mm = lowerEntry(entry.graph, backends.js.lower).kernels.kernels[0]!;
    expect(mm.kind).toBe("matmul");
    if (mm.kind !== "matmul") return;
    const want = 2 * B * 784 * 256 + B * 256 * sexprCost(mm.epilogue);
    const k = kernelSection(predict, "e1_0");
    const [, expr, value] = /flops (.+?) = (\d+);/.exec(k)!;
    expect(expr).toContain("B");
    expect(Number(value)).toBe(want);
    // Bytes moved: x, the weights and the bias read once, the [B, 256] result written once.
    const bytes = 4 * (B * 784 + 784 * 256 + 256 + B * 256);
    expect(Number(/bytes moved .+? = (\d+)/.exec(k)![1])).toBe(bytes);
  });

  it("says why a fusion was refused", () => {
    // The second dense layer's product plus its bias is logits, which softmax reads twice
    // (its max and its exp): the product keeps its own buffer, with no epilogue.
    const k = kernelSection(predict, "e1_1");
    expect(k).toMatch(/no epilogue: the value of its consumer add has \d+ consumers/);
    // softmax's exponentials are read by the sum and the division: stored, not recomputed.
    expect(predict).toMatch(/not fused: b\d+ \(softmax_\d+\.e\) from e1_\d+: it has 2 consumers/);
    expect(predict).toMatch(/not fused: b\d+ from e1_\d+: a reduction's result/);
  });

  it("reports the memory plan's peak", () => {
    const m =
      /memory: (\d+) pool slots? .*= (\d+) bytes\n {2}inputs and outputs .* = (\d+) bytes at peak/.exec(
        predict,
      );
    expect(m).not.toBeNull();
    const [, , pool, peak] = m!.map(Number);
    // At least the input batch, the parameters and the output probabilities.
    const io = 4 * (B * 784 + 784 * 256 + 256 + 256 * 10 + 10 + B * 10);
    expect(peak).toBe(pool! + io);
  });
});

describe("dump --explain elsewhere", () => {
  it("shows a scan with its body kernels indented under it", () => {
    const text = dump("samples/lstm_adding.dlg", "kernels", { explain: true }).text ?? "";
    const predict = entrySection(text, "predict");
    expect(predict).toMatch(/^kernel e1_\d+: scan: \d+ kernels run per step$/m);
    expect(predict).toMatch(/^ {2}kernel e1_\d+_0: /m);
  });

  it("names a kernel split to fit WebGPU's 8 storage buffers", () => {
    const src = `dim B
model wide {
  input a: [B]
  input b: [B]
  input c: [B]
  input d: [B]
  input e: [B]
  input f: [B]
  input g: [B]
  input h: [B]
  input i: [B]
  output z = a * b + c * d + e * f + g * h + i
}
`;
    const host = { readFile: (p: string) => (p === "wide.dlg" ? src : nodeHost.readFile(p)) };
    const r = dump("wide.dlg", "kernels", { explain: true, target: "webgpu", host });
    expect(r.ok).toBe(true);
    const predict = entrySection(r.text ?? "", "predict");
    expect(predict).toMatch(/a part hoisted out of a kernel that would bind more than 8 buffers/);
    expect(predict).toMatch(/elementwise chain .*; would bind more than 8 buffers fused whole/);
  });

  it("is refused on other stages, as a usage error", async () => {
    const err: string[] = [];
    const code = await run(["dump", "test/fixtures/mlp-256.dlg", "--stage", "ir", "--explain"], {
      out: () => {},
      err: (t) => err.push(t),
    });
    expect(code).toBe(2);
    expect(err.join("\n")).toContain("--explain explains the kernels stage");
  });
});
