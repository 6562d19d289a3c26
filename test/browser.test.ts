// In a real browser: the compiled MNIST MLP, served from 127.0.0.1, trains a
// few steps in headless Chromium; its losses fall, and its predictions after
// training equal those of the same module run in Node on the same seed and data.
// Needs /usr/bin/chromium (.ci/run installs it). Under CI=true a missing
// browser or adapter fails the test; elsewhere the test skips and says why.

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMnistSplit, mnistPixels } from "../cli/mnist.ts";
import { compile } from "../compiler/compile.ts";
import { serve, type Served } from "./browser/server.ts";
import { trainRun, type ModelModule, type RunData, type RunResult } from "./browser/train-run.ts";

const chromiumPath = "/usr/bin/chromium";
const inCI = process.env.CI === "true";
const backend = "js" as "js" | "webgpu";
const seed = 5;
const steps = 5;
const batchSize = 64;
const predictCount = 16;

/** The first n images (pixels / 255, as `dlg train` feeds them) and labels of an MNIST split. */
function firstImages(split: "train" | "t10k", n: number): { x: Float32Array; y: Int32Array } {
  const s = loadMnistSplit(split);
  const x = Float32Array.from(s.images.subarray(0, n * mnistPixels), (v) => v / 255);
  return { x, y: Int32Array.from(s.labels.subarray(0, n)) };
}

const bin = (a: Float32Array | Int32Array): Served => ({
  type: "application/octet-stream",
  body: new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
});

let browser: Browser | undefined;
let page: Page | undefined;
let server: Awaited<ReturnType<typeof serve>> | undefined;
/** Why the browser side cannot run here, when it cannot. */
let unavailable: string | undefined;
/** The page's console errors and uncaught exceptions, for failure messages. */
const pageErrors: string[] = [];
let js = "";
let data: RunData;

beforeAll(async () => {
  const r = compile("samples/mlp.dlg");
  expect(r.diagnostics).toEqual([]);
  js = r.js!;
  const train = firstImages("train", batchSize);
  data = { x: train.x, y: train.y, px: firstImages("t10k", predictCount).x };
  const script = await build({
    entryPoints: [join(dirname(fileURLToPath(import.meta.url)), "browser/page.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    write: false,
  });
  server = await serve({
    "/": { type: "text/html", body: "<!doctype html><title>dlg browser test</title>" },
    "/page.js": { type: "text/javascript", body: script.outputFiles[0]!.text },
    "/model.mjs": { type: "text/javascript", body: js },
    // Chromium asks for one; an empty answer keeps a 404 out of the page errors.
    "/favicon.ico": { type: "image/x-icon", body: "" },
    "/x.bin": bin(data.x),
    "/y.bin": bin(data.y),
    "/px.bin": bin(data.px),
  });
  if (!existsSync(chromiumPath)) {
    unavailable = `${chromiumPath} is not installed (apt-get install chromium)`;
    return;
  }
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // --enable-unsafe-webgpu turns WebGPU on where Chromium would not (Linux,
    // no GPU); it then offers SwiftShader, its CPU Vulkan. --no-sandbox: CI
    // runs as root, where Chromium's sandbox refuses to start.
    args: ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--no-sandbox"],
  });
  page = await browser.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => pageErrors.push(`uncaught: ${e.message}`));
  await page.goto(`${server.url}/`);
  if (backend === "webgpu") {
    const a = await pageCall<{ ok: boolean; why?: string }>("adapter()");
    if (!a.ok) unavailable = `Chromium has no WebGPU adapter: ${a.why}`;
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Evaluate `p.<call>` in the page, where `p` is page.js's exports; page errors join a failure. */
async function pageCall<T>(call: string): Promise<T> {
  try {
    return (await page!.evaluate(`import("/page.js").then((p) => p.${call})`)) as T;
  } catch (e) {
    throw new Error(
      `in the page: ${(e as Error).message}\n${pageErrors.join("\n") || "(no page errors)"}`,
    );
  }
}

/** Relative difference, floored at 1e-3 so near-zero probabilities compare absolutely. */
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-3, Math.abs(b));

describe("samples/mlp.dlg in headless Chromium", () => {
  it(`trains ${steps} steps on ${backend} and predicts as Node does`, async (ctx) => {
    if (unavailable) {
      if (inCI) throw new Error(`CI=true: ${unavailable}`);
      console.warn(`skipped: ${unavailable}`);
      ctx.skip(unavailable);
    }
    const opts = { seed, steps, backend };
    const inPage = await pageCall<RunResult>(`run(${JSON.stringify(opts)})`);
    const mod = (await import(
      `data:text/javascript;base64,${Buffer.from(js).toString("base64")}`
    )) as ModelModule;
    const inNode = await trainRun(mod, opts, data);
    const context = `\npage errors: ${pageErrors.join("\n") || "none"}`;

    expect(inPage.backend, context).toBe(backend);
    expect(
      inPage.after,
      `evaluate() loss before ${inPage.before}, after ${inPage.after}`,
    ).toBeLessThan(inPage.before);
    expect(inPage.losses.at(-1)!, `step losses ${inPage.losses}`).toBeLessThan(inPage.losses[0]!);
    expect(inPage.probs.length).toBe(predictCount * 10);
    const worst = (a: number[], b: number[]) => Math.max(...a.map((v, i) => rel(v, b[i]!)));
    expect(
      worst(inPage.losses, inNode.losses),
      `losses page ${inPage.losses} node ${inNode.losses}`,
    ).toBeLessThan(1e-4);
    expect(worst(inPage.probs, inNode.probs), context).toBeLessThan(1e-4);
  });
});
