/**
 * Internal switches between ganpo's hand-written gradients and plain tfjs autodiff of the same
 * formulas. Not exported from the package: the benchmark flips them to measure what each kernel
 * buys (bench/suites/discriminator.ts), and tests use them to check both paths agree.
 */
export const kernelFlags = {
  /** fastLinear: explicit-transpose custom gradient (else tfjs's MatMul gradient with transpose flags). */
  fastLinearGradient: true,
  /** layerNorm: fused custom gradient (else autodiff). */
  fusedLayerNorm: true,
  /** geluErf: custom gradient (else autodiff through erf). */
  fusedGelu: true,
};
