import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertArgs, assertNumber, assertOneOf } from '../core/validate';
import { MLPDiscriminator, type MLPDiscriminatorConfig } from '../discriminators/mlp';
import { TransformerDiscriminator, type TransformerDiscriminatorConfig } from '../discriminators/transformer';
import type { Discriminator } from '../discriminators/types';
import { chanceLevel, type GanLoss, resolveGanLoss } from '../divergence/gan-loss';
import { SIDES } from './means';
import { criticSizeNotice } from './notices';
import { type GanpoPreset, GENERATOR_LOSSES, type GeneratorLoss, presetDefaults } from './preset';
import {
  type GanpoRegularizerArgs,
  type GanpoRegularizerCreateArgs,
  MEAN_ESTIMATORS,
  type MeanEstimator,
  SCORINGS,
  type Scoring,
} from './types';

/** {@link GanpoRegularizerArgs} checked, with the preset's defaults filled in. */
export interface ResolvedRegularizerOptions {
  preset: GanpoPreset;
  weight: number;
  ganLoss: GanLoss;
  estimator: MeanEstimator;
  momentum: number;
  negatives: boolean;
  generator: GeneratorLoss;
  scoring: Scoring;
  optimizer: tf.Optimizer;
  lossFloor: number;
  discriminators: Readonly<{ chosen: Discriminator; rejected: Discriminator }>;
}

/**
 * Checks a regularizer's arguments (two distinct discriminators of one input width, options of the
 * documented types and ranges) and fills each option left out from `args.preset` (default
 * `'recommended'`). Allocates nothing but the preset's optimizer, made last.
 */
export function resolveRegularizerOptions(
  where: string,
  args: GanpoRegularizerArgs,
): ResolvedRegularizerOptions {
  assertArgs(where, args, '{ chosen, rejected, ... }');
  for (const side of SIDES) {
    const d = args[side] as unknown as Partial<Discriminator> | undefined;
    if (!d || typeof d.apply !== 'function' || !Array.isArray(d.trainableVariables)) {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        side,
        'a Discriminator',
        d === undefined ? 'undefined' : typeof d,
      );
    }
  }
  if (args.chosen === args.rejected) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'rejected',
      'a discriminator distinct from chosen',
      'the same instance',
    );
  }
  if (args.chosen.inputDim !== args.rejected.inputDim) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'rejected',
      `inputDim ${args.chosen.inputDim} (that of chosen)`,
      `inputDim ${args.rejected.inputDim}`,
    );
  }
  const preset = presetDefaults(where, args.preset);
  const weight = assertNumber(where, 'weight', args.weight ?? 1, { min: 0 });
  const ganLoss = resolveGanLoss(where, args);
  const estimator = assertOneOf(where, 'estimator', args.estimator ?? 'ema', MEAN_ESTIMATORS);
  const momentum = assertNumber(where, 'momentum', args.momentum ?? 0.9, { min: 0, lessThan: 1 });
  if (args.negatives !== undefined && typeof args.negatives !== 'boolean') {
    throw argumentError('INVALID_OPTION', where, 'negatives', 'a boolean', typeof args.negatives);
  }
  const generator = assertOneOf(where, 'generator', args.generator ?? preset.generator, GENERATOR_LOSSES);
  if (
    generator === 'paired-feature-matching' &&
    SIDES.some((side) => typeof args[side].features !== 'function')
  ) {
    throw argumentError(
      'INVALID_OPTION',
      where,
      'generator',
      "a generator your discriminators support ('paired-feature-matching' needs a features method)",
      'paired-feature-matching',
    );
  }
  // The preset's floor is for 'sgan' (chance log 2); other GAN losses scale it by their chance level.
  const lossFloor = assertNumber(
    where,
    'lossFloor',
    args.lossFloor ?? (preset.lossFloor * chanceLevel(ganLoss)) / Math.LN2,
    { min: 0 },
  );
  const scoring = assertOneOf(where, 'scoring', args.scoring ?? preset.scoring, SCORINGS);
  if (args.optimizer !== undefined && !(args.optimizer instanceof tf.Optimizer)) {
    throw argumentError('INVALID_OPTION', where, 'optimizer', 'a tf.Optimizer', typeof args.optimizer);
  }
  return {
    preset: args.preset ?? 'recommended',
    weight,
    ganLoss,
    estimator,
    momentum,
    negatives: args.negatives ?? preset.negatives,
    generator,
    scoring,
    optimizer: args.optimizer ?? preset.optimizer(args.chosen),
    lossFloor,
    discriminators: Object.freeze({ chosen: args.chosen, rejected: args.rejected }),
  };
}

/**
 * Two fresh discriminators of one architecture for {@link GanpoRegularizer.create} (seeds `seed`
 * and `seed + 1` when given), handed to `build`; both are disposed if `build` throws.
 */
export function createDiscriminatorPair<T>(
  where: string,
  args: GanpoRegularizerCreateArgs,
  build: (chosen: Discriminator, rejected: Discriminator) => T,
): T {
  assertArgs(where, args, '{ inputDim, ... }');
  const inputDim = assertNumber(where, 'inputDim', args.inputDim, { min: 1, integer: true });
  const kind = assertOneOf(where, 'kind', args.kind ?? 'transformer', ['transformer', 'mlp'] as const);
  const seed =
    args.seed === undefined ? undefined : assertNumber(where, 'seed', args.seed, { integer: true });
  const make = (offset: number): Discriminator => {
    const s = seed === undefined ? undefined : seed + offset;
    return kind === 'mlp'
      ? new MLPDiscriminator({
          ...(args.discriminator as Partial<MLPDiscriminatorConfig>),
          inputDim,
          seed: s,
        })
      : new TransformerDiscriminator({
          ...(args.discriminator as Partial<TransformerDiscriminatorConfig>),
          inputDim,
          seed: s,
        });
  };
  const chosen = make(0);
  const widthGiven = (args.discriminator as { hiddenDim?: number } | undefined)?.hiddenDim !== undefined;
  criticSizeNotice(kind, inputDim, widthGiven, chosen);
  let rejected: Discriminator | undefined;
  try {
    rejected = make(1);
    return build(chosen, rejected);
  } catch (e) {
    chosen.dispose();
    rejected?.dispose();
    throw e;
  }
}
