/**
 * f32x4 math for ganpo's SIMD kernels (WebAssembly has no exp or erf instructions).
 */
import { type Code, f32x4, get, i32c, i32x4, set, splat, v128 } from './emit';

/**
 * Cephes' single-precision expf (range reduction by ln 2 in two parts, degree-6 polynomial, ~1 ulp).
 * Inputs below −87.34 give exactly 0 (float32 exp underflows there).
 */
/** Code leaving exp(x) on the stack for the f32x4 in local `x` (overwritten); `n`, `r`, `p` scratch. */
export function exp4(x: number, n: number, r: number, p: number): Code {
  const poly = [
    1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
  ];
  const steps: Code[] = [set(p, splat(poly[0] as number))];
  for (const c of poly.slice(1)) steps.push(set(p, f32x4.add(f32x4.mul(get(p), get(r)), splat(c))));
  return [
    // keep = x ≥ −87.34 (all-ones lanes), saved in n until the end
    set(p, f32x4.ge(get(x), splat(-87.3365))),
    // (pmin/pmax: one instruction each; a NaN lane stays NaN and is zeroed by keep at the end)
    set(x, f32x4.pmin(f32x4.pmax(get(x), splat(-87.3365)), splat(88.0))),
    set(n, f32x4.nearest(f32x4.mul(get(x), splat(Math.LOG2E)))),
    set(r, f32x4.sub(get(x), f32x4.mul(get(n), splat(0.693359375)))),
    set(r, f32x4.add(get(r), f32x4.mul(get(n), splat(2.1219444e-4)))),
    // x := 2^n (exponent bits), n := keep. n + 127 as an integer without a float-to-int conversion
    // (trunc_sat is six instructions on x86): n + (1.5·2²³ + 127) is exact, an integer in
    // [2²³, 2²⁴) whose bits are those of 1.5·2²³ (0x4b400000) plus n + 127.
    set(
      x,
      i32x4.shl(i32x4.sub(f32x4.add(get(n), splat(12_583_039)), i32x4.splat(i32c(0x4b400000))), i32c(23)),
    ),
    set(n, get(p)),
    ...steps,
    // y = p·r² + r + 1
    set(p, f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(get(p), get(r)), get(r)), get(r)), splat(1))),
    v128.and(f32x4.mul(get(p), get(x)), get(n)),
  ];
}

/**
 * erf(x) as Eigen's / XLA's float rational approximation on x clamped to [−4, 4] (odd degree-13
 * numerator, degree-8 denominator in x²; absolute error ~1e-7). Leaves erf on the stack for the
 * f32x4 in local `x` (overwritten); `x2`, `p`, `q` scratch.
 */
export function erf4(x: number, x2: number, p: number, q: number): Code {
  const alpha = [
    -2.72614225801306e-10, 2.77068142495902e-8, -2.10102402082508e-6, -5.69250639462346e-5,
    -7.34990630326855e-4, -2.9545998085402e-3, -1.60960333262415e-2,
  ];
  const beta = [
    -1.45660718464996e-5, -2.13374055278905e-4, -1.68282697438203e-3, -7.37332916720468e-3,
    -1.42647390514189e-2,
  ];
  const horner = (acc: number, cs: number[]): Code[] => [
    set(acc, splat(cs[0] as number)),
    ...cs.slice(1).map((c) => set(acc, f32x4.add(f32x4.mul(get(acc), get(x2)), splat(c)))),
  ];
  return [
    set(x, f32x4.pmin(f32x4.pmax(get(x), splat(-4)), splat(4))),
    set(x2, f32x4.mul(get(x), get(x))),
    ...horner(p, alpha),
    ...horner(q, beta),
    f32x4.div(f32x4.mul(get(x), get(p)), get(q)),
  ];
}
