// A static server on 127.0.0.1 (a random free port) for the browser test:
// files are held in memory, served by exact path, anything else is a 404.
// WebGPU needs a secure context; http://127.0.0.1 is one.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface Served {
  type: string;
  body: string | Uint8Array;
  /** More response headers (COOP/COEP for a cross-origin-isolated page). */
  headers?: Record<string, string>;
}

export async function serve(
  files: Record<string, Served>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const file = Object.hasOwn(files, req.url ?? "") ? files[req.url!] : undefined;
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { ...file.headers, "content-type": file.type, "cache-control": "no-store" })
      .end(file.body);
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", ok);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
