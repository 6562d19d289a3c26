// Reader for the IDX format (the container MNIST ships in), written here
// rather than pulled in, because it is a page of code and its errors should
// name the file and say what is wrong with it.
//
// Layout: magic = two zero bytes, a dtype byte, a rank byte; then `rank`
// big-endian uint32 dimension sizes; then the elements, row-major and
// big-endian. Files may be gzip-compressed (as MNIST is distributed).

import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { UserError } from "./errors.ts";

export type IdxType = "u8" | "i8" | "i16" | "i32" | "f32" | "f64";
export type IdxData =
  Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxHeader {
  dtype: IdxType;
  dims: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
}

export interface IdxArray {
  dtype: IdxType;
  dims: number[];
  /** Row-major elements, converted to host byte order. */
  data: IdxData;
}

const dtypes: Record<number, { type: IdxType; size: number }> = {
  0x08: { type: "u8", size: 1 },
  0x09: { type: "i8", size: 1 },
  0x0b: { type: "i16", size: 2 },
  0x0c: { type: "i32", size: 4 },
  0x0d: { type: "f32", size: 4 },
  0x0e: { type: "f64", size: 8 },
};

export function idxElementSize(t: IdxType): number {
  return { u8: 1, i8: 1, i16: 2, i32: 4, f32: 4, f64: 8 }[t];
}

/** Parse and validate the header; `name` is used in error messages. */
export function parseIdxHeader(bytes: Uint8Array, name: string): IdxHeader {
  const bad = (why: string) => new UserError(`${name} is not a valid IDX file: ${why}`);
  if (bytes.length < 4)
    throw bad(`it has ${bytes.length} bytes, fewer than the 4-byte magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hex = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    throw bad(`the magic number must start with two zero bytes, found ${hex}`);
  }
  const code = bytes[2]!;
  const dt = dtypes[code];
  if (!dt) throw bad(`unknown element type byte 0x${code.toString(16).padStart(2, "0")}`);
  const rank = bytes[3]!;
  if (rank === 0) throw bad("rank 0 (no dimensions)");
  const dataOffset = 4 + 4 * rank;
  if (bytes.length < dataOffset) {
    throw bad(
      `the header declares ${rank} dimensions but the file ends after ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return { dtype: dt.type, dims, dataOffset };
}

/** Parse a whole IDX buffer; the element count must match the header exactly. */
export function parseIdx(bytes: Uint8Array, name = "IDX data"): IdxArray {
  const h = parseIdxHeader(bytes, name);
  const count = h.dims.reduce((a, b) => a * b, 1);
  const size = idxElementSize(h.dtype);
  const expected = h.dataOffset + count * size;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? "truncated" : "has trailing bytes";
    throw new UserError(
      `${name} is ${what}: a ${h.dtype} array of shape [${h.dims.join(", ")}] needs ` +
        `${expected} bytes, the file has ${bytes.length}`,
    );
  }
  return { dtype: h.dtype, dims: h.dims, data: decode(bytes, h.dataOffset, count, h.dtype) };
}

function decode(bytes: Uint8Array, offset: number, count: number, t: IdxType): IdxData {
  // Single-byte types need no byte swapping. Copy through the constructor:
  // a Node Buffer's slice() is a view into a shared pool, not a copy.
  if (t === "u8") return new Uint8Array(bytes.subarray(offset, offset + count));
  if (t === "i8")
    return new Int8Array(new Uint8Array(bytes.subarray(offset, offset + count)).buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * idxElementSize(t));
  switch (t) {
    case "i16": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, false);
      return out;
    }
    case "i32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, false);
      return out;
    }
    case "f32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, false);
      return out;
    }
    case "f64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, false);
      return out;
    }
  }
}

/** Read bytes from disk, transparently un-gzipping (`1f 8b` magic). */
export function readMaybeGzip(path: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes);
    } catch (e) {
      throw new UserError(
        `${path} looks gzip-compressed but does not decompress: ${(e as Error).message}`,
      );
    }
  }
  return bytes;
}

export function readIdxFile(path: string): IdxArray {
  return parseIdx(readMaybeGzip(path), path);
}
