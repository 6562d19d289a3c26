// Helpers the generated kernels call. Kept tiny: everything per element is
// inlined by codegen; these exist so hot loops never allocate.

let scratch = new Float64Array(1024);

/**
 * A float64 work row of at least `n` elements (matmul accumulates a row of
 * C here before its epilogue). Shared by all kernels: kernels run one at a
 * time and no kernel holds it across a call.
 */
export function scratchF64(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  return scratch;
}
