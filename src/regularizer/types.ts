import type * as tf from '@tensorflow/tfjs-core';
import type { MLPDiscriminatorConfig } from '../discriminators/mlp';
import type { TransformerDiscriminatorConfig } from '../discriminators/transformer';
import type { Discriminator } from '../discriminators/types';
import type { GanLossOption } from '../divergence/gan-loss';
import type { SetMeans } from '../divergence/ganpo-relativistic';
import type { GanpoPreset, GeneratorLoss } from './preset';

/** One value per discriminator: `chosen` for D_w, `rejected` for D_l. */
export type PerSide<T> = { chosen: T; rejected: T };

/**
 * The six means: for D_w (`chosen`) and D_l (`rejected`) the mean scores of their reference, policy
 * and opposite sets (D_l's "reference" is h_ref^l, its "opposite" h_ref^w); `null` before the first
 * discriminator step.
 */
export type GanpoSixMeans = PerSide<SetMeans<number | null>>;

/** How the set means m of the relativistic losses are estimated. */
export type MeanEstimator = 'ema' | 'batch';
/** Every {@link MeanEstimator}: `'ema'` (official code) and `'batch'` (paper). */
export const MEAN_ESTIMATORS: readonly MeanEstimator[] = ['ema', 'batch'];

/**
 * How a discriminator update calls each critic on its scored sets: `'per-set'` (official code), one
 * training-mode call per set in the official order; `'batched'`, one call per critic on the sets
 * concatenated along the batch axis (see {@link GanpoRegularizerOptions.scoring}).
 */
export type Scoring = 'per-set' | 'batched';
/** Every {@link Scoring}. */
export const SCORINGS: readonly Scoring[] = ['per-set', 'batched'];

/** Options shared by the constructor and {@link GanpoRegularizer.create}. */
export interface GanpoRegularizerOptions extends GanLossOption {
  /**
   * Where the defaults of `negatives`, `generator`, `optimizer` and `lossFloor` come from. Default
   * `'recommended'` (pair critics, paired feature-matching generator, critic AdamW with
   * β = (0, 0.9) at lr 5e-3 for MLP critics and 2e-3 for others, critic loss floor 0.5; measured in
   * docs/troubleshooting.md). `'official'` reproduces the official GANPO
   * code bit for bit (quad critic loss, one-sided generator, AdamW lr 1e-4). Explicit options win.
   */
  preset?: GanpoPreset;
  /**
   * The policy-side (generator) term: `'paired-feature-matching'` (default of `'recommended'`),
   * mean_i ‖f(h_θ,i) − f(h_ref,i)‖² on the critic's last hidden layer f; `'paired-least-squares'`,
   * mean_i (D(h_θ,i) − D(h_ref,i))² on the score (both bounded, 0 at policy = reference, and need
   * the batch's reference latents in {@link GanpoRegularizer.adversarialLoss}); or `'one-sided'`
   * (official), ℓreal(D(h_θ) − m_ref).
   */
  generator?: GeneratorLoss;
  /** λ, the adversarial weight in L = L_pref + λ·L_adv. Default 1 (the official runs). */
  weight?: number;
  /**
   * `'ema'` (default, the official code): detached exponential moving averages of batch means,
   * updated with each batch before the discriminator loss. `'batch'` (the paper's form): the
   * within-batch means, with gradient in the discriminator loss.
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
   * `'batched'` (opt-in): one call per critic on its taped sets concatenated
   * along the batch axis, scores split back. Attention is per sequence and masks stay per row, so
   * the scores are the same up to the spectral-norm estimate (one power iteration per update instead
   * of one per set; SN-GAN, Miyato et al. 2018, arXiv 1802.05957, does one per update) and the
   * dropout draws; about half the kernels of a small critic's forward and backward. Constants of
   * the loss (the opposite set with `negatives: false`) are scored in their own off-tape call.
   */
  scoring?: Scoring;
  /**
   * Optimizer for both discriminators. Default (`'recommended'`)
   * `new AdamW({ learningRate, beta1: 0, beta2: 0.9, weightDecay: 0.01 })` with `learningRate` 5e-3
   * for an `MLPDiscriminator` (a slow critic: spectral norm on one mean-pooled vector) and 2e-3
   * for any other critic; with `'official'`
   * `new AdamW({ learningRate: 1e-4, weightDecay: 0.01 })`. The official code uses AdamW with half
   * the policy's learning rate, weight decay 0.01 and the policy's warmup + cosine schedule.
   */
  optimizer?: tf.Optimizer;
  /**
   * A discriminator whose loss on the batch is already below this value skips its update in that
   * {@link GanpoRegularizer.discriminatorStep} (its means still update). Caps how confident a critic
   * gets: a near-perfect critic (loss → 0) makes the feature-matching term chase it, and the
   * policy's latents then move more, not less (measured with transformer critics,
   * docs/troubleshooting.md). Default (`'recommended'`) 0.5 with `ganLoss: 'sgan'` (chance level
   * log 2 ≈ 0.693; other GAN losses: 0.5/log 2 × their chance level 1); 0 (never skips) with
   * `'official'`.
   */
  lossFloor?: number;
}

