// The data edge: our IDX reader (synthetic files and the real MNIST
// headers), the CSV reader, fitting data to a model's declared inputs, the
// choice of data source, and the splits. All errors must be UserErrors with
// messages that say what is wrong and where.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parseCsv } from "../cli/csv.ts";
import {
  assignColumns,
  chooseSource,
  csvSplitSizes,
  fitMnist,
  fitTable,
  gather,
  loadSplits,
  rows,
} from "../cli/data.ts";
import { UserError } from "../cli/errors.ts";
import { parseIdx, parseIdxHeader, readIdxFile } from "../cli/idx.ts";
import { loadMnistSplit, mnistFiles } from "../cli/mnist.ts";
import { readSafetensors } from "../cli/safetensors.ts";
import { encodeSafetensors } from "../runtime/safetensors.ts";
import type { ModelSpec, TensorSpec } from "../cli/module.ts";

/** Build an IDX buffer: magic, big-endian dims, then `body`. */
function idx(typeByte: number, dims: number[], body: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(head.buffer);
  head[2] = typeByte;
  head[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function spec(inputs: TensorSpec[], model = "m"): ModelSpec {
  return { model, dims: ["B"], inputs, outputs: [], metrics: [], params: [] };
}
const linreg = spec(
  [
    { name: "x", dtype: "f32", shape: ["B", "F"] },
    { name: "y", dtype: "f32", shape: ["B"] },
  ],
  "linreg",
);
const mlp = spec(
  [
    { name: "x", dtype: "f32", shape: ["B", 784] },
    { name: "y", dtype: "i32", shape: ["B"] },
  ],
  "mlp",
);

function userError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error("expected a UserError");
}

describe("IDX reader", () => {
  it("reads a u8 rank-3 array", () => {
    const body = Uint8Array.from({ length: 2 * 3 * 2 }, (_, i) => i * 10);
    const a = parseIdx(idx(0x08, [2, 3, 2], body));
    expect(a.dtype).toBe("u8");
    expect(a.dims).toEqual([2, 3, 2]);
    expect(Array.from(a.data)).toEqual(Array.from(body));
  });

  it("decodes big-endian i32 and f32 elements", () => {
    const ints = new Uint8Array(8);
    new DataView(ints.buffer).setInt32(0, -123456, false);
    new DataView(ints.buffer).setInt32(4, 7, false);
    expect(Array.from(parseIdx(idx(0x0c, [2], ints)).data)).toEqual([-123456, 7]);
    const floats = new Uint8Array(8);
    new DataView(floats.buffer).setFloat32(0, 1.5, false);
    new DataView(floats.buffer).setFloat32(4, -0.25, false);
    const f = parseIdx(idx(0x0d, [1, 2], floats));
    expect(f.dtype).toBe("f32");
    expect(Array.from(f.data)).toEqual([1.5, -0.25]);
  });

  it("reads gzip-compressed files transparently", () => {
    const dir = mkdtempSync(join(tmpdir(), "dlg-idx-"));
    const path = join(dir, "labels.idx1.gz");
    writeFileSync(path, gzipSync(idx(0x08, [3], Uint8Array.of(4, 2, 9))));
    expect(Array.from(readIdxFile(path).data)).toEqual([4, 2, 9]);
  });

  it("reads small files from disk, where Node hands back views into a shared pool", () => {
    const dir = mkdtempSync(join(tmpdir(), "dlg-idx-"));
    const path = join(dir, "signed.idx");
    writeFileSync(path, idx(0x09, [4], Uint8Array.of(0x80, 0xff, 0, 0x7f)));
    const a = readIdxFile(path);
    expect(a.dtype).toBe("i8");
    expect(Array.from(a.data)).toEqual([-128, -1, 0, 127]);
  });

  it("rejects malformed files with errors that say what is wrong", () => {
    expect(userError(() => parseIdx(Uint8Array.of(0, 0), "f.idx"))).toMatch(
      /f\.idx.*fewer than the 4-byte magic/,
    );
    expect(userError(() => parseIdx(Uint8Array.of(0x50, 0x4b, 3, 4), "f.idx"))).toMatch(
      /two zero bytes, found 50 4b 03 04/,
    );
    expect(userError(() => parseIdx(idx(0x07, [1], Uint8Array.of(1)), "f.idx"))).toMatch(
      /unknown element type byte 0x07/,
    );
    expect(userError(() => parseIdx(Uint8Array.of(0, 0, 8, 3, 0, 0), "f.idx"))).toMatch(
      /declares 3 dimensions/,
    );
    expect(userError(() => parseIdx(idx(0x08, [2, 2], Uint8Array.of(1, 2, 3)), "f.idx"))).toMatch(
      /f\.idx is truncated.*\[2, 2\] needs 16 bytes, the file has 15/,
    );
    expect(userError(() => parseIdx(idx(0x08, [1], Uint8Array.of(1, 2)), "f.idx"))).toMatch(
      /trailing bytes/,
    );
    expect(userError(() => readIdxFile("/nonexistent/file.idx"))).toMatch(
      /cannot read \/nonexistent\/file\.idx: ENOENT/,
    );
  });

  it("reads the real MNIST headers", () => {
    const expected = { train: 60000, t10k: 10000 } as const;
    for (const split of ["train", "t10k"] as const) {
      const f = mnistFiles(split);
      const images = parseIdxHeader(readFileSync(f.images).subarray(0, 16), f.images);
      expect(images).toEqual({ dtype: "u8", dims: [expected[split], 28, 28], dataOffset: 16 });
      const labels = parseIdxHeader(readFileSync(f.labels).subarray(0, 8), f.labels);
      expect(labels).toEqual({ dtype: "u8", dims: [expected[split]], dataOffset: 8 });
    }
  });

  it("loads the MNIST test split with labels 0..9", () => {
    const t = loadMnistSplit("t10k");
    expect(t.count).toBe(10000);
    expect(t.images.length).toBe(10000 * 784);
    // The first test digits of MNIST are a well-known 7, 2, 1, 0, 4.
    expect(Array.from(t.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    const counts = new Array(10).fill(0);
    t.labels.forEach((l) => counts[l]++);
    expect(counts.every((c) => c > 800)).toBe(true);
  });
});

describe("CSV reader", () => {
  it("parses a header and numeric rows, skipping blank lines and CRLF", () => {
    const t = parseCsv("a,b,c\r\n1,2,3\r\n\r\n-4.5, 1e-3 ,6\n");
    expect(t.header).toEqual(["a", "b", "c"]);
    expect(t.rows).toBe(2);
    expect(Array.from(t.values)).toEqual([1, 2, 3, -4.5, 0.001, 6]);
  });

  it("accepts quoted header fields", () => {
    const t = parseCsv('"x, first","say ""hi"""\n1,2\n');
    expect(t.header).toEqual(["x, first", 'say "hi"']);
  });

  it("reports bad rows with file and line", () => {
    expect(userError(() => parseCsv("a,b\n1,2\n3\n", "d.csv"))).toMatch(
      /d\.csv:3: expected 2 fields.*found 1/,
    );
    expect(userError(() => parseCsv("a,b\n1,oops\n", "d.csv"))).toMatch(
      /d\.csv:2: column `b` holds `oops`/,
    );
    expect(userError(() => parseCsv("a,b\n1,\n", "d.csv"))).toMatch(/column `b` holds ``/);
    expect(userError(() => parseCsv("\n\n", "d.csv"))).toMatch(/d\.csv is empty/);
    expect(userError(() => parseCsv("1,2\n3,4\n", "d.csv"))).toMatch(
      /first row must name the columns/,
    );
    expect(userError(() => parseCsv("a,a\n1,2\n", "d.csv"))).toMatch(/column `a` appears twice/);
    expect(userError(() => parseCsv('"a,b\n1\n', "d.csv"))).toMatch(/unterminated quoted field/);
  });
});

describe("fitting data to a model's inputs", () => {
  it("feeds x1..x3 to x: [B, F] and y to y: [B], solving F", () => {
    const t = parseCsv("x1,x2,x3,y\n1,2,3,10\n4,5,6,20\n");
    const d = fitTable(linreg, t, "l.csv");
    expect(d.dims).toEqual({ F: 3 });
    expect(d.size).toBe(2);
    const [x, y] = d.columns;
    expect(x!.width).toBe(3);
    expect(x!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(x!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(y!.data)).toEqual([10, 20]);
  });

  it("with no matching names, the last column is the label and the rest the features", () => {
    const t = parseCsv("a,b,label\n1,2,0\n3,4,1\n");
    const s = spec([
      { name: "x", dtype: "f32", shape: ["B", 2] },
      { name: "y", dtype: "i32", shape: ["B"] },
    ]);
    expect(assignColumns(s, t.header, "f.csv")).toEqual(
      new Map([
        ["x", [0, 1]],
        ["y", [2]],
      ]),
    );
    const d = fitTable(s, t, "f.csv");
    expect(d.columns[1]!.data).toBeInstanceOf(Int32Array);
    expect(Array.from(d.columns[1]!.data)).toEqual([0, 1]);
  });

  it("says why data does not fit", () => {
    const four = spec([
      { name: "x", dtype: "f32", shape: ["B", 4] },
      { name: "y", dtype: "f32", shape: ["B"] },
    ]);
    expect(userError(() => fitTable(four, parseCsv("x1,x2,x3,y\n1,2,3,4\n"), "f.csv"))).toMatch(
      /input `x`: it is declared \[B, 4\], 4 values per example, but f\.csv \(columns x1, x2, x3\) gives 3/,
    );
    const classify = spec([
      { name: "x", dtype: "f32", shape: ["B", "F"] },
      { name: "y", dtype: "i32", shape: ["B"] },
    ]);
    expect(userError(() => fitTable(classify, parseCsv("a,b\n1,2.5\n"), "f.csv"))).toMatch(
      /row 1, column `b` holds 2\.5, but the model's input is int/,
    );
    expect(userError(() => fitTable(linreg, parseCsv("x1,y,z\n1,2,3\n"), "f.csv"))).toMatch(
      /column `z` match no input of model `linreg`/,
    );
    expect(userError(() => fitTable(linreg, parseCsv("x1,y\n"), "f.csv"))).toMatch(/no data rows/);
    const three = spec([
      { name: "a", dtype: "f32", shape: ["B"] },
      { name: "b", dtype: "f32", shape: ["B"] },
      { name: "c", dtype: "f32", shape: ["B"] },
    ]);
    expect(userError(() => fitTable(three, parseCsv("p,q,r\n1,2,3\n"), "f.csv"))).toMatch(
      /cannot tell which columns feed inputs `a`, `b`, `c`/,
    );
  });

  it("fits MNIST to [B, 784], [B, 1, 28, 28], one-hot labels, and solves named dims", () => {
    const split = { count: 2, images: new Uint8Array(2 * 784), labels: Uint8Array.of(3, 9) };
    split.images[0] = 255;
    split.images[784 + 1] = 51;
    const flat = fitMnist(mlp, split, "MNIST");
    expect(flat.columns[0]!.data[0]).toBe(1);
    expect(flat.columns[0]!.data[785]).toBeCloseTo(0.2, 6);
    expect(Array.from(flat.columns[1]!.data)).toEqual([3, 9]);
    const conv = spec([
      { name: "image", dtype: "f32", shape: ["B", 1, 28, 28] },
      { name: "label", dtype: "i32", shape: ["B"] },
    ]);
    expect(fitMnist(conv, split, "MNIST").columns[0]!.width).toBe(784);
    const onehot = spec([
      { name: "x", dtype: "f32", shape: ["B", 784] },
      { name: "t", dtype: "f32", shape: ["B", 10] },
    ]);
    const oh = fitMnist(onehot, split, "MNIST").columns[1]!;
    expect(oh.width).toBe(10);
    expect(Array.from(oh.data.subarray(0, 10))).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    // A float label of shape [B] is a regression target: the digit's value.
    const reg = fitMnist(linreg, split, "MNIST");
    expect(reg.dims).toEqual({ F: 784 });
    expect(reg.columns[1]!.data).toBeInstanceOf(Float32Array);
  });

  it("refuses MNIST for models it cannot feed", () => {
    const split = { count: 1, images: new Uint8Array(784), labels: Uint8Array.of(0) };
    const small = spec([
      { name: "x", dtype: "f32", shape: ["B", 100] },
      { name: "y", dtype: "i32", shape: ["B"] },
    ]);
    expect(userError(() => fitMnist(small, split, "MNIST"))).toMatch(
      /declared \[B, 100\], 100 values per example, but MNIST \(28x28 images\) gives 784/,
    );
    const tagger = spec([
      { name: "tokens", dtype: "i32", shape: ["B", "T"] },
      { name: "image", dtype: "f32", shape: ["B", 1, 28, 28] },
      { name: "y", dtype: "i32", shape: ["B"] },
    ]);
    expect(userError(() => fitMnist(tagger, split, "MNIST"))).toMatch(
      /it has 3 inputs \(tokens, image, y\)/,
    );
  });
});

describe("data sources and splits", () => {
  it("chooses --data, else a sibling CSV, else MNIST", () => {
    expect(chooseSource("samples/linreg.dlg", undefined)).toEqual({
      kind: "csv",
      path: join("samples", "linreg.csv"),
    });
    expect(chooseSource("samples/mlp.dlg", undefined)).toEqual({ kind: "mnist" });
    expect(chooseSource("samples/linreg.dlg", "mnist")).toEqual({ kind: "mnist" });
    expect(chooseSource("x.dlg", "samples/linreg.csv")).toEqual({
      kind: "csv",
      path: "samples/linreg.csv",
    });
    expect(chooseSource("x.dlg", "adding")).toEqual({ kind: "adding" });
    expect(userError(() => chooseSource("x.dlg", "data.json"))).toMatch(
      /`mnist`, `adding` or a path ending in \.csv/,
    );
    expect(userError(() => chooseSource("x.dlg", "missing.csv"))).toMatch(
      /missing\.csv does not exist/,
    );
  });

  it("generates the adding problem: two marked steps, one per half, and their sum", () => {
    const adding = spec(
      [
        { name: "x", dtype: "f32", shape: ["B", 10, 2] },
        { name: "y", dtype: "f32", shape: ["B"] },
      ],
      "adding",
    );
    const s = loadSplits({ kind: "adding" }, adding);
    expect([s.train.size, s.valid.size, s.test.size]).toEqual([10000, 1000, 2000]);
    const [x, y] = s.test.columns.map((c) => c.data) as [Float32Array, Float32Array];
    let sq = 0;
    for (let r = 0; r < s.test.size; r++) {
      const steps = [...Array(10).keys()].map((t) =>
        x.subarray(r * 20 + 2 * t, r * 20 + 2 * t + 2),
      );
      const marked = steps.flatMap((v, t) => (v[1] === 1 ? [t] : []));
      expect(marked).toHaveLength(2);
      expect(marked[0]).toBeLessThan(5);
      expect(marked[1]).toBeGreaterThanOrEqual(5);
      expect(y[r]).toBeCloseTo(steps[marked[0]!]![0]! + steps[marked[1]!]![0]!, 6);
      sq += (y[r]! - 1) ** 2;
    }
    // Predicting the mean scores the variance of a sum of two uniforms, 1/6.
    expect(sq / s.test.size).toBeGreaterThan(0.15);
    expect(sq / s.test.size).toBeLessThan(0.18);
  });

  it("splits a CSV 72/8/20 in file order", () => {
    expect(csvSplitSizes(500)).toEqual({ train: 360, valid: 40, test: 100 });
    expect(csvSplitSizes(3)).toEqual({ train: 3, valid: 0, test: 0 });
    const s = loadSplits({ kind: "csv", path: "samples/linreg.csv" }, linreg);
    expect([s.train.size, s.valid.size, s.test.size]).toEqual([360, 40, 100]);
    expect(s.dims).toEqual({ F: 3 });
    // The splits are consecutive views: the validation split starts where training ends.
    const all = fitTable(linreg, parseCsv(readFileSync("samples/linreg.csv", "utf8")), "l.csv");
    expect(s.valid.columns[0]!.data[0]).toBe(all.columns[0]!.data[360 * 3]);
  });

  it("splits MNIST 55000/5000 with t10k as the test split", () => {
    const s = loadSplits({ kind: "mnist" }, mlp);
    expect([s.train.size, s.valid.size, s.test.size]).toEqual([55000, 5000, 10000]);
    const px = s.train.columns[0]!.data;
    expect(Math.max(...px.subarray(0, 784 * 10))).toBeLessThanOrEqual(1);
    expect(Math.min(...px.subarray(0, 784 * 10))).toBeGreaterThanOrEqual(0);
    // The first training digit of MNIST is a 5.
    expect(s.train.columns[1]!.data[0]).toBe(5);
  }, 30_000);

  it("cuts views and gathers shuffled batches", () => {
    const d = fitTable(linreg, parseCsv("x1,x2,y\n1,2,3\n4,5,6\n7,8,9\n"), "f.csv");
    const mid = rows(d, 1, 3);
    expect(mid.size).toBe(2);
    expect(Array.from(mid.columns[0]!.data)).toEqual([4, 5, 7, 8]);
    const b = gather(d, Uint32Array.of(2, 0, 1), 0, 2);
    expect(Array.from(b.x!)).toEqual([7, 8, 1, 2]);
    expect(Array.from(b.y!)).toEqual([9, 3]);
  });
});

describe("checkpoint reader", () => {
  it("reads what the runtime's save() writes, from a file on disk", () => {
    const bytes = encodeSafetensors(
      [
        { name: "dense.w", dtype: "F32", shape: [2, 2], data: Float32Array.of(1, -2, 3.5, 4) },
        { name: "steps", dtype: "I32", shape: [1], data: Int32Array.of(7) },
      ],
      { format: "dlg" },
    );
    const path = join(mkdtempSync(join(tmpdir(), "dlg-st-")), "m.safetensors");
    writeFileSync(path, bytes);
    const t = readSafetensors(readFileSync(path));
    expect([...t.keys()]).toEqual(["dense.w", "steps"]);
    expect(t.get("dense.w")!.shape).toEqual([2, 2]);
    expect(Array.from(t.get("dense.w")!.data)).toEqual([1, -2, 3.5, 4]);
    expect(Array.from(t.get("steps")!.data)).toEqual([7]);
  });

  it("rejects files that are not safetensors", () => {
    expect(userError(() => readSafetensors(Uint8Array.of(1, 2, 3), "x.st"))).toMatch(
      /x\.st is not a valid safetensors file/,
    );
    const lying = new Uint8Array(16);
    new DataView(lying.buffer).setBigUint64(0, 1000n, true);
    expect(userError(() => readSafetensors(lying, "x.st"))).toMatch(
      /header length 1000 runs past the end/,
    );
  });
});
