// The growth section of docs/benchmarks.md from the growth suite's rows: one table per axis, Mermaid
// line charts (GitHub renders them; elsewhere they read as data), and the largest policy that fits
// within 4 GB (a wasm32 heap: a browser tab's ceiling) and 24 GB, from a least-squares fit of memory
// to the policy's parameters and its activations.

import { GROWTH_BASE } from './suites/growth';
import type { BenchRow } from './util';
import { policyParameters } from './whole-step/config';

interface Point {
  axis: string;
  variant: string;
  dim: number;
  layers: number;
  T: number;
  B: number;
  params: number;
  stepMs: number | null;
  firstMs: number | null;
  heapMB: number | null;
  tensorMB: number | null;
  failed: string | null;
}

function points(rows: BenchRow[]): Point[] {
  return rows
    .filter((r) => r.suite === 'growth' && r.extra)
    .map((r) => {
      const e = r.extra as Record<string, number | string>;
      const n = (k: string): number | null => (e[k] === undefined ? null : Number(e[k]));
      return {
        axis: String(e.axis),
        variant: String(e.variant),
        dim: Number(e.dim),
        layers: Number(e.layers),
        T: Number(e.T),
        B: Number(e.B),
        params: Number(e['policy params']),
        stepMs: r.timing ? r.timing.median : null,
        firstMs: n('first step ms'),
        heapMB: n('wasm heap MB'),
        tensorMB: n('tensor peak MB'),
        failed: e.failed === undefined ? null : String(e.failed),
      };
    });
}

/** Least squares y ≈ Σ c_k·x_k (normal equations, Gaussian elimination); null if singular. */
export function leastSquares(xs: number[][], ys: number[]): number[] | null {
  const k = xs[0]?.length ?? 0;
  const a = Array.from({ length: k }, (_, i) =>
    Array.from({ length: k + 1 }, (_, j) =>
      xs.reduce((s, x, r) => s + (x[i] as number) * (j < k ? (x[j] as number) : (ys[r] as number)), 0),
    ),
  );
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(a[r]?.[c] as number) > Math.abs(a[p]?.[c] as number)) p = r;
    [a[c], a[p]] = [a[p] as number[], a[c] as number[]];
    const pivot = a[c]?.[c] as number;
    if (Math.abs(pivot) < 1e-12) return null;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = (a[r]?.[c] as number) / pivot;
      for (let j = c; j <= k; j++) (a[r] as number[])[j] = (a[r]?.[j] as number) - f * (a[c]?.[j] as number);
    }
  }
  return a.map((row, i) => (row[k] as number) / (row[i] as number));
}

/**
 * Memory features of a point: 1, policy parameters (M), the policy's activations (B·T·layers·width,
 * M), the critic's (B·T·width, M: its depth is fixed) and B·T² (M: the critic's attention-dropout masks,
 * [B, heads, T, T] per layer and call).
 */
const features = (p: Pick<Point, 'params' | 'B' | 'T' | 'layers' | 'dim'>): number[] => [
  1,
  p.params / 1e6,
  (p.B * p.T * p.layers * p.dim) / 1e6,
  (p.B * p.T * p.dim) / 1e6,
  (p.B * p.T * p.T) / 1e6,
];

/** GPT-2-shaped candidates (width, depth), smallest to largest. */
const FAMILY: [number, number][] = [
  [256, 6],
  [384, 8],
  [512, 8],
  [640, 10],
  [768, 12],
  [1024, 16],
  [1024, 24],
  [1280, 24],
  [1536, 24],
  [1600, 48],
  [2048, 24],
  [2560, 32],
];

/** The fitted memory (MB) of a point. */
const predict = (coef: number[], p: Pick<Point, 'params' | 'B' | 'T' | 'layers' | 'dim'>): number =>
  features(p).reduce((s, x, i) => s + x * (coef[i] as number), 0);

function largestWithin(
  coef: number[],
  limitMB: number,
  T: number,
  B: number,
): { dim: number; layers: number; params: number } | null {
  let best: { dim: number; layers: number; params: number } | null = null;
  for (const [dim, layers] of FAMILY) {
    const params = policyParameters({ vocab: 256, dim, layers, ffn: 4 * dim, maxSeqLen: T });
    const mb = predict(coef, { params, B, T, layers, dim });
    if (mb <= limitMB && (!best || params > best.params)) best = { dim, layers, params };
  }
  return best;
}

const fmt = (x: number | null, d = 0): string => (x === null || !Number.isFinite(x) ? '–' : x.toFixed(d));
const mParams = (p: number): string => `${(p / 1e6).toFixed(p < 1e7 ? 2 : 1)} M`;

