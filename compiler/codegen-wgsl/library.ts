// The WGSL functions generated kernels call where WGSL's own builtins differ
// from the JS backend's semantics (and so from the interpreter's). Measured on
// SwiftShader (Dawn's CPU adapter): `x != x` and `x > 0.0` are not reliable
// NaN tests, `max`/`min` drop a NaN operand, `log(-1)` is 0 and `log(0)` is
// -88, `tanh(100)` is NaN and `tanh(1e-4)` is 1.6e-4 off; a NaN or infinite
// literal is a compile error (constant evaluation), so non-finite values are
// made by `f_bits` at run time. Every NaN test is on the bits. `log` near 1
// is 2.8e-6 off (relative) and gets a series there.
//
// Names start with `f_`, `i_` or `rng_`, which no other generated identifier
// does; `withLibrary` prepends exactly the functions a module's text calls.

interface LibFn {
  deps: string[];
  text: string;
}

const lib: Record<string, LibFn> = {
  f_bits: { deps: [], text: "fn f_bits(b: u32) -> f32 { return bitcast<f32>(b); }" },
  f_isnan: {
    deps: [],
    text: "fn f_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }",
  },
  f_isinf: {
    deps: [],
    text: "fn f_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }",
  },
  // Nonzero and not NaN: what JS's `x ? 1 : 0` tests.
  f_truthy: {
    deps: [],
    text: "fn f_truthy(x: f32) -> bool { return ((bitcast<u32>(x) & 0x7fffffffu) - 1u) < 0x7f800000u; }",
  },
  f_ord: {
    deps: ["f_isnan"],
    text: "fn f_ord(a: f32, b: f32) -> bool { return !(f_isnan(a) || f_isnan(b)); }",
  },
  f_eq: {
    deps: ["f_ord"],
    text: "fn f_eq(a: f32, b: f32) -> bool { return f_ord(a, b) && a == b; }",
  },
  f_lt: {
    deps: ["f_ord"],
    text: "fn f_lt(a: f32, b: f32) -> bool { return f_ord(a, b) && a < b; }",
  },
  f_le: {
    deps: ["f_ord"],
    text: "fn f_le(a: f32, b: f32) -> bool { return f_ord(a, b) && a <= b; }",
  },
  // Math.max / Math.min: NaN wins, and +0 is above -0 (the bits of equal values are and-ed / or-ed).
  f_max: {
    deps: ["f_isnan", "f_bits"],
    text: `fn f_max(a: f32, b: f32) -> f32 {
  if (f_isnan(a) || f_isnan(b)) { return f_bits(0x7fc00000u); }
  if (a == b) { return bitcast<f32>(bitcast<u32>(a) & bitcast<u32>(b)); }
  return select(b, a, a > b);
}`,
  },
  f_min: {
    deps: ["f_isnan", "f_bits"],
    text: `fn f_min(a: f32, b: f32) -> f32 {
  if (f_isnan(a) || f_isnan(b)) { return f_bits(0x7fc00000u); }
  if (a == b) { return bitcast<f32>(bitcast<u32>(a) | bitcast<u32>(b)); }
  return select(b, a, a < b);
}`,
  },
  f_exp: {
    deps: ["f_isnan"],
    text: "fn f_exp(x: f32) -> f32 { if (f_isnan(x)) { return x; } return exp(x); }",
  },
  f_log: {
    deps: ["f_isnan", "f_isinf", "f_bits"],
    text: `fn f_log(x: f32) -> f32 {
  if (f_isnan(x) || x < 0.0) { return f_bits(0x7fc00000u); }
  if (x == 0.0) { return f_bits(0xff800000u); }
  if (f_isinf(x)) { return x; }
  // Near 1 the builtin's absolute error (2^-21) is a large relative one: the atanh series of
  // f = (x - 1) / (x + 1), where x - 1 is exact.
  if (x > 0.7 && x < 1.4) {
    let f = (x - 1.0) / (x + 1.0);
    let z = f * f;
    return 2.0 * f * (1.0 + z * (0.3333333333 + z * (0.2 + z * (0.1428571429 + z * (0.1111111111 + z * 0.0909090909)))));
  }
  return log(x);
}`,
  },
  f_sqrt: {
    deps: ["f_isnan", "f_bits"],
    text: `fn f_sqrt(x: f32) -> f32 {
  if (f_isnan(x) || x < 0.0) { return f_bits(0x7fc00000u); }
  return sqrt(x);
}`,
  },
  // sign(±0) = 0, sign(NaN) = NaN, as in the interpreter.
  f_sign: {
    deps: ["f_isnan"],
    text: `fn f_sign(x: f32) -> f32 {
  if (f_isnan(x)) { return x; }
  return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0);
}`,
  },
  // Stable for every |x|: the odd series below 0.5 (no cancellation), (1 - e^-2|x|) / (1 + e^-2|x|) above.
  f_tanh: {
    deps: ["f_isnan"],
    text: `fn f_tanh(x: f32) -> f32 {
  if (f_isnan(x)) { return x; }
  let a = abs(x);
  if (a < 0.5) {
    let z = x * x;
    return x * (1.0 + z * (-0.3333333333 + z * (0.1333333333 + z * (-0.0539682540 + z * (0.0218694885
      + z * (-0.0088632355 + z * (0.0035921280 + z * -0.0014558344)))))));
  }
  let t = exp(-2.0 * a);
  return sign(x) * ((1.0 - t) / (1.0 + t));
}`,
  },
  f_sigmoid: {
    deps: ["f_isnan"],
    text: "fn f_sigmoid(x: f32) -> f32 { if (f_isnan(x)) { return x; } return 1.0 / (1.0 + exp(-x)); }",
  },
  // Math.pow: a negative base with an integer exponent, zeros, infinities and NaN as IEEE/JS define them.
  f_pow: {
    deps: ["f_isnan", "f_isinf", "f_bits"],
    text: `fn f_pow(a: f32, b: f32) -> f32 {
  if (f_isnan(b)) { return b; }
  if (b == 0.0) { return 1.0; }
  if (f_isnan(a)) { return a; }
  let inf = f_bits(0x7f800000u);
  let m = abs(a);
  if (f_isinf(b)) {
    if (m == 1.0) { return f_bits(0x7fc00000u); }
    return select(0.0, inf, (m > 1.0) == (b > 0.0));
  }
  let integral = floor(b) == b;
  // An infinite base is no NaN even for a fractional exponent: (-inf)^0.5 = inf.
  if (a < 0.0 && !integral && !f_isinf(a)) { return f_bits(0x7fc00000u); }
  // Floats of magnitude 2^24 and above are even integers.
  let odd = integral && abs(b) < 16777216.0 && (i32(abs(b)) & 1) == 1;
  var r: f32;
  if (m == 0.0) { r = select(0.0, inf, b < 0.0); }
  else if (f_isinf(a)) { r = select(0.0, inf, b > 0.0); }
  else { r = pow(m, b); }
  let negative = (bitcast<u32>(a) & 0x80000000u) != 0u;
  return select(r, -r, odd && negative);
}`,
  },
  // JS ToInt32 (what \`x | 0\` and an Int32Array store do): truncate, wrap modulo 2^32, NaN and infinities to 0.
  f_to_i32: {
    deps: [],
    text: `fn f_to_i32(x: f32) -> i32 {
  let e = bitcast<u32>(x) & 0x7fffffffu;
  if (e >= 0x7f800000u) { return 0; }
  if (e < 0x4f000000u) { return i32(x); }
  let r = x - 4294967296.0 * floor(x / 4294967296.0);
  return bitcast<i32>(u32(r));
}`,
  },
  // Floor division and floored remainder (the IR's div and mod; WGSL's / and % truncate).
  i_div: {
    deps: [],
    text: `fn i_div(a: i32, b: i32) -> i32 {
  let q = a / b;
  return select(q, q - 1, (a % b != 0) && ((a < 0) != (b < 0)));
}`,
  },
  i_mod: {
    deps: [],
    text: `fn i_mod(a: i32, b: i32) -> i32 {
  let r = a % b;
  return select(r, r + b, (r != 0) && ((r < 0) != (b < 0)));
}`,
  },
  // i32 division as JS's \`(a / b) | 0\`: truncating, and 0 for a zero divisor (WGSL gives a).
  i_tdiv: {
    deps: [],
    text: "fn i_tdiv(a: i32, b: i32) -> i32 { return select(a / select(b, 1, b == 0), 0, b == 0); }",
  },
  i_sign: {
    deps: [],
    text: "fn i_sign(a: i32) -> i32 { return select(select(0, -1, a < 0), 1, a > 0); }",
  },
  // runtime/rng.ts, bit for bit in u32 arithmetic.
  rng_hash: {
    deps: [],
    text: `fn rng_hash(x0: u32) -> u32 {
  var x = x0;
  x = x ^ (x >> 16u);
  x = x * 0x7feb352du;
  x = x ^ (x >> 15u);
  x = x * 0x846ca68bu;
  return x ^ (x >> 16u);
}`,
  },
  rng_uniform: {
    deps: ["rng_hash"],
    text: `fn rng_uniform(seed: i32, stream: u32, index: i32) -> f32 {
  let key = rng_hash(bitcast<u32>(seed) ^ ((stream + 1u) * 0x9e3779b9u));
  let bits = rng_hash(key + bitcast<u32>(index) * 0x85ebca6bu);
  return f32(bits >> 8u) / 16777216.0;
}`,
  },
};

const called = /\b((?:f|i|rng)_[a-z0-9_]+)\(/g;

/** `code` with the library functions it calls (and theirs) declared before it. */
export function withLibrary(code: string): string {
  const need = new Set<string>();
  const add = (name: string) => {
    const fn = lib[name];
    if (!fn || need.has(name)) return;
    fn.deps.forEach(add);
    need.add(name);
  };
  for (const m of code.matchAll(called)) add(m[1]!);
  return [...[...need].map((n) => lib[n]!.text), code].join("\n\n");
}
