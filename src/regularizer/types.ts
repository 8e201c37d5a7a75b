import type * as tf from '@tensorflow/tfjs-core';
import type { MLPDiscriminatorConfig } from '../discriminators/mlp';
import type { TransformerDiscriminatorConfig } from '../discriminators/transformer';
import type { Discriminator } from '../discriminators/types';
import type { GanLoss } from '../divergence/gan-loss';
import type { SetMeans } from '../divergence/ganpo-relativistic';
import type { GanpoPreset, GeneratorLoss } from './preset';

/** One value per discriminator: `chosen` for D_w, `rejected` for D_l. @inline */
export type PerSide<T> = { chosen: T; rejected: T };

/**
 * The six means: for D_w (`chosen`) and D_l (`rejected`) the mean scores of their reference, policy
 * and opposite sets (D_l's "reference" is h_ref^l, its "opposite" h_ref^w); `null` before the first
 * discriminator step.
 * @inline
 */
export type GanpoSixMeans = {
  chosen: { reference: number | null; policy: number | null; opposite: number | null };
  rejected: { reference: number | null; policy: number | null; opposite: number | null };
};

/** Internal form of {@link GanpoSixMeans}. */
export type SixMeansOf<T> = PerSide<SetMeans<T>>;

/**
 * How the set means m of the relativistic losses are estimated: `'ema'` (official code), detached
 * exponential moving averages; `'batch'` (the paper's form), the within-batch means with gradient.
 */
export type MeanEstimator = 'ema' | 'batch';
/** Every {@link MeanEstimator}, for validation. */
export const MEAN_ESTIMATORS: readonly MeanEstimator[] = ['ema', 'batch'];

/**
 * How a discriminator update calls each critic on its scored sets: `'per-set'` (official code), one
 * training-mode call per set in the official order; `'batched'`, one call per critic on the sets
 * concatenated along the batch axis (see `GanpoRegularizerOptions.scoring`).
 */
export type Scoring = 'per-set' | 'batched';
/** Every {@link Scoring}, for validation. */
export const SCORINGS: readonly Scoring[] = ['per-set', 'batched'];

/**
 * The critics a regularizer builds, chosen by `kind` (each kind takes only its own options; both
 * critics get the same ones, and the regularizer's `seed`):
 *
 * - `{ kind: 'transformer', ... }` (default): the official GANPO critic, `TransformerDiscriminator`;
 *   defaults are the official ones (hiddenDim 512, 2 layers, 8 heads, ffnDim 4·hiddenDim, dropout
 *   0.1, spectral norm, maxSeqLen 2048).
 * - `{ kind: 'mlp', ... }`: `MLPDiscriminator`, masked mean-pool + spectrally normalised MLP
 *   (hiddenDims [256, 256]), for small models and browsers.
 *
 * The latent width comes from the regularizer's `latentDim`. `seed` seeds the pair (D_w `seed`,
 * D_l `seed + 1`), exactly as the regularizer's `seed` does; give either (both must agree).
 */
export type CriticOptions =
  | ({ kind?: 'transformer' } & Omit<TransformerDiscriminatorConfig, 'latentDim'>)
  | ({ kind: 'mlp' } & Omit<MLPDiscriminatorConfig, 'latentDim'>);

