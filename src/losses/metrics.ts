import * as tf from '@tensorflow/tfjs-core';
import { assertArgs, assertTensor } from '../core/validate';
import { validatePairInputs } from './pair-inputs';
import type { PreferenceLoss } from './types';

/** TRL's reward metrics (`DPOTrainer.get_batch_loss_metrics`), as plain numbers. */
export interface PreferenceMetrics {
  'rewards/chosen': number;
  'rewards/rejected': number;
  /** Fraction of pairs with chosen reward > rejected reward (strict, as TRL). */
  'rewards/accuracies': number;
  'rewards/margins': number;
}

/**
 * Batch means of a {@link PreferenceLoss}'s rewards under TRL's metric keys. Reads four scalars
 * back (one sync); log them, do not differentiate them.
 *
 * @example
 * ```ts
 * const out = dpoLoss(args);
 * const m = preferenceMetrics(out); // { 'rewards/chosen': …, 'rewards/accuracies': …, … }
 * tf.dispose([out.losses, out.loss, out.chosenRewards, out.rejectedRewards]);
 * ```
 */
export function preferenceMetrics(
  out: Pick<PreferenceLoss, 'chosenRewards' | 'rejectedRewards'>,
): PreferenceMetrics {
  assertArgs('preferenceMetrics', out, '{ chosenRewards, rejectedRewards }');
  const { chosenRewards, rejectedRewards } = out;
  // Both are required (validatePairInputs skips missing optional inputs).
  assertTensor('preferenceMetrics', 'chosenRewards', chosenRewards);
  assertTensor('preferenceMetrics', 'rejectedRewards', rejectedRewards);
  validatePairInputs('preferenceMetrics', [
    ['chosenRewards', chosenRewards],
    ['rejectedRewards', rejectedRewards],
  ]);
  const packed = tf.tidy(() =>
    tf.stack([
      tf.mean(chosenRewards),
      tf.mean(rejectedRewards),
      tf.mean(tf.cast(tf.greater(chosenRewards, rejectedRewards), 'float32')),
      tf.mean(tf.sub(chosenRewards, rejectedRewards)),
    ]),
  );
  const v = packed.dataSync();
  packed.dispose();
  return {
    'rewards/chosen': v[0] ?? Number.NaN,
    'rewards/rejected': v[1] ?? Number.NaN,
    'rewards/accuracies': v[2] ?? Number.NaN,
    'rewards/margins': v[3] ?? Number.NaN,
  };
}
