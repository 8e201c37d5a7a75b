import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertFloat32Values, assertFormatHeader, assertNumber } from '../core/validate';
import { BaseDiscriminator, checkDropoutState } from '../discriminators/base';
import type { Discriminator } from '../discriminators/types';
import type { GanLoss } from '../divergence/gan-loss';
import { isAcceptedShape } from '../io/safetensors-header';
import { AdamW, type AdamWState } from '../optim/adamw';
import { prepareStateByPosition, saveStateByPosition } from '../optim/position-keys';
import { SIDES, type Side, SixMeans, type SixMeansJSON } from './means';
import type { GeneratorLoss } from './preset';
import type { MeanEstimator, PerSide, SerializedTensor } from './types';

/** The options a saved state must match: those that change what a step computes. @inline */
export interface RegularizerStateOptions {
  weight: number;
  ganLoss: GanLoss;
  estimator: MeanEstimator;
  momentum: number;
  negatives: boolean;
  /** Absent in states saved before this option existed: those used `'one-sided'`. */
  generator?: GeneratorLoss;
  /** Absent in states saved before this option existed: those had no target critics (0). */
  targetDecay?: number;
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
  /** The target critics' state dicts (PyTorch names) when `options.targetDecay` > 0, else absent or null. */
  targets?: PerSide<Record<string, SerializedTensor>> | null;
  /**
   * AdamW state with slots keyed by position (`chosen/0`, `rejected/3`, … in `trainableVariables`
   * order) rather than by variable name: tfjs renames re-created variables, positions are stable.
   * `null` when the optimizer is not an {@link AdamW}.
   */
  optimizer: AdamWState | null;
  /**
   * Both discriminators' dropout-stream positions (see the discriminators' `dropoutState`), so that a
   * resumed run draws the same dropout masks; `null` for discriminators of other classes. A state
   * without it is refused unless loaded with `strict: false` (the streams then keep their position).
   */
  dropout: PerSide<{ seed: number; counter: number }> | null;
}

/** The parts of a regularizer its state holds. */
export interface RegularizerParts {
  options: RegularizerStateOptions;
  discriminators: Readonly<PerSide<Discriminator>>;
  /** The target critics of the policy term, or null. */
  targets: Readonly<PerSide<Discriminator>> | null;
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
  const { chosen, rejected } = parts.discriminators;
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
    targets: parts.targets
      ? {
          chosen: serializeDiscriminator(parts.targets.chosen),
          rejected: serializeDiscriminator(parts.targets.rejected),
        }
      : null,
    optimizer,
    dropout:
      chosen instanceof BaseDiscriminator && rejected instanceof BaseDiscriminator
        ? { chosen: chosen.dropoutState, rejected: rejected.dropoutState }
        : null,
  };
}

/** A regularizer state checked completely and ready to apply (see {@link prepareRegularizerState}). */
export interface PreparedRegularizerState {
  means: SixMeans;
  steps: number;
  /** Parts the state lacks that `strict: false` let through (they will not be restored). */
  missingKeys: string[];
  /** Loads the discriminator weights and the optimizer state (the caller then sets means and steps). */
  commit: () => void;
  /** Frees the parsed tensors; call once, after `commit` or instead of it. */
  release: () => void;
}

/**
 * Checks `state` against `parts` completely (format, options, step count, means, both
 * discriminators' state dicts including values at level `'full'`, the optimizer state) without
 * changing anything, and returns what applies it.
 *
 * A missing part that a run can go on without but not exactly (the critics' dropout-stream
 * positions, an optimizer slot) is refused naming it, unless `strict` is false: then it is listed
 * in `missingKeys` and left as it is (the streams keep their position, the variable restarts with
 * fresh moments).
 *
 * @throws GanpoError `INVALID_FORMAT` on a malformed state, `STATE_DICT_MISMATCH` on other options,
 *   a missing part, a discriminator state that does not fit, or an optimizer state that does not
 *   match the optimizer; `NON_FINITE` for values a float32 tensor cannot hold (NaN, ±Infinity,
 *   beyond ±3.4e38) at level `'full'`. No tensor is left behind.
 */
