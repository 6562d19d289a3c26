// A CSV reader for numeric tables: one header row of column names, then one
// row per example. Fields may be quoted (RFC 4180) so headers can hold commas;
// every data field must be a finite number. Errors name the file, line and
// column, because a bad cell in a thousand-row file is otherwise a hunt.

import { readFileSync } from "node:fs";
import { UserError } from "./errors.ts";

export interface CsvTable {
  header: string[];
  rows: number;
  /** Row-major values, `rows * header.length`, kept in float64 until fitted to a model. */
  values: Float64Array;
}

/** Split one line into fields, honouring double quotes (`""` is a literal quote). */
function splitLine(line: string, where: () => string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new UserError(`${where()}: unterminated quoted field`);
        const c = line[i]!;
        if (c === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += c;
        i++;
      }
      if (i < line.length && line[i] !== ",") {
        throw new UserError(`${where()}: unexpected text after a closing quote`);
      }
    } else {
      const end = line.indexOf(",", i);
      field = line.slice(i, end === -1 ? line.length : end);
      i = end === -1 ? line.length : end;
    }
    fields.push(field.trim());
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

export function parseCsv(text: string, name = "CSV data"): CsvTable {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let n = 0;
  // Blank lines (a trailing newline, spacing) carry no data.
  const next = (): string | undefined => {
    while (n < lines.length) {
      const l = lines[n++]!;
      if (l.trim() !== "") return l;
    }
    return undefined;
  };
  const first = next();
  if (first === undefined)
    throw new UserError(`${name} is empty: expected a header row of column names`);
  const header = splitLine(first, () => `${name}:${n}`);
  header.forEach((h, c) => {
    if (h === "") throw new UserError(`${name}:${n}: column ${c + 1} of the header has no name`);
    if (Number.isFinite(Number(h))) {
      throw new UserError(
        `${name}:${n}: the first row must name the columns, but column ${c + 1} is the number ${h}`,
      );
    }
  });
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h)) throw new UserError(`${name}: column \`${h}\` appears twice in the header`);
    seen.add(h);
  }

  const cols = header.length;
  let values = new Float64Array(Math.max(16, lines.length * cols));
  let rows = 0;
  for (let line = next(); line !== undefined; line = next()) {
    const fields = splitLine(line, () => `${name}:${n}`);
    if (fields.length !== cols) {
      throw new UserError(
        `${name}:${n}: expected ${cols} fields (as in the header), found ${fields.length}`,
      );
    }
    if ((rows + 1) * cols > values.length) {
      const grown = new Float64Array(values.length * 2);
      grown.set(values);
      values = grown;
    }
    for (let c = 0; c < cols; c++) {
      const f = fields[c]!;
      const v = Number(f);
      if (f === "" || !Number.isFinite(v)) {
        throw new UserError(
          `${name}:${n}: column \`${header[c]}\` holds \`${f}\`, which is not a finite number`,
        );
      }
      values[rows * cols + c] = v;
    }
    rows++;
  }
  return { header, rows, values: values.slice(0, rows * cols) };
}

export function readCsvFile(path: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseCsv(text, path);
}
