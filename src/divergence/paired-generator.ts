import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { stopGradient } from '../ops/stop-gradient';
import { checkScores } from './inputs';

/** Arguments of {@link pairedLeastSquaresGeneratorLoss}. */
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
  if (args === null || typeof args !== 'object') {
    throw argumentError('INVALID_ARGUMENT', where, 'args', '{ policy, reference }', String(args));
  }
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
  return tf.tidy(() => tf.mean(tf.square(tf.sub(args.policy, stopGradient(args.reference)))) as tf.Scalar);
}