export function prepareRegularizerState(
  where: string,
  state: GanpoRegularizerState,
  parts: RegularizerParts,
  strict = true,
): PreparedRegularizerState {
  assertFormatHeader(where, 'state', state, 'ganpo-regularizer', 1);
  const mine = parts.options;
  for (const key of Object.keys(mine) as (keyof RegularizerStateOptions)[]) {
    const saved =
      key === 'generator'
        ? (state.options?.generator ?? 'one-sided')
        : key === 'targetDecay'
          ? (state.options?.targetDecay ?? 0)
          : state.options?.[key];
    if (saved !== mine[key]) {
      throw argumentError('STATE_DICT_MISMATCH', where, `options.${key}`, String(mine[key]), String(saved));
    }
  }
  assertNumber(where, 'steps', state.steps, { min: 0, integer: true });
  const means = SixMeans.fromJSON(where, state.means, mine.estimator, mine.momentum);
  const isAdamW = parts.optimizer instanceof AdamW;
  if ((state.optimizer === null || state.optimizer === undefined) === isAdamW) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      'optimizer',
      isAdamW ? 'an AdamW state' : 'null (this optimizer is not AdamW)',
      state.optimizer === null || state.optimizer === undefined ? String(state.optimizer) : 'an AdamW state',
    );
  }
  const { dropout, missingKeys } = checkDropout(where, state, parts.discriminators, strict);
  const incoming: PerSide<Record<string, tf.Tensor>> = { chosen: {}, rejected: {} };
  const incomingTargets: PerSide<Record<string, tf.Tensor>> = { chosen: {}, rejected: {} };
  const release = () => {
    tf.dispose(
      [incoming, incomingTargets].flatMap((x) => [...Object.values(x.chosen), ...Object.values(x.rejected)]),
    );
  };
  const hasTargets = state.targets !== undefined && state.targets !== null;
  if (hasTargets !== (parts.targets !== null)) {
    throw argumentError(
      'STATE_DICT_MISMATCH',
      where,
      'targets',
      parts.targets ? 'the target critics’ state dicts' : 'null (this regularizer has no target critics)',
      hasTargets ? 'target critics’ state dicts' : String(state.targets),
    );
  }
  try {
    for (const side of SIDES)
      incoming[side] = deserializeDiscriminator(where, state.discriminators, 'discriminators', side);
    const loadDiscriminators = prepareDiscriminators(parts.discriminators, incoming);
    let loadTargets = () => {};
    if (parts.targets) {
      for (const side of SIDES)
        incomingTargets[side] = deserializeDiscriminator(where, state.targets, 'targets', side);
      loadTargets = prepareDiscriminators(parts.targets, incomingTargets);
    }
    const loadOptimizer =
      parts.optimizer instanceof AdamW
        ? prepareStateByPosition(
            where,
            parts.optimizer,
            state.optimizer as AdamWState,
            variableGroups(parts.discriminators),
            strict,
          )
        : null;
    if (loadOptimizer) missingKeys.push(...loadOptimizer.missingKeys);
    return {
      means,
      steps: state.steps,
      missingKeys,
      commit: () => {
        loadDiscriminators();
        loadTargets();
        loadOptimizer?.commit();
        for (const side of SIDES) {
          const d = parts.discriminators[side];
          if (dropout !== null && d instanceof BaseDiscriminator) d.dropoutState = dropout[side];
        }
      },
      release,
    };
  } catch (e) {
    release();
    throw e;
  }
}

/**
 * The critics' dropout-stream positions of a state: required for ganpo's discriminators (whose
 * masks they decide), `null` for others. Missing (or `null` for ganpo's) is refused naming
 * `dropout`, or with `strict` false listed in `missingKeys` and left out.
 */
