import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { tidyObject } from '../core/tidy-object';
import { assertArgs, assertBothOrNeither, assertNumber, assertOneOf } from '../core/validate';
import { stopGradient } from '../ops/stop-gradient';
import { validatePairInputs } from './pair-inputs';
import type { PreferenceLoss } from './types';
import { type UnpairedLogps, validateUnpaired } from './unpaired';

/** The loss types of TRL's `KTOConfig.loss_type`. */
export type KtoLossType = 'kto' | 'apo_zero_unpaired';

/** Every {@link KtoLossType}. */
export const KTO_LOSS_TYPES: readonly KtoLossType[] = ['kto', 'apo_zero_unpaired'];

/** Arguments of {@link ktoLoss}: an unpaired batch (summed sequence log-probs, float32) and options. @inline */
export interface KtoLossArgs extends UnpairedLogps {
  /**
   * Policy log-probs of the KL batch [M]: each prompt with a completion from another example of the
   * batch (TRL's `KL_input_ids`, completions cycled within the batch). With `referenceKlLogps`, gives
   * the KL estimate z of `'kto'`. Give these or `kl`.
   */
  policyKlLogps?: tf.Tensor1D;
  /** Reference log-probs of the KL batch [M]. */
  referenceKlLogps?: tf.Tensor1D;
  /**
   * The KL estimate z as a number (e.g. averaged over workers), instead of the KL log-probs; clamped
   * at 0 as TRL does. Used by `'kto'` only.
   */
  kl?: number;
  /** β > 0. Default 0.1 (TRL `KTOConfig.beta`). */
  beta?: number;
  /** `'kto'` (default, TRL `KTOConfig.loss_type`) or `'apo_zero_unpaired'`. */
  lossType?: KtoLossType;
  /** λ_D ≥ 0, the weight of desirable losses. Default 1 (TRL `KTOConfig.desirable_weight`). */
  desirableWeight?: number;
  /** λ_U ≥ 0, the weight of undesirable losses. Default 1 (TRL `KTOConfig.undesirable_weight`). */
  undesirableWeight?: number;
}

/**
 * Output of {@link ktoLoss}: a {@link PreferenceLoss} whose `losses` are [Nc + Nr] (desirable ones
 * first) and whose rewards are [Nc] and [Nr], plus the KL estimate.
 */
export interface KtoLoss extends PreferenceLoss {
  /** z, the detached KL estimate max(mean(KL log-ratios), 0); 0 for `'apo_zero_unpaired'`. Scalar. */
  kl: tf.Scalar;
}

const WHERE = 'ktoLoss';

/**
 * The KTO loss of TRL's `KTOTrainer._compute_loss` (trl/trainer/kto_trainer.py; Ethayarajh et al.
 * 2024, arXiv 2402.01306, eq. 7) on an unpaired batch: desirable examples (chosen) and undesirable
 * ones (rejected), each with a policy and a reference summed log-prob. With ρ = policy − reference:
 *
 *     z = max(mean_M(π_KL − ref_KL), 0), detached    (the batch KL estimate, mismatched completions)
 *     'kto':               desirable 1 − σ(β(ρ_c − z)),   undesirable 1 − σ(β(z − ρ_r))
 *     'apo_zero_unpaired': desirable 1 − σ(βρ_c),         undesirable σ(βρ_r)   (APO-zero, no z)
 *     losses = [λ_D · desirable, λ_U · undesirable]  [Nc + Nr],   loss = mean(losses)
 *
 * Rewards are β·ρ (detached), as TRL's. Either side may be empty (Nc or Nr = 0), not both. Usable
 * with `ganpoLoss` like any {@link PreferenceLoss}: the adversarial term needs only the policy and
 * reference latents of the desirable and undesirable examples.
 *
 * @returns `losses` [Nc+Nr], `loss` (mean), `chosenRewards` [Nc], `rejectedRewards` [Nr], `kl`.
 * @throws GanpoError for bad options (`beta` ≤ 0, negative weights, unknown `lossType`), a `'kto'`
 *   call with neither the KL log-probs nor `kl`, one KL tensor without the other, non-rank-1,
 *   unequal-length, non-float32 or non-finite inputs, or an empty batch.
 */
