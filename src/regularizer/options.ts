import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { log } from '../core/log';
import { assertKnownKeys } from '../core/options';
import { assertArgs, assertNumber, assertObject, assertOneOf } from '../core/validate';
import { BaseDiscriminator } from '../discriminators/base';
import { MLP_CONFIG_KEYS, MLPDiscriminator, type MLPDiscriminatorConfig } from '../discriminators/mlp';
import {
  TRANSFORMER_CONFIG_KEYS,
  TransformerDiscriminator,
  type TransformerDiscriminatorConfig,
} from '../discriminators/transformer';
import type { Discriminator } from '../discriminators/types';
import { chanceLevel, type GanLoss, resolveGanLoss } from '../divergence/gan-loss';
import { SIDES } from './means';
import { criticSizeNotice } from './notices';
import {
  FEATURE_GENERATORS,
  type GanpoPreset,
  GENERATOR_LOSSES,
  type GeneratorLoss,
  presetDefaults,
  presetOptimizer,
} from './preset';
import { buildTargets } from './target';
import {
  type CriticOptions,
  type GanpoRegularizerOptions,
  MEAN_ESTIMATORS,
  type MeanEstimator,
  SCORINGS,
  type Scoring,
  SETTINGS_KEYS,
} from './types';

/** {@link GanpoRegularizerOptions} checked, with the preset's defaults filled in. */
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
  targetDecay: number;
  discriminators: Readonly<{ chosen: Discriminator; rejected: Discriminator }>;
  /** Copies of the critics for the policy term (`targetDecay` > 0), else null. */
  targets: Readonly<{ chosen: Discriminator; rejected: Discriminator }> | null;
}

/** The option keys of the two arms of {@link GanpoRegularizerOptions}. */
const BUILD_KEYS = ['latentDim', 'critic', 'seed'] as const;
/**
 * The keys of each critic kind: `kind` plus its discriminator's config without the width (the
 * regularizer gives it). `seed` stays: it seeds the pair as the regularizer's `seed` does.
 */
const CRITIC_KEYS: Record<'transformer' | 'mlp', readonly string[]> = {
  transformer: ['kind', ...TRANSFORMER_CONFIG_KEYS.filter((k) => k !== 'latentDim')],
  mlp: ['kind', ...MLP_CONFIG_KEYS.filter((k) => k !== 'latentDim')],
};

/**
 * Checks a regularizer's options and returns the critics and every setting resolved: with
 * `{ latentDim, critic?, seed? }` it builds two critics (disposed again if a later check fails),
 * with `{ discriminators }` it checks the given pair (two distinct discriminators of one width).
 * Unknown keys are refused with the nearest valid one. Allocates nothing else but the preset's
 * optimizer, made last.
 */
export function resolveRegularizerOptions(
  where: string,
  options: GanpoRegularizerOptions,
): ResolvedRegularizerOptions {
  assertArgs(where, options, '{ latentDim, ... } or { discriminators: { chosen, rejected }, ... }');
  const given = 'discriminators' in options && options.discriminators !== undefined;
  assertKnownKeys(where, options, [...SETTINGS_KEYS, ...(given ? ['discriminators'] : BUILD_KEYS)]);
  const settings = checkSettings(where, options);
  const discriminators = given
    ? checkDiscriminators(where, options.discriminators)
    : buildCritics(where, options as Extract<GanpoRegularizerOptions, { latentDim: number }>);
  try {
    return finishSettings(where, options, settings, discriminators);
  } catch (e) {
    if (!given) {
      discriminators.chosen.dispose();
      discriminators.rejected.dispose();
    }
    throw e;
  }
}

