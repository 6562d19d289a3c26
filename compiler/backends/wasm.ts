// The WASM backend: every kernel of the program one exported function of a
// single WebAssembly module (codegen-wasm.ts, codegen-wasm/module.ts) over
// one linear memory, run by runtime/wasm/ on the calling thread or split
// across workers. Kernels run in parallel over their work items, so scatters
// gather (each output element sums what lands on it: no races, a fixed
// order, the same bits on any number of threads), and no binding limits apply.

import {
  UNIFORM_DIMS,
  UNIFORM_SCANS,
  WASM_MAX_BUFFERS,
  type WasmKernel,
} from "../../runtime/program.ts";
import type { Backend } from "../backend.ts";
import { kernelToWasm } from "../codegen-wasm.ts";
import type { WasmFunction } from "../codegen-wasm/instr.ts";
import { wasmProgram } from "../codegen-wasm/module.ts";
import { functionWat } from "../codegen-wasm/wat.ts";
import { jsData } from "../mangle.ts";
import { wasmRuntime } from "./runtime.generated.ts";

export const wasmBackend: Backend = {
  target: "wasm",
  lower: { fuse: true, scatter: "gather", maxStorageBuffers: Infinity },
  numerics: false,
  limits: { dims: UNIFORM_DIMS, scans: UNIFORM_SCANS, buffers: WASM_MAX_BUFFERS },
  // A plan's kernel is data naming its export; the module, with every
  // kernel's function, is encoded once all are printed, as `const wasm`.
  printer() {
    const functions: WasmFunction[] = [];
    return {
      kernel(k, ctx) {
        const { fn, items, scratch, work } = kernelToWasm(k, ctx);
        functions.push(fn);
        const plan: WasmKernel = { name: fn.name, items, scratch, work };
        return { decl: "", expr: jsData(plan) };
      },
      finish: () => `const wasm = ${jsData(wasmProgram(functions))};`,
    };
  },
  show: (k, ctx) => functionWat(kernelToWasm(k, ctx).fn),
  runtime: { code: wasmRuntime, imports: [] },
  exports: [
    "export async function createModel(opts) {\n  return __dlg.createModel(plan, wasm, opts);\n}",
    "export function createModelSync(opts) {\n  return __dlg.createModelSync(plan, wasm, opts);\n}",
  ].join("\n\n"),
};