/** The growth section's lines (empty when the run had no growth rows). */
export function renderGrowth(rows: BenchRow[]): string[] {
  const ps = points(rows);
  if (ps.length === 0) return [];
  const out: string[] = [];
  const axes: [string, string, (p: Point) => number][] = [
    ['T', 'sequence length T', (p) => p.T],
    ['width', 'width d (FFN 4·d, 8 heads)', (p) => p.dim],
    ['depth', 'depth (blocks)', (p) => p.layers],
    ['batch', 'batch (pairs)', (p) => p.B],
  ];
  const { dim: d0, layers: l0, T: t0, B: b0 } = GROWTH_BASE;
  const base = (p: Point) =>
    p.axis !== 'probe' && p.dim === d0 && p.layers === l0 && p.T === t0 && p.B === b0;
  for (const [axis, title, key] of axes) {
    const pts = ps
      .filter((p) => p.axis === axis || (base(p) && p.axis === 'T'))
      .sort((a, b) => key(a) - key(b));
    if (pts.length === 0) continue;
    const values = [...new Set(pts.map(key))];
    out.push(`**Against ${title}** (the other axes at d ${d0}, ${l0} layers, T ${t0}, B ${b0} pairs):`, '');
    out.push(
      `| ${axis} | policy params | DPO step s | DPO heap MB | GANPO step s | GANPO heap MB | GANPO / DPO | DPO first step s |`,
      '|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const v of values) {
      const dpo = pts.find((p) => key(p) === v && p.variant === 'dpo');
      const gan = pts.find((p) => key(p) === v && p.variant === 'transformer');
      const s = (p?: Point) => (p?.failed ? 'failed' : fmt(p?.stepMs ? p.stepMs / 1000 : null, 2));
      const h = (p?: Point) => (p?.failed ? '> 4 096' : fmt(p?.heapMB ?? null));
      const ratio = dpo?.stepMs && gan?.stepMs ? fmt(gan.stepMs / dpo.stepMs, 2) : '–';
      out.push(
        `| ${v} | ${mParams((dpo ?? gan)?.params ?? 0)} | ${s(dpo)} | ${h(dpo)} | ${s(gan)} | ${h(gan)} | ${ratio} | ${fmt(dpo?.firstMs ? dpo.firstMs / 1000 : null, 1)} |`,
      );
    }
    out.push('');
    if (values.length >= 3) {
      const series = (variant: string, f: (p: Point) => number | null) =>
        values.map((v) => {
          const p = pts.find((q) => key(q) === v && q.variant === variant);
          const y = p ? f(p) : null;
          return y === null ? 0 : Number(y.toFixed(2));
        });
      for (const [what, f, unit] of [
        ['step time', (p: Point) => (p.stepMs === null ? null : p.stepMs / 1000), 's'],
        ['peak wasm heap', (p: Point) => p.heapMB, 'MB'],
      ] as const) {
        out.push(
          '```mermaid',
          'xychart-beta',
          `  title "${what} against ${axis} (DPO, then GANPO)"`,
          `  x-axis "${axis}" [${values.join(', ')}]`,
          `  y-axis "${unit}"`,
          `  line [${series('dpo', f).join(', ')}]`,
          `  line [${series('transformer', f).join(', ')}]`,
          '```',
          '',
        );
      }
    }
  }
  // Memory model and the largest policy within 4 GB (wasm heap) and 24 GB (tensor bytes).
  const probe = ps.filter((p) => p.axis === 'probe');
  for (const variant of ['dpo', 'transformer']) {
    const fitTo = (y: (p: Point) => number | null) => {
      // The probe stays out of the fit: it checks the fit's prediction.
      const ok = ps.filter((p) => p.variant === variant && p.axis !== 'probe' && y(p) !== null && !p.failed);
      return ok.length >= 4
        ? leastSquares(
            ok.map(features),
            ok.map((p) => y(p) as number),
          )
        : null;
    };
    const heap = fitTo((p) => p.heapMB);
    const tensors = fitTo((p) => p.tensorMB);
    const name = variant === 'dpo' ? 'DPO' : 'GANPO (transformer critic as wide as the policy)';
    if (!heap || !tensors) continue;
    const in4 = largestWithin(heap, 4096, 128, 8);
    const in24 = largestWithin(tensors, 24 * 1024, 128, 8);
    const p = probe.find((q) => q.variant === variant);
    out.push(
      `- **${name}** at T 128, B 8 pairs: wasm heap ≈ ${fmt(heap[0] ?? null)} MB + ${fmt(heap[1] ?? null, 1)} MB per M parameters + ${fmt(heap[2] ?? null, 1)} MB per M of B·T·layers·width + ${fmt(heap[3] ?? null, 1)} MB per M of B·T·width + ${fmt(heap[4] ?? null, 1)} MB per M of B·T² (least squares over the sweeps). ` +
        `Largest GPT-2-shaped policy within a 4 GB wasm heap (a browser tab): ${in4 ? `d ${in4.dim}, ${in4.layers} layers, ${mParams(in4.params)}` : 'none of the candidates'}; ` +
        `within 24 GB of tensors (a backend without wasm32's 4 GB ceiling: tfjs-node, WebGPU; extrapolated from tfjs's tensor bytes): ${in24 ? `d ${in24.dim}, ${in24.layers} layers, ${mParams(in24.params)}` : 'none of the candidates'}.` +
        (p
          ? ` Check off the axes, d ${p.dim}, ${p.layers} layers (${mParams(p.params)}), T ${p.T}, B ${p.B}: ${p.failed ? `failed (${p.failed})` : `heap ${fmt(p.heapMB)} MB measured, ${fmt(predict(heap, p))} MB predicted; step ${fmt(p.stepMs ? p.stepMs / 1000 : null, 1)} s`}.`
          : ''),
    );
  }
  out.push('');
  return out;
}
