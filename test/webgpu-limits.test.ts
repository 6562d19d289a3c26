// WebGPU's default device limits hold at compile time: models whose naive
// fusion would exceed one compile to kernels that fit and run on a default
// Dawn device (the one `requestDevice()` gives) with the JS backend's
// results. Statically, every kernel of every sample declares at most 256
// invocations per workgroup and 16 KiB of workgroup memory, binds at most
// 8 storage buffers, and dispatches at most 65535 workgroups per dimension.

import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { backends, compile, nodeHost, type Host } from "../cli/node-host.ts";
import { loadModule } from "../cli/module.ts";
import { lowerEntry } from "../compiler/emit.ts";
import { kernelToWgsl } from "../compiler/codegen-wgsl.ts";
import type { Kernel } from "../compiler/kernel.ts";
import { evalSize } from "../runtime/sizes.ts";
import { testGpu } from "./webgpu-env.ts";

const gpu = await testGpu();

/** A host with one in-memory file, `m.dlg`; std comes from disk. */
const memory = (src: string): Host => ({
  readFile: (p) => (p === "m.dlg" ? src : nodeHost.readFile(p)),
});

/** Run `src`'s predict on JS and on WebGPU with the same inputs; return both outputs. */
async function bothBackends(src: string, inputs: Record<string, Float32Array>) {
  const out: Record<string, Float32Array>[] = [];
  for (const target of ["js", "webgpu"] as const) {
    const r = compile("m.dlg", { host: memory(src), target });
    expect(r.diagnostics).toEqual([]);
    const m = await (await loadModule(r.js!)).createModel({ seed: 1, gpu: gpu! } as never);
    out.push((await m.predict(inputs)) as Record<string, Float32Array>);
    m.dispose();
  }
  return out as [Record<string, Float32Array>, Record<string, Float32Array>];
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let w = 0;
  for (let i = 0; i < a.length; i++)
    w = Math.max(w, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return w;
}

const fill = (n: number, f: (i: number) => number) =>
  Float32Array.from({ length: n }, (_, i) => f(i));

/** Every non-scan kernel of every entry of a compiled sample, printed as WGSL. */
function sampleKernels(file: string) {
  const r = compile(file, { target: "webgpu" });
  const p = r.program!;
  return p.entries.flatMap((e) => {
    const { kernels } = lowerEntry(e.graph, backends.webgpu.lower);
    const flat = (ks: readonly Kernel[], path: string): { k: Kernel; path: string }[] =>
      ks.flatMap((k, i) =>
        k.kind === "scan" ? flat(k.body, `${path}_${i}`) : [{ k, path: `${path}_${i}` }],
      );
    return flat(kernels.kernels, e.name).map(({ k, path }) => ({
      k,
      gpu: kernelToWgsl(k, {
        dims: p.dims,
        path,
        used: new Set(),
        buffers: kernels.buffers,
        sources: kernels.sources,
        numericsTable: null,
      }),
    }));
  });
}

const samples = [
  "mlp",
  "linreg",
  "lenet",
  "lstm_adding",
  "reverse_attention",
  "composed",
  "bigru",
  "sort",
  "vgg_bn",
  "autoencoder",
];

describe("WebGPU default limits, statically", () => {
  for (const s of samples)
    it(`${s}: workgroup size, workgroup memory, bindings and grid fit a default device`, () => {
      const dims = { B: 128, T: 64, rows: 28, F: 8 };
      const r = compile(`samples/${s}.dlg`);
      const D = r.program!.dims.map((d) => dims[d as keyof typeof dims] ?? 16);
      for (const { gpu: g } of sampleKernels(`samples/${s}.dlg`)) {
        const wg = /@workgroup_size\(([^)]*)\)/
          .exec(g.wgsl)![1]!
          .split(",")
          .map((x) => Number(x.trim()));
        expect(
          wg.reduce((a, b) => a * b, 1),
          g.name,
        ).toBeLessThanOrEqual(256);
        let shared = 0;
        for (const m of g.wgsl.matchAll(
          /var<workgroup>\s+\w+\s*:\s*array<(\w+(?:<\w+>)?),\s*(\d+)>/g,
        ))
          shared += (m[1]!.startsWith("vec4") ? 16 : 4) * Number(m[2]);
        expect(shared, g.name).toBeLessThanOrEqual(16384);
        expect(g.bindings.length, g.name).toBeLessThanOrEqual(8);
        for (const n of g.grid) expect(evalSize(n, D), g.name).toBeLessThanOrEqual(65535);
      }
    });
});

describe.skipIf(gpu === null)("WebGPU default limits, run on a default device", () => {
  it("a concat of ten inputs (one fused kernel would bind 11 buffers) is split and agrees with JS", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `x${i}`);
    const src = `dim B\nmodel m {\n${names.map((n) => `  input ${n}: [B, 3]`).join("\n")}\n  output y = concat([${names.join(", ")}], axis: -1) * 2.0\n}\n`;
    const inputs = Object.fromEntries(names.map((n, k) => [n, fill(12, (i) => i + k)]));
    const [js, gpuOut] = await bothBackends(src, inputs);
    expect(maxRel(gpuOut.y!, js.y!)).toBe(0);
  });

  it("a reduction with more than 65535 outputs (one workgroup each) spreads over a 2-D grid", async () => {
    const src = "dim B\nmodel m {\n  input x: [B, 4]\n  output y = sum(x * x, axis: -1)\n}\n";
    const n = 70_000;
    const [js, gpuOut] = await bothBackends(src, { x: fill(4 * n, (i) => (i % 7) - 3) });
    expect(gpuOut.y!.length).toBe(n);
    expect(maxRel(gpuOut.y!, js.y!)).toBe(0);
  });

  it("a map over more than 65535 * 256 elements spreads over a 2-D grid", async () => {
    const src = "dim B\nmodel m {\n  input x: [B, 4096]\n  output y = x * 3.0 + 1.0\n}\n";
    const n = 4100 * 4096; // 16.8M elements: 65,600 workgroups of 256
    const [js, gpuOut] = await bothBackends(src, { x: fill(n, (i) => (i % 1000) / 7) });
    expect(maxRel(gpuOut.y!, js.y!)).toBe(0);
  }, 60_000);

  it("a reduction over a long axis stays inside 16 KiB of workgroup memory", async () => {
    const src = "dim B\nmodel m {\n  input x: [B, 100000]\n  output y = max(x, axis: -1)\n}\n";
    const [js, gpuOut] = await bothBackends(src, { x: fill(3 * 100000, (i) => Math.sin(i)) });
    expect(maxRel(gpuOut.y!, js.y!)).toBe(0);
  });
});

it("checks every sample", () => {
  const all = readdirSync("samples").filter((f) => f.endsWith(".dlg"));
  expect([...samples].sort()).toEqual(all.map((f) => f.slice(0, -4)).sort());
});
