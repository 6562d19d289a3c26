// Checkpoints: load() restores the random stream (seed and step count) so a
// resumed model draws the same dropout masks as one never interrupted, and
// refuses every malformed file (truncated anywhere, flipped header bytes, a
// huge header length, data offsets that overlap, leave holes or run out)
// and every well-formed one that does not fit, loading nothing.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadModule } from "../cli/module.ts";
import { compile } from "../cli/node-host.ts";
import { stdPath } from "../compiler/elaborate.ts";
import type { Model } from "../runtime/model.ts";
import { decodeSafetensors, encodeSafetensors } from "../runtime/safetensors.ts";

const src = `dim B
model clf {
  input x: [B, 4]
  input y: int[B]
  logits = x |> dense(16) |> relu |> dropout(0.5) |> dense(3)
  loss cross_entropy(logits, y)
}
train t for clf { optimizer adam(lr: 0.01)  batch 4  epochs 1 }`;

async function build(): Promise<(seed: number) => Promise<Model>> {
  const host = {
    readFile: (p: string) => (p === "m.dlg" ? src : undefined),
    readStd: (n: string) => readFileSync(stdPath(n), "utf8"),
  };
  const r = compile("m.dlg", { host });
  if (!r.ok) throw new Error("test model does not compile");
  const mod = await loadModule(r.js!);
  return (seed) => mod.createModel({ seed });
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

  it("resume continues the random stream: dropout masks do not depend on createModel's seed", async () => {
    const a = await make(7);
    for (let k = 0; k < 3; k++) await a.step(batch(k));
    const ckpt = await a.save();
    const b = await make(12345);
    await b.load(ckpt);
    expect(b.steps).toBe(3);
    for (let k = 3; k < 8; k++)
      expect((await b.step(batch(k))).loss).toBe((await a.step(batch(k))).loss);
    expect(same(await b.save(), await a.save())).toBe(true);
  });

  it("loads a Node Buffer (what readFileSync gives), whose slice is a view, not a copy", async () => {
    const a = await make(4);
    await a.step(batch(0));
    const bytes = await a.save();
    // A Buffer at an offset inside a larger one, as Node's pool and file reads make them.
    const big = Buffer.alloc(bytes.length + 24);
    big.set(bytes, 16);
    const b = await make(9);
    await b.load(big.subarray(16, 16 + bytes.length));
    expect(same(await b.save(), bytes)).toBe(true);
  });

  it("carries the caller's metadata and returns it from load()", async () => {
    const a = await make(1);
    await a.step(batch(0));
    const meta = await a.load(await a.save({ "train.epoch": "2", "train.batch": "5" }));
    expect(meta).toMatchObject({ format: "dlg", model: "clf", step: "1", seed: "1" });
    expect(meta["train.epoch"]).toBe("2");
    await expect(a.save({ step: "9" })).rejects.toThrow(/metadata key "step" is reserved/);
  });

  it("refuses a file truncated at any offset, loading nothing", async () => {
    const m = await make(3);
    await m.step(batch(0));
    const good = await m.save();
    const other = await make(4);
    const before = await other.save();
    let refused = 0;
    for (let cut = 0; cut < good.length; cut += 1 + Math.floor(cut / 16)) {
      await expect(other.load(good.subarray(0, cut)), `cut at ${cut}`).rejects.toThrow(
        /not a valid safetensors checkpoint/,
      );
      refused++;
    }
    expect(refused).toBeGreaterThan(50);
    expect(same(await other.save(), before)).toBe(true);
    await expect(other.load(new Uint8Array([...good, 0, 0, 0, 0]))).rejects.toThrow(
      /the data has \d+ bytes but the tensors cover/,
    );
  });

  it("refuses flipped header bytes, or loads exactly the saved params when a flip leaves a valid file", async () => {
    const m = await make(3);
    const good = await m.save();
    const n = new DataView(good.buffer, good.byteOffset).getUint32(0, true);
    const other = await make(4);
    const before = await other.save();
    let flipsRefused = 0;
    for (let at = 0; at < 8 + n; at++) {
      for (const mask of [0x01, 0x20, 0x80]) {
        const bad = good.slice();
        bad[at]! ^= mask;
        let threw = false;
        try {
          await other.load(bad);
        } catch (e) {
          threw = true;
          expect((e as Error).message, `flip ${mask} at ${at}`).not.toMatch(
            /Cannot read|undefined|is not a function/,
          );
        }
        // A flip inside a metadata string may leave a valid file; the data is untouched, so
        // what loaded must be exactly the saved params. A refused file loaded nothing.
        const want = threw ? before : good;
        const got = await other.save();
        const params = (b: Uint8Array) =>
          [...decodeSafetensors(b).tensors.values()].map((t) => [...t.data]);
        expect(params(got), `flip ${mask} at ${at}`).toEqual(params(want));
        if (!threw) await other.load(before);
        else flipsRefused++;
      }
    }
    expect(flipsRefused).toBeGreaterThan(8 * 3);
  });

  it("refuses a huge header length, offsets out of bounds, overlapping or with holes", async () => {
    const m = await make(3);
    const good = await m.save();
    const before = await m.save();
    const huge = good.slice();
    new DataView(huge.buffer).setUint32(0, 0xfffffff0, true);
    await expect(m.load(huge)).rejects.toThrow(/header length \d+ runs past the end/);
    const high = good.slice();
    new DataView(high.buffer).setUint32(4, 1, true);
    await expect(m.load(high)).rejects.toThrow(/header length \d+ runs past the end/);
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
      await expect(m.load(withHeader(good, edit))).rejects.toThrow(message);
    await expect(
      m.load(new TextEncoder().encode("\x10\0\0\0\0\0\0\0[1,2,3,4,5,6,78]")),
    ).rejects.toThrow(/header is not an object/);
    expect(same(await m.save(), before)).toBe(true);
  });

  it("refuses a well-formed file whose tensors do not fit, loading nothing", async () => {
    const m = await make(3);
    const good = await m.save();
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
    await expect(m.load(encodeSafetensors(grown, file.metadata))).rejects.toThrow(/expected F32\[/);
    const asInt = tensors.map((t, i) =>
      i === 0 ? { ...t, dtype: "I32" as const, data: new Int32Array(t.data.length) } : t,
    );
    await expect(m.load(encodeSafetensors(asInt, file.metadata))).rejects.toThrow(/is I32\[/);
    expect(same(await m.save(), good)).toBe(true);
  });
});
