// Running `dlg` in a child process of its own (the CLI tests meet it as a
// user does; resume and determinism tests compare separate processes), and a
// small dropout model with its CSV.

import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `dlg ARGS` in a child process of its own; CI=true, so one line per epoch instead of a live bar. */
export function dlgProcess(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["bin/dlg.js", ...args],
      {
        encoding: "utf8",
        env: { ...process.env, CI: "true", DLG_DEBUG: "" },
        timeout: 120_000,
        // `dlg dump --stage kernels` of samples/mlp.dlg prints 1.2 MB; past maxBuffer the child is killed.
        maxBuffer: 64 * 2 ** 20,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A dropout classifier and a CSV for it, written to the temp dir. */
export function dropoutModel(dir: string): string {
  const dlg = join(dir, "drop.dlg");
  writeFileSync(
    dlg,
    `dim B
model drop {
  input x: [B, 3]
  input y: int[B]
  logits = x |> dense(8) |> relu |> dropout(0.3) |> dense(2)
  loss cross_entropy(logits, y)
}
train t for drop { optimizer adam(lr: 0.01)  batch 8  epochs 3 }
`,
  );
  const rows = ["x1,x2,x3,y"];
  for (let i = 0; i < 100; i++) {
    const [a, b, c] = [Math.sin(i * 1.3), Math.cos(i * 0.7), Math.sin(i * 0.11 + 1)];
    rows.push(`${a.toFixed(4)},${b.toFixed(4)},${c.toFixed(4)},${a + b * c > 0 ? 1 : 0}`);
  }
  writeFileSync(join(dir, "drop.csv"), rows.join("\n") + "\n");
  return dlg;
}
