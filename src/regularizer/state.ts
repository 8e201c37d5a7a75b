import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertNumber } from '../core/validate';
import type { Discriminator } from '../discriminators/types';
import type { Divergence } from '../divergence/divergences';
import { AdamW, type AdamWState } from '../optim/adamw';
import { loadStateByPosition, saveStateByPosition } from '../optim/position-keys';
import { SIDES, type Side, SixMeans, type SixMeansJSON } from './means';
import type { GeneratorLoss } from './preset';
import type { MeanEstimator, PerSide, SerializedTensor } from './types';

/** The options a saved state must match: those that change what a step computes. */
export interface RegularizerStateOptions {
  weight: number;
  divergence: Divergence;
  estimator: MeanEstimator;
  momentum: number;
  negatives: boolean;
  /** Absent in states saved before this option existed: those used `'one-sided'`. */
  generator?: GeneratorLoss;
}

/**
 * Everything a regularizer needs to continue exactly where it stopped: options, means, both
 * discriminators' state dicts (PyTorch names, spectral-norm u/v included) and the optimizer state.
 * Plain JSON: `JSON.stringify` round-trips it exactly (float32 values are exact as doubles).
 */
export interface GanpoRegularizerState {
  format: 'ganpo-regularizer';
  version: 1;
  options: RegularizerStateOptions;
  steps: number;
  means: SixMeansJSON;
  discriminators: PerSide<Record<string, SerializedTensor>>;
  /**
   * AdamW state with slots keyed by position (`chosen/0`, `rejected/3`, … in `trainableVariables`
   * order) rather than by variable name: tfjs renames re-created variables, positions are stable.
   * `null` when the optimizer is not an {@link AdamW}.
   */
  optimizer: AdamWState | null;
}

/** The parts of a regularizer its state holds. */
export interface RegularizerParts {
  options: RegularizerStateOptions;
  discriminators: Readonly<PerSide<Discriminator>>;
  optimizer: tf.Optimizer;
}

/** Optimizer slots are keyed by side and position in the discriminator's variables. */
function variableGroups(discriminators: Readonly<PerSide<Discriminator>>): PerSide<tf.Variable[]> {
  return {
    chosen: discriminators.chosen.trainableVariables,
    rejected: discriminators.rejected.trainableVariables,
  };
}

/** A discriminator's state dict as plain JSON (one read-back per tensor). */
function serializeDiscriminator(d: Discriminator): Record<string, SerializedTensor> {
  const stateDict = d.stateDict();
  const out: Record<string, SerializedTensor> = {};
  for (const [k, t] of Object.entries(stateDict))
    out[k] = { shape: [...t.shape], data: Array.from(t.dataSync()) };
  tf.dispose(Object.values(stateDict));
  return out;
}

/** Writes the whole state as plain JSON. */
export function writeRegularizerState(
  parts: RegularizerParts & { steps: number; means: SixMeans },
): GanpoRegularizerState {
  const optimizer =
    parts.optimizer instanceof AdamW
      ? saveStateByPosition(parts.optimizer, variableGroups(parts.discriminators))
      : null;
  return {
    format: 'ganpo-regularizer',
    version: 1,
    options: { ...parts.options },
    steps: parts.steps,
    means: parts.means.toJSON(),
    discriminators: {
      chosen: serializeDiscriminator(parts.discriminators.chosen),
      rejected: serializeDiscriminator(parts.discriminators.rejected),
    },
    optimizer,
  };
}

/**
 * Checks `state` against `parts`, then loads its discriminator weights and optimizer state into
 * `parts` (all or nothing: on any error the discriminators are restored and nothing changed).
 *
 * @returns the parsed means and step count, for the caller to commit.
 * @throws GanpoError `INVALID_FORMAT` on a malformed state, `STATE_DICT_MISMATCH` on other options,
 *   a discriminator state that does not fit, or optimizer state for an optimizer that is not AdamW.
 */
export function readRegularizerState(
  where: string,
  state: GanpoRegularizerState,
  parts: RegularizerParts,
): { means: SixMeans; steps: number } {
  if (
    state === null ||
    typeof state !== 'object' ||
    state.format !== 'ganpo-regularizer' ||
    state.version !== 1
  ) {
    throw argumentError(
      'INVALID_FORMAT',
      where,
      'state',
      "{ format: 'ganpo-regularizer', version: 1, ... }",
      typeof state === 'object' && state !== null ? `format ${String(state.format)}` : String(state),
    );
  }
  const mine = parts.options;
  for (const key of Object.keys(mine) as (keyof RegularizerStateOptions)[]) {
    const saved = key === 'generator' ? (state.options?.generator ?? 'one-sided') : state.options?.[key];
    if (saved !== mine[key]) {
      throw argumentError('STATE_DICT_MISMATCH', where, `options.${key}`, String(mine[key]), String(saved));
    }
  }
  assertNumber(where, 'steps', state.steps, { min: 0, integer: true });
  // Parse everything first (these throw on malformed input and change nothing).
  const means = SixMeans.fromJSON(where, state.means, mine.estimator, mine.momentum);
  if (state.optimizer !== null && !(parts.optimizer instanceof AdamW)) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      'optimizer',
      'null (this optimizer is not AdamW)',
      'an AdamW state',
    );
  }
  const incoming = {
    chosen: deserializeDiscriminator(where, state, 'chosen'),
    rejected: {} as Record<string, tf.Tensor>,
  };
  const backup: Partial<PerSide<Record<string, tf.Tensor>>> = {};
  try {
    incoming.rejected = deserializeDiscriminator(where, state, 'rejected');
    for (const side of SIDES) {
      backup[side] = parts.discriminators[side].stateDict();
      parts.discriminators[side].loadStateDict(incoming[side]);
    }
    if (state.optimizer !== null && parts.optimizer instanceof AdamW) {
      loadStateByPosition(parts.optimizer, state.optimizer, variableGroups(parts.discriminators));
    }
  } catch (e) {
    for (const side of SIDES) {
      const saved = backup[side];
      if (saved) parts.discriminators[side].loadStateDict(saved);
    }
    throw e;
  } finally {
    tf.dispose([...Object.values(incoming.chosen), ...Object.values(incoming.rejected)]);
    for (const side of SIDES) tf.dispose(Object.values(backup[side] ?? {}));
  }
  return { means, steps: state.steps };
}

/** One side's saved state dict as tensors (the caller owns them); nothing is left on a throw. */
function deserializeDiscriminator(
  where: string,
  state: GanpoRegularizerState,
  side: Side,
): Record<string, tf.Tensor> {
  const entries = state.discriminators?.[side];
  if (entries === null || typeof entries !== 'object') {
    throw argumentError('INVALID_FORMAT', where, `discriminators.${side}`, 'a state dict', String(entries));
  }
  const out: Record<string, tf.Tensor> = {};
  try {
    for (const [k, v] of Object.entries(entries)) {
      const size = Array.isArray(v?.shape) ? v.shape.reduce((a, b) => a * b, 1) : -1;
      if (!Array.isArray(v?.data) || v.data.length !== size) {
        throw argumentError(
          'INVALID_FORMAT',
          where,
          `discriminators.${side}.${k}`,
          '{ shape, data } with data of the shape size',
          'a malformed tensor',
        );
      }
      out[k] = tf.tensor(v.data, v.shape, 'float32');
    }
  } catch (e) {
    tf.dispose(Object.values(out));
    throw e;
  }
  return out;
}
