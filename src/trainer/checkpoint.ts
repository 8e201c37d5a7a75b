import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import type { AdamW, AdamWState } from '../optim/adamw';
import { loadStateByPosition, saveStateByPosition } from '../optim/position-keys';
import type {
  GanpoRegularizer,
  GanpoRegularizerState,
  SerializedTensor,
} from '../regularizer/ganpo-regularizer';
import { BatchSampler, type BatchSamplerState } from './sampler';

/** A whole training state as plain JSON; see {@link GanpoTrainer.checkpoint}. */
export interface TrainerCheckpoint {
  format: 'ganpo-trainer';
  version: 1;
  step: number;
  sampler: BatchSamplerState | null;
  /** Policy weights by position in `policy.trainableVariables`. */
  policy: SerializedTensor[];
  /** Policy AdamW state, slots keyed by position (`policy/0`, …). */
  optimizer: AdamWState;
  regularizer: GanpoRegularizerState | null;
  /** Reference weights by position, present only with `syncRefModel` (TR-DPO moves the reference). */
  reference?: SerializedTensor[];
}

/** The parts of a trainer a checkpoint holds. */
export interface CheckpointParts {
  variables: readonly tf.Variable[];
  /** The reference's variables when TR-DPO updates them, else undefined (the reference is frozen). */
  referenceVariables?: readonly tf.Variable[];
  optimizer: AdamW;
  regularizer: GanpoRegularizer | null;
  sampler: BatchSampler | null;
  step: number;
}

/** Reads the training state into plain JSON (one read-back per tensor). */
export function saveCheckpoint(parts: CheckpointParts): TrainerCheckpoint {
  return {
    format: 'ganpo-trainer',
    version: 1,
    step: parts.step,
    sampler: parts.sampler ? parts.sampler.state : null,
    policy: parts.variables.map((v) => ({ shape: [...v.shape], data: Array.from(v.dataSync()) })),
    optimizer: saveStateByPosition(parts.optimizer, { policy: parts.variables }),
    regularizer: parts.regularizer ? parts.regularizer.getState() : null,
    ...(parts.referenceVariables
      ? {
          reference: parts.referenceVariables.map((v) => ({
            shape: [...v.shape],
            data: Array.from(v.dataSync()),
          })),
        }
      : {}),
  };
}

/** Checks saved weights against variables (count and shapes). */
function checkWeights(
  where: string,
  name: string,
  saved: SerializedTensor[] | undefined,
  variables: readonly tf.Variable[],
): void {
  if (!Array.isArray(saved) || saved.length !== variables.length) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      name,
      `${variables.length} tensors`,
      String(saved?.length),
    );
  }
  variables.forEach((v, i) => {
    const s = saved[i] as SerializedTensor;
    if (!tf.util.arraysEqual(s.shape, v.shape) || s.data.length !== v.size) {
      throw argumentError(
        'STATE_DICT_MISMATCH',
        where,
        `${name}[${i}]`,
        `shape [${v.shape}]`,
        `shape [${s.shape}]`,
      );
    }
  });
}

function assignWeights(saved: SerializedTensor[], variables: readonly tf.Variable[]): void {
  variables.forEach((v, i) => {
    const s = saved[i] as SerializedTensor;
    const t = tf.tensor(s.data, s.shape, v.dtype);
    v.assign(t);
    t.dispose();
  });
}

/**
 * Loads `checkpoint` into the policy variables, the optimizer, the regularizer and (with TR-DPO) the
 * reference variables, after checking its format and the weights' shapes (all or nothing for those).
 *
 * @returns the sampler and step count to continue from.
 */
export function loadCheckpoint(
  where: string,
  checkpoint: TrainerCheckpoint,
  parts: Omit<CheckpointParts, 'sampler' | 'step'>,
): { sampler: BatchSampler | null; step: number } {
  if (
    checkpoint === null ||
    typeof checkpoint !== 'object' ||
    checkpoint.format !== 'ganpo-trainer' ||
    checkpoint.version !== 1
  ) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      'checkpoint',
      "{ format: 'ganpo-trainer', version: 1, ... }",
      String(checkpoint?.format),
    );
  }
  const { variables, regularizer, referenceVariables } = parts;
  checkWeights(where, 'checkpoint.policy', checkpoint.policy, variables);
  if (referenceVariables) {
    checkWeights(where, 'checkpoint.reference', checkpoint.reference, referenceVariables);
  } else if (checkpoint.reference !== undefined) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      'checkpoint.reference',
      'no reference weights (the trainer has no syncRefModel)',
      `${checkpoint.reference.length} tensors`,
    );
  }
  if ((checkpoint.regularizer === null) !== (regularizer === null)) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      'checkpoint.regularizer',
      regularizer ? 'a regularizer state' : 'null',
      String(checkpoint.regularizer === null ? null : 'a state'),
    );
  }
  loadStateByPosition(parts.optimizer, checkpoint.optimizer, { policy: variables });
  if (regularizer && checkpoint.regularizer) regularizer.loadState(checkpoint.regularizer);
  assignWeights(checkpoint.policy, variables);
  if (referenceVariables) assignWeights(checkpoint.reference as SerializedTensor[], referenceVariables);
  return {
    sampler: checkpoint.sampler ? BatchSampler.fromState(checkpoint.sampler) : null,
    step: checkpoint.step,
  };
}
