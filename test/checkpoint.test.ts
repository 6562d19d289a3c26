// Checkpoints: load() restores the random stream (seed and step count) so a
// resumed model draws the same dropout masks as one never interrupted, and
// refuses every malformed file (truncated anywhere, flipped header bytes, a
// huge header length, data offsets that overlap, leave holes or run out)
// and every well-formed one that does not fit, loading nothing.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { compile } from "../compiler/compile.ts";
import { stdPath } from "../compiler/elaborate.ts";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors.ts";

interface Model {
  step(b: Record<string, Float32Array | Int32Array>): { loss: number };
  params: Record<string, Float32Array>;
  steps: number;
  save(metadata?: Record<string, string>): Uint8Array;
  load(bytes: Uint8Array): Record<string, string>;
}

const src = `dim B
model clf {
  input x: [B, 4]
  input y: int[B]
  logits = x |> dense(16) |> relu |> dropout(0.5) |> dense(3)
  loss cross_entropy(logits, y)
}
train t for clf { optimizer adam(lr: 0.01)  batch 4  epochs 1 }`;

async function build(): Promise<(seed: number) => Model> {
  const host = {
    readFile: (p: string) => (p === "m.dlg" ? src : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
  const r = compile("m.dlg", { host });
  if (!r.ok) throw new Error("test model does not compile");
  const mod = await loadModule(r.js!);
  return (seed) => mod.createModel({ seed }) as unknown as Model;
}

const batch = (k: number) => ({
  x: Float32Array.from({ length: 16 }, (_, i) => Math.sin(i * 0.7 + k)),
  y: Int32Array.from({ length: 4 }, (_, i) => (i + k) % 3),
});

const same = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** The checkpoint with its header JSON replaced (data bytes kept as they are). */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  edit(h);
  const json = new TextEncoder().encode(JSON.stringify(h));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

describe("checkpoints", async () => {
  const make = await build();

  it("resume continues the random stream: dropout masks do not depend on createModel's seed", () => {
    const a = make(7);
    for (let k = 0; k < 3; k++) a.step(batch(k));
    const ckpt = a.save();
    const b = make(12345);
    b.load(ckpt);
    expect(b.steps).toBe(3);
    for (let k = 3; k < 8; k++) expect(b.step(batch(k)).loss).toBe(a.step(batch(k)).loss);
    expect(same(b.save(), a.save())).toBe(true);
  });

  it("carries the caller's metadata and returns it from load()", () => {
    const a = make(1);
    a.step(batch(0));
    const meta = a.load(a.save({ "train.epoch": "2", "train.batch": "5" }));
    expect(meta).toMatchObject({ format: "dlg", model: "clf", step: "1", seed: "1" });
    expect(meta["train.epoch"]).toBe("2");
    expect(() => a.save({ step: "9" })).toThrow(/metadata key "step" is reserved/);
  });

  it("refuses a file truncated at any offset, loading nothing", () => {
    const m = make(3);
    m.step(batch(0));
    const good = m.save();
    const other = make(4);
    const before = other.save();
    let refused = 0;
    for (let cut = 0; cut < good.length; cut += 1 + Math.floor(cut / 16)) {
      expect(() => other.load(good.subarray(0, cut)), `cut at ${cut}`).toThrow(
        /not a valid safetensors checkpoint/,
      );
      refused++;
    }
    expect(refused).toBeGreaterThan(50);
    expect(same(other.save(), before)).toBe(true);
    expect(() => other.load(new Uint8Array([...good, 0, 0, 0, 0]))).toThrow(
      /the data has \d+ bytes but the tensors cover/,
    );
  });

  it("refuses flipped header bytes, or loads exactly the saved params when a flip leaves a valid file", () => {
    const m = make(3);
    const good = m.save();
    const n = new DataView(good.buffer, good.byteOffset).getUint32(0, true);
    const other = make(4);
    const before = other.save();
    let flipsRefused = 0;
    for (let at = 0; at < 8 + n; at++) {
      for (const mask of [0x01, 0x20, 0x80]) {
        const bad = good.slice();
        bad[at]! ^= mask;
        let threw = false;
        try {
          other.load(bad);
        } catch (e) {
          threw = true;
          expect((e as Error).message, `flip ${mask} at ${at}`).not.toMatch(
            /Cannot read|undefined|is not a function/,
          );
        }
        // A flip inside a metadata string may leave a valid file; the data is untouched, so
        // what loaded must be exactly the saved params. A refused file loaded nothing.
        const want = threw ? before : good;
        const got = other.save();
        const params = (b: Uint8Array) =>
          [...decodeSafetensors(b).tensors.values()].map((t) => [...t.data]);
        expect(params(got), `flip ${mask} at ${at}`).toEqual(params(want));
        if (!threw) other.load(before);
        else flipsRefused++;
      }
    }
    expect(flipsRefused).toBeGreaterThan(8 * 3);
  });

  it("refuses a huge header length, offsets out of bounds, overlapping or with holes", () => {
    const m = make(3);
    const good = m.save();
    const before = m.save();
    const huge = good.slice();
    new DataView(huge.buffer).setUint32(0, 0xfffffff0, true);
    expect(() => m.load(huge)).toThrow(/header length \d+ runs past the end/);
    const high = good.slice();
    new DataView(high.buffer).setUint32(4, 1, true);
    expect(() => m.load(high)).toThrow(/header length \d+ runs past the end/);
    const first = decodeSafetensors(good).tensors.keys().next().value!;
    const cases: [(h: Record<string, any>) => void, RegExp][] = [
      [(h) => (h[first].data_offsets = [1e9, 1e9 + 16]), /do not hold/],
      [(h) => (h[first].data_offsets = [-4, h[first].data_offsets[1] - 4]), /do not hold/],
      [(h) => (h[first].data_offsets = [0.5, 1]), /malformed data_offsets/],
      [(h) => (h[first].shape = [1e6, 1e6]), /do not hold/],
      [(h) => (h[first].shape = [-1, 4]), /malformed shape/],
      [(h) => (h[first].dtype = "F64"), /only F32 and I32/],
      [(h) => (h[first] = null), /is not an object/],
      [(h) => (h.__metadata__ = { step: 3 }), /"step" is not a string/],
      [(h) => (h.__metadata__ = { step: "-2" }), /step count "-2" is invalid/],
      [(h) => (h.__metadata__ = { step: "1", seed: "1.5" }), /seed "1.5" is invalid/],
      [
        (h) => {
          // Point the second tensor at the first one's bytes: overlap.
          const names = Object.keys(h).filter((k) => k !== "__metadata__");
          h[names[1]!].data_offsets = [...h[names[0]!].data_offsets];
          h[names[1]!].shape = [...h[names[0]!].shape];
        },
        /overlaps|belong to no tensor/,
      ],
    ];
    for (const [edit, message] of cases)
      expect(() => m.load(withHeader(good, edit))).toThrow(message);
    expect(() => m.load(new TextEncoder().encode("\x10\0\0\0\0\0\0\0[1,2,3,4,5,6,78]"))).toThrow(
      /header is not an object/,
    );
    expect(same(m.save(), before)).toBe(true);
  });

  it("refuses a well-formed file whose tensors do not fit, loading nothing", () => {
    const m = make(3);
    const good = m.save();
    const file = decodeSafetensors(good);
    const tensors = [...file.tensors.values()];
    const grown = tensors.map((t, i) =>
      i === 0
        ? {
            ...t,
            shape: [t.shape[0]! + 1, ...t.shape.slice(1)],
            data: new Float32Array(t.data.length + t.shape.slice(1).reduce((a, b) => a * b, 1)),
          }
        : t,
    );
    expect(() => m.load(encodeSafetensors(grown, file.metadata))).toThrow(/expected F32\[/);
    const asInt = tensors.map((t, i) =>
      i === 0 ? { ...t, dtype: "I32" as const, data: new Int32Array(t.data.length) } : t,
    );
    expect(() => m.load(encodeSafetensors(asInt, file.metadata))).toThrow(/is I32\[/);
    expect(same(m.save(), good)).toBe(true);
  });
});