/** The settings that need no critic, checked (before any critic is built). */
function checkSettings(where: string, options: GanpoRegularizerOptions) {
  const preset = presetDefaults(where, options.preset);
  const ganLoss = resolveGanLoss(where, options.ganLoss ?? preset.ganLoss);
  if (options.negatives !== undefined && typeof options.negatives !== 'boolean') {
    throw argumentError('INVALID_OPTION', where, 'negatives', 'a boolean', typeof options.negatives);
  }
  if (options.optimizer !== undefined && !(options.optimizer instanceof tf.Optimizer)) {
    throw argumentError('INVALID_OPTION', where, 'optimizer', 'a tf.Optimizer', typeof options.optimizer);
  }
  return {
    preset,
    weight: assertNumber(where, 'weight', options.weight ?? preset.weight, { min: 0 }),
    ganLoss,
    estimator: assertOneOf(where, 'estimator', options.estimator ?? preset.estimator, MEAN_ESTIMATORS),
    momentum: assertNumber(where, 'momentum', options.momentum ?? preset.momentum, { min: 0, lessThan: 1 }),
    generator: assertOneOf(where, 'generator', options.generator ?? preset.generator, GENERATOR_LOSSES),
    // The preset's floor is for 'sgan' (chance log 2); other GAN losses scale it by their chance level.
    lossFloor: assertNumber(
      where,
      'lossFloor',
      options.lossFloor ?? (preset.lossFloor * chanceLevel(ganLoss)) / Math.LN2,
      { min: 0 },
    ),
    scoring: assertOneOf(where, 'scoring', options.scoring ?? preset.scoring, SCORINGS),
    targetDecay: checkTargetDecay(where, options),
  };
}

/**
 * An explicit target decay checked: in [0, 1), and 0 with the one-sided generator (its reference
 * mean comes from the live critics' scores, so it must see them). `undefined` when left out.
 */
function checkTargetDecay(where: string, options: GanpoRegularizerOptions): number | undefined {
  if (options.targetDecay === undefined) return undefined;
  const decay = assertNumber(where, 'targetDecay', options.targetDecay, { min: 0, lessThan: 1 });
  const generator = options.generator ?? presetDefaults(where, options.preset).generator;
  if (decay > 0 && generator === 'one-sided') {
    throw argumentError(
      'INVALID_OPTION',
      where,
      'targetDecay',
      "0 with generator 'one-sided' (its reference mean comes from the live critics)",
      String(decay),
    );
  }
  return decay;
}

/**
 * The target decay left out: the preset's, except 0 for the one-sided generator and for critics
 * ganpo cannot copy (other `Discriminator` implementations; a notice says so, once per regularizer).
 */
function defaultTargetDecay(
  where: string,
  generator: GeneratorLoss,
  presetValue: number,
  discriminators: Readonly<{ chosen: Discriminator; rejected: Discriminator }>,
): number {
  if (generator === 'one-sided' || presetValue === 0) return 0;
  if (SIDES.every((side) => discriminators[side] instanceof BaseDiscriminator)) return presetValue;
  log(
    'info',
    `${where}: your discriminators are not MLPDiscriminator / TransformerDiscriminator, so the policy ` +
      'term uses the live critics (targetDecay 0) instead of Polyak-averaged copies; long runs can then ' +
      'drift further than without the regularizer (docs/troubleshooting.md, "Long runs"). Pass ' +
      'targetDecay: 0 to silence this notice.',
  );
  return 0;
}

/** The settings that depend on the critics (the generator's needs, the default optimizer). */
function finishSettings(
  where: string,
  options: GanpoRegularizerOptions,
  settings: ReturnType<typeof checkSettings>,
  discriminators: Readonly<{ chosen: Discriminator; rejected: Discriminator }>,
): ResolvedRegularizerOptions {
  const { preset, targetDecay: givenDecay, ...rest } = settings;
  const targetDecay =
    givenDecay ?? defaultTargetDecay(where, rest.generator, preset.targetDecay, discriminators);
  if (
    FEATURE_GENERATORS.includes(rest.generator) &&
    SIDES.some((side) => typeof discriminators[side].features !== 'function')
  ) {
    throw argumentError(
      'INVALID_OPTION',
      where,
      'generator',
      `a generator your discriminators support ('${rest.generator}' needs a features method)`,
      rest.generator,
    );
  }
  return {
    ...rest,
    preset: options.preset ?? 'recommended',
    negatives: options.negatives ?? preset.negatives,
    targetDecay,
    discriminators,
    // Built after every check, so that a refused option leaves no copy behind.
    targets: buildTargets(where, discriminators, targetDecay),
    optimizer: options.optimizer ?? presetOptimizer(preset, discriminators.chosen),
  };
}

