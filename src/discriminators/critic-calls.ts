import type * as tf from '@tensorflow/tfjs-core';
import { withConstantInputs, withFrozenWeights } from '../ops/fast-linear';
import { kernelFlags } from '../ops/kernel-flags';
import { stopGradient } from '../ops/stop-gradient';
import { outsideTape } from '../ops/tape';
import { withSharedClones } from '../ops/wasm/shared-clone';
import { BaseDiscriminator } from './base';
import type { Discriminator, DiscriminatorApplyOptions } from './types';

// How the GANPO regularizer calls its critics: on latents it has already checked (ganpo's own
// critics skip their input checks; any other `Discriminator` runs its own `apply`), inside the
// scopes that keep the critics' layers on their fast paths. The critics own these paths (their
// linear layers are `fastLinear`), so the algorithm code above asks for them by purpose here.

/** Scores [B] of checked latents. */
export function criticScores(
  d: Discriminator,
  hidden: tf.Tensor3D,
  options: DiscriminatorApplyOptions,
): tf.Tensor1D {
  return d instanceof BaseDiscriminator ? d.applyChecked(hidden, options) : d.apply(hidden, options);
}

/** The critic's features [B,F] of checked latents (`Discriminator.features`, which the caller ensured). */
export function criticFeatures(
  d: Discriminator,
  hidden: tf.Tensor3D,
  options: DiscriminatorApplyOptions,
): tf.Tensor2D {
  if (d instanceof BaseDiscriminator) return d.featuresChecked(hidden, options);
  const features = d.features as NonNullable<Discriminator['features']>;
  return features.call(d, hidden, options);
}

/**
 * Runs a critic update (`fn` differentiates the critics' weights on constant latents): the critics'
 * first layers skip the gradient of their input, and on wasm the tensors the pass saves share their
 * buffers instead of being copied. Values are unchanged.
 */
export function inCriticUpdate<T>(fn: () => T): T {
  return withSharedClones(() => withConstantInputs(fn));
}

/**
 * Runs `fn` with the critics frozen (the policy-side term: gradient flows through the critics to
 * the latents, never into their weights, so their linear layers compute only the input gradient),
 * the saved tensors shared on wasm. Values are unchanged.
 */
export function inFrozenCritics<T>(fn: () => T): T {
  return withSharedClones(() => withFrozenWeights(fn));
}

/**
 * A constant of the loss computed by a critic (reference scores or features): off the gradient
 * tape, so no backward is recorded for it (with the benchmark switch `offTapeConstants` off:
 * recorded behind a stopGradient).
 */
export function criticConstant<T extends tf.Tensor>(fn: () => T): T {
  return kernelFlags.offTapeConstants ? outsideTape(fn) : stopGradient(fn());
}
