import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertFormatHeader, assertNumber, checksValues } from '../core/validate';
import type { AdamW, AdamWState } from '../optim/adamw';
import { prepareStateByPosition, saveStateByPosition } from '../optim/position-keys';
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

/**
 * Loads `checkpoint` into the policy variables, the optimizer, the regularizer and (with TR-DPO) the
 * reference variables. All or nothing:
 * every part is checked first (format, step count, policy weights' shapes and, at validation level
 * `'full'`, values, the sampler position, the optimizer and regularizer states), and only then is
 * anything applied, so a refused checkpoint leaves the trainer exactly as it was.
 *
 * @returns the sampler and step count to continue from.
 */
export function loadCheckpoint(
  where: string,
  checkpoint: TrainerCheckpoint,
  parts: Omit<CheckpointParts, 'sampler' | 'step'> & { batchSize: number },
): { sampler: BatchSampler | null; step: number } {
  assertFormatHeader(where, 'checkpoint', checkpoint, 'ganpo-trainer', 1);
  const step = assertNumber(where, 'checkpoint.step', checkpoint.step, { min: 0, integer: true });
  const { variables, regularizer, referenceVariables } = parts;
  const policy = checkWeights(where, 'checkpoint.policy', checkpoint.policy, variables);
  const reference = referenceVariables
    ? checkWeights(where, 'checkpoint.reference', checkpoint.reference, referenceVariables)
    : null;
  if (!referenceVariables && checkpoint.reference !== undefined) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      'checkpoint.reference',
      'no reference weights (the trainer has no syncRefModel)',
      `${Array.isArray(checkpoint.reference) ? checkpoint.reference.length : 'non-array'} tensors`,
    );
  }
  if (!('regularizer' in checkpoint) || checkpoint.regularizer === undefined) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      'checkpoint.regularizer',
      'a regularizer state or null',
      'a missing key',
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
  const sampler = checkSampler(where, checkpoint.sampler, parts.batchSize);
  const loadOptimizer = prepareStateByPosition(
    `${where} (optimizer)`,
    parts.optimizer,
    checkpoint.optimizer,
    {
      policy: variables,
    },
  );
  // Last: the only check that allocates (the discriminators' tensors), released on every path.
  const loadRegularizer =
    regularizer && checkpoint.regularizer
      ? regularizer.prepareLoadState(checkpoint.regularizer, `${where} (regularizer)`)
      : null;
  try {
    loadRegularizer?.commit();
  } finally {
    loadRegularizer?.release();
  }
  loadOptimizer();
  variables.forEach((v, i) => {
    const t = tf.tensor(policy[i] as number[], v.shape, v.dtype);
    v.assign(t);
    t.dispose();
  });
  if (referenceVariables && reference) {
    referenceVariables.forEach((v, i) => {
      const t = tf.tensor(reference[i] as number[], v.shape, v.dtype);
      v.assign(t);
      t.dispose();
    });
  }
  return { sampler, step };
}

/** Saved weights (policy or reference), checked against the live variables (shapes; values at level 'full'). */
function checkWeights(
  where: string,
  name: string,
  policy: unknown,
  variables: readonly tf.Variable[],
): number[][] {
  if (!Array.isArray(policy) || policy.length !== variables.length) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      name,
      `${variables.length} tensors`,
      Array.isArray(policy) ? String(policy.length) : String(policy),
    );
  }
  return variables.map((v, i) => {
    const saved = policy[i] as Partial<SerializedTensor> | null;
    const argument = `${name}[${i}]`;
    if (
      saved === null ||
      typeof saved !== 'object' ||
      !Array.isArray(saved.shape) ||
      !tf.util.arraysEqual(saved.shape, v.shape)
    ) {
      throw argumentError(
        'STATE_DICT_MISMATCH',
        where,
        argument,
        `shape [${v.shape}]`,
        `shape [${saved?.shape}]`,
      );
    }
    const data = saved.data;
    if (!Array.isArray(data) || data.length !== v.size || !data.every((x) => typeof x === 'number')) {
      throw argumentError('INVALID_FORMAT', where, argument, `${v.size} numbers`, 'malformed data');
    }
    if (checksValues() && v.dtype === 'float32') {
      const bad = data.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) {
        throw argumentError('NON_FINITE', where, argument, 'finite values', `data[${bad}] = ${data[bad]}`);
      }
    }
    return data;
  });
}

/** The saved data order, rebuilt (plain JS, nothing allocated); its batch size must be the trainer's. */
function checkSampler(where: string, state: unknown, batchSize: number): BatchSampler | null {
  if (state === null) return null;
  if (state === undefined || typeof state !== 'object') {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      'checkpoint.sampler',
      'a sampler state or null',
      String(state),
    );
  }
  const sampler = BatchSampler.fromState(state as BatchSamplerState);
  if (sampler.batchSize !== batchSize) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      'checkpoint.sampler.batchSize',
      `${batchSize} (the trainer's batchSize)`,
      String(sampler.batchSize),
    );
  }
  return sampler;
}
