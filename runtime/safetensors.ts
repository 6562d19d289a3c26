// Checkpoints in the safetensors format: an 8-byte little-endian header
// length, a JSON header mapping names to {dtype, shape, data_offsets} (plus
// string-valued `__metadata__`), then the raw little-endian tensor bytes.
// The header is padded with spaces to 8 bytes so every tensor is aligned.

export type StDType = "F32" | "I32";

export interface StTensor {
  name: string;
  dtype: StDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

const littleEndian = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** The bytes of `a` in little-endian order. */
function leBytes(a: Float32Array | Int32Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (littleEndian) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 4)
    for (let k = 0; k < 4; k++) out[i + k] = bytes[i + 3 - k]!;
  return out;
}

export function encodeSafetensors(
  tensors: readonly StTensor[],
  metadata: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of tensors) {
    out.set(leBytes(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}

export interface StFile {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
}

function fail(why: string): never {
  throw new Error(`not a valid safetensors checkpoint: ${why}`);
}

/**
 * Read a checkpoint, refusing anything that is not exactly a well-formed
 * file: a header length past the end, a header that is not UTF-8 JSON of
 * objects, unknown dtypes, malformed shapes, and data offsets that leave
 * holes, overlap or run out of the buffer (the format requires the tensors
 * to tile the data exactly, which also catches truncation and appended
 * bytes).
 */
export function decodeSafetensors(bytes: Uint8Array): StFile {
  if (!(bytes instanceof Uint8Array)) fail("expected a Uint8Array");
  if (bytes.length < 8) fail(`only ${bytes.length} bytes, less than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  if (view.getUint32(4, true) !== 0 || 8 + n > bytes.length)
    fail(
      `header length ${view.getBigUint64(0, true)} runs past the end of the ${bytes.length}-byte file`,
    );
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  const isObject = (x: unknown): x is Record<string, unknown> =>
    typeof x === "object" && x !== null && !Array.isArray(x);
  if (!isObject(header)) fail("header is not an object");
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const tensors = new Map<string, StTensor>();
  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isObject(entry)) fail("__metadata__ is not an object");
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") fail(`__metadata__ "${k}" is not a string`);
        Object.defineProperty(metadata, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      continue;
    }
    if (!isObject(entry)) fail(`tensor "${name}" is not an object`);
    if (entry.dtype !== "F32" && entry.dtype !== "I32")
      fail(
        entry.dtype === undefined
          ? `tensor "${name}" has no dtype`
          : `tensor "${name}" has dtype ${JSON.stringify(entry.dtype)}; only F32 and I32 are supported`,
      );
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`tensor "${name}" has a malformed shape`);
    const off = entry.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isSafeInteger(x)))
      fail(`tensor "${name}" has malformed data_offsets`);
    const [begin, end] = off as [number, number];
    const numel = (shape as number[]).reduce((p, d) => p * d, 1);
    if (begin < 0 || end > dataLen || end - begin !== numel * 4)
      fail(
        `tensor "${name}" data_offsets [${begin}, ${end}] do not hold ${numel} elements in ${dataLen} data bytes`,
      );
    spans.push({ name, begin, end });
    tensors.set(name, {
      name,
      dtype: entry.dtype,
      shape: shape as number[],
      data: new Float32Array(0),
    });
  }
  spans.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let at = 0;
  for (const sp of spans) {
    if (sp.begin !== at)
      fail(
        sp.begin < at
          ? `tensor "${sp.name}" overlaps the tensor before it (data_offsets from ${sp.begin}, previous end ${at})`
          : `bytes ${at}..${sp.begin} of the data belong to no tensor`,
      );
    at = sp.end;
  }
  if (at !== dataLen) fail(`the data has ${dataLen} bytes but the tensors cover ${at}`);
  for (const sp of spans) {
    const t = tensors.get(sp.name)!;
    // Copy into fresh aligned storage, fixing byte order on big-endian hosts.
    // Uint8Array's slice copies even when `bytes` is a Node Buffer, whose own slice is a view of
    // its (pooled or whole-file) buffer: a typed array over that would read the wrong bytes.
    const raw = Uint8Array.prototype.slice.call(bytes, dataStart + sp.begin, dataStart + sp.end);
    if (!littleEndian)
      for (let i = 0; i < raw.length; i += 4) {
        raw.subarray(i, i + 4).reverse();
      }
    t.data = t.dtype === "F32" ? new Float32Array(raw.buffer) : new Int32Array(raw.buffer);
  }
  return { tensors, metadata };
}
