// Convolution and pooling beyond the per-primitive tables (gradients in
// autodiff.test.ts, JS in codegen.test.ts, TensorFlow.js in
// tfjs-conv.test.ts): the interpreter on cases small enough to work out by
// hand, the std blocks' shapes and diagnostics, and how the back end lowers
// a convolution.

import { describe, expect, it } from "vitest";
import { compile } from "../cli/node-host.ts";
import { shapeToString } from "../compiler/dims.ts";
import { elaborate, stdPath } from "../compiler/elaborate.ts";
import { lowerGraph } from "../compiler/fuse.ts";
import { interpret, tensor } from "../compiler/interpret.ts";
import type { OpParams } from "../compiler/ir.ts";
import { kernelToString } from "../compiler/scalar-print/dump.ts";
import { readFileSync } from "node:fs";
import { build, f32 } from "./graph-helpers.ts";

const nine = tensor("f32", [1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);

function run1(op: "conv2d", params: OpParams["conv2d"], ...xs: ReturnType<typeof tensor>[]) {
  const { graph } = build(
    xs.map((x) => f32(...x.shape)),
    (e, ...vs) => e(op, params, ...vs),
  );
  return interpret(graph, xs)[0]!;
}

describe("the interpreter on hand-worked cases", () => {
  const w = tensor("f32", [1, 1, 2, 2], [1, 2, 3, 4]);

  it("convolves without padding", () => {
    // out[0, 0] = 1*1 + 2*2 + 3*4 + 4*5, and so on.
    const y = run1("conv2d", { stride: [1, 1], padding: [0, 0, 0, 0], dilation: [1, 1] }, nine, w);
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect([...y.data]).toEqual([37, 47, 67, 77]);
  });

  it("reads padding as zeros and skips by the stride", () => {
    // Windows start at rows/cols -1 and 1: the top-left one sees only x[0, 0] under w[1, 1].
    const y = run1("conv2d", { stride: [2, 2], padding: [1, 1, 1, 1], dilation: [1, 1] }, nine, w);
    expect([...y.data]).toEqual([4 * 1, 3 * 2 + 4 * 3, 2 * 4 + 4 * 7, 77]);
  });

  it("routes max-pool gradients to each window's first maximum", () => {
    const x = tensor("f32", [1, 1, 3, 3], [1, 5, 2, 4, 3, 6, 7, 0, 8]);
    const ct = tensor("f32", [1, 1, 2, 2], [1, 10, 100, 1000]);
    const p = { window: [2, 2], stride: [1, 1], padding: [0, 0, 0, 0] };
    const { graph } = build([f32(1, 1, 3, 3), f32(1, 1, 2, 2)], (e, a, c) => [
      e("max_pool", p, a!),
      e("max_pool_grad", p, a!, c!),
      e("max_pool_pick", p, a!, a!),
    ]);
    const [y, g, picked] = interpret(graph, [x, ct]);
    expect([...y!.data]).toEqual([5, 6, 7, 8]);
    expect([...g!.data]).toEqual([0, 1, 0, 0, 0, 10, 100, 0, 1000]);
    expect([...picked!.data]).toEqual([5, 6, 7, 8]);
    // On a tie the first tap (row-major) wins.
    const flat = tensor("f32", [1, 1, 2, 2], [3, 3, 3, 3]);
    const one = build([f32(1, 1, 2, 2), f32(1, 1, 1, 1)], (e, a, c) =>
      e("max_pool_grad", { ...p, stride: [2, 2] }, a!, c!),
    );
    expect([...interpret(one.graph, [flat, tensor("f32", [1, 1, 1, 1], [1])])[0]!.data]).toEqual([
      1, 0, 0, 0,
    ]);
  });

  it("averages over the whole window, padding included", () => {
    const p = { window: [2, 2], stride: [2, 2], padding: [0, 1, 0, 1] };
    const { graph } = build([f32(1, 1, 3, 3)], (e, a) => e("avg_pool", p, a!));
    expect([...interpret(graph, [nine])[0]!.data]).toEqual([3, 9 / 4, 15 / 4, 9 / 4]);
  });
});

function check(src: string) {
  return elaborate("main.dlg", {
    readFile: (p: string) => (p === "main.dlg" ? src : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  });
}

describe("std's conv2d, maxpool and avgpool", () => {
  it("give the output sizes their signatures promise", () => {
    const r = check(`dim B
model m {
  input x: [B, 3, 32, 30]
  output a = conv2d(x, 8, kernel: 3, stride: 2, padding: 1)
  output b = conv2d(x, 4, kernel: 3, dilation: 2)
  output c = maxpool(x, 3, stride: 2, padding: 1)
  output d = avgpool(x, 2)
  output e = conv(x, ones([5, 3, 2, 4]), stride: [1, 2], padding: [0, 1, 2, 3])
}`);
    expect(r.diagnostics).toEqual([]);
    const m = r.models.get("m")!;
    expect(m.outputs.map((o) => shapeToString(o.var.type.shape))).toEqual([
      "[B, 8, 16, 15]",
      "[B, 4, 28, 26]",
      "[B, 3, 16, 15]",
      "[B, 3, 16, 15]",
      // H: (32 + 1 - 1 - 1) div 1 + 1 = 32; W: (30 + 5 - 3 - 1) div 2 + 1 = 16.
      "[B, 5, 32, 16]",
    ]);
    // Filters [out, in, k, k] He-normal, a bias per filter.
    expect(m.params.map((p) => `${p.path} ${shapeToString(p.var.type.shape)}`)).toEqual([
      "conv2d_1.w [8, 3, 3, 3]",
      "conv2d_1.b [8]",
      "conv2d_2.w [4, 3, 3, 3]",
      "conv2d_2.b [4]",
    ]);
  });

  it("reports channel mismatches and bad settings at the call", () => {
    const r = check(`dim B
model m {
  input x: [B, 3, 8, 8]
  input w: [4, 2, 3, 3]
  output a = conv(x, w)
  output b = conv2d(x, 4, kernel: 3, stride: 0)
  output c = x |> maxpool(2, padding: 2)
}`);
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      "E3010 conv2d: the input has 3 channels but the filters expect 2",
      "E3031 stride must be two integers >= 1, got [0, 0]",
      "E3031 pooling padding must be smaller than the window (2x2), got [2, 2, 2, 2]",
    ]);
  });
});

describe("lowering", () => {
  it("compiles a convolution to an im2col kernel feeding the matmul kernel", () => {
    const { graph } = build([f32("B", 2, 6, 6), f32(4, 2, 3, 3)], (e, x, w) =>
      e("conv2d", { stride: [1, 1], padding: [1, 1, 1, 1], dilation: [1, 1] }, x!, w!),
    );
    const kinds = lowerGraph(graph).kernels.map((k) => kernelToString(k).split(" ")[2]);
    expect(kinds).toEqual(["map", "matmul"]);
  });

  it("compiles the LeNet sample", () => {
    const r = compile("samples/lenet.dlg");
    expect(r.diagnostics).toEqual([]);
    expect(r.js).toContain("function");
  });
});
