import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertArgs, assertDtype, assertFinite, assertRank, assertTensor } from '../core/validate';
import { stopGradient } from '../ops/stop-gradient';
import { checkScores } from './score-inputs';

/** Arguments of {@link pairedLeastSquaresGeneratorLoss}. @inline */
export interface PairedGeneratorLossArgs {
  /** Scores of the policy's latents by the (frozen, eval-mode) discriminator, float [B]. */
  policy: tf.Tensor1D;
  /**
   * Scores of the reference model's latents of the SAME sequences (row i of both comes from one
   * input), float [B]; constants (no gradient flows into them).
   */
  reference: tf.Tensor1D;
}

/**
 * A bounded policy-side (generator) term for one discriminator: least squares between the critic's
 * score of each policy latent and its score of the reference latent of the same sequence,
 *
 *     L_G = mean_i (D(h_θ,i) − D(h_ref,i))²
 *
 * Its minimum, 0, is reached when the policy's latents look exactly like the reference's to the
 * critic, whatever the critic — so unlike the official one-sided term ℓreal(D(h_θ) − m_ref), which
 * keeps rewarding scores above the reference mean, it cannot push the policy past its reference,
 * and it is 0 (with zero gradient) while the policy equals its reference. It is the least-squares
 * GAN generator (Mao et al. 2017, arXiv 1611.04076: generator target = the critic's value for real
 * data) with the real value taken per pair, since policy and reference latents of one batch come
 * from the same token sequences. The regularizer averages it over the chosen and rejected
 * discriminators.
 *
 * @returns a scalar the caller owns, differentiable w.r.t. `policy` (never w.r.t. `reference`).
 * @throws GanpoError on bad scores (rank 1, float, finite, non-empty) or unequal lengths.
 */
export function pairedLeastSquaresGeneratorLoss(args: PairedGeneratorLossArgs): tf.Scalar {
  const where = 'pairedLeastSquaresGeneratorLoss';
  assertArgs(where, args, '{ policy, reference }');
  checkScores(where, 'policy', args.policy);
  checkScores(where, 'reference', args.reference);
  if (args.policy.size !== args.reference.size) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'reference',
      `[${args.policy.size}] (one score per policy row)`,
      `[${args.reference.size}]`,
    );
  }
  return tf.tidy(() => pairedLeastSquaresCore(args.policy, args.reference));
}

/**
 * Unchecked core of {@link pairedLeastSquaresGeneratorLoss}: mean_i (policy_i − reference_i)², the
 * reference a constant. Call inside a tidy or a gradient function.
 */
export function pairedLeastSquaresCore(policy: tf.Tensor1D, reference: tf.Tensor1D): tf.Scalar {
  return tf.mean(tf.square(tf.sub(policy, stopGradient(reference)))) as tf.Scalar;
}

/** Arguments of {@link pairedFeatureMatchingLoss}. @inline */
export interface PairedFeatureMatchingArgs {
  /** The critic's last hidden layer on the policy's latents, float [B,F]. */
  policy: tf.Tensor2D;
  /** The same layer on the reference latents of the same sequences, float [B,F]; constants. */
  reference: tf.Tensor2D;
  /**
   * Divide by the reference features' energy Σ_i ‖f(h_ref,i)‖² (at least 1e-12), a constant: the
   * relative squared feature distance, free of the features' scale (the generator
   * `'relative-feature-matching'`, GANPO's default). Default false.
   */
  relative?: boolean;
}

/** Guards the denominator of the relative form against all-zero reference features. */
export const FEATURE_EPSILON = 1e-12;

/**
 * A bounded policy-side term on the critic's features: squared Euclidean distance between the
 * critic's last hidden layer f (the input of its final Linear) on each policy latent and on the
 * reference latent of the same sequence, averaged over rows,
 *
 *     L_G = mean_i ‖f(h_θ,i) − f(h_ref,i)‖² = mean_i Σ_k (f_k(h_θ,i) − f_k(h_ref,i))²
 *
 * or, with `relative: true`, the relative squared distance (what `latentAnchorLoss` is for the
 * latents themselves, here in the critic's feature space),
 *
 *     L_G = Σ_i ‖f(h_θ,i) − f(h_ref,i)‖² / max(Σ_i ‖f(h_ref,i)‖², ε),   ε = 1e-12
 *
 * whose size does not grow with the critic's features as it learns (one λ for any critic).
 *
 * Feature matching (Salimans et al. 2016, "Improved techniques for training GANs", arXiv
 * 1606.03498) asks the generator to match the statistics of the critic's intermediate features
 * rather than to fool its score; here per pair, since policy and reference latents of one batch
 * come from the same token sequences. It is 0 at policy = reference, so it cannot overshoot;
 * matching F features instead of one score constrains F directions of the latents at once. It is
 * the policy term of `GanpoRegularizer`'s default preset (`generator: 'paired-feature-matching'`),
 * averaged over the chosen and rejected critics; f is a critic's `features(latents)`.
 *
 * @returns a scalar the caller owns, differentiable w.r.t. `policy` (never w.r.t. `reference`).
 * @throws GanpoError on non-rank-2, non-float, non-finite or differently shaped inputs.
 */
export function pairedFeatureMatchingLoss(args: PairedFeatureMatchingArgs): tf.Scalar {
  const where = 'pairedFeatureMatchingLoss';
  assertArgs(where, args, '{ policy, reference, relative? }');
  if (args.relative !== undefined && typeof args.relative !== 'boolean') {
    throw argumentError('INVALID_OPTION', where, 'relative', 'a boolean', typeof args.relative);
  }
  for (const name of ['policy', 'reference'] as const) {
    const x = args[name];
    assertTensor(where, name, x);
    assertRank(where, name, x, 2);
    assertDtype(where, name, x, ['float32']);
    assertFinite(where, name, x);
  }
  if (args.policy.shape.join(',') !== args.reference.shape.join(',')) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'reference',
      `shape [${args.policy.shape.join(',')}] (that of policy)`,
      `[${args.reference.shape.join(',')}]`,
    );
  }
  return tf.tidy(() => pairedFeatureMatchingCore(args.policy, args.reference, args.relative === true));
}

/**
 * Unchecked core of {@link pairedFeatureMatchingLoss}: mean_i ‖policy_i − reference_i‖², or with
 * `relative` Σ_i ‖policy_i − reference_i‖² / max(Σ_i ‖reference_i‖², ε); the reference a constant.
 * Call inside a tidy or a gradient function.
 */
export function pairedFeatureMatchingCore(
  policy: tf.Tensor2D,
  reference: tf.Tensor2D,
  relative = false,
): tf.Scalar {
  const ref = stopGradient(reference);
  const distance = tf.sum(tf.square(tf.sub(policy, ref)), -1);
  if (!relative) return tf.mean(distance) as tf.Scalar;
  return tf.div(tf.sum(distance), tf.maximum(tf.sum(tf.square(ref)), FEATURE_EPSILON)) as tf.Scalar;
}
