import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { describeArgument } from '../core/instance';
import { assertArgs, assertFinite, assertRank, assertTensor } from '../core/validate';
import type { LatentBatch } from '../latent/batch';
import type { PreferenceLoss } from '../losses/types';
import { GanpoRegularizer } from './ganpo-regularizer';

/** Arguments of {@link ganpoLoss}: the regularizer, a preference loss and the batch's latents. @inline */
export interface GanpoLossArgs extends LatentBatch {
  /** The regularizer holding the discriminators and their means (after a discriminator step). */
  regularizer: GanpoRegularizer;
  /** Any preference loss of this package (DPO family, SimPO, ORPO), or a scalar loss. */
  preference: PreferenceLoss | tf.Scalar;
}

/** Output of {@link ganpoLoss}: new tensors the caller owns. */
export interface GanpoLossOutput {
  /** L = L_pref + λ·L_reg, scalar; differentiate this. */
  loss: tf.Scalar;
  /** L_pref, scalar. */
  preferenceLoss: tf.Scalar;
  /** L_reg, the regularizer's term before the weight λ (here GANPO's adversarial loss), scalar. */
  regularizerLoss: tf.Scalar;
}

/**
 * The GANPO objective (arXiv 2601.22083, eq. "L_OPO + λ·D_Ra"): any offline preference loss plus
 * λ times the regularizer's adversarial term on the batch's latents,
 *
 *     loss = L_pref + λ · L_adv
 *
 * with λ = `regularizer.weight`, L_pref the preference loss's `loss` (or the scalar given) and, by
 * default (`preset: 'recommended'`), the paired feature-matching term
 * L_adv = ½ Σ_side mean_i ‖f(h_θ,i) − f(h_ref,i)‖² on the critics' last hidden layer f; with
 * `preset: 'official'`, the one-sided term ½[ℓreal(D_w(h_θ^w) − m_w,ref) + ℓreal(D_l(h_θ^l) − m_l,ref)]
 * (see {@link GanpoRegularizer.adversarialLoss}). Use it inside
 * `tf.variableGrads(() => ganpoLoss(...).loss, policyVariables)` after
 * `regularizer.discriminatorStep(...)` on the same batch.
 *
 * @returns `{ loss, preferenceLoss, regularizerLoss }`, scalars the caller owns.
 * @throws GanpoError on a missing regularizer, a preference that is neither a PreferenceLoss nor a
 *   scalar, a non-finite preference loss, bad latents or masks (see {@link LatentBatch}), and before
 *   the regularizer's first discriminator step.
 */
export function ganpoLoss(args: GanpoLossArgs): GanpoLossOutput {
  return ganpoObjective(args, true);
}

/**
 * {@link ganpoLoss}; `observe` records the two losses for the regularizer's "adversarial term
 * dominates" warning (read after the tape, at the next discriminator step). The trainer passes
 * false: it reports its whole step's losses itself. @internal
 */
export function ganpoObjective(args: GanpoLossArgs, observe: boolean): GanpoLossOutput {
  const where = 'ganpoLoss';
  assertArgs(where, args, '{ regularizer, preference, policyChosenLatents, ... }');
  if (!(args.regularizer instanceof GanpoRegularizer)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'regularizer',
      'a GanpoRegularizer',
      describeArgument(args.regularizer, GanpoRegularizer),
    );
  }
  const pref = args.preference;
  const prefScalar =
    pref instanceof tf.Tensor
      ? pref
      : pref !== null && typeof pref === 'object'
        ? (pref as PreferenceLoss).loss
        : undefined;
  if (!(prefScalar instanceof tf.Tensor)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'preference',
      'a PreferenceLoss or a scalar tensor',
      typeof pref,
    );
  }
  assertTensor(where, 'preference', prefScalar);
  assertRank(where, 'preference', prefScalar, 0);
  assertFinite(where, 'preference', prefScalar);
  args.regularizer.checkAdversarial(where, args);
  const out = ganpoObjectiveCore(where, args.regularizer, prefScalar, args);
  if (observe) args.regularizer.recordLosses(prefScalar, out.regularizerLoss);
  return out;
}

/**
 * Unchecked core of {@link ganpoLoss} (the preference scalar and the latents already checked, e.g.
 * by the trainer): L_pref + λ·L_adv and its parts, new tensors the caller owns.
 */
export function ganpoObjectiveCore(
  where: string,
  regularizer: GanpoRegularizer,
  preference: tf.Scalar,
  batch: LatentBatch,
): GanpoLossOutput {
  const regularizerLoss = regularizer.adversarialCore(where, batch);
  const weight = regularizer.weight;
  return tf.tidy(() => ({
    loss: tf.add(preference, tf.mul(regularizerLoss, weight)) as tf.Scalar,
    preferenceLoss: tf.clone(preference) as tf.Scalar,
    regularizerLoss,
  }));
}