/** Arguments of the {@link GanpoRegularizer} constructor. */
export interface GanpoRegularizerArgs extends GanpoRegularizerOptions {
  /** D_w: tells reference chosen latents from policy chosen latents. */
  chosen: Discriminator;
  /** D_l: tells reference rejected latents from policy rejected latents. */
  rejected: Discriminator;
}

/** Latents of one batch for {@link GanpoRegularizer.discriminatorStep}; all are treated as constants. */
export interface DiscriminatorStepArgs {
  /** Policy hidden states of prompt+chosen, [B,Tc,H]. */
  policyChosen: tf.Tensor3D;
  /** Policy hidden states of prompt+rejected, [B,Tr,H]. */
  policyRejected: tf.Tensor3D;
  /** Reference-model hidden states of prompt+chosen, [B,Tc,H]. */
  referenceChosen: tf.Tensor3D;
  /** Reference-model hidden states of prompt+rejected, [B,Tr,H]. */
  referenceRejected: tf.Tensor3D;
  /** [B,Tc] 0/1 attention mask of the chosen sequences; omitted = every position counts (official code). */
  chosenMask?: tf.Tensor2D;
  /** [B,Tr] 0/1 attention mask of the rejected sequences. */
  rejectedMask?: tf.Tensor2D;
}

/** Result of one discriminator step (plain numbers, already read back). */
export interface DiscriminatorStepResult {
  lossChosen: number;
  lossRejected: number;
}

/** Arguments of {@link GanpoRegularizer.adversarialLoss}. */
export interface AdversarialLossArgs {
  /** Policy hidden states of prompt+chosen, [B,Tc,H], with gradient to the policy. */
  policyChosen: tf.Tensor3D;
  /** Policy hidden states of prompt+rejected, [B,Tr,H]. */
  policyRejected: tf.Tensor3D;
  chosenMask?: tf.Tensor2D;
  rejectedMask?: tf.Tensor2D;
  /**
   * Reference hidden states of prompt+chosen [B,Tc,H] (constants), of the same sequences as
   * `policyChosen`. Required by the paired generators (each policy latent is
   * compared with the reference latent of its own sequence). With the one-sided generator they are
   * used only by the `'batch'` estimator: the reference mean is then the mean score of these latents under the current
   * (just-updated) discriminator, so a constant shift of the critic cancels as it does in the
   * discriminator loss (the paper's within-batch form). Without them the `'batch'` estimator falls
   * back to the reference mean of the last discriminator step (pre-update scores).
   */
  referenceChosen?: tf.Tensor3D;
  /** Reference hidden states of prompt+rejected [B,Tr,H]; see `referenceChosen`. */
  referenceRejected?: tf.Tensor3D;
}

/** Arguments of {@link GanpoRegularizer.create}. */
export interface GanpoRegularizerCreateArgs extends GanpoRegularizerOptions {
  /** Hidden size H of the latents (the policy's last hidden state). */
  inputDim: number;
  /**
   * `'transformer'` (default, the official discriminator) or `'mlp'` (masked mean-pool + SN-MLP, for
   * small models and browsers).
   */
  kind?: 'transformer' | 'mlp';
  /**
   * Overrides of the discriminator config (both discriminators). Transformer defaults are the
   * official ones (hidden 512, 2 layers, 8 heads, FFN 2048, dropout 0.1, spectral norm).
   */
  discriminator?:
    | Partial<Omit<TransformerDiscriminatorConfig, 'inputDim'>>
    | Partial<Omit<MLPDiscriminatorConfig, 'inputDim'>>;
  /** Seed for the discriminators' initialisation (the rejected one uses seed + 1). */
  seed?: number;
}

/** A tensor in plain JSON. */
export interface SerializedTensor {
  shape: number[];
  data: number[];
}
