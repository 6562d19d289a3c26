// The uniform records kernels read their run-time dims and scan iterations
// from: 256 bytes each (the default minUniformBufferOffsetAlignment, so a
// dynamic offset can select any record), i32 slots 0..31 the dims in
// ProgramPlan.dims order, 32..63 the current step of scans 0..31. WGSL reads
// slot s as `u[s >> 2][s & 3]` of `array<vec4<i32>, 16>`.

import { UNIFORM_DIMS } from "../program.ts";

export const RECORD_BYTES = 256;

/** The distinct (D, T) records one dims binding dispatches with, numbered in first-use order. */
export class RecordTable {
  private readonly index = new Map<string, number>();
  private readonly records: Int32Array[] = [];

  constructor(private readonly D: readonly number[]) {
    if (D.length > UNIFORM_DIMS)
      throw new Error(
        `WebGPU kernels read at most ${UNIFORM_DIMS} dims; this model has ${D.length}`,
      );
  }

  /** The record number for scan iterations T (T[s]: the current step of scan s). */
  of(T: readonly number[]): number {
    // Trailing zeros are the record's defaults: [] and [0, 0] are the same record.
    let end = T.length;
    while (end > 0 && T[end - 1] === 0) end--;
    const key = T.slice(0, end).join(",");
    const hit = this.index.get(key);
    if (hit !== undefined) return hit;
    const r = new Int32Array(RECORD_BYTES / 4);
    // Dims a binding leaves unbound (NaN) are read by no kernel of the entry.
    this.D.forEach((v, i) => (r[i] = Number.isNaN(v) ? 0 : v));
    T.forEach((t, s) => (r[UNIFORM_DIMS + s] = t));
    this.records.push(r);
    this.index.set(key, this.records.length - 1);
    return this.records.length - 1;
  }

  /** Every record back to back, for one writeBuffer before the first submit. */
  bytes(): Int32Array<ArrayBuffer> {
    const all = new Int32Array((this.records.length * RECORD_BYTES) / 4);
    this.records.forEach((r, i) => all.set(r, (i * RECORD_BYTES) / 4));
    return all;
  }
}
