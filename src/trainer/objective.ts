import * as tf from '@tensorflow/tfjs-core';
import { assertKnownKeys } from '../core/options';
import { assertObject, assertOneOf } from '../core/validate';
import { type DpoLossArgs, dpoLoss } from '../losses/dpo';
import { type OrpoLossArgs, orpoLoss } from '../losses/orpo';
import { type SimpoLossArgs, simpoLoss } from '../losses/simpo';
import type { PreferenceLoss } from '../losses/types';

/** The DPO objective's options: {@link DpoLossArgs} without the tensors the trainer supplies. @inline */
export type DpoObjectiveOptions = Omit<
  DpoLossArgs,
  | 'policyChosenLogps'
  | 'policyRejectedLogps'
  | 'referenceChosenLogps'
  | 'referenceRejectedLogps'
  | 'chosenLengths'
  | 'rejectedLengths'
  | 'weights'
>;
/** The SimPO objective's options: {@link SimpoLossArgs} without the log-probs the trainer supplies. @inline */
export type SimpoObjectiveOptions = Omit<SimpoLossArgs, 'policyChosenLogps' | 'policyRejectedLogps'>;
/** The ORPO objective's options: `beta` of {@link OrpoLossArgs}. @inline */
export type OrpoObjectiveOptions = Pick<OrpoLossArgs, 'beta'>;

/**
 * The preference objective: any loss of this package with its options, chosen by `kind`.
 */
export type PreferenceObjective =
  | ({ kind: 'dpo' } & DpoObjectiveOptions)
  | ({ kind: 'simpo' } & SimpoObjectiveOptions)
  | ({ kind: 'orpo' } & OrpoObjectiveOptions);

/** Every {@link PreferenceObjective} kind. */
export const OBJECTIVE_KINDS = ['dpo', 'simpo', 'orpo'] as const;

/** The option keys of each objective kind (its loss's options). */
const OBJECTIVE_KEYS: Record<(typeof OBJECTIVE_KINDS)[number], readonly string[]> = {
  dpo: [
    'kind',
    'beta',
    'lossType',
    'lossWeights',
    'labelSmoothing',
    'fDivergence',
    'alpha',
    'discopopTau',
    'bcoDelta',
  ],
  simpo: ['kind', 'beta', 'lossType', 'labelSmoothing', 'gammaBetaRatio'],
  orpo: ['kind', 'beta'],
};

/**
 * The objective with its kind and keys checked (the loss checks the values on its first call).
 *
 * @throws GanpoError `INVALID_ARGUMENT` for a non-object; `INVALID_OPTION` naming `objective.kind`
 *   for an unknown kind, or an option of another kind or a misspelt one.
 */
export function resolveObjective(where: string, objective: PreferenceObjective): PreferenceObjective {
  assertObject(where, 'objective', objective, '{ kind, ... }');
  const kind = assertOneOf(where, 'objective.kind', objective.kind, OBJECTIVE_KINDS);
  assertKnownKeys(where, objective, OBJECTIVE_KEYS[kind], 'objective.');
  return { ...objective };
}

/** What one forward of the policy (and the reference) gives a preference objective. */
export interface ObjectiveInputs {
  /** Policy log-probs: summed (`chosen`, `rejected`) and per-token mean (`chosenMean`, `rejectedMean`), [B]. */
  policy: { chosen: tf.Tensor1D; rejected: tf.Tensor1D; chosenMean: tf.Tensor1D; rejectedMean: tf.Tensor1D };
  /** Summed reference log-probs [B], or `null` without a reference. */
  reference: { chosen: tf.Tensor1D; rejected: tf.Tensor1D } | null;
  /** Completion lengths [B]. */
  lengths: { chosen: tf.Tensor1D; rejected: tf.Tensor1D };
}

type ObjectiveOf<K extends PreferenceObjective['kind']> = Extract<PreferenceObjective, { kind: K }>;

/**
 * The loss registry: each objective kind and how the trainer's inputs map onto its loss. SimPO and
 * ORPO take per-token mean log-probs (as in their reference implementations), DPO summed ones.
 */
const OBJECTIVES: {
  [K in PreferenceObjective['kind']]: (objective: ObjectiveOf<K>, inputs: ObjectiveInputs) => PreferenceLoss;
} = {
  dpo: ({ kind: _kind, ...options }, { policy, reference, lengths }) =>
    dpoLoss({
      ...options,
      policyChosenLogps: policy.chosen,
      policyRejectedLogps: policy.rejected,
      referenceChosenLogps: reference?.chosen,
      referenceRejectedLogps: reference?.rejected,
      chosenLengths: lengths.chosen,
      rejectedLengths: lengths.rejected,
    }),
  simpo: ({ kind: _kind, ...options }, { policy }) =>
    simpoLoss({ ...options, policyChosenLogps: policy.chosenMean, policyRejectedLogps: policy.rejectedMean }),
  orpo: ({ beta }, { policy }) =>
    orpoLoss({ beta, policyChosenLogps: policy.chosenMean, policyRejectedLogps: policy.rejectedMean }),
};

/** The objective's preference loss on one batch; tensors the caller owns. */
export function objectiveLoss(objective: PreferenceObjective, inputs: ObjectiveInputs): PreferenceLoss {
  const loss = OBJECTIVES[objective.kind] as (o: PreferenceObjective, i: ObjectiveInputs) => PreferenceLoss;
  return loss(objective, inputs);
}

/**
 * TRL's preference statistics of one batch as scalars, in this order: the loss, the mean chosen and
 * rejected rewards, the reward accuracy (share of pairs with chosen reward > rejected reward) and
 * the mean summed log-probs of the chosen and rejected completions. Call inside a tidy.
 */
export function preferenceStatistics(
  preference: PreferenceLoss,
  chosenLogps: tf.Tensor1D,
  rejectedLogps: tf.Tensor1D,
): tf.Scalar[] {
  return [
    preference.loss,
    tf.mean(preference.chosenRewards),
    tf.mean(preference.rejectedRewards),
    tf.mean(tf.cast(tf.greater(preference.chosenRewards, preference.rejectedRewards), 'float32')),
    tf.mean(chosenLogps),
    tf.mean(rejectedLogps),
  ];
}
