// The prettier plugin's entry (package export "dlg/prettier"). The sources
// are TypeScript with no build step, so the implementation is loaded through
// tsx's scoped import, which leaves prettier's own module loading untouched.
import { tsImport } from "tsx/esm/api";

const plugin = await tsImport("../cli/prettier-plugin.ts", import.meta.url);

export const languages = plugin.languages;
export const parsers = plugin.parsers;
export const printers = plugin.printers;
export default { languages, parsers, printers };
