import * as tf from '@tensorflow/tfjs-core';
import { tidyObject } from '../core/tidy-object';
import { assertArgs, assertNumber, assertOneOf, assertTensor } from '../core/validate';
import { stopGradient } from '../ops/stop-gradient';
import { validatePairInputs } from './pair-inputs';
import { smoothedSigmoid } from './sigmoid-loss';
import type { PreferenceLoss } from './types';

/** Arguments of {@link simpoLoss}. Log-probs are **per-token mean** log-probs [B], float32. @inline */
export interface SimpoLossArgs {
  /** Mean log-prob of each chosen response (`sequenceLogProbs(...).mean`) [B]. */
  policyChosenLogps: tf.Tensor1D;
  policyRejectedLogps: tf.Tensor1D;
  /** β > 0. Default 2.0 (SimPO repo `SimPOConfig.beta`; published 2.0–10). */
  beta?: number;
  /** γ/β, the target margin over β, finite. Default 0.25 (SimPO `gamma_beta_ratio`; published 0.1–0.8). */
  gammaBetaRatio?: number;
  /** ε in [0, 0.5] (sigmoid only). Default 0 (SimPO `label_smoothing`). */
  labelSmoothing?: number;
  /** Default `'sigmoid'` (SimPO `loss_type`). */
  lossType?: 'sigmoid' | 'hinge';
}

/**
 * SimPO, reference-free preference loss on length-normalised log-probs (Meng, Xia, Chen 2024,
 * arXiv 2405.14734; princeton-nlp/SimPO `SimPOTrainer.simpo_loss`). With mean log-probs ā:
 *
 *     logits = (ā_c − ā_r) − γ/β
 *     sigmoid: −(1−ε) log σ(β·logits) − ε log σ(−β·logits)        hinge: relu(1 − β·logits)
 *
 * Rewards are β·ā (detached, as in the SimPO repo).
 *
 * @returns {@link PreferenceLoss}.
 * @throws GanpoError for `beta` ≤ 0, ε outside [0, 0.5], an unknown `lossType`, non-rank-1,
 *   unequal-length or non-finite inputs.
 */
export function simpoLoss(args: SimpoLossArgs): PreferenceLoss {
  const where = 'simpoLoss';
  assertArgs(where, args, '{ policyChosenLogps, policyRejectedLogps, ... }');
  const {
    policyChosenLogps,
    policyRejectedLogps,
    beta = 2.0,
    gammaBetaRatio = 0.25,
    labelSmoothing = 0,
    lossType = 'sigmoid',
  } = args;
  assertNumber(where, 'beta', beta, { greaterThan: 0 });
  assertNumber(where, 'gammaBetaRatio', gammaBetaRatio);
  assertNumber(where, 'labelSmoothing', labelSmoothing, { min: 0, max: 0.5 });
  assertOneOf(where, 'lossType', lossType, ['sigmoid', 'hinge'] as const);
  assertTensor(where, 'policyChosenLogps', policyChosenLogps);
  assertTensor(where, 'policyRejectedLogps', policyRejectedLogps);
  validatePairInputs(where, [
    ['policyChosenLogps', policyChosenLogps],
    ['policyRejectedLogps', policyRejectedLogps],
  ]);
  return tidyObject(() => {
    const z = tf.mul(
      tf.sub(tf.sub(policyChosenLogps, policyRejectedLogps), gammaBetaRatio),
      beta,
    ) as tf.Tensor1D;
    const losses =
      lossType === 'hinge' ? (tf.relu(tf.sub(1, z)) as tf.Tensor1D) : smoothedSigmoid(z, labelSmoothing);
    return {
      losses,
      loss: tf.mean(losses) as tf.Scalar,
      chosenRewards: stopGradient(tf.mul(policyChosenLogps, beta) as tf.Tensor1D),
      rejectedRewards: stopGradient(tf.mul(policyRejectedLogps, beta) as tf.Tensor1D),
    };
  });
}
