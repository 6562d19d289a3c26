// Compiling a model pastes in a runtime bundled ahead of time
// (scripts/build-runtime.ts -> compiler/backends/runtime.generated.ts), so
// the compiler needs no bundler. This fails while that file is stale: run
// `npm run build:runtime` after changing runtime/.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { generatedFile, runtimeModuleText } from "../scripts/build-runtime.ts";

describe("the bundled runtime", () => {
  it("is current with runtime/ (npm run build:runtime)", () => {
    expect(readFileSync(generatedFile, "utf8") === runtimeModuleText()).toBe(true);
  });

  it("defines __dlg with no imports or exports left", async () => {
    const { jsRuntime, webgpuRuntime, wasmRuntime } =
      await import("../compiler/backends/runtime.generated.ts");
    // (The wasm runtime's one import is dynamic: import(`node:${name}`), for worker_threads.)
    for (const code of [jsRuntime, webgpuRuntime, wasmRuntime]) {
      expect(code.startsWith("const __dlg = ")).toBe(true);
      expect(code).not.toMatch(/^\s*(import|export)\s/m);
    }
  });
});
