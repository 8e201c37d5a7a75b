import * as tf from '@tensorflow/tfjs-core';
import { assertObject, assertOneOf, renamedOption } from '../core/validate';
import { type DpoLossArgs, dpoLoss } from '../losses/dpo';
import { type OrpoLossArgs, orpoLoss } from '../losses/orpo';
import { type SimpoLossArgs, simpoLoss } from '../losses/simpo';
import type { PreferenceLoss } from '../losses/types';

/** The DPO objective's options: {@link DpoLossArgs} without the tensors the trainer supplies. */
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
/** The SimPO objective's options: {@link SimpoLossArgs} without the log-probs the trainer supplies. */
export type SimpoObjectiveOptions = Omit<SimpoLossArgs, 'policyChosenLogps' | 'policyRejectedLogps'>;
/** The ORPO objective's options: `beta` of {@link OrpoLossArgs}. */
export type OrpoObjectiveOptions = Pick<OrpoLossArgs, 'beta'>;

/**
 * The preference objective: any loss of this package with its options, chosen by `kind` (the same
 * word as the discriminator choice of `GanpoRegularizer.create`).
 */
export type PreferenceObjective =
  | ({ kind: 'dpo' } & DpoObjectiveOptions)
  | ({ kind: 'simpo' } & SimpoObjectiveOptions)
  | ({ kind: 'orpo' } & OrpoObjectiveOptions);

/**
 * @deprecated A {@link PreferenceObjective} spelled with `type` instead of `kind`
 * (`{ type: 'dpo', beta }`), accepted for one release; write `{ kind: 'dpo', beta }`.
 */
export type LegacyPreferenceObjective =
  | ({ type: 'dpo'; kind?: 'dpo' } & DpoObjectiveOptions)
  | ({ type: 'simpo'; kind?: 'simpo' } & SimpoObjectiveOptions)
  | ({ type: 'orpo'; kind?: 'orpo' } & OrpoObjectiveOptions);

/** Every {@link PreferenceObjective} kind. */
export const OBJECTIVE_KINDS = ['dpo', 'simpo', 'orpo'] as const;

/**
 * The objective with its kind checked and under `kind` (the deprecated `type` is read when `kind`
 * is absent, and dropped).
 *
 * @throws GanpoError `INVALID_ARGUMENT` for a non-object; `INVALID_OPTION` naming `objective.kind`
 *   for an unknown kind or `kind` and `type` given with different values.
 */
export function resolveObjective(
  where: string,
  objective: PreferenceObjective | LegacyPreferenceObjective,
): PreferenceObjective {
  assertObject(where, 'objective', objective, '{ kind, ... }');
  const kind = renamedOption<string>(where, objective, 'kind', 'type', 'objective.');
  const name = objective.kind === undefined && 'type' in objective ? 'objective.type' : 'objective.kind';
  assertOneOf(where, name, kind, OBJECTIVE_KINDS);
  const { type: _type, ...options } = objective as { type?: string };
  return { ...options, kind } as PreferenceObjective;
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
