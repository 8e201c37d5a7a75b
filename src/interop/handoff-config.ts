import { TransformerDiscriminator } from '../discriminators/transformer';
import type { AdamW } from '../optim/adamw';
import type { GanpoRegularizer } from '../regularizer/ganpo-regularizer';
import type { TrainerConfig } from '../trainer/config';

/**
 * A trainer's configuration in the words of the PyTorch side: TRL's `DPOConfig` fields (with the
 * transformers `TrainingArguments` fields it inherits), the official GANPO trainer's arguments, and
 * every ganpo setting that has no counterpart there. Written into `ganpo_handoff.json`.
 */
export interface HandoffConfig {
  /** `DPOConfig(**dpo_config)` (TRL 0.2x, the line the official GANPO code subclasses). */
  dpo_config: Record<string, unknown>;
  /**
   * The official `QuadGANDPOTrainer` arguments and the values it hard-codes (critic learning rate
   * ratio, critic AdamW), and the critics' `TransformerDiscriminator` arguments; `null` without a
   * GANPO regularizer.
   */
  ganpo_trainer: Record<string, unknown> | null;
  /** ganpo settings without a counterpart: `{ ganpo, value, why }`. */
  not_mapped: { ganpo: string; value: unknown; why: string }[];
}

/** What the mapping reads from a trainer. */
export interface HandoffSource {
  config: TrainerConfig;
  optimizer: AdamW;
  regularizer: GanpoRegularizer | null;
  criticLearningRateRatio: number | null;
}

const TRANSFORMERS_SCHEDULES = { cosine: 'cosine', linear: 'linear', constant: 'constant' } as const;

/**
 * Maps a trainer's resolved configuration (see {@link HandoffConfig}). The rules, each from the
 * official code (GANPO_trl.py) or TRL / transformers:
 *
 * - schedule: `lr_scheduler_type` with `warmup_steps` = ⌈warmupRatio · totalSteps⌉ (transformers'
 *   `get_warmup_steps`); the official critics always follow a cosine schedule.
 * - batch: `per_device_train_batch_size` = batchSize / gradientAccumulationSteps for one process.
 * - the official critic learning rate is `learning_rate / 2` and its AdamW PyTorch's default
 *   (weight decay 0.01, betas 0.9/0.999): other ganpo values have no argument there.
 */
export function handoffConfig(source: HandoffSource): HandoffConfig {
  const { config: c, optimizer } = source;
  const notMapped: HandoffConfig['not_mapped'] = [];
  const note = (ganpo: string, value: unknown, why: string) => notMapped.push({ ganpo, value, why });
  const o = c.objective as unknown as Record<string, unknown>;
  const dpo: Record<string, unknown> = {
    learning_rate: c.scheduleSpec.learningRate,
    lr_scheduler_type: TRANSFORMERS_SCHEDULES[c.scheduleSpec.kind],
    warmup_steps: c.scheduleSpec.warmupSteps,
    max_steps: c.totalSteps,
    per_device_train_batch_size: c.batchSize / c.gradientAccumulationSteps,
    gradient_accumulation_steps: c.gradientAccumulationSteps,
    max_grad_norm: c.maxGradNorm ?? 0,
    weight_decay: c.weightDecay,
    optim: 'adamw_torch',
    adam_beta1: optimizer.beta1,
    adam_beta2: optimizer.beta2,
    adam_epsilon: optimizer.epsilon,
    seed: c.seed,
    disable_dropout: c.disableDropout,
    max_length: c.collate.maxLength === undefined ? 1024 : c.collate.maxLength,
    max_prompt_length: c.collate.maxPromptLength === undefined ? 512 : c.collate.maxPromptLength,
    max_completion_length: c.collate.maxCompletionLength ?? null,
    truncation_mode: c.collate.truncationMode ?? 'keep_end',
    pad_to_multiple_of: (c.collate.padToMultipleOf ?? 1) > 1 ? c.collate.padToMultipleOf : null,
    precompute_ref_log_probs: false,
    precompute_ref_batch_size: c.precomputeRefBatchSize,
    sync_ref_model: c.syncReference !== null,
    ...(c.syncReference
      ? { ref_model_mixup_alpha: c.syncReference.alpha, ref_model_sync_steps: c.syncReference.steps }
      : {}),
  };
  if (c.weightDecay !== 0) {
    note(
      'training.weightDecay',
      c.weightDecay,
      'transformers decays no bias or LayerNorm weight; ganpo decays every policy variable',
    );
  }
  if (c.objective.kind === 'dpo') {
    dpo.beta = o.beta;
    dpo.loss_type = o.lossType ?? 'sigmoid';
    if (o.labelSmoothing !== undefined) dpo.label_smoothing = o.labelSmoothing;
    for (const [k, v] of Object.entries(o)) {
      if (!['kind', 'beta', 'lossType', 'labelSmoothing'].includes(k))
        note(`objective.${k}`, v, 'see the TRL table of README.md');
    }
  } else {
    note(
      'objective',
      o,
      "TRL's DPOTrainer and the official GANPO trainer are DPO only (TRL: CPOTrainer for SimPO, ORPOTrainer)",
    );
  }
  if (c.collate.bosTokenId !== undefined && c.collate.bosTokenId !== null) {
    note(
      'data.collate.bosTokenId',
      c.collate.bosTokenId,
      'a BOS belongs to the tokenizer or chat template on the PyTorch side',
    );
  }
  const ganpo = source.regularizer ? ganpoTrainerArgs(source, note) : null;
  if (c.regularizer.kind === 'anchor' || c.regularizer.kind === 'mmd') {
    note(
      'regularizer',
      { kind: c.regularizer.kind, weight: c.regularizer.weight },
      'a latent penalty of ganpo, no PyTorch counterpart',
    );
  }
  return { dpo_config: dpo, ganpo_trainer: ganpo, not_mapped: notMapped };
}

