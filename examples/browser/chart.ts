// A minimal live line chart on a <canvas> (no chart library: the example stays dependency-free).

/** One named series of a {@link LineChart}. */
export interface Series {
  label: string;
  color: string;
  points: { x: number; y: number }[];
}

/** Redraws every series, auto-scaled, whenever a point is added. */
export class LineChart {
  readonly series: Series[];
  private readonly ctx: CanvasRenderingContext2D;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly title: string,
    series: { label: string; color: string }[],
    private readonly fixedRange?: [number, number],
  ) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('2-D canvas context unavailable');
    this.ctx = ctx;
    this.series = series.map((s) => ({ ...s, points: [] }));
    this.draw();
  }

  /** Appends y-values (one per series, `undefined` or non-finite skips that series) at step x. */
  add(x: number, ys: (number | undefined)[]): void {
    ys.forEach((y, i) => {
      if (y !== undefined && Number.isFinite(y)) this.series[i]?.points.push({ x, y });
    });
    this.draw();
  }

  /** Number of points plotted so far, all series together. */
  get pointCount(): number {
    return this.series.reduce((n, s) => n + s.points.length, 0);
  }

  clear(): void {
    for (const s of this.series) s.points.length = 0;
    this.draw();
  }

  private draw(): void {
    const { ctx, canvas } = this;
    const w = canvas.width;
    const h = canvas.height;
    const pad = { left: 48, right: 10, top: 24, bottom: 22 };
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    ctx.fillStyle = '#222';
    ctx.font = '13px system-ui, sans-serif';
    ctx.fillText(this.title, pad.left, 16);
    const all = this.series.flatMap((s) => s.points);
    let [lo, hi] = this.fixedRange ?? [
      Math.min(...all.map((p) => p.y), 0),
      Math.max(...all.map((p) => p.y), 1e-3),
    ];
    if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
    const xMin = Math.min(0, ...all.map((p) => p.x));
    const xMax = Math.max(xMin + 1, ...all.map((p) => p.x));
    const X = (x: number) => pad.left + ((x - xMin) / (xMax - xMin)) * (w - pad.left - pad.right);
    const Y = (y: number) => pad.top + (1 - (y - lo) / (hi - lo)) * (h - pad.top - pad.bottom);
    ctx.strokeStyle = '#ccc';
    ctx.lineWidth = 1;
    ctx.strokeRect(pad.left, pad.top, w - pad.left - pad.right, h - pad.top - pad.bottom);
    ctx.fillStyle = '#555';
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillText(hi.toPrecision(3), 4, pad.top + 8);
    ctx.fillText(lo.toPrecision(3), 4, h - pad.bottom);
    ctx.fillText(`step ${xMax}`, w - pad.right - 48, h - 6);
    let legendX = pad.left + ctx.measureText(this.title).width + 40;
    for (const s of this.series) {
      ctx.fillStyle = s.color;
      ctx.fillRect(legendX, 8, 10, 10);
      ctx.fillStyle = '#333';
      ctx.fillText(s.label, legendX + 14, 17);
      legendX += ctx.measureText(s.label).width + 30;
      if (s.points.length === 0) continue;
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      s.points.forEach((p, i) => {
        if (i === 0) ctx.moveTo(X(p.x), Y(p.y));
        else ctx.lineTo(X(p.x), Y(p.y));
      });
      ctx.stroke();
      const last = s.points[s.points.length - 1];
      if (last) {
        ctx.fillStyle = s.color;
        ctx.beginPath();
        ctx.arc(X(last.x), Y(last.y), 3, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  }
}
