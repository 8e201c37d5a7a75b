import { argumentError } from '../core/errors';
import { assertNumber } from '../core/validate';

/**
 * Size limits every discriminator config is checked against before anything is allocated, so a
 * hostile `config` (in a `model.json`, or passed to `GanpoRegularizer.create`) is refused in
 * microseconds instead of allocating gigabytes.
 *
 * - `maxDim` 65 536: any width (latentDim, hiddenDim, ffnDim, hiddenDims[i]). The widest hidden size
 *   of current open LLMs is 16 384 (FFN widths reach ~53 000).
 * - `maxSeqLen` 1 048 576 positions (the learned position table grows with it).
 * - `maxLayers` 256 encoder or MLP layers (the official discriminator has 2).
 * - `maxParameters` 2²⁶ = 67 108 864 persistent values (256 MiB of float32, one discriminator). The
 *   official discriminator (hidden 512, 2 layers, FFN 2048) on a 16 384-wide policy has about 16 M.
 */
export const DISCRIMINATOR_LIMITS = Object.freeze({
  maxDim: 65_536,
  maxSeqLen: 1_048_576,
  maxLayers: 256,
  maxParameters: 2 ** 26,
});

/** A width option: an integer in [1, maxDim]. */
export function assertDim(where: string, name: string, value: unknown): number {
  return assertNumber(where, name, value, { min: 1, max: DISCRIMINATOR_LIMITS.maxDim, integer: true });
}

/** Refuses a config whose persistent values (weights, biases, spectral-norm u and v) exceed the limit. */
export function assertParameterCount(where: string, count: number): void {
  if (!(count <= DISCRIMINATOR_LIMITS.maxParameters)) {
    throw argumentError(
      'OUT_OF_RANGE',
      where,
      'config',
      `at most ${DISCRIMINATOR_LIMITS.maxParameters} parameters (DISCRIMINATOR_LIMITS.maxParameters)`,
      `${count} parameters`,
    );
  }
}

/** Persistent values of a Linear in→out: weight and bias, plus u [out] and v [in] under spectral norm. */
export function linearParameterCount(inDim: number, outDim: number, spectralNorm: boolean): number {
  return inDim * outDim + outDim + (spectralNorm ? inDim + outDim : 0);
}
