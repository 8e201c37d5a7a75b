import * as tf from '@tensorflow/tfjs-core';
import type { Discriminator } from '../discriminators/types';
import type { GanLoss } from '../divergence/gan-loss';
import { ganpoGeneratorLoss } from '../divergence/ganpo-relativistic';
import { pairedFeatureMatchingLoss, pairedLeastSquaresGeneratorLoss } from '../divergence/paired-generator';
import { withFrozenWeights } from '../ops/fast-linear';
import { kernelFlags } from '../ops/kernel-flags';
import { stopGradient } from '../ops/stop-gradient';
import { outsideTape } from '../ops/tape';
import { withSharedClones } from '../ops/wasm/shared-clone';
import type { GeneratorLoss } from './preset';
import type { PerSide } from './types';

/** Latents and mask of one side for the generator term. */
export interface GeneratorSide {
  policy: tf.Tensor3D;
  mask?: tf.Tensor2D;
  /** Reference latents of the same sequences (constants); required by the paired generator. */
  reference?: tf.Tensor3D;
  /** The stored reference mean of this side (one-sided generator without reference latents). */
  referenceMean: number;
}

/** A constant of the loss: off the tape, or (benchmark baseline) recorded behind a stopGradient. */
function constant<T extends tf.Tensor>(fn: () => T): T {
  return kernelFlags.offTapeConstants ? outsideTape(fn) : stopGradient(fn());
}

/**
 * The policy-side adversarial loss, averaged over both discriminators (eval mode):
 *
 *     one-sided:             ½ Σ_side mean ℓreal(D(h_θ) − m_ref)
 *     paired-least-squares:  ½ Σ_side mean (D(h_θ,i) − D(h_ref,i))²
 *     paired-feature-matching: ½ Σ_side mean ‖f(h_θ,i) − f(h_ref,i)‖²  (f = the critic's features)
 *
 * With the one-sided generator and `useReferenceMean`, m_ref is the mean score of the given
 * reference latents under the current critic (the `'batch'` estimator), else the stored mean.
 * Reference scores and features are constants (constant latents, frozen critic): they are computed
 * off the gradient tape (`outsideTape`), so a variableGrads over every variable does not reach the
 * discriminators through them, and no backward pass is recorded for them. The critics are frozen
 * here (`withFrozenWeights`): their weights receive no gradient from this term, and their linear
 * layers compute only the input gradient. Call inside a tidy or a gradient function; returns a
 * scalar.
 */
export function generatorTerm(
  discriminators: Readonly<PerSide<Discriminator>>,
  sides: PerSide<GeneratorSide>,
  options: { generator: GeneratorLoss; ganLoss: GanLoss; useReferenceMean: boolean },
): tf.Scalar {
  // On wasm the tensors this forward saves for the policy's backward pass share their buffers.
  return withSharedClones(() =>
    tf.tidy(() => withFrozenWeights(() => generatorSides(discriminators, sides, options))),
  );
}

/** Both sides' terms, averaged (the body of {@link generatorTerm}). */
function generatorSides(
  discriminators: Readonly<PerSide<Discriminator>>,
  sides: PerSide<GeneratorSide>,
  options: { generator: GeneratorLoss; ganLoss: GanLoss; useReferenceMean: boolean },
): tf.Scalar {
  const perSide = (['chosen', 'rejected'] as const).map((side) => {
    const d = discriminators[side];
    const s = sides[side];
    if (options.generator === 'paired-feature-matching') {
      const features = d.features as NonNullable<Discriminator['features']>;
      const policyFeatures = features.call(d, s.policy, { mask: s.mask, training: false });
      const referenceFeatures = constant(() =>
        features.call(d, s.reference as tf.Tensor3D, { mask: s.mask, training: false }),
      );
      return pairedFeatureMatchingLoss({ policy: policyFeatures, reference: referenceFeatures });
    }
    const policy = d.apply(s.policy, { mask: s.mask, training: false });
    const referenceScores = (): tf.Tensor1D =>
      constant(() => d.apply(s.reference as tf.Tensor3D, { mask: s.mask, training: false }));
    if (options.generator === 'paired-least-squares') {
      return pairedLeastSquaresGeneratorLoss({ policy, reference: referenceScores() });
    }
    const referenceMean = options.useReferenceMean
      ? (tf.mean(referenceScores()) as tf.Scalar)
      : s.referenceMean;
    return ganpoGeneratorLoss({ policy, referenceMean, ganLoss: options.ganLoss });
  });
  return tf.mul(tf.add(perSide[0] as tf.Scalar, perSide[1] as tf.Scalar), 0.5) as tf.Scalar;
}
