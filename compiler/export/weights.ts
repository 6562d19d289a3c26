// The weights an export writes, one per param in `model.params` order: the
// ones given (a checkpoint, by path), else the seeded initial ones (the init
// entry interpreted with the train block's seed, rounded to float32 as the
// module computes them, so they are the module's own initial params). Dims a
// param's shape leaves to the data are solved from the given weights.

import { diag, type Diagnostic } from "../diagnostics.ts";
import { dimEval, shapeToString } from "../dims.ts";
import { interpret, scalar } from "../interpret.ts";
import type { ModelIR, ModelParam } from "../ir.ts";
import type { Span } from "../../grammar/index.ts";
import { paramDims } from "./param-dims.ts";

/** Where a weights problem is reported: the param's declaration, else the model. */
export interface Site {
  file: string;
  span: Span;
}

/**
 * A param's tensor from `given`: by its path, or (a `repeat` stack) its
 * copies `${prefix}${i}.rest` stacked, as checkpoints name them.
 */
function lookup(given: ReadonlyMap<string, Float32Array>, p: ModelParam): Float32Array | undefined {
  const direct = given.get(p.path);
  if (direct || p.stack?.length !== 1) return direct;
  const { prefix, n } = p.stack[0]!;
  const rest = p.path.slice(prefix.length);
  const copies = Array.from({ length: n }, (_, i) => given.get(`${prefix}${i}.${rest}`));
  if (copies.some((c) => c === undefined)) return undefined;
  const out = new Float32Array(copies.reduce((a, c) => a + c!.length, 0));
  let at = 0;
  for (const c of copies) {
    out.set(c!, at);
    at += c!.length;
  }
  return out;
}

export function exportWeights(
  model: ModelIR,
  seed: number,
  given: ReadonlyMap<string, Float32Array> | undefined,
  at: Site,
): Float32Array[] | Diagnostic {
  const site = (p: ModelParam) => (p.span ? { file: at.file, span: p.span } : at);
  const data = model.params.map((p) => (given ? lookup(given, p) : undefined));
  if (given) {
    const missing = model.params.findIndex((_, i) => data[i] === undefined);
    if (missing >= 0) {
      const p = model.params[missing]!;
      return diag(
        "E4022",
        `the checkpoint has no tensor \`${p.path}\``,
        site(p).file,
        site(p).span,
        {
          notes: [
            `model \`${model.name}\` needs ${model.params.map((q) => `\`${q.path}\``).join(", ")}`,
          ],
        },
      );
    }
  }
  const solved = paramDims(
    model.params,
    data.map((d) => d?.length),
  );
  if (!("dims" in solved)) {
    const p = solved.unfixed;
    return diag(
      "E4023",
      `param \`${p.path}\` has shape ${shapeToString(p.var.type.shape)}: \`${solved.dim}\` is fixed by the training data, not the source`,
      site(p).file,
      site(p).span,
      { help: "export trained weights, which fix it: `--load CHECKPOINT`" },
    );
  }
  const env = Object.fromEntries([...solved.dims].map(([k, d]) => [k, dimEval(d, {})]));
  const sizes = model.params.map((p) => p.var.type.shape.map((d) => dimEval(d, env)));
  if (given) {
    const bad = model.params.findIndex(
      (_, i) => data[i]!.length !== sizes[i]!.reduce((a, b) => a * b, 1),
    );
    if (bad >= 0) {
      const p = model.params[bad]!;
      return diag(
        "E4022",
        `the checkpoint's tensor \`${p.path}\` has ${data[bad]!.length} elements; the param is [${sizes[bad]!.join(", ")}]`,
        site(p).file,
        site(p).span,
      );
    }
    return data as Float32Array[];
  }
  const init = interpret(model.init, [scalar(seed, "i32")], env, true);
  return init.map((t) => Float32Array.from(t.data));
}
