/**
 * Internal switches between ganpo's hand-written gradients and plain tfjs autodiff of the same
 * formulas. Not exported from the package: the benchmark flips them to measure what each kernel
 * buys (bench/suites/discriminator.ts), and tests use them to check both paths agree.
 */
export const kernelFlags = {
  /** fastLinear: explicit-transpose custom gradient (else tfjs's MatMul gradient with transpose flags). */
  fastLinearGradient: true,
  /**
   * fastLinear's matMuls on wasm with B of at most 2²¹ floats (and M·K·N ≤ 1.3·10⁹): one SIMD kernel,
   * reading B in place up to 65 536 floats and packed into panels above (bias added in the same
   * pass; the same floats), else XNNPACK through tf.matMul.
   */
  wasmMatMul: true,
  /** The explicit transposes of fastLinear's gradients on wasm: one SIMD kernel (else tfjs's Transpose). */
  wasmTranspose: true,
  /** sumRows (bias and LayerNorm-affine gradients) on wasm: one SIMD kernel (else ones·x matMul). */
  wasmSumRows: true,
  /** layerNorm: fused custom gradient (else autodiff). */
  fusedLayerNorm: true,
  /** layerNorm on wasm (rows of a multiple of 4): one SIMD kernel per direction (else tfjs ops). */
  wasmLayerNorm: true,
  /**
   * The wasm LayerNorm forward: row mean and variance from one sweep (shifted sums), else two (the
   * default: its floats are those every committed result was obtained with; one sweep measured no
   * faster in a whole step).
   */
  layerNormOnePass: false,
  /** geluErf: custom gradient (else autodiff through erf). */
  fusedGelu: true,
  /** geluErf on the wasm backend: one WebAssembly SIMD kernel per direction (else the tfjs-op custom gradient). */
  wasmGelu: true,
  /** AdamW on the wasm backend: one WebAssembly SIMD kernel per parameter (else ~14 tfjs kernels). */
  wasmAdamW: true,
  /** Spectral-norm power iteration on wasm: one WebAssembly SIMD kernel (else ~20 tfjs kernels). */
  wasmPowerIteration: true,
  /** Spectral-norm weight K/σ on wasm: one WebAssembly SIMD kernel each way (else tfjs ops). */
  wasmSpectralScale: true,
  /**
   * GANPO: critic work whose results are constants of the loss (spectral-norm power iterations,
   * reference features/scores, unused opposite sets) runs off the gradient tape (else recorded).
   */
  offTapeConstants: true,
  /** fastLinear inside withFrozenWeights: input gradient only (else dK, db computed and dropped). */
  frozenWeightGradients: true,
  /**
   * Tensors saved for the backward pass on wasm share the saved tensor's buffer inside ganpo's
   * training steps (`withSharedClones`: an Identity kernel without the copy), else copied by tfjs.
   */
  sharedClones: true,
  /** fastLinear on a network's input data inside withConstantInputs: no dx, K not saved (else computed). */
  constantInputs: true,
  /** dropout: custom gradient dy·mask saving the mask only (else tfjs's Multiply gradient). */
  dropoutGradient: true,
  /** Dropout masks of a counter stream on wasm: hashed by one SIMD kernel (else drawn in JS). */
  wasmDropoutMask: true,
  /** withEagerRelease: backward passes free saved tensors and gradients as they go (else at the end). */
  eagerRelease: true,
};
