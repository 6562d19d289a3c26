// Generates samples/linreg.csv, the data for samples/linreg.dlg. Run once:
//   npx tsx samples/make-linreg-csv.ts
// It is deterministic (fixed seed), so rerunning reproduces the committed file.
//
// The data is designed so all three train blocks of linreg.dlg converge to
// the least-squares solution within 1e-3 per coefficient (test/train.test.ts):
//
// - Features are independent and uniform on [-3*sqrt(3), 3*sqrt(3)]: mean 0,
//   standard deviation 3. The Hessian of mse = mean((x.theta - y)^2) is
//   2 * X'X / n, about 2 * 9 * I = 18 * I. Gradient descent with lr 0.01
//   shrinks the error by |1 - 0.01 * 18| = 0.82 per step, i.e. by 0.82^200,
//   about 1e-17, over `batch full` x 200 epochs; the spread of the sample
//   eigenvalues (a few percent for 360 rows) changes that only slightly.
//   Stability needs lr * 18 < 2, far from the edge.
// - Bounded (uniform, not Gaussian) features keep every single-example SGD
//   step stable: |x|^2 <= 3 * 27 = 81, so lr * 2 * |x|^2 <= 1.62 < 2.
// - The noise is small (std 3e-4), so the data is not an exact fit yet SGD
//   can still land near the optimum: with a constant step, single-example
//   SGD does not settle but wanders around the optimum with a spread of
//   about sqrt(lr) * noise = 3e-5 per coefficient (measured over 40 shuffle
//   seeds: at most 1e-4), an order of magnitude inside the tolerance.
//   Mini-batches of 32 average that wander down further.

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { prng } from "../cli/train.ts";

const rows = 500;
const theta = [2, -3, 0.5];
const half = 3 * Math.sqrt(3);
const noise = 3e-4;

const rand = prng(20240601);
/** Standard normal by Box-Muller. */
function gauss(): number {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

const lines = ["x1,x2,x3,y"];
for (let r = 0; r < rows; r++) {
  const x = theta.map(() => (2 * rand() - 1) * half);
  const y = x.reduce((s, xi, i) => s + xi * theta[i]!, 0) + noise * gauss();
  lines.push([...x.map((v) => v.toFixed(6)), y.toFixed(6)].join(","));
}
const out = fileURLToPath(new URL("./linreg.csv", import.meta.url));
writeFileSync(out, lines.join("\n") + "\n");
console.log(`wrote ${out}: ${rows} rows`);