function checkDropout(
  where: string,
  state: GanpoRegularizerState,
  discriminators: Readonly<PerSide<Discriminator>>,
  strict: boolean,
): { dropout: GanpoRegularizerState['dropout']; missingKeys: string[] } {
  const streams = SIDES.every((side) => discriminators[side] instanceof BaseDiscriminator);
  const dropout = state.dropout;
  if (!streams) {
    if (dropout !== null && dropout !== undefined) {
      throw argumentError(
        'STATE_DICT_MISMATCH',
        where,
        'dropout',
        'null (these discriminators have no dropout streams to restore)',
        'dropout-stream positions',
      );
    }
    return { dropout: null, missingKeys: [] };
  }
  if (dropout === null || dropout === undefined) {
    if (strict) {
      throw argumentError(
        'STATE_DICT_MISMATCH',
        where,
        'dropout',
        "both critics' dropout-stream positions { chosen, rejected } (without them the resumed masks differ)",
        dropout === null ? 'null' : 'a missing key',
      );
    }
    return { dropout: null, missingKeys: ['dropout'] };
  }
  for (const side of SIDES) checkDropoutState(where, `dropout.${side}`, dropout?.[side]);
  return { dropout, missingKeys: [] };
}

/**
 * Both sides' loads, checked before either is applied. ganpo's discriminators check without
 * changing anything; other `Discriminator` implementations are loaded with a backup, and restored
 * from it when the second side refuses.
 */
function prepareDiscriminators(
  discriminators: Readonly<PerSide<Discriminator>>,
  incoming: PerSide<Record<string, tf.Tensor>>,
): () => void {
  const { chosen, rejected } = discriminators;
  if (chosen instanceof BaseDiscriminator && rejected instanceof BaseDiscriminator) {
    const loads = [
      chosen.prepareLoadStateDict(incoming.chosen),
      rejected.prepareLoadStateDict(incoming.rejected),
    ];
    return () => {
      for (const load of loads) load.commit();
    };
  }
  return () => {
    const backup: Partial<PerSide<Record<string, tf.Tensor>>> = {};
    try {
      for (const side of SIDES) {
        backup[side] = discriminators[side].stateDict();
        discriminators[side].loadStateDict(incoming[side]);
      }
    } catch (e) {
      for (const side of SIDES) {
        const saved = backup[side];
        if (saved) discriminators[side].loadStateDict(saved);
      }
      throw e;
    } finally {
      for (const side of SIDES) tf.dispose(Object.values(backup[side] ?? {}));
    }
  };
}

/** One side's saved state dict as tensors (the caller owns them); nothing is left on a throw. */
function deserializeDiscriminator(
  where: string,
  dicts: GanpoRegularizerState['discriminators'] | null | undefined,
  field: 'discriminators' | 'targets',
  side: Side,
): Record<string, tf.Tensor> {
  const entries = dicts?.[side];
  if (entries === null || typeof entries !== 'object' || Array.isArray(entries)) {
    throw argumentError('INVALID_FORMAT', where, `${field}.${side}`, 'a state dict', String(entries));
  }
  const out: Record<string, tf.Tensor> = Object.create(null);
  try {
    for (const [k, v] of Object.entries(entries)) {
      const size = isAcceptedShape(v?.shape) ? v.shape.reduce((a, b) => a * b, 1) : -1;
      if (!Array.isArray(v?.data) || v.data.length !== size || !v.data.every((x) => typeof x === 'number')) {
        throw argumentError(
          'INVALID_FORMAT',
          where,
          `${field}.${side}.${k}`,
          '{ shape, data } with data numbers of the shape size',
          'a malformed tensor',
        );
      }
      assertFloat32Values(where, `discriminators.${side}.${k}.data`, v.data);
      out[k] = tf.tensor(v.data, v.shape, 'float32');
    }
  } catch (e) {
    tf.dispose(Object.values(out));
    throw e;
  }
  return out;
}
