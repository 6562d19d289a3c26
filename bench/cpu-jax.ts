// jax-js on its wasm device, for the CPU bench: single-threaded, or with a
// pool of workers over a shared memory. jax-js starts that pool only where
// `SharedArrayBuffer` and a browser's `Worker` exist, with
// navigator.hardwareConcurrency workers, each running a script it made as a
// Blob URL. Node has worker_threads but no `Worker` global, so for the pooled
// variant this file installs a small Web Worker over worker_threads: the
// script's text is taken from the Blob jax-js builds, and the worker gets
// `self`, `postMessage` and `onmessage` as a browser worker has them. The
// messages (a WebAssembly.Module, the shared WebAssembly.Memory) pass through
// worker_threads' postMessage as they pass through a browser's.

import { Worker as NodeWorker } from "node:worker_threads";
import type { JaxJs } from "./webgpu-setup.ts";

/** Blob URL -> the script text jax-js put in that Blob. */
const scripts = new Map<string, string>();

/** What a worker script sees of a browser worker's scope, bridged to worker_threads. */
const prelude = `
const { parentPort } = require("node:worker_threads");
globalThis.self = globalThis;
globalThis.postMessage = (data) => parentPort.postMessage(data);
parentPort.on("message", (data) => globalThis.onmessage && globalThis.onmessage({ data }));
`;

class BlobWorker {
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: ((e: { message: string }) => void) | null = null;
  readonly #w: NodeWorker;
  constructor(url: string | URL) {
    const script = scripts.get(String(url));
    if (script === undefined) throw new Error(`no worker script behind ${String(url)}`);
    this.#w = new NodeWorker(prelude + script, { eval: true });
    this.#w.on("message", (data) => this.onmessage?.({ data }));
    this.#w.on("error", (e) => this.onerror?.({ message: e.message }));
  }
  postMessage(data: unknown): void {
    this.#w.postMessage(data);
  }
  terminate(): void {
    void this.#w.terminate();
  }
}

function installWorkers(count: number): void {
  const NodeBlob = globalThis.Blob;
  class TextBlob extends NodeBlob {
    readonly script: string | undefined;
    constructor(parts: BlobPart[], opts?: BlobPropertyBag) {
      super(parts, opts);
      this.script = parts.every((p) => typeof p === "string") ? parts.join("") : undefined;
    }
  }
  const createObjectURL = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (blob: Blob) => {
    const url = createObjectURL(blob);
    if (blob instanceof TextBlob && blob.script !== undefined) scripts.set(url, blob.script);
    return url;
  };
  const revoke = URL.revokeObjectURL.bind(URL);
  URL.revokeObjectURL = (url: string) => {
    scripts.delete(url);
    revoke(url);
  };
  Object.assign(globalThis, { Blob: TextBlob, Worker: BlobWorker });
  Object.defineProperty(globalThis, "navigator", {
    value: { hardwareConcurrency: count, userAgent: "node" },
    configurable: true,
    writable: true,
  });
}

/** jax-js with wasm as its device; `workers` > 0 gives it a pool of that many workers. */
export async function loadJaxWasm(workers: number): Promise<JaxJs> {
  if (workers > 0) installWorkers(workers);
  const jax = await import("@jax-js/jax");
  const devices = await jax.init("wasm");
  if (!devices.includes("wasm")) throw new Error("jax-js could not start its wasm backend");
  jax.defaultDevice("wasm");
  return jax;
}
