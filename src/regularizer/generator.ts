import * as tf from '@tensorflow/tfjs-core';
import {
  criticConstant,
  criticFeatures,
  criticScores,
  inFrozenCritics,
} from '../discriminators/critic-calls';
import type { Discriminator } from '../discriminators/types';
import type { GanLoss } from '../divergence/gan-loss';
import { ganpoGeneratorCore } from '../divergence/ganpo-relativistic';
import { pairedFeatureMatchingCore, pairedLeastSquaresCore } from '../divergence/paired-generator';
import type { GeneratorLoss } from './preset';
import type { PerSide } from './types';

/** Latents and mask of one side for the generator term (checked by the caller). */
export interface GeneratorSide {
  policy: tf.Tensor3D;
  mask?: tf.Tensor2D;
  /** Reference latents of the same sequences (constants). */
  reference: tf.Tensor3D;
  /** The stored reference mean of this side (the one-sided generator under `'ema'`). */
  referenceMean: number;
}

/**
 * The policy-side adversarial loss, averaged over both discriminators (eval mode):
 *
 *     relative-feature-matching: ½ Σ_side Σ_i ‖f(h_θ,i) − f(h_ref,i)‖² / Σ_i ‖f(h_ref,i)‖²
 *     paired-feature-matching:   ½ Σ_side mean ‖f(h_θ,i) − f(h_ref,i)‖²  (f = the critic's features)
 *     paired-least-squares:      ½ Σ_side mean (D(h_θ,i) − D(h_ref,i))²
 *     one-sided:                 ½ Σ_side mean ℓreal(D(h_θ) − m_ref)
 *
 * With the one-sided generator and `useReferenceMean`, m_ref is the mean score of the reference
 * latents under the current critic (the `'batch'` estimator), else the stored mean. Reference
 * scores and features are constants, computed off the gradient tape, so a variableGrads over every
 * variable does not reach the discriminators through them. The critics are frozen here: their
 * weights receive no gradient from this term. Unchecked: the caller checked the latents. Call
 * inside a tidy or a gradient function; returns a scalar.
 */
export function generatorTerm(
  discriminators: Readonly<PerSide<Discriminator>>,
  sides: PerSide<GeneratorSide>,
  options: { generator: GeneratorLoss; ganLoss: GanLoss; useReferenceMean: boolean },
): tf.Scalar {
  return inFrozenCritics(() => tf.tidy(() => generatorSides(discriminators, sides, options)));
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
    const eval_ = { mask: s.mask, training: false };
    if (
      options.generator === 'paired-feature-matching' ||
      options.generator === 'relative-feature-matching'
    ) {
      const policyFeatures = criticFeatures(d, s.policy, eval_);
      const referenceFeatures = criticConstant(() => criticFeatures(d, s.reference, eval_));
      return pairedFeatureMatchingCore(
        policyFeatures,
        referenceFeatures,
        options.generator === 'relative-feature-matching',
      );
    }
    const policy = criticScores(d, s.policy, eval_);
    const referenceScores = (): tf.Tensor1D => criticConstant(() => criticScores(d, s.reference, eval_));
    if (options.generator === 'paired-least-squares') {
      return pairedLeastSquaresCore(policy, referenceScores());
    }
    const referenceMean = options.useReferenceMean
      ? (tf.mean(referenceScores()) as tf.Scalar)
      : s.referenceMean;
    return ganpoGeneratorCore({ policy, referenceMean, ganLoss: options.ganLoss });
  });
  return tf.mul(tf.add(perSide[0] as tf.Scalar, perSide[1] as tf.Scalar), 0.5) as tf.Scalar;
}
