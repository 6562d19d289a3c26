// In a real browser: the compiled MNIST MLP, served from 127.0.0.1, trains a
// few steps in headless Chromium; its losses fall, and its predictions after
// training equal those of the same module run in Node on the same seed and
// data. The JS module runs too: it must work in a page as it is emitted.
// Needs /usr/bin/chromium (.ci/run installs it). Under CI=true a missing
// browser or adapter fails the test; elsewhere the test skips and says why.

import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeNodeGpu } from "../cli/webgpu-node.ts";
import type { Target } from "../compiler/backend.ts";
import { compile } from "../cli/node-host.ts";
import { dataFiles, launchChromium, mnistData, pageScript } from "./browser/page-data.ts";
import { serve, type Served } from "./browser/server.ts";
import { trainRun, type ModelModule, type RunData, type RunResult } from "./browser/train-run.ts";

const inCI = process.env.CI === "true";
const targets: readonly Target[] = ["js", "webgpu"];
const seed = 5;
const steps = 5;
const batchSize = 64;
const predictCount = 16;
// The WebGPU case took 10-30 s here, most of it Node's createModel building
// the pipelines on SwiftShader (9-18 s on 2 busy cores): twice vitest's 60 s
// default leaves room for a loaded CI machine.
const timeout = 120_000;

let browser: Browser | undefined;
let page: Page | undefined;
let server: Awaited<ReturnType<typeof serve>> | undefined;
/** Why the browser cannot run here, when it cannot. */
let noBrowser: string | undefined;
/** The page's console errors and uncaught exceptions, for failure messages. */
const pageErrors: string[] = [];
const modules = new Map<Target, string>();
let data: RunData;

beforeAll(async () => {
  for (const target of targets) {
    const r = compile("test/fixtures/mlp-256.dlg", { target });
    expect(r.diagnostics).toEqual([]);
    modules.set(target, r.js!);
  }
  data = mnistData(batchSize, predictCount);
  const files: Record<string, Served> = {
    "/": { type: "text/html", body: "<!doctype html><title>dlg browser test</title>" },
    // Chromium asks for one; an empty answer keeps a 404 out of the page errors.
    "/favicon.ico": { type: "image/x-icon", body: "" },
    "/page.js": await pageScript("page.ts"),
    ...dataFiles(data),
  };
  for (const [target, js] of modules)
    files[`/${target}/model.mjs`] = { type: "text/javascript", body: js };
  server = await serve(files);
  // --enable-unsafe-webgpu turns WebGPU on where Chromium would not (Linux,
  // no GPU), and --use-webgpu-adapter=swiftshader picks its CPU Vulkan
  // (SwiftShader) explicitly.
  const launched = await launchChromium([
    "--enable-unsafe-webgpu",
    "--use-webgpu-adapter=swiftshader",
  ]);
  if (typeof launched === "string") {
    noBrowser = launched;
    return;
  }
  browser = launched;
  page = await browser.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => pageErrors.push(`uncaught: ${e.message}`));
  await page.goto(`${server.url}/`);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const pageErrorText = () => pageErrors.join("\n") || "(no page errors)";

/** Evaluate `p.<call>` in the page, where `p` is page.js's exports; page errors join a failure. */
async function pageCall<T>(call: string): Promise<T> {
  try {
    return (await page!.evaluate(`import("/page.js").then((p) => p.${call})`)) as T;
  } catch (e) {
    throw new Error(`in the page: ${(e as Error).message}\n${pageErrorText()}`);
  }
}

/** Why `target` cannot run here (no browser, or no WebGPU adapter in the page or in Node). */
async function unavailable(target: Target): Promise<string | undefined> {
  if (noBrowser) return noBrowser;
  if (target === "js") return undefined;
  const a = await pageCall<{ ok: boolean; why?: string }>("adapter()");
  if (!a.ok) return `Chromium has no WebGPU adapter: ${a.why}`;
  const node = await probeNodeGpu();
  return node.gpu ? undefined : `Node (Dawn) has ${node.reason}`;
}

/** The largest relative difference, floored at 1e-3 so near-zero values compare absolutely. */
function worst(got: readonly number[], want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  return Math.max(
    ...got.map((v, i) => Math.abs(v - want[i]!) / Math.max(1e-3, Math.abs(want[i]!))),
  );
}

describe.each(targets)(
  "the v1 mlp sample (test/fixtures/mlp-256.dlg) for %s in headless Chromium",
  (target) => {
    it(
      `trains ${steps} steps, the loss falls, and it predicts as Node does`,
      async (ctx) => {
        const why = await unavailable(target);
        if (why) {
          if (inCI) throw new Error(`CI=true: ${why}`);
          console.warn(`browser test for ${target} skipped: ${why}`);
          ctx.skip(why);
        }
        const opts = { seed, steps, backend: target };
        const inPage = await pageCall<RunResult>(`run(${JSON.stringify(opts)})`);
        const js = modules.get(target)!;
        const mod = (await import(
          `data:text/javascript;base64,${Buffer.from(js).toString("base64")}`
        )) as ModelModule;
        const gpu = target === "webgpu" ? (await probeNodeGpu()).gpu : undefined;
        const inNode = await trainRun(mod, { ...opts, gpu }, data);

        const seen = `page ${JSON.stringify(inPage)}\nnode ${JSON.stringify(inNode)}\n${pageErrorText()}`;
        expect(inPage.backend, seen).toBe(target);
        expect(inPage.after, `evaluate() before and after training\n${seen}`).toBeLessThan(
          inPage.before,
        );
        expect(inPage.losses.at(-1)!, `step losses\n${seen}`).toBeLessThan(inPage.losses[0]!);
        expect(inPage.probs.length).toBe(predictCount * 10);
        // On this machine page and Node agree exactly: both run the same
        // SwiftShader (/usr/lib/chromium/libvk_swiftshader.so) and the same WGSL,
        // and the JS module runs on V8 either way. Exactness is not the contract,
        // though: Chromium's Dawn and the npm package's are different builds whose
        // shader compilers may contract or reorder float operations differently,
        // and a browser with a real GPU would differ more. Hence the 1e-4.
        expect(worst(inPage.losses, inNode.losses), seen).toBeLessThan(1e-4);
        expect(worst(inPage.probs, inNode.probs), seen).toBeLessThan(1e-4);
      },
      timeout,
    );
  },
);
