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
}

/** The parts of a trainer a checkpoint holds. */
export interface CheckpointParts {
  variables: readonly tf.Variable[];
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
  };
}

/**
 * Loads `checkpoint` into the policy variables, the optimizer and the regularizer, after checking
 * its format and the policy weights' shapes (all or nothing for those).
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
  const { variables, regularizer } = parts;
  if (!Array.isArray(checkpoint.policy) || checkpoint.policy.length !== variables.length) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      'checkpoint.policy',
      `${variables.length} tensors`,
      String(checkpoint.policy?.length),
    );
  }
  variables.forEach((v, i) => {
    const saved = checkpoint.policy[i] as SerializedTensor;
    if (!tf.util.arraysEqual(saved.shape, v.shape) || saved.data.length !== v.size) {
      throw argumentError(
        'STATE_DICT_MISMATCH',
        where,
        `checkpoint.policy[${i}]`,
        `shape [${v.shape}]`,
        `shape [${saved.shape}]`,
      );
    }
  });
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
  variables.forEach((v, i) => {
    const saved = checkpoint.policy[i] as SerializedTensor;
    const t = tf.tensor(saved.data, saved.shape, v.dtype);
    v.assign(t);
    t.dispose();
  });
  return {
    sampler: checkpoint.sampler ? BatchSampler.fromState(checkpoint.sampler) : null,
    step: checkpoint.step,
  };
}
