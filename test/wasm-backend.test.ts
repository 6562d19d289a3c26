// The backend seam's module-wide printer and the WASM backend's module:
// kernel() for every kernel of every entry, then finish() once, whose
// declarations land before the plan; the WASM module holds one binary with
// every kernel as an export the plan names; its dump and .d.ts.

import { describe, expect, it } from "vitest";
import { compile, dump, emitProgram } from "../cli/node-host.ts";
import type { Backend, KernelPrinter } from "../compiler/backend.ts";
import { jsBackend } from "../compiler/backends/js.ts";
import { entryModuleText, lowerEntry } from "../compiler/emit.ts";
import type { WasmKernel, WasmProgram } from "../runtime/program.ts";

/** The JS backend, its printer recording the order of calls and finishing with a marker. */
function recording(): { backend: Backend; calls: string[] } {
  const calls: string[] = [];
  const backend: Backend = {
    ...jsBackend,
    printer(): KernelPrinter {
      const inner = jsBackend.printer();
      return {
        kernel(k, ctx) {
          calls.push(ctx.path);
          return inner.kernel(k, ctx);
        },
        finish() {
          calls.push("finish");
          return "const finished = true;";
        },
      };
    },
  };
  return { backend, calls };
}

const between = (js: string, start: string, end: string) =>
  js.slice(js.indexOf(start), js.indexOf(end, js.indexOf(start)) + end.length);

describe("the module-wide kernel printer", () => {
  const program = compile("samples/mlp.dlg").program!;

  it("prints every entry's kernels with one printer, then finishes once before the plan", () => {
    const { backend, calls } = recording();
    const { js, lowered } = emitProgram(program, backend, { modelName: "mlp" });
    const kernels = lowered.reduce((n, l) => n + l.kernels.kernels.length, 0);
    expect(calls.length).toBe(kernels + 1);
    expect(calls.at(-1)).toBe("finish");
    expect(calls.filter((c) => c === "finish")).toHaveLength(1);
    expect(js.indexOf("const finished = true;")).toBeGreaterThan(js.indexOf("function e3_0"));
    expect(js.indexOf("const finished = true;")).toBeLessThan(js.indexOf("const plan = {"));
  });

  it("finishes a single entry's own printer, not one shared with other entries", () => {
    const entry = program.entries.find((e) => e.name === "predict")!;
    const lowered = lowerEntry(entry.graph, jsBackend.lower);
    const alone = recording();
    const own = entryModuleText(alone.backend, lowered, program.dims, "k", entry);
    expect(alone.calls.at(-1)).toBe("finish");
    expect(own.decls.endsWith("const finished = true;")).toBe(true);
    const shared = recording();
    const printer = shared.backend.printer();
    const text = entryModuleText(shared.backend, lowered, program.dims, "k", entry, { printer });
    expect(shared.calls).not.toContain("finish");
    expect(text.decls).not.toContain("const finished");
    expect(text.plan).toBe(own.plan);
  });
});

describe("the wasm target", () => {
  const r = compile("samples/linreg.dlg", { target: "wasm" });
  const js = r.js!;
  const wasmLine = js.split("\n").find((l) => l.startsWith("const wasm = "))!;
  const wasm = new Function(`${wasmLine}\nreturn wasm;`)() as WasmProgram;
  const plan = new Function(`${between(js, "const plan = {", "\n};")}\nreturn plan;`)() as {
    entries: Record<string, { kernels: WasmKernel[] }>;
  };
  const kernels = Object.values(plan.entries).flatMap((e) => e.kernels);

  it("declares the module once, after the runtime and before the plan", () => {
    expect(r.diagnostics).toEqual([]);
    expect(js.split("const wasm = ")).toHaveLength(2);
    expect(js.indexOf(wasmLine)).toBeLessThan(js.indexOf("const plan = {"));
    expect(js).toContain("return __dlg.createModel(plan, wasm, opts);");
    expect(js).toContain("return __dlg.createModelSync(plan, wasm, opts);");
    expect(js).not.toMatch(/^import /m);
  });

  it("lists kernels as data naming exports of one binary, a plain-SIMD one last", () => {
    expect(kernels.length).toBeGreaterThan(3);
    const names = kernels.map((k) => k.name);
    expect(new Set(names).size).toBe(names.length);
    for (const k of kernels) {
      expect(Object.keys(k).sort()).toEqual(["items", "name", "scratch", "work"]);
      expect(k.scratch % 1).toBe(0);
    }
    expect(wasm.maxPages).toBe(65535);
    expect(wasm.binaries.at(-1)!.relaxed).toBe(false);
    for (const b of wasm.binaries) {
      const bytes = Buffer.from(b.base64, "base64");
      expect([...bytes.subarray(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]);
      expect(bytes[b.memoryFlagAt]).toBe(0x03);
      for (const name of names) expect(bytes.includes(Buffer.from(name)), name).toBe(true);
    }
    const plain = Buffer.from(wasm.binaries.at(-1)!.base64, "base64");
    const exported = WebAssembly.Module.exports(new WebAssembly.Module(plain));
    expect(exported.map((e) => e.name)).toEqual(names);
  });

  it("dumps each kernel's WAT", () => {
    const d = dump("samples/linreg.dlg", "kernels", { target: "wasm" });
    expect(d.ok).toBe(true);
    for (const k of kernels) expect(d.text).toContain(`(func $${k.name} (param i32 i32 i32)`);
  });

  it("types createModel's threads and the synchronous model in the .d.ts", () => {
    expect(r.dts).toContain("  threads?: number;");
    expect(r.dts).toContain('  readonly backend: "wasm";');
    expect(r.dts).toContain(
      "export declare function createModelSync<const Fixed extends Dims = Dims>(opts: ModelOptions<Fixed>): SyncModel<Fixed>;",
    );
    const jsDts = compile("samples/linreg.dlg", { target: "js" }).dts!;
    expect(jsDts).not.toContain("threads");
  });
});
