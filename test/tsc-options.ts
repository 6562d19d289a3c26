// The compiler options a user's strict tsc run has, for tests that
// type-check a caller of an emitted module's .d.ts with the TypeScript API.

import ts from "typescript";

export const strictCallerOptions: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  types: [],
  lib: ["lib.es2022.d.ts"],
};
