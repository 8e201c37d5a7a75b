import type * as tf from '@tensorflow/tfjs-core';
import { type DpoLossArgs, dpoLoss } from '../losses/dpo';
import { type OrpoLossArgs, orpoLoss } from '../losses/orpo';
import { type SimpoLossArgs, simpoLoss } from '../losses/simpo';
import type { PreferenceLoss } from '../losses/types';

/** The preference objective: any loss of this package with its options. */
export type PreferenceObjective =
  | ({ type: 'dpo' } & Omit<
      DpoLossArgs,
      | 'policyChosenLogps'
      | 'policyRejectedLogps'
      | 'referenceChosenLogps'
      | 'referenceRejectedLogps'
      | 'chosenLengths'
      | 'rejectedLengths'
      | 'weights'
    >)
  | ({ type: 'simpo' } & Omit<SimpoLossArgs, 'policyChosenLogps' | 'policyRejectedLogps'>)
  | ({ type: 'orpo' } & Pick<OrpoLossArgs, 'beta'>);

/** Every {@link PreferenceObjective} type. */
export const OBJECTIVE_TYPES = ['dpo', 'simpo', 'orpo'] as const;

/** What one forward of the policy (and the reference) gives a preference objective. */
export interface ObjectiveInputs {
  /** Policy log-probs: summed (`chosen`, `rejected`) and per-token mean (`chosenMean`, `rejectedMean`), [B]. */
  policy: { chosen: tf.Tensor1D; rejected: tf.Tensor1D; chosenMean: tf.Tensor1D; rejectedMean: tf.Tensor1D };
  /** Summed reference log-probs [B], or `null` without a reference. */
  reference: { chosen: tf.Tensor1D; rejected: tf.Tensor1D } | null;
  /** Completion lengths [B]. */
  lengths: { chosen: tf.Tensor1D; rejected: tf.Tensor1D };
}

type ObjectiveOf<K extends PreferenceObjective['type']> = Extract<PreferenceObjective, { type: K }>;

/**
 * The loss registry: each objective type and how the trainer's inputs map onto its loss. SimPO and
 * ORPO take per-token mean log-probs (as in their reference implementations), DPO summed ones.
 */
const OBJECTIVES: {
  [K in PreferenceObjective['type']]: (objective: ObjectiveOf<K>, inputs: ObjectiveInputs) => PreferenceLoss;
} = {
  dpo: ({ type: _type, ...options }, { policy, reference, lengths }) =>
    dpoLoss({
      ...options,
      policyChosenLogps: policy.chosen,
      policyRejectedLogps: policy.rejected,
      referenceChosenLogps: reference?.chosen,
      referenceRejectedLogps: reference?.rejected,
      chosenLengths: lengths.chosen,
      rejectedLengths: lengths.rejected,
    }),
  simpo: ({ type: _type, ...options }, { policy }) =>
    simpoLoss({ ...options, policyChosenLogps: policy.chosenMean, policyRejectedLogps: policy.rejectedMean }),
  orpo: ({ beta }, { policy }) =>
    orpoLoss({ beta, policyChosenLogps: policy.chosenMean, policyRejectedLogps: policy.rejectedMean }),
};

/** The objective's preference loss on one batch; tensors the caller owns. */
export function objectiveLoss(objective: PreferenceObjective, inputs: ObjectiveInputs): PreferenceLoss {
  const loss = OBJECTIVES[objective.type] as (o: PreferenceObjective, i: ObjectiveInputs) => PreferenceLoss;
  return loss(objective, inputs);
}
