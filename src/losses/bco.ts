import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { tidyObject } from '../core/tidy-object';
import {
  assertArgs,
  assertDtype,
  assertFinite,
  assertNumber,
  assertRank,
  assertSameLength,
  assertValueRange,
  checksValues,
} from '../core/validate';
import { logSigmoid } from '../ops/log-sigmoid';
import { stopGradient } from '../ops/stop-gradient';
import { RunningMoments } from './running-moments';
import type { PreferenceLoss } from './types';
import { type UnpairedLogps, validateUnpaired } from './unpaired';

/** Arguments of {@link bcoLoss}: an unpaired batch (summed sequence log-probs, float32) and options. @inline */
export interface BcoLossArgs extends UnpairedLogps {
  /** β > 0. Default 0.1 (TRL `BCOConfig.beta`). */
  beta?: number;
  /**
   * The running reward mean δ kept across steps (TRL's `RunningMoments`). Before the loss it is
   * updated with this batch's rewards β·ρ (unless `updateRunning` is false), then its mean is δ.
   * Give this or `delta`.
   */
  running?: RunningMoments;
  /** Whether to fold this batch into `running` first: true in training, false in evaluation (TRL `do_train`). Default true. */
  updateRunning?: boolean;
  /** An explicit δ instead of `running`. */
  delta?: number;
  /**
   * Weights of the undesirable losses [Nr] ≥ 0: the density ratios of BCO's underlying-distribution
   * matching (TRL `match_underlying_distribution`, ratio clamped to [`min_density_ratio`,
   * `max_density_ratio`] by the caller). Default none (weight 1).
   */
  rejectedWeights?: tf.Tensor1D;
}

/** Output of {@link bcoLoss}: a {@link PreferenceLoss} with `losses` [Nc + Nr], plus δ. */
export interface BcoLoss extends PreferenceLoss {
  /** The δ used, a plain number. */
  delta: number;
}

const WHERE = 'bcoLoss';

/**
 * The BCO loss of TRL's `BCOTrainer.bco_loss` (trl/experimental/bco/bco_trainer.py; Jung et al.
 * 2024, arXiv 2404.04656) on an unpaired batch: binary classification of desirable (chosen) versus
 * undesirable (rejected) examples by the implicit reward r = β·ρ, ρ = policy − reference, around a
 * running mean δ of the rewards:
 *
 *     δ = running mean of all rewards so far (this batch included), a constant
 *     desirable −log σ(r_c − δ),   undesirable −log σ(−(r_r − δ)) · w_r
 *     losses = [desirable, undesirable]  [Nc + Nr],   loss = mean(losses)
 *
 * Rewards are returned detached. Usable with `ganpoLoss` like any {@link PreferenceLoss}.
 *
 * @example
 * ```ts
 * const running = new RunningMoments();          // one per training run, checkpoint it with stateDict()
 * const out = bcoLoss({ ...logps, running });    // updates running, then δ = running.mean
 * ```
 *
 * @returns `losses`, `loss`, `chosenRewards` [Nc], `rejectedRewards` [Nr], `delta`.
 * @throws GanpoError for `beta` ≤ 0, both or neither of `running`/`delta`, a `running` that is not a
 *   RunningMoments, bad `rejectedWeights`, and bad inputs as {@link ktoLoss}. A refused call does not
 *   update `running`.
 */
export function bcoLoss(args: BcoLossArgs): BcoLoss {
  assertArgs(WHERE, args, '{ policyChosenLogps, ..., running | delta }');
  const { beta = 0.1, running, updateRunning = true, delta, rejectedWeights } = args;
  assertNumber(WHERE, 'beta', beta, { greaterThan: 0 });
  if ((running === undefined) === (delta === undefined)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      WHERE,
      'running',
      "either a RunningMoments 'running' or a number 'delta'",
      running === undefined ? 'neither' : 'both',
    );
  }
  if (running !== undefined && !(running instanceof RunningMoments)) {
    throw argumentError('INVALID_ARGUMENT', WHERE, 'running', 'a RunningMoments', typeof running);
  }
  if (delta !== undefined) assertNumber(WHERE, 'delta', delta);
  if (typeof updateRunning !== 'boolean') {
    throw argumentError('INVALID_OPTION', WHERE, 'updateRunning', 'a boolean', typeof updateRunning);
  }
  validateUnpaired(WHERE, args);
  if (rejectedWeights !== undefined) {
    assertRank(WHERE, 'rejectedWeights', rejectedWeights, 1);
    assertDtype(WHERE, 'rejectedWeights', rejectedWeights, ['float32']);
    assertSameLength(WHERE, [
      ['policyRejectedLogps', args.policyRejectedLogps],
      ['rejectedWeights', rejectedWeights],
    ]);
    assertFinite(WHERE, 'rejectedWeights', rejectedWeights);
    if (checksValues())
      assertValueRange(WHERE, 'rejectedWeights', rejectedWeights, 0, Number.POSITIVE_INFINITY);
  }

  if (running !== undefined && updateRunning) {
    const all = tf.tidy(() =>
      tf.mul(
        tf.concat([
          tf.sub(args.policyChosenLogps, args.referenceChosenLogps),
          tf.sub(args.policyRejectedLogps, args.referenceRejectedLogps),
        ]),
        beta,
      ),
    );
    try {
      running.update(all);
    } finally {
      all.dispose();
    }
  }
  const d = running !== undefined ? running.mean : (delta as number);
  return tidyObject(() => {
    const chosenRewards = tf.mul(
      tf.sub(args.policyChosenLogps, args.referenceChosenLogps),
      beta,
    ) as tf.Tensor1D;
    const rejectedRewards = tf.mul(
      tf.sub(args.policyRejectedLogps, args.referenceRejectedLogps),
      beta,
    ) as tf.Tensor1D;
    const chosen = tf.neg(logSigmoid(tf.sub(chosenRewards, d) as tf.Tensor1D));
    let rejected = tf.neg(logSigmoid(tf.neg(tf.sub(rejectedRewards, d)) as tf.Tensor1D));
    if (rejectedWeights) rejected = tf.mul(rejected, rejectedWeights);
    const losses = tf.concat([chosen, rejected]) as tf.Tensor1D;
    return {
      losses,
      loss: tf.mean(losses) as tf.Scalar,
      chosenRewards: stopGradient(chosenRewards),
      rejectedRewards: stopGradient(rejectedRewards),
      delta: d,
    };
  });
}
