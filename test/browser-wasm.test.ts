// The module compiled for wasm in headless Chromium: test/fixtures/mlp-256.dlg (the v1 mlp sample) trains
// a few steps in a page served from 127.0.0.1, once without cross-origin
// isolation (no SharedArrayBuffer: the runtime patches the memory unshared
// and runs on the page's thread) and once with COOP/COEP headers (shared
// memory, Web Workers). Both pages give the same bits, createModelSync
// works in either, and their predictions equal Node's. The emitted module has no imports. Needs
// /usr/bin/chromium; under CI=true a missing browser fails the test,
// elsewhere it skips and says why.

import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../cli/node-host.ts";
import { dataFiles, launchChromium, mnistData, pageScript } from "./browser/page-data.ts";
import { serve } from "./browser/server.ts";
import { trainRun, type ModelModule, type RunData } from "./browser/train-run.ts";
import type { WasmPageResult } from "./browser/wasm-page.ts";

const inCI = process.env.CI === "true";
const seed = 5;
const steps = 4;
const batchSize = 32;
const predictCount = 8;
const timeout = 120_000;

/** The headers that make a page cross-origin isolated (SharedArrayBuffer, threads). */
const isolation = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
};

let browser: Browser | undefined;
let server: Awaited<ReturnType<typeof serve>> | undefined;
let noBrowser: string | undefined;
let js = "";
let data: RunData;

beforeAll(async () => {
  const r = compile("test/fixtures/mlp-256.dlg", { target: "wasm" });
  expect(r.diagnostics).toEqual([]);
  js = r.js!;
  data = mnistData(batchSize, predictCount);
  const html = "<!doctype html><title>dlg wasm browser test</title>";
  server = await serve({
    "/plain/": { type: "text/html", body: html },
    "/isolated/": { type: "text/html", body: html, headers: isolation },
    "/favicon.ico": { type: "image/x-icon", body: "" },
    "/page.js": await pageScript("wasm-page.ts"),
    "/wasm/model.mjs": { type: "text/javascript", body: js },
    ...dataFiles(data),
  });
  const launched = await launchChromium([]);
  if (typeof launched === "string") noBrowser = launched;
  else browser = launched;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** trainRun in a fresh page at `path`; the page's errors join a failure's message. */
async function inPage(path: string): Promise<WasmPageResult> {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  try {
    await page.goto(`${server!.url}${path}`);
    return (await page.evaluate(
      `import("/page.js").then((p) => p.run(${JSON.stringify({ seed, steps })}))`,
    )) as WasmPageResult;
  } catch (e) {
    throw new Error(`in the page at ${path}: ${(e as Error).message}\n${errors.join("\n")}`);
  } finally {
    await page.close();
  }
}

function worst(got: readonly number[], want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  return Math.max(
    ...got.map((v, i) => Math.abs(v - want[i]!) / Math.max(1e-3, Math.abs(want[i]!))),
  );
}

describe("the v1 mlp sample (test/fixtures/mlp-256.dlg) for wasm in headless Chromium", () => {
  it("is one module with no imports", () => {
    expect(js).not.toMatch(/^\s*import[\s{*"']/m);
    expect(js).not.toMatch(/^\s*export\s.*\sfrom\s/m);
  });

  it(
    "trains single-threaded without isolation and on workers with it, the same bits, as Node does",
    async (ctx) => {
      if (noBrowser) {
        if (inCI) throw new Error(`CI=true: ${noBrowser}`);
        console.warn(`wasm browser test skipped: ${noBrowser}`);
        ctx.skip(noBrowser);
      }
      const plain = await inPage("/plain/");
      const isolated = await inPage("/isolated/");
      const seen = `plain ${JSON.stringify(plain)}\nisolated ${JSON.stringify(isolated)}`;
      expect(plain.isolated, seen).toBe(false);
      expect(plain.workers, seen).toBe(0);
      expect(isolated.isolated, seen).toBe(true);
      expect(isolated.workers, seen).toBeGreaterThan(0);
      // Kernels ran split on the workers (without isolation nothing wakes a worker).
      expect(plain.wakes, seen).toBe(0);
      expect(isolated.wakes, seen).toBeGreaterThan(0);
      expect(plain.backend).toBe("wasm");
      expect(plain.losses.at(-1)!, seen).toBeLessThan(plain.losses[0]!);
      // createModelSync runs in a page too (the page's thread), with createModel's bits.
      expect(plain.fresh.sync, seen).toEqual(plain.fresh.async);
      expect(isolated.fresh.sync, seen).toEqual(isolated.fresh.async);
      // Threads never change the bits.
      const { workers: _w, isolated: _i, wakes: _k, ...a } = plain;
      const { workers: _v, isolated: _j, wakes: _l, ...b } = isolated;
      expect(b, seen).toEqual(a);
      const mod = (await import(
        `data:text/javascript;base64,${Buffer.from(js).toString("base64")}`
      )) as ModelModule;
      const node = await trainRun(mod, { seed, steps, backend: "wasm" }, data);
      // Chromium has relaxed SIMD (fused multiply-adds) where Node 20 runs the
      // plain-SIMD binary, so page and Node agree to rounding, not bit for bit.
      expect(worst(plain.losses, node.losses), seen).toBeLessThan(1e-4);
      expect(worst(plain.probs, node.probs), seen).toBeLessThan(1e-4);
    },
    timeout,
  );
});
