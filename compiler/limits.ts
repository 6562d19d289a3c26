// How large a compiled program's tensors may be. A program past these is
// refused at compile time (E3015, E3016) or, when its sizes depend on
// run-time dims, when the dims are bound; so nothing ever tries to allocate
// a typed array the engine cannot make, or one that would exhaust memory.

export interface SizeLimits {
  /** Bytes of any one tensor: an input, a parameter, its optimizer state, an intermediate. */
  maxTensorBytes: number;
  /** Bytes of all parameters together. */
  maxParamBytes: number;
}

const GiB = 2 ** 30;

/** 4 GiB is Node's largest Buffer; parameters are double-buffered, so 8 GiB of them take 16 GiB of memory. */
export const defaultLimits: SizeLimits = { maxTensorBytes: 4 * GiB, maxParamBytes: 8 * GiB };
