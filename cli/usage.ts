// What each command accepts: its flags (for node:util parseArgs) and its
// help text. Kept apart from the commands, so main.ts can answer --help and
// reject unknown flags without loading the compiler. docs/cli.md documents
// the same flags.

import type { ParseArgsConfig } from "node:util";
import type { Target } from "../compiler/backend.ts";
import type { ExportTarget } from "../compiler/exporter.ts";
import { intFlag, positiveFlag, str, type Parsed } from "./args.ts";
import { parseSplit } from "./split.ts";
import { UsageError } from "./errors.ts";

export const commandNames = [
  "check",
  "compile",
  "train",
  "predict",
  "evaluate",
  "summary",
  "dump",
  "bench",
  "lsp",
  "typegen",
  "fmt",
] as const;
export type CommandName = (typeof commandNames)[number];

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Size limits every command that compiles or checks accepts (CompileOptions.maxTensorBytes, maxParamBytes). */
const limitOptions: Options = {
  "max-tensor-bytes": { type: "string" },
  "max-param-bytes": { type: "string" },
};

/** predict and evaluate: a trained model (FILE --load CKPT) and the data to run it on. */
const trainedOptions: Options = {
  load: { type: "string" },
  model: { type: "string" },
  config: { type: "string" },
  data: { type: "string" },
  split: { type: "string" },
  limit: { type: "string" },
  backend: { type: "string" },
  threads: { type: "string" },
  ...limitOptions,
};

/** Which split predict and evaluate run on (`all`: every row of a CSV, in file order). */
export const splitNames = ["test", "val", "train", "all"] as const;
export type SplitName = (typeof splitNames)[number];

export const commandOptions: Record<CommandName, Options> = {
  check: { json: { type: "boolean" }, ...limitOptions },
  compile: {
    model: { type: "string" },
    config: { type: "string" },
    target: { type: "string" },
    out: { type: "string", short: "o" },
    load: { type: "string" },
    ...limitOptions,
  },
  train: {
    config: { type: "string" },
    model: { type: "string" },
    epochs: { type: "string" },
    seed: { type: "string" },
    data: { type: "string" },
    limit: { type: "string" },
    plot: { type: "string" },
    save: { type: "string" },
    resume: { type: "string" },
    steps: { type: "string" },
    "save-every": { type: "string" },
    log: { type: "string" },
    lr: { type: "string" },
    batch: { type: "string" },
    "log-every": { type: "string" },
    quiet: { type: "boolean" },
    split: { type: "string" },
    "check-numerics": { type: "boolean" },
    backend: { type: "string" },
    threads: { type: "string" },
    ...limitOptions,
  },
  predict: { ...trainedOptions, out: { type: "string", short: "o" } },
  evaluate: { ...trainedOptions, json: { type: "boolean" } },
  summary: { model: { type: "string" }, json: { type: "boolean" }, ...limitOptions },
  bench: {
    model: { type: "string" },
    config: { type: "string" },
    batch: { type: "string" },
    dim: { type: "string", multiple: true },
    target: { type: "string" },
    threads: { type: "string" },
    iters: { type: "string" },
    warmup: { type: "string" },
    json: { type: "boolean" },
    ...limitOptions,
  },
  typegen: {
    model: { type: "string" },
    config: { type: "string" },
    target: { type: "string" },
    out: { type: "string", short: "o" },
    "out-dir": { type: "string" },
    watch: { type: "boolean" },
    ...limitOptions,
  },
  dump: {
    stage: { type: "string" },
    explain: { type: "boolean" },
    target: { type: "string" },
    model: { type: "string" },
    config: { type: "string" },
    ...limitOptions,
  },
  lsp: { stdio: { type: "boolean" } },
  fmt: { check: { type: "boolean" } },
};

/** `--max-tensor-bytes` and `--max-param-bytes` as CompileOptions (absent flags: the defaults). */
export function sizeLimits(p: Parsed): { maxTensorBytes?: number; maxParamBytes?: number } {
  const tensor = intFlag(p, "max-tensor-bytes", 1);
  const params = intFlag(p, "max-param-bytes", 1);
  return {
    ...(tensor !== undefined && { maxTensorBytes: tensor }),
    ...(params !== undefined && { maxParamBytes: params }),
  };
}

export const backendNames: readonly Target[] = ["js", "wasm", "webgpu"];

/** What `--target` (`--backend` for train) is when not given. */
export const defaultTarget: Target = "wasm";

