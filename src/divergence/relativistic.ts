import * as tf from '@tensorflow/tfjs-core';
import { assertArgs } from '../core/validate';
import { chanceLevel, fakeLoss, type GanLoss, realLoss, resolveGanLoss } from './gan-loss';
import { checkMean, checkScores, type MeanLike, resolveMean } from './score-inputs';

/** Arguments of {@link relativisticDiscriminatorLoss} and {@link relativisticGeneratorLoss}. @inline */
export interface RelativisticLossArgs {
  /** The relativistic GAN loss. Default `'sgan'` (RaSGAN, the official GANPO code's BCE-with-logits). */
  ganLoss?: GanLoss;
  /** Critic scores C(x) of the "real" set (for GANPO: the reference model's latents), float [B_r]. */
  real: tf.Tensor1D;
  /** Critic scores C(x) of the "fake" set (for GANPO: the policy's latents), float [B_f]. */
  fake: tf.Tensor1D;
  /**
   * m_real, the mean critic score of the real set. Default: `mean(real)` of this batch, with
   * gradient (AlexiaJM/RelativisticGAN). A number or a scalar tensor is used as a constant
   * (e.g. an exponential moving average, as in the official GANPO code).
   */
  realMean?: number | tf.Scalar;
  /** m_fake, the mean critic score of the fake set; same rules as `realMean`. */
  fakeMean?: number | tf.Scalar;
}

/** Checked arguments of the relativistic losses (the GAN loss resolved). */
export interface Resolved {
  real: tf.Tensor1D;
  fake: tf.Tensor1D;
  realMean?: MeanLike;
  fakeMean?: MeanLike;
  ganLoss: GanLoss;
}

function validate(where: string, args: RelativisticLossArgs): Resolved {
  assertArgs(where, args, '{ real, fake, ganLoss?, realMean?, fakeMean? }');
  const ganLoss = resolveGanLoss(where, args.ganLoss);
  checkScores(where, 'real', args.real);
  checkScores(where, 'fake', args.fake);
  checkMean(where, 'realMean', args.realMean);
  checkMean(where, 'fakeMean', args.fakeMean);
  return { real: args.real, fake: args.fake, realMean: args.realMean, fakeMean: args.fakeMean, ganLoss };
}

/**
 * Unchecked core of {@link relativisticDiscriminatorLoss} (arguments already checked): the ½-form
 * RaGAN critic loss. Call inside a tidy or a gradient function.
 */
export function relativisticDiscriminatorCore(a: Resolved): tf.Scalar {
  const mReal = resolveMean(a.realMean, a.real);
  const mFake = resolveMean(a.fakeMean, a.fake);
  const lossReal = tf.mean(realLoss(tf.sub(a.real, mFake), a.ganLoss));
  const lossFake = tf.mean(fakeLoss(tf.sub(a.fake, mReal), a.ganLoss));
  return tf.mul(tf.add(lossReal, lossFake), 0.5) as tf.Scalar;
}

/**
 * Relativistic average discriminator (critic) loss, in the ½ form of AlexiaJM/RelativisticGAN:
 *
 *     L_D = ½ [ mean_i ℓreal(real_i − m_fake) + mean_j ℓfake(fake_j − m_real) ]
 *
 * with ℓreal/ℓfake = softplus(−z)/softplus(z) (sgan), (z−1)²/(z+1)² (lsgan), relu(1−z)/relu(1+z)
 * (hinge). The critic minimises it: real samples should score above the fake set's average and fake
 * samples below the real set's average.
 *
 * Check values (real = [1, 2, −0.5], fake = [0, −1, 0.5]): sgan 0.383784, lsgan 0.722222, hinge
 * 0.361111.
 *
 * @returns a scalar the caller owns; differentiable w.r.t. `real`, `fake` and (when not given)
 *   through the batch means.
 * @throws GanpoError on a non-rank-1, empty, non-float or non-finite score tensor, a non-finite or
 *   non-scalar mean, or an unknown GAN loss.
 * @see Jolicoeur-Martineau, "The relativistic discriminator: a key element missing from standard
 *   GAN", ICLR 2019 (arXiv 1807.00734); AlexiaJM/RelativisticGAN.
 */
export function relativisticDiscriminatorLoss(args: RelativisticLossArgs): tf.Scalar {
  const a = validate('relativisticDiscriminatorLoss', args);
  return tf.tidy(() => relativisticDiscriminatorCore(a));
}

/**
 * Relativistic average generator loss (the discriminator loss with the roles swapped), ½ form:
 *
 *     L_G = ½ [ mean_i ℓfake(real_i − m_fake) + mean_j ℓreal(fake_j − m_real) ]
 *
 * The generator minimises it with the critic held fixed. Unlike a standard GAN the generator also
 * gets a signal through the real samples' term when `fakeMean` is the batch mean.
 *
 * Check values (real = [1, 2, −0.5], fake = [0, −1, 0.5]): sgan 1.383784, lsgan 4.722222, hinge 2.0.
 *
 * @returns a scalar the caller owns; differentiable w.r.t. `real`, `fake` and the batch means.
 * @throws GanpoError as {@link relativisticDiscriminatorLoss}.
 * @see AlexiaJM/RelativisticGAN (RaSGAN/RaLSGAN/RaHingeGAN generator losses).
 */
export function relativisticGeneratorLoss(args: RelativisticLossArgs): tf.Scalar {
  const a = validate('relativisticGeneratorLoss', args);
  // The discriminator loss with the sets' roles swapped: ½[ℓreal(fake − m_real) + ℓfake(real − m_fake)].
  const swapped: Resolved = {
    real: a.fake,
    fake: a.real,
    realMean: a.fakeMean,
    fakeMean: a.realMean,
    ganLoss: a.ganLoss,
  };
  return tf.tidy(() => relativisticDiscriminatorCore(swapped));
}

/**
 * A monitoring estimate of the relativistic average divergence D_Ra(p_fake ‖ p_real) given the
 * current critic: how far the critic's discriminator loss sits below the loss of a critic that
 * cannot tell the sets apart,
 *
 *     D̂ = 2 · (L_chance − L_D),   L_chance = ½[ℓreal(0) + ℓfake(0)]
 *
 * where L_D is {@link relativisticDiscriminatorLoss}. For sgan L_chance = log 2, so
 * D̂ = E_real[log σ(real − m_fake)] + E_fake[log(1 − σ(fake − m_real))] + 2 log 2 — exactly the
 * D_Ra objective of the GANPO paper (arXiv 2601.22083) with its +2 log 2 offset. For lsgan
 * and hinge L_chance = 1, so D̂ = 2 − 2·L_D.
 *
 * D̂ is 0 when the critic scores both sets alike (all relativistic logits 0, e.g. a constant
 * critic), positive when it separates them, and is a lower bound of the true divergence (which is a
 * supremum over critics): a negative value means the critic is currently worse than chance. It is not
 * clamped so that this stays visible.
 *
 * @returns a scalar the caller owns (differentiable, though it is meant for logging).
 * @throws GanpoError as {@link relativisticDiscriminatorLoss}.
 */
export function relativisticAverageDivergence(args: RelativisticLossArgs): tf.Scalar {
  const a = validate('relativisticAverageDivergence', args);
  return tf.tidy(
    () => tf.mul(tf.sub(chanceLevel(a.ganLoss), relativisticDiscriminatorCore(a)), 2) as tf.Scalar,
  );
}
