// What both browser tests share: the headless Chromium they drive, and what
// they serve besides their pages: the first MNIST images and labels (as
// `dlg train` feeds them) as raw binary files, and a page script bundled for
// the browser.

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type Browser } from "playwright-core";
import { loadMnistSplit, mnistPixels } from "../../cli/mnist.ts";
import type { Served } from "./server.ts";
import type { RunData } from "./train-run.ts";

/** The first n images (pixels / 255) and labels of an MNIST split. */
function firstImages(split: "train" | "t10k", n: number): { x: Float32Array; y: Int32Array } {
  const s = loadMnistSplit(split);
  const x = Float32Array.from(s.images.subarray(0, n * mnistPixels), (v) => v / 255);
  return { x, y: Int32Array.from(s.labels.subarray(0, n)) };
}

/** A training batch of `batchSize` images and `predictCount` test images to predict. */
export function mnistData(batchSize: number, predictCount: number): RunData {
  const train = firstImages("train", batchSize);
  return { x: train.x, y: train.y, px: firstImages("t10k", predictCount).x };
}

const bin = (a: Float32Array | Int32Array): Served => ({
  type: "application/octet-stream",
  body: new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
});

/** The data as the pages fetch it. */
export function dataFiles(data: RunData): Record<string, Served> {
  return { "/x.bin": bin(data.x), "/y.bin": bin(data.y), "/px.bin": bin(data.px) };
}

/** test/browser/`file` bundled into one browser script. */
export async function pageScript(file: string): Promise<Served> {
  const script = await build({
    entryPoints: [join(dirname(fileURLToPath(import.meta.url)), file)],
    bundle: true,
    format: "esm",
    platform: "browser",
    write: false,
  });
  return { type: "text/javascript", body: script.outputFiles[0]!.text };
}

const chromiumPath = "/usr/bin/chromium";

/**
 * Debian's Chromium, headless, with `args` (--no-sandbox is always added: CI
 * runs as root in a container, where Chromium's sandbox refuses to start);
 * or why there is none, for the test to fail on under CI=true or skip with.
 */
export async function launchChromium(args: string[]): Promise<Browser | string> {
  if (!existsSync(chromiumPath))
    return `${chromiumPath} is not installed (apt-get install chromium)`;
  try {
    return await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [...args, "--no-sandbox"],
    });
  } catch (e) {
    return `${chromiumPath} did not start: ${(e as Error).message}`;
  }
}