/** `dlg compile|dump|bench --target` or `dlg train --backend`: the backend to compile for (default `defaultTarget`). */
export function backendFlag(p: Parsed, cmd: Exclude<CommandName, "check">): Target {
  const flag = cmd === "train" || cmd === "predict" || cmd === "evaluate" ? "backend" : "target";
  // Numerics checks exist on js only, so `train --check-numerics` alone runs there.
  const v = str(p, flag) ?? (p.values["check-numerics"] === true ? "js" : defaultTarget);
  const known = backendNames.find((b) => b === v);
  if (known === undefined)
    throw new UsageError(
      `dlg ${cmd}: unknown --${flag} \`${v}\`; expected one of ${backendNames.join(", ")}`,
    );
  return known;
}

/** `--threads N` (train, bench): the wasm runtime's worker count; other targets have none. */
export function threadsFlag(p: Parsed, cmd: Exclude<CommandName, "check">): number | undefined {
  const n = intFlag(p, "threads", 1, 256);
  if (n === undefined) return n;
  const target = backendFlag(p, cmd);
  if (target !== "wasm")
    throw new UsageError(
      `dlg ${cmd}: --threads N sets the wasm runtime's workers; ${target} has none`,
    );
  return n;
}

/** predict/evaluate `--split NAME` (default test). */
export function splitFlag(p: Parsed, cmd: "predict" | "evaluate"): SplitName {
  const v = str(p, "split") ?? "test";
  const known = splitNames.find((n) => n === v);
  if (known === undefined)
    throw new UsageError(
      `dlg ${cmd}: unknown --split \`${v}\`; expected one of ${splitNames.join(", ")}`,
    );
  return known;
}

export const stages = ["ast", "ir", "grad", "kernels"] as const;
export type StageName = (typeof stages)[number];

/** compile's `--target` values that are exports (cli/export-command.ts), not module backends. */
export const exportTargets: readonly string[] = ["onnx", "pytorch"] satisfies ExportTarget[];

/** Flag values that can be judged without the compiler (so a typo fails in a blink). */
export function checkValues(cmd: CommandName, p: Parsed): void {
  sizeLimits(p);
  // compile's --target also takes the export targets (onnx, pytorch: cli/export-command.ts).
  const exporting = cmd === "compile" && exportTargets.includes(str(p, "target") ?? "");
  if (cmd !== "check" && cmd !== "summary" && !exporting) {
    backendFlag(p, cmd);
    threadsFlag(p, cmd);
  }
  if (cmd === "dump") {
    const stage = str(p, "stage");
    if (stage === undefined)
      throw new UsageError(`dlg dump: --stage is required (${stages.join(", ")})`);
    if (!(stages as readonly string[]).includes(stage)) {
      throw new UsageError(
        `dlg dump: unknown stage \`${stage}\`; expected one of ${stages.join(", ")}`,
      );
    }
    if (p.values.explain === true && stage !== "kernels")
      throw new UsageError(
        "dlg dump: --explain explains the kernels stage; use it with --stage kernels",
      );
  }
  if (cmd === "train") {
    intFlag(p, "epochs", 1);
    intFlag(p, "seed", 0, 2 ** 31 - 1);
    intFlag(p, "limit", 1);
    intFlag(p, "steps", 1);
    intFlag(p, "save-every", 1);
    intFlag(p, "batch", 1);
    intFlag(p, "log-every", 1);
    positiveFlag(p, "lr");
    const split = str(p, "split");
    if (split !== undefined) parseSplit(split);
  }
  if (cmd === "predict" || cmd === "evaluate") {
    if (str(p, "load") === undefined)
      throw new UsageError(
        `dlg ${cmd}: --load CKPT is required (a checkpoint dlg train --save wrote)`,
      );
    splitFlag(p, cmd);
    intFlag(p, "limit", 1);
  }
  if (cmd === "predict") {
    const out = str(p, "out");
    if (out !== undefined && !/\.(csv|json)$/i.test(out))
      throw new UsageError(`dlg predict: -o writes .csv or .json, got \`${out}\``);
  }
  if (cmd === "bench") {
    intFlag(p, "batch", 1);
    intFlag(p, "iters", 1);
    intFlag(p, "warmup", 0);
  }
}