function ganpoTrainerArgs(
  source: HandoffSource,
  note: (ganpo: string, value: unknown, why: string) => void,
): Record<string, unknown> {
  const reg = source.regularizer as GanpoRegularizer;
  const critic = reg.discriminators.chosen;
  const criticOptimizer = reg.optimizer as AdamW;
  const out: Record<string, unknown> = {
    adv_weight: reg.weight,
    momentum: reg.momentum,
    disc_lr_ratio: source.criticLearningRateRatio,
    disc_weight_decay: criticOptimizer.weightDecay,
    disc_betas: [criticOptimizer.beta1, criticOptimizer.beta2],
    disc_eps: criticOptimizer.epsilon,
    // ganpo passes the attention masks to the critics; the official code has them commented out.
    critic_masks: true,
  };
  if (critic instanceof TransformerDiscriminator) {
    const d = critic.config;
    out.discriminator = {
      class: 'TransformerDiscriminator',
      input_dim: d.latentDim,
      hidden_dim: d.hiddenDim,
      num_layers: d.numLayers,
      num_heads: d.numHeads,
      max_seq_len: d.maxSeqLen,
      dropout: d.dropout,
    };
    if (d.ffnDim !== 4 * d.hiddenDim)
      note('critic.ffnDim', d.ffnDim, 'the official critic fixes dim_feedforward = 4 · hidden_dim');
    if (!d.spectralNorm) note('critic.spectralNorm', false, 'the official critic always has spectral norm');
  } else {
    note('critic', critic.constructor.name, 'the official trainer builds TransformerDiscriminators only');
  }
  if (reg.preset !== 'official') {
    note('regularizer.preset', reg.preset, 'no counterpart: the official code is the official preset');
  }
  const official = { ganLoss: 'sgan', estimator: 'ema', negatives: true, generator: 'one-sided' } as const;
  for (const [k, v] of Object.entries(official)) {
    const value = (reg as unknown as Record<string, unknown>)[k];
    if (value !== v) note(`regularizer.${k}`, value, `the official code has ${k} = '${String(v)}' only`);
  }
  if (reg.targetDecay > 0) {
    note('regularizer.targetDecay', reg.targetDecay, 'the official policy term reads the live critics');
  }
  if (source.criticLearningRateRatio !== 0.5) {
    note(
      'regularizer.criticLearningRateRatio',
      source.criticLearningRateRatio,
      'the official trainer sets disc_lr = learning_rate / 2',
    );
  }
  if (source.config.scheduleSpec.kind !== 'cosine') {
    note(
      'training.schedule (critics)',
      source.config.scheduleSpec.kind,
      "the official critics' schedule is always cosine",
    );
  }
  if (source.config.gradientAccumulationSteps > 1) {
    note(
      'training.gradientAccumulationSteps (critics)',
      source.config.gradientAccumulationSteps,
      'the official critic step is gated on the global step, not the micro-step: it updates in bursts',
    );
  }
  return out;
}
