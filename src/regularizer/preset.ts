import type * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertOneOf } from '../core/validate';
import { MLPDiscriminator } from '../discriminators/mlp';
import type { Discriminator } from '../discriminators/types';
import { AdamW } from '../optim/adamw';
import type { Scoring } from './types';

/**
 * A named set of regularizer defaults:
 *
 * - `'recommended'` (the default): a configuration measured to keep the policy's latents closer to
 *   its reference than the preference loss alone, with critics that learn, when chosen and rejected
 *   responses look alike (docs/troubleshooting.md, "Measured defaults"): pair critics
 *   (`negatives: false`), the bounded paired feature-matching generator, and a critic optimizer
 *   with GAN-style momentum.
 * - `'official'`: the official GANPO code step for step (quad critic loss, one-sided generator,
 *   `AdamW(1e-4)` when no optimizer is given).
 *
 * A preset only fills in options you leave out; every explicit option wins.
 */
export type GanpoPreset = 'recommended' | 'official';
/** Every {@link GanpoPreset}. */
export const GANPO_PRESETS: readonly GanpoPreset[] = ['recommended', 'official'];

/**
 * The policy-side (generator) term of one discriminator:
 *
 * - `'one-sided'` (official code): ℓreal(D(h_θ) − m_ref), see `ganpoGeneratorLoss`. Unbounded
 *   below in the policy's direction: it keeps rewarding scores above the reference mean.
 * - `'paired-feature-matching'` (default of `'recommended'`): mean_i ‖f(h_θ,i) − f(h_ref,i)‖² on
 *   the critic's last hidden layer f, see `pairedFeatureMatchingLoss`; 0 at policy = reference.
 *   Needs a discriminator with `features` (both built-in ones have it).
 * - `'paired-least-squares'`: mean_i (D(h_θ,i) − D(h_ref,i))² on the score, see
 *   `pairedLeastSquaresGeneratorLoss`; 0 at policy = reference.
 *
 * The paired terms need the reference latents of the batch in `adversarialLoss` / `ganpoLoss`.
 */
export type GeneratorLoss = 'one-sided' | 'paired-least-squares' | 'paired-feature-matching';
/** Every {@link GeneratorLoss}. */
export const GENERATOR_LOSSES: readonly GeneratorLoss[] = [
  'one-sided',
  'paired-least-squares',
  'paired-feature-matching',
];

/** The values a preset gives to options left out. */
export interface PresetDefaults {
  negatives: boolean;
  generator: GeneratorLoss;
  /** How the critics score their sets in a discriminator update. */
  scoring: Scoring;
  /** Builds the critic optimizer when none is given (the learning rate may depend on the critic). */
  optimizer: (critic: Discriminator) => tf.Optimizer;
  /** AdamW β1/β2 of the critic optimizer the trainer builds (its learning rate follows the policy's). */
  criticBetas: { beta1: number; beta2: number };
  /** The trainer's critic learning rate as a fraction of the policy's. */
  learningRateRatio: number;
  /**
   * The highest peak learning rate the trainer gives this critic by default (`Infinity` = no cap):
   * its ratio is lowered to `maxCriticLearningRate / policy peak` when `learningRateRatio` would
   * exceed it. An explicit `learningRateRatio` is not capped.
   */
  maxCriticLearningRate: (critic: Discriminator) => number;
  /** A discriminator below this loss skips its update. */
  lossFloor: number;
}

/**
 * Critic AdamW momentum of the recommended preset: β1 = 0, β2 = 0.9, the GAN critic setting of
 * WGAN-GP (Gulrajani et al. 2017, arXiv 1704.00028) and SAGAN/BigGAN (β1 = 0): a critic chasing a
 * moving policy lags behind with β1 = 0.9. Measured here: with β1 = 0.9 the critics stayed at
 * chance whatever the learning rate; with β1 = 0 they left it.
 */
const GAN_BETAS = { beta1: 0, beta2: 0.9 };

const PRESETS: Record<GanpoPreset, PresetDefaults> = {
  recommended: {
    negatives: false,
    generator: 'paired-feature-matching',
    // One call per set, as measured for these defaults (docs). 'batched' (one call per critic and
    // side) cut the demo critics' update to 0.90× but left the whole GANPO step unchanged on an idle
    // machine (1.04× ± 0.12, docs/benchmarks.md), so it stays opt-in.
    scoring: 'per-set',
    // Separate critic learning rates (two time-scale rule, Heusel et al. 2017, arXiv 1706.08500),
    // measured on small policies (docs): the spectrally normalised MLP on mean-pooled latents is a
    // slow critic and needs 5e-3 to leave chance when the policy moves at 5e-3; a transformer critic
    // separates fast, and above 2e-3 it runs away from the policy (drift rose again).
    optimizer: (critic) =>
      new AdamW({
        learningRate: critic instanceof MLPDiscriminator ? 5e-3 : 2e-3,
        weightDecay: 0.01,
        ...GAN_BETAS,
      }),
    criticBetas: GAN_BETAS,
    learningRateRatio: 2,
    // The trainer's transformer critics never peak above the 2e-3 above: at policy lr 5e-3, 2 × the
    // policy's rate (1e-2) let them run away and the latents drifted more (through the trainer, six
    // seeds: drift ratio 0.61 / 0.66 with DPO / SimPO for a small transformer critic vs 0.38 / 0.44
    // capped, docs/troubleshooting.md, "The trainer's critic learning rate"). The MLP critic is not
    // capped: at 5e-3 it stayed at chance there (loss margin 0.006 below log 2 with DPO vs 0.021 at
    // 1e-2).
    maxCriticLearningRate: (critic) => (critic instanceof MLPDiscriminator ? Number.POSITIVE_INFINITY : 2e-3),
    // A transformer critic that gets near-perfect (loss → 0) makes the feature-matching term chase
    // it: the policy's latents move more, not less. Capping its confidence at loss 0.5 (log 2 − 0.19)
    // kept the drift ratio below 0.8 on every seed measured (docs).
    lossFloor: 0.5,
  },
  official: {
    negatives: true,
    generator: 'one-sided',
    // The official call order, pinned bit for bit by the parity fixtures.
    scoring: 'per-set',
    optimizer: () => new AdamW({ learningRate: 1e-4, weightDecay: 0.01 }),
    criticBetas: { beta1: 0.9, beta2: 0.999 },
    // Official code: the discriminators' learning rate is half the policy's.
    learningRateRatio: 0.5,
    maxCriticLearningRate: () => Number.POSITIVE_INFINITY,
    lossFloor: 0,
  },
};

/**
 * The defaults of a preset (`undefined` = `'recommended'`).
 *
 * @throws GanpoError `INVALID_OPTION` on an unknown preset.
 */
export function presetDefaults(where: string, preset: unknown): PresetDefaults {
  if (preset !== undefined && typeof preset !== 'string') {
    throw argumentError('INVALID_OPTION', where, 'preset', GANPO_PRESETS.join(' | '), typeof preset);
  }
  return PRESETS[assertOneOf(where, 'preset', (preset ?? 'recommended') as GanpoPreset, GANPO_PRESETS)];
}
