// Small statistics helpers of the demo: mean ± sample standard deviation over seeds.

/** Mean and sample standard deviation (n − 1; 0 for a single value) of `xs`; NaN mean when empty. */
export function meanStd(xs: readonly number[]): { mean: number; std: number; n: number } {
  const n = xs.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: 0, n };
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, std: Math.sqrt(v), n };
}

/** toFixed without a "-0.0" for values that round to zero (paired differences are often ±1e-17). */
function fixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return Number(s) === 0 ? (0).toFixed(digits) : s;
}

/** `"mean ± std"` with `digits` decimals, scaled by `scale` (100 for percentages); "–" when empty. */
export function formatMeanStd(xs: readonly number[], { digits = 1, scale = 100 } = {}): string {
  const { mean, std, n } = meanStd(xs);
  if (n === 0) return '–';
  const m = fixed(scale * mean, digits);
  return n === 1 ? m : `${m} ± ${fixed(scale * std, digits)}`;
}

/** Two-sided 97.5 % quantiles of Student's t with 1…10 degrees of freedom. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];

/**
 * The factor k of a 95 % t-interval mean ± k·std for n values (k = t_{0.975, n−1} / √n); beyond 10
 * degrees of freedom, t_{0.975} ≈ z + (z³ + z)/(4·df) with z = 1.96 (Cornish–Fisher, first term).
 */
export function tFactor95(n: number): number {
  if (n < 2) return Number.NaN;
  const df = n - 1;
  const z = 1.959964;
  const t = T975[df - 1] ?? z + (z ** 3 + z) / (4 * df);
  return t / Math.sqrt(n);
}
