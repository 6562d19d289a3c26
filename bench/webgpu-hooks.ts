// Watching an engine's WebGPU calls from outside: every engine's objects come
// from the same Dawn instance, so their methods live on the shared prototypes
// (GPUDevice.prototype, GPUComputePassEncoder.prototype, …).

type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Call `hook(self, args, result)` after every call of `proto[name]` (the
 * original runs first and its result is returned unchanged) until the
 * returned function puts the original back.
 */
export function observe(
  proto: object,
  name: string,
  hook: (self: object, args: unknown[], result: unknown) => void,
): () => void {
  const target = proto as Record<string, Method>;
  const original = target[name]!;
  target[name] = function (this: unknown, ...args: unknown[]) {
    const result = original.apply(this, args);
    hook(this as object, args, result);
    return result;
  };
  return () => {
    target[name] = original;
  };
}
