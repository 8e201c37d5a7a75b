import type * as tf from '@tensorflow/tfjs-core';
import { assertOneOf } from '../core/validate';
import { MLPDiscriminator } from '../discriminators/mlp';
import type { Discriminator } from '../discriminators/types';
import { AdamW } from '../optim/adamw';

/**
 * The policy-side (generator) term of one discriminator:
 *
 * - `'relative-feature-matching'` (default of `'recommended'`): Σ_i ‖f(h_θ,i) − f(h_ref,i)‖² /
 *   Σ_i ‖f(h_ref,i)‖² on the critic's last hidden layer f, see `pairedFeatureMatchingLoss` with
 *   `relative: true`; 0 at policy = reference, and free of the features' scale (one λ for any
 *   critic, as `latentAnchorLoss` is in latent space). Needs a discriminator with `features` (both
 *   built-in ones have it).
 * - `'paired-feature-matching'`: mean_i ‖f(h_θ,i) − f(h_ref,i)‖², the same distance without the
 *   normalisation (the default before the relative form; its size grows with the features').
 * - `'paired-least-squares'`: mean_i (D(h_θ,i) − D(h_ref,i))² on the score; 0 at policy =
 *   reference (the least-squares GAN generator, Mao et al. 2017, arXiv 1611.04076, per pair).
 * - `'one-sided'` (official code): ℓreal(D(h_θ) − m_ref), m_ref the reference set's mean score, a
 *   constant. Unbounded below in the policy's direction: it keeps rewarding scores above the
 *   reference mean.
 */
export type GeneratorLoss =
  | 'one-sided'
  | 'paired-least-squares'
  | 'paired-feature-matching'
  | 'relative-feature-matching';
/** Every {@link GeneratorLoss}, for validation. */
export const GENERATOR_LOSSES: readonly GeneratorLoss[] = [
  'one-sided',
  'paired-least-squares',
  'paired-feature-matching',
  'relative-feature-matching',
];

/** The generators computed on the critics' features (they need `Discriminator.features`). */
export const FEATURE_GENERATORS: readonly GeneratorLoss[] = [
  'paired-feature-matching',
  'relative-feature-matching',
];

/**
 * The regularizer's defaults per preset, the values a `GanpoRegularizer` gives to options left out
 * (every explicit option wins):
 *
 * | option | `'recommended'` (default) | `'official'` |
 * | --- | --- | --- |
 * | `weight` (λ) | 1 | 1 (official runs) |
 * | `ganLoss` | `'sgan'` | `'sgan'` (official `BCEWithLogitsLoss`) |
 * | `estimator`, `momentum` | `'ema'`, 0.9 | `'ema'`, 0.9 (official code) |
 * | `negatives` | false (pair critics) | true (the "quad" critic loss) |
 * | `generator` | `'relative-feature-matching'` | `'one-sided'` |
 * | `targetDecay` | 0.99 (the policy term sees Polyak-averaged critics) | 0 (the live critics) |
 * | `scoring` | `'per-set'` | `'per-set'` (official call order) |
 * | `lossFloor` | 0.5 (for `'sgan'`; other GAN losses: 0.5/log 2 × their chance level) | 0 (never skips) |
 * | critic AdamW lr | 5e-3 for an `MLPDiscriminator`, 2e-3 for any other critic | 1e-4 |
 * | critic AdamW β1, β2 | 0, 0.9 (WGAN-GP, SAGAN) | 0.9, 0.999 (PyTorch) |
 * | critic AdamW weight decay | 0.01 | 0.01 (official code) |
 *
 * `'recommended'`: a configuration measured to keep the policy's latents closer to its reference
 * than the preference loss alone, with critics that leave chance, when chosen and rejected
 * responses look alike (docs/troubleshooting.md, "Measured defaults"). `'official'`: the official
 * GANPO code (GANPO_trl.py of enyijiang/GANPO) step for step, pinned by the parity fixtures.
 * Critic AdamW β1 = 0: a critic chasing a moving policy lags with β1 = 0.9 (Gulrajani et al. 2017,
 * arXiv 1704.00028; SAGAN/BigGAN); the critic learning rates and the loss floor are measured in
 * docs/troubleshooting.md ("Measured defaults"). The policy term reads Polyak-averaged target
 * critics through the scale-free relative feature distance: on the live critics, a critic that
 * starts to separate policy from reference swamps the preference gradient and the policy chases
 * it, further from its reference than without the regularizer (docs/troubleshooting.md, "Long
 * runs"). The trainer's critic learning-rate rule is separate
 * (see `GanpoTrainerOptions.regularizer`).
 */
export const GANPO_PRESETS = Object.freeze({
  recommended: Object.freeze({
    weight: 1,
    ganLoss: 'sgan',
    estimator: 'ema',
    momentum: 0.9,
    negatives: false,
    generator: 'relative-feature-matching',
    targetDecay: 0.99,
    scoring: 'per-set',
    lossFloor: 0.5,
    criticOptimizer: Object.freeze({
      learningRate: Object.freeze({ mlp: 5e-3, other: 2e-3 }),
      beta1: 0,
      beta2: 0.9,
      weightDecay: 0.01,
    }),
  }),
  official: Object.freeze({
    weight: 1,
    ganLoss: 'sgan',
    estimator: 'ema',
    momentum: 0.9,
    negatives: true,
    generator: 'one-sided',
    targetDecay: 0,
    scoring: 'per-set',
    lossFloor: 0,
    criticOptimizer: Object.freeze({
      learningRate: Object.freeze({ mlp: 1e-4, other: 1e-4 }),
      beta1: 0.9,
      beta2: 0.999,
      weightDecay: 0.01,
    }),
  }),
} as const);

/** A named set of regularizer defaults: a key of {@link GANPO_PRESETS}. */
export type GanpoPreset = keyof typeof GANPO_PRESETS;

/** The defaults of one preset (a row of {@link GANPO_PRESETS}). */
export type PresetDefaults = (typeof GANPO_PRESETS)[GanpoPreset];

/**
 * The defaults of a preset (`undefined` = `'recommended'`).
 *
 * @throws GanpoError `INVALID_OPTION` on an unknown preset.
 */
export function presetDefaults(where: string, preset: unknown): PresetDefaults {
  const name = assertOneOf(
    where,
    'preset',
    preset ?? 'recommended',
    Object.keys(GANPO_PRESETS) as GanpoPreset[],
  );
  return GANPO_PRESETS[name];
}

/** The preset's critic learning rate for this critic (the MLP critic has its own). */
export function presetCriticLearningRate(preset: PresetDefaults, critic: Discriminator): number {
  const rates = preset.criticOptimizer.learningRate;
  return critic instanceof MLPDiscriminator ? rates.mlp : rates.other;
}

/** The critic optimizer a preset builds when none is given: AdamW with the preset's values. */
export function presetOptimizer(preset: PresetDefaults, critic: Discriminator): tf.Optimizer {
  const { beta1, beta2, weightDecay } = preset.criticOptimizer;
  return new AdamW({ learningRate: presetCriticLearningRate(preset, critic), beta1, beta2, weightDecay });
}
