// The arithmetic of `npm run demo -- --frontier`: DPO's own β sweep as a frontier (quality against
// KL or drift, one curve per seed), read at another run's KL or drift by linear interpolation, and
// each run's quality against it, paired by seed.
import type { RunResult } from './experiment';

/** A point of a quality-against-cost curve. */
export interface CurvePoint {
  x: number;
  y: number;
}

/**
 * The piecewise-linear curve through `points` (sorted by x) read at `x`: the straight line between
 * the two neighbouring points that bracket `x`, or the point itself. NaN outside [min x, max x] (no
 * extrapolation) and for fewer than one point. Points of equal x are averaged into one first, so the
 * curve is a function of x.
 */
export function interpolateAt(points: readonly CurvePoint[], x: number): number {
  if (!Number.isFinite(x)) return Number.NaN;
  const byX = new Map<number, number[]>();
  for (const p of points) {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
    byX.set(p.x, [...(byX.get(p.x) ?? []), p.y]);
  }
  const curve = [...byX.entries()]
    .map(([px, ys]) => ({ x: px, y: ys.reduce((a, b) => a + b, 0) / ys.length }))
    .sort((a, b) => a.x - b.x);
  for (let i = 0; i < curve.length; i++) {
    const a = curve[i] as CurvePoint;
    if (x === a.x) return a.y;
    const b = curve[i + 1];
    if (b !== undefined && x > a.x && x < b.x) return a.y + ((x - a.x) / (b.x - a.x)) * (b.y - a.y);
  }
  return Number.NaN;
}

/** How a run is placed on the frontier: its cost (x) and its quality (y). */
export interface FrontierAxes {
  x: (r: RunResult) => number;
  y: (r: RunResult) => number;
}

/** Per seed, the quality gap of one run against the frontier family's curve of that seed. */
export interface FrontierGap {
  seed: number;
  /** y(run) − frontier(x(run)); NaN when x(run) lies outside the frontier's range on this seed. */
  gap: number;
}

/**
 * Each run of `method` (clean labels) against the curve of `frontierFamily`'s runs of the same seed
 * (DPO's β sweep): y(run) minus the curve's y at the run's x, so positive = above DPO's frontier at
 * equal cost. One entry per seed, in seed order; NaN where the run's x is outside the β sweep's range.
 */
export function frontierGaps(
  runs: readonly RunResult[],
  method: string,
  axes: FrontierAxes,
  frontierFamily: RunResult['family'] = 'dpo',
): FrontierGap[] {
  return runs
    .filter((r) => r.method === method && r.noise === 0)
    .sort((a, b) => a.seed - b.seed)
    .map((r) => {
      const curve = runs
        .filter((f) => f.family === frontierFamily && f.seed === r.seed && f.noise === 0)
        .map((f) => ({ x: axes.x(f), y: axes.y(f) }));
      return { seed: r.seed, gap: axes.y(r) - interpolateAt(curve, axes.x(r)) };
    });
}
