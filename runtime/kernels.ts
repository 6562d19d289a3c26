// Helpers the generated kernels call. Kept tiny: everything per element is
// inlined by codegen; these exist so hot loops never allocate.

let scratch = new Float64Array(1024);

/**
 * A float64 work row of at least `n` elements (matmul accumulates a row of
 * C here before its epilogue). Shared by all kernels: kernels run one at a
 * time and no kernel holds it across a call.
 */
export function scratchF64(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  return scratch;
}

// ---------------------------------------------------------------- checkNumerics builds

/** One equation as the compiler describes it to a checkNumerics build. */
export interface NumericsSource {
  /** The primitive, and the one whose gradient emitted it (autodiff), if any. */
  op: string;
  vjpOf?: string;
  /** The value it computes, as named in the source or by the compiler (`new w` for an update). */
  name?: string;
  /** Where in the .dlg source (1-based line and column, and offsets of the span). */
  file?: string;
  line?: number;
  col?: number;
  start?: number;
  end?: number;
}

/** What a checkNumerics build knows of one entry: its name, and the equations its kernels name. */
export interface NumericsTable {
  entry: string;
  sources: NumericsSource[];
}

/** Thrown by a checkNumerics build at the first NaN or infinity a kernel stores. */
export class NumericsError extends Error {
  constructor(
    readonly source: NumericsSource | null,
    readonly value: number,
    /** The entry that was running: "predict", "step", "evaluate" or "init". */
    readonly entry: string,
  ) {
    super(`${describeSource(source)} produced ${value} (in ${entry})`);
    this.name = "NumericsError";
  }
}

/** "`log` at m.dlg:4:12", "`div` in the gradient of `log` at ...", or what little is known. */
export function describeSource(s: NumericsSource | null): string {
  if (!s) return "copying a value";
  const what = s.vjpOf ? `\`${s.op}\` in the gradient of \`${s.vjpOf}\`` : `\`${s.op}\``;
  if (s.file === undefined)
    return `${what}${s.name === undefined ? "" : ` computing \`${s.name}\``} (no source location)`;
  return s.line === undefined ? `${what} in ${s.file}` : `${what} at ${s.file}:${s.line}:${s.col}`;
}

/**
 * The equation of the first non-finite value computed for the element being
 * stored (-1: none yet). Operands are evaluated before the node that uses
 * them, so the first one noted is where the NaN or infinity arose.
 */
let noted = -1;

export function noteNonFinite(src: number, v: number): number {
  // v - v is NaN exactly when v is NaN or infinite.
  if (v - v !== 0 && noted < 0) noted = src;
  return v;
}

/** After each store: a non-finite value names the node that made it, else the kernel's equation. */
export function checkStored(table: NumericsTable, root: number, v: number): void {
  if (v - v !== 0) {
    const at = noted >= 0 ? noted : root;
    noted = -1;
    throw new NumericsError(table.sources[at] ?? null, v, table.entry);
  }
  noted = -1;
}
