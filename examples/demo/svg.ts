// A hand-written SVG line chart (no plotting package): series of mean values with ±std error bars,
// several panels side by side sharing one legend.

/** One line of a panel: a value (and optional error) per x position. */
export interface Series {
  name: string;
  mean: readonly number[];
  std?: readonly number[];
}

/** One panel: categorical x positions, a y range, a line per series. */
export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Tick labels of the x positions (equally spaced). */
  xTicks: readonly string[];
  series: readonly Series[];
  /** y range; default: the data's (mean ± std, and `reference`) rounded out to tenths, within [0, 1]. */
  yRange?: [number, number];
  /** Draws a dashed horizontal reference line at this y (e.g. 0.5 = parity with the baseline). */
  reference?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const DASHES = ['', '6 3', '', '6 3', '', '6 3'];

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (x: number): string => (Math.round(x * 10) / 10).toString();

function autoRange(p: Panel): [number, number] {
  const vals: number[] = p.reference === undefined ? [] : [p.reference];
  for (const s of p.series) {
    s.mean.forEach((v, i) => {
      const sd = s.std?.[i] ?? 0;
      if (Number.isFinite(v)) vals.push(v - sd, v + sd);
    });
  }
  if (vals.length === 0) return [0, 1];
  const lo = Math.max(0, Math.floor(Math.min(...vals) * 10) / 10);
  const hi = Math.min(1, Math.ceil(Math.max(...vals) * 10) / 10);
  return hi > lo ? [lo, hi] : [Math.max(0, lo - 0.1), Math.min(1, hi + 0.1)];
}

/** Renders `panels` side by side as a standalone SVG document. */
export function renderChart(panels: readonly Panel[], { title = '' } = {}): string {
  const pw = 380;
  const ph = 300;
  const m = { left: 56, right: 16, top: 56, bottom: 52 };
  const legendH = 22 * Math.ceil((panels[0]?.series.length ?? 0) / 2) + 10;
  const width = panels.length * pw;
  const height = ph + legendH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (title)
    out.push(
      `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
    );
  panels.forEach((p, k) => {
    const x0 = k * pw + m.left;
    const x1 = (k + 1) * pw - m.right;
    const y0 = ph - m.bottom;
    const y1 = m.top;
    const [lo, hi] = p.yRange ?? autoRange(p);
    const n = p.xTicks.length;
    const xAt = (i: number): number => (n === 1 ? (x0 + x1) / 2 : x0 + 20 + ((x1 - x0 - 40) * i) / (n - 1));
    const yAt = (v: number): number => y0 - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * (y0 - y1);
    out.push(
      `<text x="${(x0 + x1) / 2}" y="${m.top - 14}" text-anchor="middle" font-size="13">${esc(p.title)}</text>`,
    );
    // Gridlines at round values (multiples of 0.05 / 0.1 / 0.2, by range) rather than at quarters.
    const step = hi - lo > 0.6 ? 0.2 : hi - lo > 0.3 ? 0.1 : 0.05;
    for (let t = Math.ceil(lo / step - 1e-9); t * step <= hi + 1e-9; t++) {
      const v = t * step;
      const y = yAt(v);
      out.push(`<line x1="${x0}" x2="${x1}" y1="${num(y)}" y2="${num(y)}" stroke="#ddd"/>`);
      out.push(`<text x="${x0 - 6}" y="${num(y + 4)}" text-anchor="end">${esc(v.toFixed(2))}</text>`);
    }
    if (p.reference !== undefined) {
      const y = yAt(p.reference);
      out.push(
        `<line x1="${x0}" x2="${x1}" y1="${num(y)}" y2="${num(y)}" stroke="#888" stroke-dasharray="2 3"/>`,
      );
    }
    out.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#333"/>`);
    p.xTicks.forEach((label, i) => {
      out.push(`<text x="${num(xAt(i))}" y="${y0 + 16}" text-anchor="middle">${esc(label)}</text>`);
    });
    out.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 36}" text-anchor="middle">${esc(p.xLabel)}</text>`);
    out.push(
      `<text x="${x0 - 42}" y="${(y0 + y1) / 2}" text-anchor="middle" transform="rotate(-90 ${x0 - 42} ${(y0 + y1) / 2})">${esc(p.yLabel)}</text>`,
    );
    p.series.forEach((s, j) => {
      const color = COLORS[j % COLORS.length] as string;
      const dash = DASHES[j % DASHES.length] as string;
      // A small horizontal offset per series keeps overlapping error bars readable.
      const dx = (j - (p.series.length - 1) / 2) * 3;
      const pts = s.mean.map((v, i) => (Number.isFinite(v) ? `${num(xAt(i) + dx)},${num(yAt(v))}` : null));
      const path = pts.filter((q): q is string => q !== null).join(' ');
      out.push(
        `<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      );
      s.mean.forEach((v, i) => {
        if (!Number.isFinite(v)) return;
        const x = xAt(i) + dx;
        const sd = s.std?.[i] ?? 0;
        if (sd > 0) {
          out.push(
            `<line x1="${num(x)}" x2="${num(x)}" y1="${num(yAt(v - sd))}" y2="${num(yAt(v + sd))}" stroke="${color}"/>`,
          );
        }
        out.push(
          `<circle cx="${num(x)}" cy="${num(yAt(v))}" r="3" fill="${color}"><title>${esc(`${s.name}: ${v.toFixed(3)}${sd > 0 ? ` ± ${sd.toFixed(3)}` : ''}`)}</title></circle>`,
        );
      });
    });
  });
  (panels[0]?.series ?? []).forEach((s, j) => {
    const col = j % 2;
    const row = Math.floor(j / 2);
    const x = width / 2 - 200 + col * 220;
    const y = ph + 10 + row * 22;
    const color = COLORS[j % COLORS.length] as string;
    const dash = DASHES[j % DASHES.length] as string;
    out.push(
      `<line x1="${x}" x2="${x + 28}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    );
    out.push(`<text x="${x + 34}" y="${y + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