/** Two distinct discriminators of one latent width. */
function checkDiscriminators(
  where: string,
  discriminators: unknown,
): Readonly<{ chosen: Discriminator; rejected: Discriminator }> {
  assertObject(where, 'discriminators', discriminators, '{ chosen, rejected }');
  assertKnownKeys(where, discriminators as object, ['chosen', 'rejected'], 'discriminators.');
  const pair = discriminators as Partial<Record<'chosen' | 'rejected', Partial<Discriminator>>>;
  for (const side of SIDES) {
    const d = pair[side];
    if (!d || typeof d.apply !== 'function' || !Array.isArray(d.trainableVariables)) {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        `discriminators.${side}`,
        'a Discriminator',
        d === undefined ? 'undefined' : typeof d,
      );
    }
  }
  const { chosen, rejected } = pair as { chosen: Discriminator; rejected: Discriminator };
  if (chosen === rejected) {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'discriminators.rejected',
      'a discriminator distinct from chosen',
      'the same instance',
    );
  }
  if (chosen.latentDim !== rejected.latentDim) {
    throw argumentError(
      'SHAPE_MISMATCH',
      where,
      'discriminators.rejected',
      `latentDim ${chosen.latentDim} (that of discriminators.chosen)`,
      `latentDim ${rejected.latentDim}`,
    );
  }
  return Object.freeze({ chosen, rejected });
}

/**
 * The critics' seed from the regularizer's `seed` or the critic's own (`critic.seed`): either seeds
 * the pair; both given must agree, so one build never has two seeds.
 */
function pairSeed(where: string, seed: unknown, criticSeed: unknown): number | undefined {
  const outer = seed === undefined ? undefined : assertNumber(where, 'seed', seed, { integer: true });
  const inner =
    criticSeed === undefined ? undefined : assertNumber(where, 'critic.seed', criticSeed, { integer: true });
  if (outer !== undefined && inner !== undefined && outer !== inner) {
    throw argumentError(
      'INVALID_OPTION',
      where,
      'critic.seed',
      `the regularizer's seed (${outer}) or no critic.seed: both seed the pair of critics`,
      String(inner),
    );
  }
  return outer ?? inner;
}

/**
 * Two fresh critics of one architecture for latents of width `latentDim`: D_w seeded with `seed`,
 * D_l with `seed + 1` (random without a seed). Both are disposed if the second cannot be built.
 */
function buildCritics(
  where: string,
  options: { latentDim: number; critic?: CriticOptions; seed?: number },
): Readonly<{ chosen: Discriminator; rejected: Discriminator }> {
  const latentDim = assertNumber(where, 'latentDim', options.latentDim, { min: 1, integer: true });
  const critic = options.critic ?? {};
  assertObject(where, 'critic', critic, "{ kind: 'transformer' | 'mlp', ... }");
  const kind = assertOneOf(where, 'critic.kind', critic.kind ?? 'transformer', [
    'transformer',
    'mlp',
  ] as const);
  assertKnownKeys(where, critic, CRITIC_KEYS[kind], 'critic.');
  const { kind: _kind, seed: criticSeed, ...config } = critic;
  const seed = pairSeed(where, options.seed, criticSeed);
  const make = (offset: number): Discriminator => {
    const s = seed === undefined ? {} : { seed: seed + offset };
    return kind === 'mlp'
      ? new MLPDiscriminator({ ...(config as Partial<MLPDiscriminatorConfig>), latentDim, ...s })
      : new TransformerDiscriminator({
          ...(config as Partial<TransformerDiscriminatorConfig>),
          latentDim,
          ...s,
        });
  };
  const chosen = make(0);
  criticSizeNotice(kind, latentDim, (config as { hiddenDim?: number }).hiddenDim !== undefined, chosen);
  try {
    return Object.freeze({ chosen, rejected: make(1) });
  } catch (e) {
    chosen.dispose();
    throw e;
  }
}
