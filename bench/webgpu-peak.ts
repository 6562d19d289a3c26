// The FP32 peak the bench's figures sit beside: a large matmul measured on
// the adapter with each peer (dlg runs whole models only), and the CPU's
// theoretical peak read from /proc/cpuinfo (SwiftShader runs on the CPU).

import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import type * as Jax from "@jax-js/jax";
import type { Tf } from "./tfjs.ts";
import type { JaxJs } from "./webgpu-setup.ts";

async function gflops(n: number, reps: number, run: () => Promise<void>): Promise<number> {
  await run(); // builds the pipeline
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) await run();
  const s = (performance.now() - t0) / 1000 / reps;
  return (2 * n ** 3) / s / 1e9;
}

function square(n: number): Float32Array {
  return Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
}

/** GFLOP/s of an n x n by n x n matmul (read back) in jax-js and TF.js on WebGPU. */
export async function matmulGflops(
  jax: JaxJs,
  tf: Tf,
  n: number,
  reps: number,
): Promise<{ jax: number; tfjs: number }> {
  const np = jax.numpy;
  const a = np.array(square(n)).reshape([n, n]);
  const mm = jax.jit((x: Jax.Array) => np.matmul(x.ref, x));
  const jaxRate = await gflops(n, reps, async () => {
    await mm(a.ref).data();
  });
  a.dispose();
  mm.dispose();
  const t = tf.tensor2d(square(n), [n, n]);
  const tfRate = await gflops(n, reps, async () => {
    const c = tf.matMul(t, t);
    await c.data();
    c.dispose();
  });
  t.dispose();
  return { jax: jaxRate, tfjs: tfRate };
}

/**
 * cores x FP32 SIMD lanes x 2 (an FMA is two flops) x one FMA per cycle x
 * the clock /proc/cpuinfo reports; null where it reports no clock. One FMA
 * issue per cycle of the widest vector is an assumption (Zen 4 issues two
 * 256-bit FMAs, the same count; some Intel cores issue two 512-bit ones).
 */
export function cpuPeak(): { gflops: number; formula: string } | null {
  let info: string;
  try {
    info = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return null;
  }
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(info)?.[1]);
  if (!Number.isFinite(mhz) || mhz <= 0) return null;
  const flags = /^flags\s*:(.*)$/m.exec(info)?.[1]?.split(/\s+/) ?? [];
  const lanes = flags.includes("avx512f") ? 16 : flags.includes("avx2") ? 8 : 4;
  const cores = cpus().length;
  const gflops = (cores * lanes * 2 * mhz) / 1000;
  return {
    gflops,
    formula: `${cores} cores x ${lanes} lanes x 2 (FMA) x 1 FMA/cycle x ${(mhz / 1000).toFixed(2)} GHz`,
  };
}
