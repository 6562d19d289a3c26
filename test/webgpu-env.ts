// A GPU for tests in Node (Dawn; SwiftShader on a machine without one).
// Under CI=true a missing adapter fails the test file, never skips it;
// elsewhere the tests that need it skip, and the reason is printed.
//
//   const gpu = await testGpu();
//   describe.skipIf(gpu === null)("...", () => { ... acquireDevice({ gpu: gpu! }) ... });

import { probeNodeGpu } from "../cli/webgpu-node.ts";

let probed: Promise<GPU | null> | undefined;

export function testGpu(): Promise<GPU | null> {
  probed ??= probeNodeGpu().then((p) => {
    if (p.gpu) return p.gpu;
    if (process.env.CI === "true") throw new Error(`CI=true and ${p.reason}`);
    console.warn(`skipping WebGPU tests: ${p.reason}`);
    return null;
  });
  return probed;
}
