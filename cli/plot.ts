// `--plot FILE.svg`: a self-contained SVG (no scripts, fonts or styles from
// elsewhere) of the per-epoch curves: losses in one panel, validation
// metrics in another, each with axes, ticks, labels and a legend. Losses that
// span more than two decades are drawn on a log axis, where convergence shows.

import type { TrainReport } from "./train.ts";

export interface Series {
  name: string;
  /** One value per epoch; null where there is none. */
  values: (number | null)[];
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
}

const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
const W = 720;
const panelH = 280;
const margin = { left: 72, right: 24, top: 40, bottom: 48 };

function esc(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** Round-number ticks (1, 2, 5 x 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  if (ticks[ticks.length - 1]! < hi) ticks.push(ticks[ticks.length - 1]! + step);
  return ticks;
}

function tickLabel(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(0);
  return String(Number(v.toPrecision(6)));
}

function renderPanel(p: Panel, epochs: number, y0: number): string {
  const x0 = margin.left;
  const pw = W - margin.left - margin.right;
  const ph = panelH - margin.top - margin.bottom;
  const top = y0 + margin.top;
  const values = p.series.flatMap((s) =>
    s.values.filter((v): v is number => v !== null && Number.isFinite(v)),
  );
  const out: string[] = [];
  out.push(
    `<text x="${x0}" y="${y0 + 24}" font-size="15" font-weight="bold">${esc(p.title)}</text>`,
  );
  if (values.length === 0) {
    out.push(`<text x="${x0}" y="${top + ph / 2}" fill="#666">no values</text>`);
    return out.join("\n");
  }
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const log = lo > 0 && hi / lo > 100;
  let ticks: number[];
  if (log) {
    lo = Math.floor(Math.log10(lo));
    hi = Math.ceil(Math.log10(hi));
    if (lo === hi) hi = lo + 1;
    const every = Math.max(1, Math.ceil((hi - lo) / 8));
    ticks = [];
    for (let t = lo; t <= hi; t += every) ticks.push(t);
  } else {
    ticks = niceTicks(lo, hi);
    lo = ticks[0]!;
    hi = ticks[ticks.length - 1]!;
  }
  // One epoch gets a centred point instead of a zero-width axis.
  const [xlo, xhi] = epochs > 1 ? [1, epochs] : [0.5, 1.5];
  const sx = (e: number) => x0 + ((e - xlo) / (xhi - xlo)) * pw;
  const sy = (v: number) => top + ph - (((log ? Math.log10(v) : v) - lo) / (hi - lo)) * ph;

  // Grid and y ticks.
  for (const t of ticks) {
    const y = top + ph - ((t - lo) / (hi - lo)) * ph;
    out.push(
      `<line x1="${x0}" y1="${y.toFixed(1)}" x2="${x0 + pw}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`,
    );
    // Decades read best as plain numbers near 1 (0.01 .. 1000), as powers beyond.
    const label = log ? (t >= -2 && t <= 3 ? String(10 ** t) : `1e${t}`) : tickLabel(t);
    out.push(
      `<text x="${x0 - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11">${label}</text>`,
    );
  }
  // X ticks: integer epochs, at most about ten.
  const every = Math.max(1, Math.ceil(epochs / 10));
  for (let e = 1; e <= epochs; e += every) {
    const x = sx(e);
    out.push(
      `<line x1="${x.toFixed(1)}" y1="${top + ph}" x2="${x.toFixed(1)}" y2="${top + ph + 5}" stroke="#333"/>`,
    );
    out.push(
      `<text x="${x.toFixed(1)}" y="${top + ph + 18}" text-anchor="middle" font-size="11">${e}</text>`,
    );
  }
  // Axes and their labels.
  out.push(`<line x1="${x0}" y1="${top}" x2="${x0}" y2="${top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${x0}" y1="${top + ph}" x2="${x0 + pw}" y2="${top + ph}" stroke="#333"/>`);
  out.push(
    `<text x="${x0 + pw / 2}" y="${top + ph + 38}" text-anchor="middle" font-size="12">epoch</text>`,
  );
  const yl = `${p.yLabel}${log ? " (log scale)" : ""}`;
  out.push(
    `<text x="18" y="${top + ph / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 18 ${top + ph / 2})">${esc(yl)}</text>`,
  );
  // Curves, with a marker on every point so single epochs still show.
  p.series.forEach((s, i) => {
    const color = palette[i % palette.length]!;
    const pts = s.values
      .map((v, k) =>
        v !== null && Number.isFinite(v) && (!log || v > 0) ? [sx(k + 1), sy(v)] : null,
      )
      .filter((q): q is number[] => q !== null);
    if (pts.length > 1) {
      const d = pts
        .map(([x, y], k) => `${k === 0 ? "M" : "L"}${x!.toFixed(1)},${y!.toFixed(1)}`)
        .join(" ");
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    if (pts.length <= 50) {
      for (const [x, y] of pts) {
        out.push(`<circle cx="${x!.toFixed(1)}" cy="${y!.toFixed(1)}" r="3" fill="${color}"/>`);
      }
    }
  });
  // Legend in the panel's header row, right-aligned: it can never hide a curve.
  const widths = p.series.map((s) => 24 + 7 * s.name.length + 16);
  let lx = x0 + pw - widths.reduce((a, b) => a + b, 0);
  p.series.forEach((s, i) => {
    const color = palette[i % palette.length]!;
    out.push(`<rect x="${lx}" y="${y0 + 16}" width="16" height="3" fill="${color}"/>`);
    out.push(`<text x="${lx + 22}" y="${y0 + 22}" font-size="12">${esc(s.name)}</text>`);
    lx += widths[i]!;
  });
  return out.join("\n");
}

export function renderSvg(title: string, panels: Panel[], epochs: number): string {
  const H = 36 + panels.length * panelH;
  const body = panels.map((p, i) => renderPanel(p, epochs, 36 + i * panelH)).join("\n");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${esc(title)}</text>`,
    body,
    `</svg>`,
    "",
  ].join("\n");
}

/** Loss panel (train and validation) plus one panel of validation metrics when the model has any. */
export function trainingPlot(report: TrainReport, title: string): string {
  const ep = report.epochs;
  const panels: Panel[] = [
    {
      title: "Loss",
      yLabel: "loss",
      series: [
        { name: "train loss", values: ep.map((r) => r.trainLoss) },
        ...(ep.some((r) => r.valid)
          ? [{ name: "validation loss", values: ep.map((r) => r.valid?.loss ?? null) }]
          : []),
      ],
    },
  ];
  const names = [...new Set(ep.flatMap((r) => Object.keys(r.valid?.metrics ?? {})))];
  if (names.length > 0) {
    panels.push({
      title: "Validation metrics",
      yLabel: "value",
      series: names.map((n) => ({ name: n, values: ep.map((r) => r.valid?.metrics[n] ?? null) })),
    });
  }
  return renderSvg(title, panels, ep.length);
}
