/**
 * The one internal switch of ganpo's kernels: each entry, on by default, selects one of ganpo's own
 * kernels or scopes over the generic tfjs path it replaces (the path other backends take anyway).
 * Not exported from the package and not a user setting: the benchmark suites turn entries off to
 * measure what each kernel buys (bench/suites/discriminator.ts, ganpo-step.ts, bench/ab-flags.ts),
 * and tests turn them off to check that both paths compute the same values.
 */
export const kernelFlags = {
  /** fastLinear: explicit-transpose custom gradient (off: tfjs's MatMul gradient; a test reference). */
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
  /** layerNorm: fused custom gradient (off: autodiff of the same formula; a test reference). */
  fusedLayerNorm: true,
  /** layerNorm on wasm (rows of a multiple of 4): one SIMD kernel per direction (else tfjs ops). */
  wasmLayerNorm: true,
  /** geluErf: custom gradient (off: autodiff through erf; a test reference). */
  fusedGelu: true,
  /** geluErf on the wasm backend: one WebAssembly SIMD kernel per direction (else the tfjs-op custom gradient). */
  wasmGelu: true,
  /** embeddingLookup on wasm (float32 table): one SIMD row-copy kernel (else tf.gather's GatherV2). */
  wasmGatherRows: true,
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
  /** Dropout masks of a counter stream on wasm: hashed by one SIMD kernel (else drawn in JS). */
  wasmDropoutMask: true,
  /** withEagerRelease: backward passes free saved tensors and gradients as they go (else at the end). */
  eagerRelease: true,
  /**
   * The SIMD products split by rows over ganpo's kernel pool when `initWasmThreads` started one
   * (else on the calling thread only; the same floats either way).
   */
  parallelProducts: true,
};
