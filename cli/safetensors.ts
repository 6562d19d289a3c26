// A reader for safetensors checkpoints (what save() writes), used by the
// tests and the bench to read trained parameters back. It is written apart
// from runtime/safetensors.ts on purpose: reading save()'s output with a
// decoder that shares no code with its encoder checks the file against the
// format, not against itself.
// Format: u64 little-endian header length N, N bytes of JSON
// { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} },
// then the raw little-endian tensor bytes, offsets relative to their start.

import { UserError } from "./errors.ts";

export interface StoredTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

const sizes: Record<string, number> = { F32: 4, I32: 4, U8: 1, BOOL: 1 };

export function readSafetensors(bytes: Uint8Array, name = "checkpoint"): Map<string, StoredTensor> {
  const bad = (why: string) => new UserError(`${name} is not a valid safetensors file: ${why}`);
  if (bytes.length < 8) throw bad("shorter than its 8-byte header length");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.length) throw bad(`header length ${n} runs past the end of the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<
      string,
      unknown
    >;
  } catch {
    throw bad("the header is not JSON");
  }
  const base = 8 + n;
  const out = new Map<string, StoredTensor>();
  for (const [key, v] of Object.entries(header)) {
    if (key === "__metadata__") continue;
    const t = v as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const size = t.dtype !== undefined ? sizes[t.dtype] : undefined;
    if (size === undefined || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) {
      throw bad(`entry \`${key}\` has an unsupported dtype or lacks shape/data_offsets`);
    }
    const [begin, end] = t.data_offsets;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * size || base + end > bytes.length) {
      throw bad(`entry \`${key}\` has ${end - begin} bytes for shape [${t.shape.join(", ")}]`);
    }
    // Copy (a Node Buffer's slice() would be a view into a shared pool) so the
    // tensor owns an aligned buffer of exactly its bytes.
    const raw = new Uint8Array(bytes.subarray(base + begin, base + end));
    const data =
      t.dtype === "F32"
        ? new Float32Array(raw.buffer)
        : t.dtype === "I32"
          ? new Int32Array(raw.buffer)
          : raw;
    out.set(key, { dtype: t.dtype!, shape: t.shape, data });
  }
  return out;
}
