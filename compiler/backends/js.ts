// The JS backend: kernels as plain functions over typed arrays
// (codegen-js.ts), run one after another by runtime/execute.ts. One thread
// runs every kernel, so scatters add in place (serial) and no binding
// limits apply.

import { eachKernel, type Backend } from "../backend.ts";
import { jsHelpers, kernelToJs } from "../codegen-js.ts";
import { kernelName } from "../kernel.ts";
import { jsRuntime } from "./runtime.generated.ts";

export const jsBackend: Backend = {
  target: "js",
  lower: { fuse: true, scatter: "serial", maxStorageBuffers: Infinity },
  numerics: true,
  limits: { dims: Infinity, scans: Infinity, buffers: Infinity },
  printer: eachKernel((k, ctx) => ({
    decl: kernelToJs(k, ctx.dims, ctx.path, ctx.used, ctx.numericsTable, ctx.sources),
    expr: kernelName(ctx.path, k, ctx.sources),
  })),
  show: () => "",
  runtime: {
    code: jsRuntime,
    imports: jsHelpers,
  },
  exports: [
    "export async function createModel(opts) {\n  return __dlg.createModel(plan, opts);\n}",
    "export function createModelSync(opts) {\n  return __dlg.createModelSync(plan, opts);\n}",
  ].join("\n\n"),
};
