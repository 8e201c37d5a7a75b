import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertFloat32Values, assertFormatHeader, assertNumber } from '../core/validate';
import type { AdamW, AdamWState } from '../optim/adamw';
import { prepareStateByPosition, saveStateByPosition } from '../optim/position-keys';
import type { GanpoRegularizer, GanpoRegularizerState } from '../regularizer/ganpo-regularizer';
import type { SerializedTensor } from '../regularizer/types';
import { type BatchSampler, type BatchSamplerState, samplerFromState } from './sampler';

/** A whole training state as plain JSON; see {@link GanpoTrainer.stateDict}. */
export interface TrainerState {
  format: 'ganpo-trainer';
  version: 1;
  step: number;
  sampler: BatchSamplerState | null;
  /** Policy weights by position in `policy.trainableVariables`. */
  policy: SerializedTensor[];
  /** Policy AdamW state, slots keyed by position (`policy/0`, …). */
  optimizer: AdamWState;
  regularizer: GanpoRegularizerState | null;
  /** Reference weights by position, present only with `referenceSync` (TR-DPO moves the reference). */
  reference?: SerializedTensor[];
}

/** The parts of a trainer its state holds. */
export interface StateParts {
  variables: readonly tf.Variable[];
  /** The reference's variables when TR-DPO updates them, else undefined (the reference is frozen). */
  referenceVariables?: readonly tf.Variable[];
  optimizer: AdamW;
  regularizer: GanpoRegularizer | null;
  sampler: BatchSampler | null;
  step: number;
}

/** Reads the training state into plain JSON (one read-back per tensor). */
export function saveTrainerState(parts: StateParts): TrainerState {
  return {
    format: 'ganpo-trainer',
    version: 1,
    step: parts.step,
    sampler: parts.sampler ? parts.sampler.stateDict() : null,
    policy: parts.variables.map((v) => ({ shape: [...v.shape], data: Array.from(v.dataSync()) })),
    optimizer: saveStateByPosition(parts.optimizer, { policy: parts.variables }),
    regularizer: parts.regularizer ? parts.regularizer.stateDict() : null,
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
 * Loads `state` into the policy variables, the optimizer, the regularizer and (with TR-DPO) the
 * reference variables. All or nothing:
 * every part is checked first (format, step count, policy weights' shapes and, at validation level
 * `'full'`, values, the sampler position, the optimizer and regularizer states), and only then is
 * anything applied, so a refused state leaves the trainer exactly as it was. Parts a run can go on
 * without, but not exactly (the sampler, optimizer slots, the critics' dropout streams), are refused
 * when missing unless `strict` is false; they are then listed in `missingKeys`.
 *
 * @returns the sampler and step count to continue from, and the parts not restored.
 */
export function loadTrainerState(
  where: string,
  state: TrainerState,
  parts: Omit<StateParts, 'sampler' | 'step'> & { batchSize: number },
  strict = true,
): { sampler: BatchSampler | null; step: number; missingKeys: string[] } {
  assertFormatHeader(where, 'state', state, 'ganpo-trainer', 1);
  const step = assertNumber(where, 'state.step', state.step, { min: 0, integer: true });
  const { variables, regularizer, referenceVariables } = parts;
  const policy = checkWeights(where, 'state.policy', state.policy, variables);
  const reference = referenceVariables
    ? checkWeights(where, 'state.reference', state.reference, referenceVariables)
    : null;
  if (!referenceVariables && state.reference !== undefined) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      'state.reference',
      'no reference weights (the trainer has no referenceSync)',
      `${Array.isArray(state.reference) ? state.reference.length : 'non-array'} tensors`,
    );
  }
  if (!('regularizer' in state) || state.regularizer === undefined) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      'state.regularizer',
      'a regularizer state or null',
      'a missing key',
    );
  }
  if ((state.regularizer === null) !== (regularizer === null)) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      'state.regularizer',
      regularizer ? 'a regularizer state' : 'null',
      String(state.regularizer === null ? null : 'a state'),
    );
  }
  const missingKeys: string[] = [];
  if (state.sampler === undefined && !strict) missingKeys.push('sampler');
  const sampler =
    state.sampler === undefined && !strict ? null : checkSampler(where, state.sampler, parts.batchSize);
  const loadOptimizer = prepareStateByPosition(
    `${where} (optimizer)`,
    parts.optimizer,
    state.optimizer,
    { policy: variables },
    strict,
  );
  missingKeys.push(...loadOptimizer.missingKeys);
  // Last: the only check that allocates (the discriminators' tensors), released on every path.
  const loadRegularizer =
    regularizer && state.regularizer
      ? regularizer.prepareLoadStateDict(state.regularizer, `${where} (regularizer)`, strict)
      : null;
  missingKeys.push(...(loadRegularizer?.missingKeys ?? []).map((k) => `regularizer.${k}`));
  try {
    loadRegularizer?.commit();
  } finally {
    loadRegularizer?.release();
  }
  loadOptimizer.commit();
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
  return { sampler, step, missingKeys };
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
    if (v.dtype === 'float32') assertFloat32Values(where, `${argument}.data`, data);
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
      'state.sampler',
      'a sampler state or null (without it the data order would restart)',
      state === undefined ? 'a missing key' : String(state),
    );
  }
  const saved = (state as Partial<BatchSamplerState>).batchSize;
  if (saved !== batchSize) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      'state.sampler.batchSize',
      `${batchSize} (the trainer's batchSize)`,
      String(saved),
    );
  }
  const sampler = samplerFromState(state as BatchSamplerState);
  return sampler;
}
