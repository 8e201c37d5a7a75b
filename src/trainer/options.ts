import type {
  CriticOptions,
  GanpoRegularizer,
  GanpoRegularizerSettings,
} from '../regularizer/ganpo-regularizer';
import type { CollateOptions } from './collate';
import type { CausalLM } from './forward';
import type { TrainerMetrics } from './metrics';
import type { PreferenceObjective } from './objective';

/**
 * The trainer's regularizer, when the trainer builds it:
 *
 * - GANPO (`kind: 'ganpo'`, or no `kind`): the options of a `GanpoRegularizer` (its settings,
 *   `critic`, `seed`; the trainer gives `latentDim` and builds the critic optimizer) plus the critic
 *   optimizer's schedule and weight decay. `seed` defaults to `training.seed` (D_w `seed`,
 *   D_l `seed + 1`).
 * - The latent MMD (`kind: 'mmd'`): `weight · latentMmdLoss(batch)`, likewise.
 * - The latent anchor (`kind: 'anchor'`): `weight · latentAnchorLoss(batch)` added to the
 *   preference loss, with no critic and no critic step.
 */
export type TrainerRegularizerOptions =
  | ({ kind?: 'ganpo' } & Omit<GanpoRegularizerSettings, 'optimizer'> & {
        /** The critics to build (both alike). Default `{ kind: 'transformer' }` (official). */
        critic?: CriticOptions;
        /** Seeds both critics (D_w `seed`, D_l `seed + 1`). Default `training.seed`. */
        seed?: number;
        /**
         * Critic learning rate as a fraction of the policy's, on the policy's schedule:
         * critic lr(t) = ratio × policy lr(t). Default by preset (two time-scale rule, Heusel et al.
         * 2017, arXiv 1706.08500; measured in docs/troubleshooting.md, "The trainer's critic
         * learning rate"):
         *
         * | preset | ratio | cap on the critic's peak rate |
         * | --- | --- | --- |
         * | `'recommended'` | 2 | 2e-3 for critics other than the MLP (the ratio becomes 2e-3 / `learningRate` above a policy peak of 1e-3); none for the MLP |
         * | `'official'` | 0.5 (official code: half the policy's rate) | none |
         *
         * A ratio you give is used as is (no cap).
         */
        criticLearningRateRatio?: number;
        /** The critic AdamW's decoupled weight decay. Default 0.01 (official code). */
        criticWeightDecay?: number;
      })
  | {
      /** `'anchor'`: latentAnchorLoss (paired); `'mmd'`: latentMmdLoss (unpaired). */
      kind: 'anchor' | 'mmd';
      /** λ, L = L_pref + λ·(the term). Required. */
      weight: number;
    };

/**
 * Options of {@link GanpoTrainer}, grouped as TRL documents `DPOConfig` (model and reference, data,
 * training, the preference objective, TR-DPO reference sync, the regularizer, logging). Unknown
 * keys are refused at every level (`INVALID_OPTION`, naming the nearest valid key).
 */
export interface GanpoTrainerOptions {
  /** The models. */
  model: {
    /** The model to train. */
    policy: CausalLM;
    /**
     * The frozen reference model: `'initial'` (the trainer snapshots the policy's trainable weights
     * at construction and runs the policy itself with them swapped in, for models that cannot be
     * cloned; the snapshot is freed with the trainer), `'copy'` (the policy's `clone()`, as TRL does
     * when no `ref_model` is given; disposed with the trainer), or your own frozen model. Omit it
     * after `precomputeReference` to train without a reference model in memory.
     */
    reference?: CausalLM | 'copy' | 'initial';
    /** The policy's latent width H: the last dimension of `forward(...).hidden`. */
    latentDim: number;
  };
  /** Batching. */
  data: {
    /** Collation (pad/EOS ids, max lengths, truncation); see {@link CollateOptions}. */
    collate: CollateOptions;
    /** Pairs per optimizer step (all micro-batches together). Default 8 (TRL `per_device_train_batch_size`). */
    batchSize?: number;
    /**
     * Pairs per forward of `precomputeReference`. Default `batchSize` (TRL
     * `precompute_ref_batch_size`: None → the train batch size).
     */
    precomputeRefBatchSize?: number;
  };
  /** The optimisation. */
  training: {
    /** Peak policy learning rate. Required (official runs: 5e-7 for 2B, 1e-6 for 8B models). */
    learningRate: number;
    /** Total optimizer steps (the schedule's length). Required (TRL `max_steps`). */
    totalSteps: number;
    /** `'cosine'` (default, official runs), `'linear'` (transformers' default) or `'constant'`. */
    schedule?: 'cosine' | 'linear' | 'constant';
    /** Warm-up steps as a fraction of `totalSteps`. Default 0.1 (official runs). */
    warmupRatio?: number;
    /** Policy AdamW decoupled weight decay. Default 0 (transformers `TrainingArguments`). */
    weightDecay?: number;
    /** Global-norm clipping of the policy gradient; `null` = none. Default 1.0 (transformers). */
    maxGradNorm?: number | null;
    /**
     * Micro-batches per optimizer step; `data.batchSize` must be divisible by it. Gradients are
     * averaged over micro-batches, and the critics step once per optimizer step on the whole batch,
     * so k micro-batches equal one batch k times larger. Default 1.
     */
    gradientAccumulationSteps?: number;
    /**
     * Seeds the data order and the critics the trainer builds (D_w `seed`, D_l `seed + 1`, unless
     * `regularizer.seed` is given). Default 42 (transformers `TrainingArguments.seed`).
     */
    seed?: number;
    /**
     * Train the policy without dropout: its forward gets `{ training: false }` in the gradient pass
     * too; the reference always runs with `training: false`; the critics' own dropout is not
     * affected. Default true (TRL `DPOConfig.disable_dropout`).
     */
    disableDropout?: boolean;
  };
  /** The preference loss. Default `{ kind: 'dpo', beta: 0.1 }` (TRL, official GANPO runs). */
  objective?: PreferenceObjective;
  /**
   * TR-DPO (TRL `sync_ref_model`; present = on): θ_ref ← α·θ + (1 − α)·θ_ref after every k-th
   * applied optimizer step. Needs a reference model whose `trainableVariables` match the policy's
   * one to one (`'copy'` does); incompatible with a precomputed reference cache.
   */
  referenceSync?: {
    /** α in (0, 1]; 1 copies the policy. Default 0.6 (TRL `ref_model_mixup_alpha`). */
    mixupAlpha?: number;
    /** k, in optimizer steps. Default 512 (TRL `ref_model_sync_steps`). */
    syncSteps?: number;
  };
  /**
   * The latent regularizer: GANPO options (the trainer builds the regularizer and schedules its
   * critic learning rate), `{ kind: 'anchor' | 'mmd', weight }`, a ready `GanpoRegularizer` (any
   * `Discriminator`; the trainer uses its optimizer as given, with no schedule, and does not dispose
   * it), or `false` for the preference loss alone. Default `{}`: GANPO with the preset
   * `'recommended'`.
   */
  regularizer?: TrainerRegularizerOptions | GanpoRegularizer | false;
  /** Reporting. Notices and warnings go through the library's logger (`setLogger`). */
  logging?: {
    /** Called after every optimizer step (also skipped ones) with its metrics. */
    onStep?: (metrics: TrainerMetrics) => void;
  };
}
