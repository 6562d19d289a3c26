// Counter-based random numbers: every value is a pure function of
// (seed, stream, index), so JS, WGSL and the float64 interpreter draw the same
// bits in any order and in parallel. Only 32-bit integer multiply, xor and
// shifts are used, which WGSL's u32 arithmetic reproduces exactly.

/** A 32-bit integer finaliser (lowbias32): full avalanche, cheap on GPUs. */
export function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * 32 random bits for element `index` of stream `stream` under `seed`: the
 * hash of a Weyl sequence started at a hashed key. (Xoring the key back in
 * after the add would cancel it at index 0, and every stream's first draw
 * would be hash32(0) = 0.)
 */
export function randomBits(seed: number, stream: number, index: number): number {
  const key = hash32((seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0);
  return hash32((key + Math.imul(index, 0x85ebca6b)) >>> 0);
}

/** Uniform in [0, 1) with 24 bits of precision (exact in float32). */
export function randomUniform(seed: number, stream: number, index: number): number {
  return (randomBits(seed, stream, index) >>> 8) / 16777216;
}
