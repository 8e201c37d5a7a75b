import * as tf from '@tensorflow/tfjs-core';
import {
  type CollateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  type PreferencePair,
} from './collate';
import { type CausalLM, forwardSide } from './forward';
import { objectiveLoss, type PreferenceObjective } from './objective';

/** The evaluation statistics, in the order they are stacked (one read-back per batch). */
const EVALUATION_KEYS = [
  'loss',
  'rewards/chosen',
  'rewards/rejected',
  'rewards/accuracies',
  'logps/chosen',
  'logps/rejected',
] as const;

/**
 * The objective's loss and TRL's reward metrics on `pairs` without an update, as `eval_*` means
 * weighted by batch size.
 */
export function evaluatePreference(
  models: { policy: CausalLM; reference?: CausalLM; objective: PreferenceObjective; collate: CollateOptions },
  pairs: readonly PreferencePair[],
  batchSize: number,
): Record<string, number> {
  const totals: Record<string, number> = {};
  let n = 0;
  for (let start = 0; start < pairs.length; start += batchSize) {
    const chunk = pairs.slice(start, start + batchSize);
    const batch = collatePreferencePairs(chunk, models.collate);
    try {
      const row = tf.tidy(() => {
        const policyChosen = forwardSide(models.policy, batch.chosen, false);
        const policyRejected = forwardSide(models.policy, batch.rejected, false);
        let reference: { chosen: tf.Tensor1D; rejected: tf.Tensor1D } | null = null;
        if (models.reference) {
          const referenceChosen = forwardSide(models.reference, batch.chosen, false);
          const referenceRejected = forwardSide(models.reference, batch.rejected, false);
          reference = { chosen: referenceChosen.logps, rejected: referenceRejected.logps };
        }
        const preference = objectiveLoss(models.objective, {
          policy: {
            chosen: policyChosen.logps,
            rejected: policyRejected.logps,
            chosenMean: policyChosen.mean,
            rejectedMean: policyRejected.mean,
          },
          reference,
          lengths: { chosen: batch.chosen.completionLengths, rejected: batch.rejected.completionLengths },
        });
        return tf.stack([
          preference.loss,
          tf.mean(preference.chosenRewards),
          tf.mean(preference.rejectedRewards),
          tf.mean(tf.cast(tf.greater(preference.chosenRewards, preference.rejectedRewards), 'float32')),
          tf.mean(policyChosen.logps),
          tf.mean(policyRejected.logps),
        ]);
      });
      const values = row.dataSync();
      row.dispose();
      const weight = chunk.length;
      EVALUATION_KEYS.forEach((key, i) => {
        totals[key] = (totals[key] ?? 0) + (values[i] as number) * weight;
      });
      n += weight;
    } finally {
      disposePreferenceBatch(batch);
    }
  }
  const out: Record<string, number> = {};
  for (const [key, sum] of Object.entries(totals)) out[`eval_${key}`] = sum / n;
  out['eval_rewards/margins'] = (out['eval_rewards/chosen'] ?? 0) - (out['eval_rewards/rejected'] ?? 0);
  return out;
}
