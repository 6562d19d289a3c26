// A child process that runs fuzz cases one at a time for the pool: it reads
// a case from its parent and answers with the outcome, so the parent can time
// it out or survive it dying.

import { runCase } from "./oracle.ts";
import type { CaseRequest } from "./pool.ts";

process.on("message", ({ c, run }: CaseRequest) => {
  void runCase(c, run).then((o) => process.send!(o));
});
