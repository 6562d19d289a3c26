// How long the language server takes to re-check a file after an edit:
//   npx tsx bench/lsp.ts [--kind light|heavy] [--blocks 36] [--iters 40] [--warmup 10]
// (npm run bench:lsp). The file is generated: dims and consts, BLOCKS
// residual blocks, and a model that chains them all with a loss and a train
// block: about 300 lines at the default 36. `light` blocks are the samples'
// MLP layers (dense, relu, a skip connection); `heavy` ones a transformer
// layer (layer_norm, multi_head_attention, a dense MLP), so a keystroke
// re-elaborates std's attention 36 times. The workspace is the server's own
// (lsp/workspace.ts), so one re-check is what a keystroke costs once the
// debounce has passed: parse the edited file (std and unchanged files come
// from the AnalysisCache), elaborate every block call, resolve names,
// convert and publish the diagnostics. Each edit changes a literal in the
// model, alternating two texts so every re-check sees new text. It prints
// the median and min over ITERS re-checks after WARMUP untimed ones, in ms,
// of wall time and of the process's CPU time (on a busy machine the wall
// time also counts the turns of other processes). Nothing is asserted; the
// issue asks for "well under 50 ms" on a 300-line file, and the time is
// nearly all elaboration (a --cpu-prof shows the LSP's own work below 1%).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { Workspace } from "../lsp/workspace.ts";
import { program } from "./residual-program.ts";

const { values } = parseArgs({
  options: {
    kind: { type: "string", default: "light" },
    blocks: { type: "string", default: "36" },
    iters: { type: "string", default: "40" },
    warmup: { type: "string", default: "10" },
  },
});
const kind = values.kind === "heavy" ? "heavy" : "light";
const blocks = Number(values.blocks);
const iters = Number(values.iters);
const warmup = Number(values.warmup);

const dir = mkdtempSync(join(tmpdir(), "dlg-bench-lsp-"));
const path = join(dir, "deep.dlg");
const uri = pathToFileURL(path).href;
const texts = [program(kind, blocks, "0.1"), program(kind, blocks, "0.2")];
writeFileSync(path, texts[0]!);

let errors = 0;
const ws = new Workspace({
  publish: (_uri, ds) => {
    errors = ds.length;
  },
  log: (m) => process.stderr.write(m + "\n"),
});

const times: number[] = [];
/** CPU ms of this process per re-check: on a shared machine, wall time also counts others' turns. */
const cpuTimes: number[] = [];
let parses = 0;
for (let i = 0; i < warmup + iters; i++) {
  const text = texts[i % 2]!;
  const before = ws.cache.parses;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  ws.update(path, uri, text, true); // what the debounce timer runs
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (i >= warmup) {
    times.push(ms);
    cpuTimes.push((cpu.user + cpu.system) / 1000);
    parses += ws.cache.parses - before;
  }
}
rmSync(dir, { recursive: true, force: true });

if (errors > 0) throw new Error(`the generated program has ${errors} diagnostics`);
const lines = texts[0]!.split("\n").length - 1;
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `re-check after an edit, ${lines}-line file (${blocks} ${kind} blocks + a model), ${iters} runs after ${warmup} warm-up:`,
);
console.log(
  `  wall: median ${median(times).toFixed(2)} ms, min ${Math.min(...times).toFixed(2)} ms; ` +
    `CPU: median ${median(cpuTimes).toFixed(2)} ms, min ${Math.min(...cpuTimes).toFixed(2)} ms`,
);
// Only the edited file is parsed again (std comes from the cache); the load says how busy the machine was.
console.log(
  `  ${(parses / iters).toFixed(1)} parses per re-check; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
);
