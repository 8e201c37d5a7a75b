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