export function ktoLoss(args: KtoLossArgs): KtoLoss {
  assertArgs(WHERE, args, '{ policyChosenLogps, referenceChosenLogps, policyRejectedLogps, ... }');
  const {
    policyKlLogps,
    referenceKlLogps,
    kl,
    beta = 0.1,
    lossType = 'kto',
    desirableWeight = 1,
    undesirableWeight = 1,
  } = args;
  assertNumber(WHERE, 'beta', beta, { greaterThan: 0 });
  assertOneOf(WHERE, 'lossType', lossType, KTO_LOSS_TYPES);
  assertNumber(WHERE, 'desirableWeight', desirableWeight, { min: 0 });
  assertNumber(WHERE, 'undesirableWeight', undesirableWeight, { min: 0 });
  validateUnpaired(WHERE, args);
  assertBothOrNeither(
    WHERE,
    ['policyKlLogps', policyKlLogps],
    ['referenceKlLogps', referenceKlLogps],
    'both KL log-probs or neither',
  );
  if (kl !== undefined) assertNumber(WHERE, 'kl', kl);
  const useKl = lossType === 'kto';
  if (useKl && policyKlLogps === undefined && kl === undefined) {
    throw argumentError(
      'INVALID_ARGUMENT',
      WHERE,
      'policyKlLogps',
      "the KL log-probs (policyKlLogps, referenceKlLogps) or a number 'kl' for lossType 'kto'",
      'neither',
    );
  }
  if (policyKlLogps !== undefined && referenceKlLogps !== undefined) {
    if (kl !== undefined) {
      throw argumentError('INVALID_ARGUMENT', WHERE, 'kl', "either 'kl' or the KL log-probs", 'both');
    }
    validatePairInputs(WHERE, [
      ['policyKlLogps', policyKlLogps],
      ['referenceKlLogps', referenceKlLogps],
    ]);
  }

  return tidyObject(() => {
    const rhoC = tf.sub(args.policyChosenLogps, args.referenceChosenLogps) as tf.Tensor1D;
    const rhoR = tf.sub(args.policyRejectedLogps, args.referenceRejectedLogps) as tf.Tensor1D;
    let z: tf.Scalar;
    if (!useKl) z = tf.scalar(0);
    else if (kl !== undefined) z = tf.scalar(Math.max(kl, 0));
    else {
      const diff = tf.sub(policyKlLogps as tf.Tensor1D, referenceKlLogps as tf.Tensor1D);
      z = stopGradient(tf.maximum(tf.mean(diff), 0) as tf.Scalar);
    }
    let chosen: tf.Tensor1D;
    let rejected: tf.Tensor1D;
    if (useKl) {
      chosen = tf.sub(1, tf.sigmoid(tf.mul(tf.sub(rhoC, z), beta))) as tf.Tensor1D;
      rejected = tf.sub(1, tf.sigmoid(tf.mul(tf.sub(z, rhoR), beta))) as tf.Tensor1D;
    } else {
      chosen = tf.sub(1, tf.sigmoid(tf.mul(rhoC, beta))) as tf.Tensor1D;
      rejected = tf.sigmoid(tf.mul(rhoR, beta)) as tf.Tensor1D;
    }
    const losses = tf.concat([
      tf.mul(chosen, desirableWeight),
      tf.mul(rejected, undesirableWeight),
    ]) as tf.Tensor1D;
    return {
      losses,
      loss: tf.mean(losses) as tf.Scalar,
      chosenRewards: stopGradient(tf.mul(rhoC, beta) as tf.Tensor1D),
      rejectedRewards: stopGradient(tf.mul(rhoR, beta) as tf.Tensor1D),
      kl: z,
    };
  });
}
