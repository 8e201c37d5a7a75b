import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertArgs } from '../core/validate';
import { fakeLoss, type GanLoss, realLoss, resolveGanLoss } from './gan-loss';
import { checkMean, checkScores, type MeanLike, resolveMean } from './score-inputs';

/**
 * One value per scored set of a GANPO discriminator: its side's reference latents, its side's
 * policy latents, and the opposite side's reference latents. `SetMeans<MeanLike>` are the set means
 * the losses subtract; the regularizer keeps `SetMeans<number | null>` per discriminator.
 * @inline
 */
export interface SetMeans<T> {
  /** Of the reference model's latents of this discriminator's side. */
  reference: T;
  /** Of the policy's latents of this side. */
  policy: T;
  /** Of the reference model's latents of the opposite side. */
  opposite: T;
}

/** Arguments of {@link ganpoDiscriminatorLoss}. @inline */
export interface GanpoDiscriminatorLossArgs {
  /** The relativistic GAN loss. Default `'sgan'` (RaSGAN, the official GANPO code's BCE-with-logits). */
  ganLoss?: GanLoss;
  /**
   * Scores of the reference model's latents of this side, float [B] (for the chosen discriminator:
   * D_w(h_ref^w); for the rejected one: D_l(h_ref^l)).
   */
  reference: tf.Tensor1D;
  /** Scores of the policy's latents of this side, float [B] (D_w(h_θ^w) or D_l(h_θ^l)). */
  policy: tf.Tensor1D;
  /** Scores of the reference model's latents of the opposite side, float [B] (D_w(h_ref^l) or D_l(h_ref^w)). */
  opposite: tf.Tensor1D;
  /**
   * The set means. Each one given (a number or a scalar tensor, e.g. the EMA of the official code)
   * is a constant; each one omitted is the batch mean of its scores, with gradient (the paper's
   * within-batch form). Default `{}` (all batch means).
   */
  means?: { reference?: number | tf.Scalar; policy?: number | tf.Scalar; opposite?: number | tf.Scalar };
}

/**
 * The official GANPO per-discriminator loss ("quad" representations), generalised to the three
 * GAN losses. It teaches the discriminator the ordering reference > policy > opposite:
 *
 *     L_D = ¼ [ mean ℓreal(reference − m.policy) + mean ℓfake(policy − m.reference)
 *             + mean ℓreal(policy − m.opposite)  + mean ℓfake(opposite − m.policy) ]
 *
 * with ℓreal/ℓfake as in {@link relativisticDiscriminatorLoss}. With sgan this is the official
 * code's four BCE-with-logits terms averaged.
 *
 * @returns a scalar the caller owns; differentiable w.r.t. the three score tensors (and the batch
 *   means that are not given).
 * @throws GanpoError on bad scores (rank 1, float, finite, non-empty), bad means or GAN loss.
 * @see GANPO (arXiv 2601.22083); official code GANPO_trl.py, `QuadGANDPOTrainer`.
 */
export function ganpoDiscriminatorLoss(args: GanpoDiscriminatorLossArgs): tf.Scalar {
  const where = 'ganpoDiscriminatorLoss';
  assertArgs(where, args);
  const ganLoss = resolveGanLoss(where, args.ganLoss);
  checkScores(where, 'reference', args.reference);
  checkScores(where, 'policy', args.policy);
  checkScores(where, 'opposite', args.opposite);
  const means = args.means ?? {};
  if (typeof means !== 'object' || means === null) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'means',
      '{ reference?, policy?, opposite? }',
      typeof means,
    );
  }
  checkMean(where, 'means.reference', means.reference);
  checkMean(where, 'means.policy', means.policy);
  checkMean(where, 'means.opposite', means.opposite);
  return tf.tidy(() =>
    ganpoDiscriminatorCore({
      reference: args.reference,
      policy: args.policy,
      opposite: args.opposite,
      means,
      ganLoss,
    }),
  );
}

/**
 * Unchecked core of {@link ganpoDiscriminatorLoss} (arguments already checked, GAN loss resolved).
 * Call inside a tidy or a gradient function.
 */
export function ganpoDiscriminatorCore(args: {
  reference: tf.Tensor1D;
  policy: tf.Tensor1D;
  opposite: tf.Tensor1D;
  means: Partial<SetMeans<MeanLike>>;
  ganLoss: GanLoss;
}): tf.Scalar {
  const { means, ganLoss } = args;
  const mRef = resolveMean(means.reference, args.reference);
  const mPol = resolveMean(means.policy, args.policy);
  const mOpp = resolveMean(means.opposite, args.opposite);
  const terms = [
    tf.mean(realLoss(tf.sub(args.reference, mPol), ganLoss)),
    tf.mean(fakeLoss(tf.sub(args.policy, mRef), ganLoss)),
    tf.mean(realLoss(tf.sub(args.policy, mOpp), ganLoss)),
    tf.mean(fakeLoss(tf.sub(args.opposite, mPol), ganLoss)),
  ];
  return tf.mul(tf.addN(terms), 0.25) as tf.Scalar;
}

/** Arguments of {@link ganpoGeneratorLoss}. @inline */
export interface GanpoGeneratorLossArgs {
  /** The relativistic GAN loss. Default `'sgan'` (RaSGAN, the official GANPO code's BCE-with-logits). */
  ganLoss?: GanLoss;
  /** Scores of the policy's latents by the (frozen, eval-mode) discriminator, float [B]. */
  policy: tf.Tensor1D;
  /**
   * The mean score of the reference latents of the same side: a number or a scalar tensor, used as
   * a constant (the official code uses the detached EMA; pass a batch mean for the paper's form).
   */
  referenceMean: number | tf.Scalar;
}

/**
 * The official GANPO policy-side (generator) term for one discriminator: the non-saturating,
 * one-sided relativistic loss
 *
 *     L_G = mean ℓreal(policy − referenceMean)
 *
 * i.e. softplus(−(D(h_θ) − m_ref)) for sgan: the policy is pushed to look at least as
 * "reference-like" as the reference latents on average. The regularizer averages it over the chosen
 * and rejected discriminators.
 *
 * @returns a scalar the caller owns, differentiable w.r.t. `policy` (never w.r.t. the mean).
 * @throws GanpoError on bad scores, a missing or non-finite mean, or an unknown GAN loss.
 * @see GANPO (arXiv 2601.22083); official code GANPO_trl.py, `QuadGANDPOTrainer`.
 */
export function ganpoGeneratorLoss(args: GanpoGeneratorLossArgs): tf.Scalar {
  const where = 'ganpoGeneratorLoss';
  assertArgs(where, args);
  const ganLoss = resolveGanLoss(where, args.ganLoss);
  checkScores(where, 'policy', args.policy);
  if (args.referenceMean === undefined) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'referenceMean',
      'a number or a scalar tensor',
      'undefined',
    );
  }
  checkMean(where, 'referenceMean', args.referenceMean);
  return tf.tidy(() =>
    ganpoGeneratorCore({ policy: args.policy, referenceMean: args.referenceMean, ganLoss }),
  );
}

/**
 * Unchecked core of {@link ganpoGeneratorLoss} (arguments already checked, GAN loss resolved):
 * mean ℓreal(policy − referenceMean), the mean a constant. Call inside a tidy or a gradient function.
 */
export function ganpoGeneratorCore(args: {
  policy: tf.Tensor1D;
  referenceMean: MeanLike;
  ganLoss: GanLoss;
}): tf.Scalar {
  return tf.mean(
    realLoss(tf.sub(args.policy, resolveMean(args.referenceMean, args.policy)), args.ganLoss),
  ) as tf.Scalar;
}
