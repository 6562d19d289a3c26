// What reusing an import's elaboration saves (compiler/elaborate/reuse.ts):
//   npx tsx bench/import-reuse.ts
// main.dlg, a small model calling one block, imports lib.dlg: bench/lsp.ts's
// heavy text (bench/residual-program.ts: 36 transformer-layer blocks, a
// model chaining them and its train block, ~300 lines). Each analyze follows
// an edit inside main's model (two texts alternating), with one
// AnalysisCache; "without reuse" empties its runs before each call (parses
// stay cached), so lib's model is elaborated again.
// Prints the CPU time of the process per analyze (min and median of 30 after
// 10 warm-up), two passes each. Nothing is asserted.
import { readFileSync } from "node:fs";
import { analyze } from "../compiler/compile.ts";
import { stdPath } from "../compiler/elaborate.ts";
import { AnalysisCache } from "../compiler/symbols/cache.ts";
import { program } from "./residual-program.ts";
const stdText = readFileSync(stdPath("prelude.dlg"), "utf8");
const lib = program("heavy", 36, "0.1");
const main = (r: string) =>
  `import "lib.dlg"\nmodel small {\n  input x: [B, T, 32]\n  output y = x |> res0 |> dropout(${r}) |> dense(4)\n}\n`;
const mains = [main("0.1"), main("0.2")];
function bench(reuse: boolean): void {
  const cache = new AnalysisCache();
  const cpu: number[] = [];
  let ndiag = 0;
  for (let i = 0; i < 40; i++) {
    const files: Record<string, string> = { "lib.dlg": lib, "main.dlg": mains[i % 2]! };
    const host = { readFile: (p: string) => files[p], readStd: () => stdText };
    if (!reuse) cache.runs.clear();
    const c0 = process.cpuUsage();
    const a = analyze("main.dlg", { host, cache });
    const c = process.cpuUsage(c0);
    ndiag = a.diagnostics.length;
    if (i >= 10) cpu.push((c.user + c.system) / 1000);
  }
  const sorted = cpu.slice().sort((a, b) => a - b);
  console.log(
    `${reuse ? "with reuse   " : "without reuse"}: CPU min ${sorted[0]!.toFixed(1)} ms, median ${sorted[15]!.toFixed(1)} ms over 30 (after 10 warm-up); ${ndiag} diagnostics; elaborations ${cache.elaborations} reused ${cache.reused}`,
  );
}
console.log(`lib.dlg ${lib.split("\n").length} lines`);
bench(false);
bench(true);
bench(false);
bench(true);