export const mainHelp = `dlg — a declarative model-graph compiler

Usage: dlg <command> [options]

Commands:
  check FILE...    check .dlg files (syntax, names, shapes) and report diagnostics
  compile FILE     compile a model to a standalone ES module (+ .d.ts)
  train FILE       compile a model and train it on MNIST or a CSV file
  predict FILE     run a trained model (--load CKPT) over data; write its outputs
  evaluate FILE    a trained model's loss and metrics on a split (--load CKPT)
  summary FILE     a model's layers: output shapes, parameters, FLOPs per example
  dump FILE        print an intermediate stage (ast, ir, grad, kernels)
  bench FILE       time a model's step, predict and evaluate on synthetic data
  lsp --stdio      run the language server (diagnostics, hover, go to definition, ...)
  typegen FILE...  write each model's shape-typed .d.ts beside its .dlg (--watch)
  fmt FILE...      rewrite .dlg files in the canonical layout (--check: list what would change)

Run \`dlg <command> --help\` for a command's options.
Exit status: 0 success, 1 errors in the input, 2 bad command line, 3 a bug in dlg.
Set DLG_DEBUG=1 to see stack traces of internal errors.`;

export const commandHelp: Record<CommandName, string> = {
  fmt: `Usage: dlg fmt [--check] FILE...

Rewrite each file in the canonical layout (2-space indent, one statement per
line, long pipelines, calls and lists one item per line), keeping every
comment where it was written. A file with syntax errors gets its diagnostics
and is left as it is. \`-\` formats stdin to stdout. Exit status 1 if any
file has errors, or with --check if any would change.

Options:
  --check      change nothing; list the files that would change
  -h, --help   show this help`,

  typegen: `Usage: dlg typegen FILE... [--watch] [--target js|wasm|webgpu] [--model NAME] [--config NAME]
                   [-o OUT.d.ts | --out-dir DIR]

Write the TypeScript declarations of each file's model, the .d.ts that
\`dlg compile\` writes beside the module, without compiling the module:
FILE.dlg's goes to FILE.d.ts beside it, the declarations of FILE.js (what
\`dlg compile FILE.dlg -o FILE.js\` writes there). Inputs, outputs and
params are typed with their dtype and shape, so tsc rejects a missing or
misnamed input or a wrong typed-array kind.

Options:
  --watch         keep running: write again when a file or one of its imports
                  changes (a file with errors keeps its last good .d.ts)
  --target T      the module's target, as for compile (default ${defaultTarget})
  --model NAME, --config NAME
                  the model, as for compile
  -o, --out FILE  the .d.ts path (one FILE only)
  --out-dir DIR   write DIR/NAME.d.ts for each FILE instead
  --max-tensor-bytes N, --max-param-bytes N
                  the size limits, as for compile
  -h, --help      show this help`,

  check: `Usage: dlg check FILE... [--json]

Parse and check each file and its imports: syntax, names, dimensions and
shapes. Diagnostics go to stderr; exit status 1 if any file has errors.

Options:
  --json       also print the diagnostics as JSON on stdout
               ({ "ok": boolean, "diagnostics": [...] })
  --max-tensor-bytes N, --max-param-bytes N
               the size limits, as for compile
  -h, --help   show this help`,

  compile: `Usage: dlg compile FILE [--model NAME] [--config NAME] [--target js|wasm|webgpu] [-o OUT.js]
       dlg compile FILE --target onnx|pytorch [--model NAME] [--config NAME] [-o OUT] [--load CKPT]

Compile one model to a standalone ES module with no imports, and its
TypeScript declarations next to it (OUT.d.ts); or export it for another
engine (docs/export.md): --target onnx writes its predict graph as an ONNX
model (opset 17, for ONNX Runtime), --target pytorch a PyTorch script.

Options:
  --model NAME    the model to compile (default: the one the first train block
                  names, else the first model in the file)
  --config NAME   the train block whose optimizer step() runs (default: the
                  first one for the model)
  --target T      what the module runs on (default ${defaultTarget}): wasm
                  (WebAssembly SIMD kernels, the fastest on a CPU, on worker
                  threads where SharedArrayBuffer is available:
                  createModel({ threads })), js (JavaScript kernels, the
                  readable reference) or webgpu (WGSL kernels on a GPU: in a
                  browser, or in Node with createModel({ gpu }) from the
                  \`webgpu\` package); js and wasm modules also export
                  createModelSync, a synchronous model on one thread
  -o, --out FILE  output path (default: MODEL.js in the current directory;
                  MODEL.onnx, MODEL.py for an export)
  --load CKPT     (onnx, pytorch) the weights of a dlg checkpoint (what
                  train --save writes); default: the seeded initial ones
  --max-tensor-bytes N
                  refuse any one tensor (input, parameter, intermediate)
                  larger than N bytes (default 4294967296, 4 GiB)
  --max-param-bytes N
                  refuse parameters larger than N bytes in total (default
                  8589934592, 8 GiB)
  -h, --help      show this help`,

  train: `Usage: dlg train FILE [options]

Compile a model with its train block and train it: shuffled mini-batches,
per-epoch validation, final metrics on the test split.

Options:
  --config NAME   the train block to use (default: the first in the file)
  --model NAME    the model (default: the one the train block names)
  --epochs N      override the train block's epochs
  --seed N        override the train block's seed (initialisation, shuffling,
                  dropout)
  --data SOURCE   \`mnist\`, \`adding\` (the adding problem, generated), or a
                  PATH.csv (default: FILE's name with .csv if that file
                  exists, else mnist)
  --limit N       train on only the first N training examples (quick runs)
  --plot FILE     write loss and metric curves per epoch as an SVG
  --save FILE     write the trained parameters, optimizer state and training
                  position (safetensors; written atomically)
  --resume FILE   continue the run a --save checkpoint stopped: params,
                  optimizer state, seed and random stream, epoch and batch
                  (same data, --limit and train block; --epochs is the total)
  --steps N       stop after N steps of this run (then --resume continues)
  --save-every N  also write the --save checkpoint (and --log) every N steps,
                  so a crash loses at most N steps
  --log FILE      write each step's loss, one JSON object per line
  --lr X          override the train block's base learning rate (a schedule
                  keeps its shape around the new base)
  --batch N       override the train block's batch size
  --log-every N   without a live bar (CI, a pipe), also print a line every N
                  steps of an epoch: step, running train loss, samples/s
  --quiet         print only the final test line (and errors)
  --split T:V:S   for CSV data: the train, validation and test parts, as
                  fractions summing to 1 (0.8:0.1:0.1) or row counts
                  (300:50:150), over the rows shuffled with a fixed seed
  --check-numerics
                  stop at the first NaN or infinity any operation computes,
                  naming it and its place in the source (js backend only:
                  without --backend, it trains on js)
  --backend B     where the model runs (default ${defaultTarget}): wasm
                  (WebAssembly SIMD, on worker threads), js or webgpu (Dawn, the
                  \`webgpu\` package; without a GPU, SwiftShader from Debian's
                  chromium package runs it on the CPU)
  --threads N     worker threads of the wasm backend (default: the cores,
                  at most 4; 1 runs on the main thread only)
  --max-tensor-bytes N, --max-param-bytes N
                  the size limits, as for compile
  -h, --help      show this help

Data: MNIST uses the first 55000 training images for training, the last
5000 for validation, and the 10000 t10k images as the test split. A CSV has
a header row; columns named after an input feed it (x, or x1 x2 ... for a
multi-column input x); with no matching names, the last column feeds the
label input and the others the feature input. Rows are used in file order:
the last 20% are the test split, the last 10% of the rest validation
(unless --split). A resumed run keeps its checkpoint's --lr, --batch and
--split (and, under a cosine schedule, its --epochs); naming other values
is refused.`,

  predict: `Usage: dlg predict FILE --load CKPT [--data SOURCE] [--split test|val|train|all]
                   [-o OUT.csv|OUT.json] [--limit N] [--backend js|wasm|webgpu]

Compile the model, load the parameters a \`dlg train --save\` checkpoint holds,
and run predict() over a split of the data, in chunks of 1000 examples.
Only the inputs predict() reads are needed (a CSV without the label column
is fine). Without -o, prints a summary of each output (shape, min, mean,
max and the first example).

Options:
  --load CKPT     the checkpoint (required); one that does not fit the model
                  (names, shapes) is refused
  --model NAME, --config NAME
                  the model, as for compile
  --data SOURCE   as for train (default: FILE's .csv if it exists, else mnist)
  --split NAME    test (default), val, train, or all (every row of a CSV, in
                  file order); a CSV is split as the checkpoint's run split it
  --limit N       only the first N examples of the split
  -o, --out FILE  write the outputs: .csv (one row per example, a column per
                  output, or output_0, output_1, ... for a wider one) or .json
                  ({ "output": [per example, nested by its shape] })
  --backend B     js, wasm or webgpu (default ${defaultTarget})
  --threads N     worker threads of the wasm backend
  --max-tensor-bytes N, --max-param-bytes N
                  the size limits, as for compile
  -h, --help      show this help`,

  evaluate: `Usage: dlg evaluate FILE --load CKPT [--data SOURCE] [--split test|val|train|all]
                    [--limit N] [--json] [--backend js|wasm|webgpu]

Compile the model, load a \`dlg train --save\` checkpoint, and print the loss
and metrics over a split (default test) as train's test line does, averaged
over chunks of 1000 examples weighted by size: the same numbers the run
printed for the same split and backend.

Options:
  --load CKPT     the checkpoint (required)
  --model NAME, --config NAME
                  the model, as for compile
  --data SOURCE   as for train
  --split NAME    test (default), val, train, or all (every row of a CSV)
  --limit N       only the first N examples of the split
  --json          print { "model", "split", "examples", "loss", "metrics" }
  --backend B     js, wasm or webgpu (default ${defaultTarget})
  --threads N     worker threads of the wasm backend
  --max-tensor-bytes N, --max-param-bytes N
                  the size limits, as for compile
  -h, --help      show this help`,

  summary: `Usage: dlg summary FILE [--model NAME] [--json]

Print a model's layers: each top-level layer call (dense_1, conv2d_2, ...)
with its output shape, its parameters' shapes and counts, and the FLOPs it
costs per example (a matmul 2·m·n·k, a convolution 2 per tap, elementwise
ops 1 per element); then the total parameters (trainable and state) and
their bytes.

Options:
  --model NAME    the model (default as for compile)
  --json          print the table as JSON
  --max-tensor-bytes N, --max-param-bytes N
                  the size limits, as for compile
  -h, --help      show this help`,

  bench: `Usage: dlg bench FILE [--model NAME] [--config NAME] [--batch N] [--dim NAME=N]...
                 [--target js|wasm|webgpu] [--threads N] [--iters N] [--warmup N] [--json]

Compile a model, create it (seeded by its train block), make one batch of
seeded synthetic data of its inputs' shapes (int inputs inside the ranges
they index), and time step(), predict() and evaluate() (those it has): warm-up
calls, then timed ones. Prints the median and min per call and samples/s at
the median.

Options:
  --model NAME    the model (default as for compile)
  --config NAME   the train block: its optimizer, batch and seed (default as
                  for compile)
  --batch N       the batch size (default: the train block's, else 32)
  --dim NAME=N    the size of another named dimension (repeat for each)
  --target T      js, wasm or webgpu (default ${defaultTarget}), as for compile
  --threads N     worker threads of the wasm target, as for train
  --iters N       timed calls of each (default 10)
  --warmup N      untimed calls of each first (default 3)
  --json          print one JSON object instead of the table: model, target,
                  threads, dims, batch, warmup, iters, and per call
                  times_ms, median_ms, min_ms, samples_per_s
  --max-tensor-bytes N, --max-param-bytes N
                  the size limits, as for compile
  -h, --help      show this help`,

  dump: `Usage: dlg dump FILE --stage ast|ir|grad|kernels [--model NAME] [--config NAME] [--target js|wasm|webgpu] [--explain]

Print one stage of the pipeline in its canonical text form:
  ast       the parsed program, pretty-printed
  ir        the model's forward graph and initialiser after elaboration
  grad      the forward graph with the gradients of the loss
  kernels   the fused kernels of the compiled program, each with its code
            for --target wasm (its WAT) or webgpu (its WGSL module)

Options:
  --stage STAGE   which stage (required)
  --model NAME    the model (default as for compile)
  --config NAME   the train block (default as for compile)
  --target T      js, wasm or webgpu (default ${defaultTarget}): the backend whose
                  lowering (and, for wasm and webgpu, code) the kernels
                  stage shows
  --explain       with --stage kernels: each kernel's fused ops and fusion
                  kind, why fusions were refused, its buffers, FLOPs and
                  bytes moved (evaluated at the train block's batch), and
                  each entry's memory plan
  --max-tensor-bytes N, --max-param-bytes N
                  the size limits, as for compile
  -h, --help      show this help`,

  lsp: `Usage: dlg lsp --stdio

Run the language server over stdin/stdout (the Language Server Protocol, as
editors start it): diagnostics as you type, hover types and shapes, inlay
hints, go to definition, references, rename, document symbols, formatting,
completion, signature help and semantic tokens. See docs/cli.md.

Options:
  --stdio      talk LSP over stdin and stdout (required)
  -h, --help   show this help`,
};
