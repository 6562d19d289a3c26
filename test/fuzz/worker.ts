// A child process that runs fuzz cases one at a time for the pool: it reads
// a case from its parent and answers with the outcome, so the parent can time
// it out or survive it dying.

import { runCase, type FuzzCase } from "./oracle.ts";

process.on("message", (c: FuzzCase) => {
  void runCase(c).then((o) => process.send!(o));
});
