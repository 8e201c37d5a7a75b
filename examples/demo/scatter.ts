// A hand-written SVG scatter chart (no plotting package): points with error bars in x and y, joined
// in order within each series, each point labelled; several panels on a grid sharing one legend.

/** One point: mean and spread in x and y, and a short label drawn next to it (e.g. "λ=0.1"). */
export interface ScatterPoint {
  x: number;
  y: number;
  xErr?: number;
  yErr?: number;
  label?: string;
}

/** A series: its points are joined in the given order. */
export interface ScatterSeries {
  name: string;
  points: readonly ScatterPoint[];
}

/** One panel. */
export interface ScatterPanel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ScatterSeries[];
  /** Dashed horizontal line (e.g. 0 = no change from the baseline). */
  reference?: number;
  /** Dashed vertical line (e.g. 1 = the baseline's drift). */
  xReference?: number;
}

const COLORS = [
  '#555555',
  '#d62728',
  '#1f77b4',
  '#2ca02c',
  '#9467bd',
  '#ff7f0e',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
];
const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (x: number): string => (Math.round(x * 10) / 10).toString();

/** A "nice" step (1, 2 or 5 × 10^k) giving about `n` intervals over `span`. */
export function niceStep(span: number, n = 5): number {
  if (!(span > 0)) return 1;
  const raw = span / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/** Axis range covering every value ± error (and `extra`), rounded out to the axis step. */
export function axisRange(
  values: readonly number[],
  extra: readonly number[] = [],
): [number, number, number] {
  const vals = [...values, ...extra].filter(Number.isFinite);
  if (vals.length === 0) return [0, 1, 0.2];
  let lo = Math.min(...vals);
  let hi = Math.max(...vals);
  if (hi - lo < 1e-12) {
    lo -= 0.5 * Math.abs(lo || 1);
    hi += 0.5 * Math.abs(hi || 1);
  }
  const step = niceStep(hi - lo);
  return [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step, step];
}

const decimals = (step: number): number => Math.max(0, -Math.floor(Math.log10(step) + 1e-9));

/** Renders `panels` on a grid of `columns` as a standalone SVG document. */
export function renderScatter(
  panels: readonly ScatterPanel[],
  { title = '', columns = 3 }: { title?: string; columns?: number } = {},
): string {
  const pw = 380;
  const ph = 300;
  const m = { left: 62, right: 16, top: 56, bottom: 52 };
  const cols = Math.max(1, Math.min(columns, panels.length));
  const rows = Math.ceil(panels.length / cols);
  const names = panels[0]?.series.map((s) => s.name) ?? [];
  const legendH = 22 * Math.ceil(names.length / 3) + 12;
  const top = title ? 10 : 0;
  const width = cols * pw;
  const height = top + rows * ph + legendH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (title)
    out.push(
      `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
    );
  panels.forEach((p, k) => {
    const ox = (k % cols) * pw;
    const oy = top + Math.floor(k / cols) * ph;
    const x0 = ox + m.left;
    const x1 = ox + pw - m.right;
    const y0 = oy + ph - m.bottom;
    const y1 = oy + m.top;
    const pts = p.series.flatMap((s) => s.points);
    const [xlo, xhi, xs] = axisRange(
      pts.flatMap((q) => [q.x - (q.xErr ?? 0), q.x + (q.xErr ?? 0)]),
      p.xReference === undefined ? [] : [p.xReference],
    );
    const [ylo, yhi, ys] = axisRange(
      pts.flatMap((q) => [q.y - (q.yErr ?? 0), q.y + (q.yErr ?? 0)]),
      p.reference === undefined ? [] : [p.reference],
    );
    const xAt = (v: number): number => x0 + ((v - xlo) / (xhi - xlo)) * (x1 - x0);
    const yAt = (v: number): number => y0 - ((v - ylo) / (yhi - ylo)) * (y0 - y1);
    out.push(
      `<text x="${(x0 + x1) / 2}" y="${y1 - 14}" text-anchor="middle" font-size="13">${esc(p.title)}</text>`,
    );
    for (let t = Math.round(ylo / ys); t * ys <= yhi + 1e-9; t++) {
      const y = yAt(t * ys);
      out.push(`<line x1="${x0}" x2="${x1}" y1="${num(y)}" y2="${num(y)}" stroke="#ddd"/>`);
      out.push(
        `<text x="${x0 - 6}" y="${num(y + 4)}" text-anchor="end">${esc((t * ys).toFixed(decimals(ys)))}</text>`,
      );
    }
    for (let t = Math.round(xlo / xs); t * xs <= xhi + 1e-9; t++) {
      const x = xAt(t * xs);
      out.push(`<line x1="${num(x)}" x2="${num(x)}" y1="${y0}" y2="${y1}" stroke="#eee"/>`);
      out.push(
        `<text x="${num(x)}" y="${y0 + 16}" text-anchor="middle">${esc((t * xs).toFixed(decimals(xs)))}</text>`,
      );
    }
    if (p.reference !== undefined && p.reference >= ylo && p.reference <= yhi) {
      const y = yAt(p.reference);
      out.push(
        `<line x1="${x0}" x2="${x1}" y1="${num(y)}" y2="${num(y)}" stroke="#888" stroke-dasharray="2 3"/>`,
      );
    }
    if (p.xReference !== undefined) {
      const x = xAt(p.xReference);
      out.push(
        `<line x1="${num(x)}" x2="${num(x)}" y1="${y0}" y2="${y1}" stroke="#888" stroke-dasharray="2 3"/>`,
      );
    }
    out.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#333"/>`);
    out.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 36}" text-anchor="middle">${esc(p.xLabel)}</text>`);
    out.push(
      `<text x="${x0 - 48}" y="${(y0 + y1) / 2}" text-anchor="middle" transform="rotate(-90 ${x0 - 48} ${(y0 + y1) / 2})">${esc(p.yLabel)}</text>`,
    );
    p.series.forEach((s, j) => {
      const color = COLORS[j % COLORS.length] as string;
      const finite = s.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
      if (finite.length > 1) {
        const path = finite.map((q) => `${num(xAt(q.x))},${num(yAt(q.y))}`).join(' ');
        out.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
      }
      for (const q of finite) {
        const cx = xAt(q.x);
        const cy = yAt(q.y);
        if ((q.xErr ?? 0) > 0)
          out.push(
            `<line x1="${num(xAt(q.x - (q.xErr ?? 0)))}" x2="${num(xAt(q.x + (q.xErr ?? 0)))}" y1="${num(cy)}" y2="${num(cy)}" stroke="${color}"/>`,
          );
        if ((q.yErr ?? 0) > 0)
          out.push(
            `<line x1="${num(cx)}" x2="${num(cx)}" y1="${num(yAt(q.y - (q.yErr ?? 0)))}" y2="${num(yAt(q.y + (q.yErr ?? 0)))}" stroke="${color}"/>`,
          );
        out.push(
          `<circle cx="${num(cx)}" cy="${num(cy)}" r="3.5" fill="${color}"><title>${esc(`${s.name}${q.label ? ` ${q.label}` : ''}: x ${q.x.toPrecision(3)}, y ${q.y.toPrecision(3)}`)}</title></circle>`,
        );
        if (q.label)
          out.push(
            `<text x="${num(cx + 5)}" y="${num(cy - 5)}" font-size="10" fill="${color}">${esc(q.label)}</text>`,
          );
      }
    });
  });
  names.forEach((name, j) => {
    const x = width / 2 - 330 + (j % 3) * 220;
    const y = top + rows * ph + 10 + Math.floor(j / 3) * 22;
    const color = COLORS[j % COLORS.length] as string;
    out.push(`<line x1="${x}" x2="${x + 28}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<circle cx="${x + 14}" cy="${y}" r="3.5" fill="${color}"/>`);
    out.push(`<text x="${x + 34}" y="${y + 4}">${esc(name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