/** The regularizer options that do not say where the critics come from. @inline */
export interface GanpoRegularizerSettings {
  /**
   * Where the defaults of the options left out come from: `'recommended'` (default) or
   * `'official'` (the official GANPO code step for step). The values are the table
   * {@link GANPO_PRESETS}; explicit options win.
   */
  preset?: GanpoPreset;
  /**
   * The policy-side (generator) term (see {@link GeneratorLoss}). Default
   * `'relative-feature-matching'` (`'recommended'`): ½ Σ_side Σ_i ‖f(h_θ,i) − f(h_ref,i)‖² /
   * Σ_i ‖f(h_ref,i)‖² on the critic's last hidden layer f; `'one-sided'` with `'official'`.
   */
  generator?: GeneratorLoss;
  /**
   * Polyak decay of the target critics the policy-side term is computed with: after every
   * {@link GanpoRegularizer.discriminatorStep}, θ_target ← decay·θ_target + (1 − decay)·θ (the
   * spectral-norm vectors are copied), so the policy matches features that move slowly while the
   * critics learn at their own rate; 0 = the policy term uses the live critics. In [0, 1). Default
   * 0.99 (`'recommended'`, a time constant of about 100 discriminator steps; measured in
   * docs/troubleshooting.md, "Long runs"; target networks as in DDPG, Lillicrap et al. 2016, arXiv
   * 1509.02971, which uses 0.999); 0 with `'official'`. Needs a paired generator, and critics that can be copied (ganpo's
   * `MLPDiscriminator` / `TransformerDiscriminator`); with other discriminators pass 0.
   */
  targetDecay?: number;
  /** λ, the adversarial weight in L = L_pref + λ·L_adv. Default 1 (the official runs). */
  weight?: number;
  /** The relativistic GAN loss. Default `'sgan'` (RaSGAN, the official code's BCE-with-logits). */
  ganLoss?: GanLoss;
  /**
   * `'ema'` (default, the official code): detached exponential moving averages of batch means,
   * updated with each batch before the discriminator loss. `'batch'` (the paper's form): the
   * within-batch means, with gradient in the discriminator loss; the one-sided generator then uses
   * the mean score of the batch's reference latents under the just-updated critic.
   */
  estimator?: MeanEstimator;
  /** EMA momentum (`'ema'` only). Default 0.9 (official code). */
  momentum?: number;
  /**
   * Include the opposite-set terms (the official "quad" loss teaching reference > policy >
   * opposite). Default false (`'recommended'`; true with `'official'`): when chosen and rejected
   * reference latents are alike, the quad loss's four terms cancel and the critic cannot leave
   * chance. `false` gives plain RaGAN per discriminator (reference vs policy).
   */
  negatives?: boolean;
  /**
   * How the discriminator update calls each critic. `'per-set'` (the default of both presets): one
   * training-mode call per scored set in the official `compute_loss_disc` order, so the
   * spectral-norm power iteration advances and dropout draws per call as in the official code.
   * `'batched'` (opt-in): one call per critic on its taped sets concatenated along the batch axis,
   * scores split back; the same scores up to the spectral-norm estimate (one power iteration per
   * update, as SN-GAN, Miyato et al. 2018, arXiv 1802.05957) and the dropout draws.
   */
  scoring?: Scoring;
  /**
   * Optimizer for both discriminators. Default: the preset's AdamW (see {@link GANPO_PRESETS}:
   * `'recommended'` lr 5e-3 for an `MLPDiscriminator` and 2e-3 for any other critic, β = (0, 0.9),
   * weight decay 0.01; `'official'` lr 1e-4, PyTorch's β, weight decay 0.01).
   */
  optimizer?: tf.Optimizer;
  /**
   * A discriminator whose loss on the batch is already below this value skips its update in that
   * `discriminatorStep` (its means still update): a near-perfect critic makes the feature-matching
   * term chase it (docs/troubleshooting.md). Default 0.5 with `'recommended'` and `ganLoss: 'sgan'`
   * (chance level log 2 ≈ 0.693; other GAN losses: 0.5/log 2 × their chance level 1); 0 (never
   * skips) with `'official'`.
   */
  lossFloor?: number;
}

/**
 * Options of {@link GanpoRegularizer}: the critics, given one of two ways, plus the settings.
 *
 * - `{ latentDim, critic?, seed?, ... }`: the regularizer builds two critics of one architecture
 *   (see {@link CriticOptions}; default the official transformer) for latents of width `latentDim`.
 *   `seed` seeds both: D_w with `seed`, D_l with `seed + 1` (weights and dropout streams); omitted =
 *   random, as PyTorch modules are.
 * - `{ discriminators: { chosen, rejected }, ... }`: two critics you built, any
 *   {@link Discriminator} (D_w for chosen, D_l for rejected responses).
 */
export type GanpoRegularizerOptions = GanpoRegularizerSettings &
  (
    | {
        /** The policy's latent width H (the critics' input width). */
        latentDim: number;
        /** The critics to build (both alike). Default `{ kind: 'transformer' }` (official). */
        critic?: CriticOptions;
        /** Seeds both critics (D_w `seed`, D_l `seed + 1`). Default: random. */
        seed?: number;
        discriminators?: never;
      }
    | {
        /** D_w tells reference chosen latents from policy chosen ones; D_l the rejected ones. */
        discriminators: { chosen: Discriminator; rejected: Discriminator };
        latentDim?: never;
        critic?: never;
        seed?: never;
      }
  );

/** The option keys shared by both arms of {@link GanpoRegularizerOptions}. */
export const SETTINGS_KEYS: readonly (keyof GanpoRegularizerSettings)[] = [
  'preset',
  'generator',
  'weight',
  'ganLoss',
  'estimator',
  'momentum',
  'negatives',
  'scoring',
  'optimizer',
  'lossFloor',
  'targetDecay',
];

/** A tensor in plain JSON. @inline */
export interface SerializedTensor {
  shape: number[];
  data: number[];
}
