import { argumentError } from '../core/errors';
import { assertArgs, assertNumber, assertOneOf } from '../core/validate';
import type { Discriminator } from '../discriminators/types';
import { type LearningRateSchedule, warmupCosineSchedule, warmupLinearSchedule } from '../optim/schedules';
import type { GanpoRegularizerCreateArgs } from '../regularizer/ganpo-regularizer';
import { presetDefaults } from '../regularizer/preset';
import type { CollateOptions } from './collate';
import type { CausalLM } from './forward';
import type { TrainerMetrics } from './metrics';
import { type LegacyPreferenceObjective, type PreferenceObjective, resolveObjective } from './objective';
import { syncReference } from './sync-reference';

/** Error context of the trainer's messages. */
export const TRAINER = 'GanpoTrainer';

/** GANPO options of the trainer (see {@link GanpoRegularizer.create}); `false` turns GANPO off. */
export type TrainerGanpoOptions = Omit<GanpoRegularizerCreateArgs, 'inputDim' | 'optimizer'> & {
  /**
   * Discriminator learning rate as a fraction of the policy's: critic lr(t) = ratio × policy
   * lr(t), on the policy's schedule.
   *
   * Default with `preset: 'recommended'`: 2 (a critic faster than the policy, the two time-scale
   * rule of Heusel et al. 2017, arXiv 1706.08500), except that a transformer critic never peaks
   * above 2e-3 (`GanpoRegularizer.create`'s own rate for it): its ratio becomes 2e-3 / `learningRate`
   * when the policy's peak is above 1e-3. Measured in docs/troubleshooting.md ("The trainer's
   * critic learning rate"): at policy lr 5e-3, a transformer critic at 1e-2 ran away and the
   * latents drifted more; an MLP critic at 5e-3 stayed at chance, so the MLP is not capped. With
   * `preset: 'official'`: 0.5 (the official code: half the policy's learning rate), no cap. A
   * ratio you give is used as is (no cap). The critic AdamW's β are (0, 0.9) with `'recommended'`
   * (WGAN-GP, SAGAN), PyTorch's (0.9, 0.999) with `'official'`.
   */
  learningRateRatio?: number;
  /** Discriminator AdamW weight decay. Default 0.01 (official code). */
  weightDecay?: number;
};

/** Arguments of {@link GanpoTrainer}. */
export interface GanpoTrainerArgs {
  /** The model to train. */
  policy: CausalLM;
  /**
   * The frozen reference model: `'initial'` (the trainer snapshots the policy's trainable weights at
   * construction and runs the policy itself with them swapped in — no second model instance, for
   * models that cannot be cloned or instantiated twice; the snapshot is freed with the trainer),
   * `'copy'` (the trainer copies the policy with its `clone()` at construction, as TRL does when no
   * `ref_model` is given, and disposes the copy with the trainer), or your own frozen model. Omit it
   * after {@link GanpoTrainer.precomputeReference} to train without a reference model in memory
   * (`evaluate` of DPO losses then has no reference).
   */
  reference?: CausalLM | 'copy' | 'initial';
  /** Hidden size H of `forward(...).hidden` (the discriminators' input). */
  hiddenSize: number;
  /**
   * The preference loss. Default `{ kind: 'dpo', beta: 0.1 }` (TRL, official GANPO runs). The
   * former spelling `{ type: 'dpo', ... }` is deprecated and accepted for one release.
   */
  objective?: PreferenceObjective | LegacyPreferenceObjective;
  /** GANPO regularizer options, or `false` for a plain preference trainer. Default `{}` (on). */
  ganpo?: TrainerGanpoOptions | false;
  /** Collation (pad/EOS ids, max lengths, truncation) — see {@link CollateOptions}. */
  collate: CollateOptions;
  /** Peak policy learning rate. Required (official runs: 5e-7 for 2B, 1e-6 for 8B models). */
  learningRate: number;
  /** Pairs per optimizer step (all micro-batches together). Default 8. */
  batchSize?: number;
  /**
   * Micro-batches per optimizer step; `batchSize` must be divisible by it. Gradients are averaged
   * over micro-batches, and the discriminators step once per optimizer step on the whole batch —
   * so k micro-batches equal one batch k times larger. Default 1.
   */
  gradientAccumulationSteps?: number;
  /** Total optimizer steps (the schedule's length). Required. */
  totalSteps: number;
  /** Warm-up steps as a fraction of `totalSteps`. Default 0.1 (official runs). */
  warmupRatio?: number;
  /** `'cosine'` (default, official runs), `'linear'` (TRL/transformers default) or `'constant'`. */
  schedule?: 'cosine' | 'linear' | 'constant';
  /** Policy AdamW weight decay. Default 0 (transformers `TrainingArguments`). */
  weightDecay?: number;
  /** Global-norm clipping of the policy gradient; `null` = none. Default 1.0 (transformers). */
  maxGradNorm?: number | null;
  /** Data-order seed. Default 42 (transformers). */
  seed?: number;
  /** Called after every optimizer step (also skipped ones) with its metrics. */
  onStep?: (metrics: TrainerMetrics) => void;
  /**
   * Train the policy without dropout: its forward gets `{ training: false }` in the gradient pass
   * too (`CausalLM.forward` reads `training` as "dropout on"); the reference always runs with
   * `training: false`. The discriminators' own dropout is not affected. Default true (TRL
   * `DPOConfig.disable_dropout`).
   */
  disableDropout?: boolean;
  /**
   * TR-DPO: move the reference towards the policy, θ_ref ← α·θ + (1 − α)·θ_ref
   * ({@link syncReference}), after every `refModelSyncSteps`-th applied optimizer step. Needs a
   * reference model whose `trainableVariables` match the policy's one to one (`'copy'` does);
   * incompatible with a precomputed reference cache. Default false (TRL `DPOConfig.sync_ref_model`).
   */
  syncRefModel?: boolean;
  /** α of `syncRefModel` in (0, 1]; 1 copies the policy. Default 0.6 (TRL `DPOConfig.ref_model_mixup_alpha`). */
  refModelMixupAlpha?: number;
  /** k of `syncRefModel`, in optimizer steps. Default 512 (TRL `DPOConfig.ref_model_sync_steps`). */
  refModelSyncSteps?: number;
  /**
   * Pairs per forward of {@link GanpoTrainer.precomputeReference}; may exceed `batchSize` to go
   * faster. Default `batchSize` (TRL `DPOConfig.precompute_ref_batch_size`: None → the train batch size).
   */
  precomputeRefBatchSize?: number;
  /**
   * Receives the trainer's one-time notices (at construction: how many variables and parameters it
   * trains, so a model exposing only part of its variables is noticed). Default `console.info`;
   * `null` silences them.
   */
  log?: ((message: string) => void) | null;
}

/** {@link GanpoTrainerArgs} validated, with every default filled in. */
export interface TrainerConfig {
  policy: CausalLM;
  hiddenSize: number;
  objective: PreferenceObjective;
  batchSize: number;
  gradientAccumulationSteps: number;
  totalSteps: number;
  /** Policy learning rate by step (warm-up + decay). */
  schedule: LearningRateSchedule;
  maxGradNorm: number | null;
  seed: number;
  collate: CollateOptions;
  onStep?: (metrics: TrainerMetrics) => void;
  /** Where notices go; `null` = silent. */
  log: ((message: string) => void) | null;
  /** Policy AdamW weight decay. */
  weightDecay: number;
  /** Whether the policy's gradient pass runs without dropout (`training: false`). */
  disableDropout: boolean;
  /** TR-DPO's reference sync (α, every k steps), or `null` without `syncRefModel`. */
  syncReference: { alpha: number; steps: number } | null;
  /** Batch size of `precomputeReference`. */
  precomputeRefBatchSize: number;
  /** The regularizer's options, or `null` with `ganpo: false`. */
  ganpo: {
    create: Omit<GanpoRegularizerCreateArgs, 'inputDim' | 'optimizer'>;
    /** Critic learning rate ÷ policy learning rate (at every step), given the critic built. */
    learningRateRatio: (critic: Discriminator) => number;
    weightDecay: number;
    /** AdamW β1/β2 of the critic optimizer (from the preset). */
    betas: { beta1: number; beta2: number };
  } | null;
}

/**
 * Validates the trainer's arguments (everything but building models and optimizers) and resolves
 * their defaults.
 *
 * @throws GanpoError `INVALID_ARGUMENT` / `INVALID_OPTION` naming the first bad argument.
 */
export function resolveTrainerConfig(args: GanpoTrainerArgs): TrainerConfig {
  assertArgs(TRAINER, args, '{ policy, collate, learningRate, totalSteps, ... }');
  assertModels(args);
  const hiddenSize = assertNumber(TRAINER, 'hiddenSize', args.hiddenSize, { min: 1, integer: true });
  const objective = resolveObjective(TRAINER, args.objective ?? { kind: 'dpo', beta: 0.1 });
  const learningRate = assertNumber(TRAINER, 'learningRate', args.learningRate, { greaterThan: 0 });
  const batchSize = assertNumber(TRAINER, 'batchSize', args.batchSize ?? 8, { min: 1, integer: true });
  const gradientAccumulationSteps = assertNumber(
    TRAINER,
    'gradientAccumulationSteps',
    args.gradientAccumulationSteps ?? 1,
    { min: 1, integer: true },
  );
  if (batchSize % gradientAccumulationSteps !== 0) {
    throw argumentError(
      'INVALID_OPTION',
      TRAINER,
      'gradientAccumulationSteps',
      `a divisor of batchSize ${batchSize}`,
      String(gradientAccumulationSteps),
    );
  }
  const totalSteps = assertNumber(TRAINER, 'totalSteps', args.totalSteps, { min: 1, integer: true });
  const schedule = resolveSchedule(args, learningRate, totalSteps);
  const maxGradNorm =
    args.maxGradNorm === null
      ? null
      : assertNumber(TRAINER, 'maxGradNorm', args.maxGradNorm ?? 1.0, { greaterThan: 0 });
  const seed = assertNumber(TRAINER, 'seed', args.seed ?? 42, { integer: true });
  if (args.collate === null || typeof args.collate !== 'object') {
    throw argumentError(
      'INVALID_ARGUMENT',
      TRAINER,
      'collate',
      '{ padTokenId, eosTokenId, ... }',
      String(args.collate),
    );
  }
  const weightDecay = assertNumber(TRAINER, 'weightDecay', args.weightDecay ?? 0, { min: 0 });
  const disableDropout = assertBoolean('disableDropout', args.disableDropout ?? true);
  const precomputeRefBatchSize = assertNumber(
    TRAINER,
    'precomputeRefBatchSize',
    args.precomputeRefBatchSize ?? batchSize,
    { min: 1, integer: true },
  );
  return {
    policy: args.policy,
    hiddenSize,
    objective,
    batchSize,
    gradientAccumulationSteps,
    totalSteps,
    schedule,
    maxGradNorm,
    seed,
    collate: args.collate,
    onStep: args.onStep,
    log: resolveLog(args.log),
    weightDecay,
    disableDropout,
    syncReference: resolveSync(args),
    precomputeRefBatchSize,
    ganpo: args.ganpo === false ? null : resolveGanpo(args.ganpo ?? {}, learningRate),
  };
}

function assertBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw argumentError('INVALID_OPTION', TRAINER, name, 'a boolean', typeof value);
  }
  return value;
}

/**
 * TR-DPO options. A user's reference model is checked against the policy here (same number of
 * variables, same shapes, none shared), before anything is built; `'copy'` is a clone of the policy.
 */
function resolveSync(args: GanpoTrainerArgs): TrainerConfig['syncReference'] {
  if (!assertBoolean('syncRefModel', args.syncRefModel ?? false)) return null;
  const alpha = assertNumber(TRAINER, 'refModelMixupAlpha', args.refModelMixupAlpha ?? 0.6, {
    greaterThan: 0,
    max: 1,
  });
  const steps = assertNumber(TRAINER, 'refModelSyncSteps', args.refModelSyncSteps ?? 512, {
    min: 1,
    integer: true,
  });
  if (args.reference === undefined) {
    throw argumentError(
      'INVALID_OPTION',
      TRAINER,
      'syncRefModel',
      "a reference model to sync ('copy' or a CausalLM)",
      'no reference',
    );
  }
  if (args.reference === 'initial') {
    throw argumentError(
      'INVALID_OPTION',
      TRAINER,
      'syncRefModel',
      "a reference model to sync ('copy' or a CausalLM; 'initial' is a fixed snapshot)",
      "reference: 'initial'",
    );
  }
  if (args.reference !== 'copy') {
    // α = 0 checks the pairing and assigns nothing.
    syncReference(args.policy.trainableVariables, args.reference.trainableVariables, 0);
  }
  return { alpha, steps };
}

/** The policy and reference arguments: a CausalLM policy; a distinct reference, `'copy'` or none. */
function assertModels(args: GanpoTrainerArgs): void {
  if (
    !args.policy ||
    typeof args.policy.forward !== 'function' ||
    !Array.isArray(args.policy.trainableVariables)
  ) {
    throw argumentError(
      'INVALID_ARGUMENT',
      TRAINER,
      'policy',
      'a CausalLM { forward, trainableVariables }',
      typeof args.policy,
    );
  }
  if (args.policy.trainableVariables.length === 0) {
    throw argumentError(
      'INVALID_ARGUMENT',
      TRAINER,
      'policy',
      'a CausalLM with at least one trainable variable',
      'trainableVariables = []',
    );
  }
  if (args.reference === 'copy' && typeof args.policy.clone !== 'function') {
    throw argumentError(
      'INVALID_OPTION',
      TRAINER,
      'reference',
      "'copy' only for a policy with clone(); 'initial' (a weight snapshot) or a CausalLM otherwise",
      "'copy' with a policy that has no clone()",
    );
  }
  if (
    args.reference !== undefined &&
    args.reference !== 'copy' &&
    args.reference !== 'initial' &&
    typeof args.reference?.forward !== 'function'
  ) {
    throw argumentError(
      'INVALID_ARGUMENT',
      TRAINER,
      'reference',
      "a CausalLM, 'initial', 'copy' or undefined",
      typeof args.reference,
    );
  }
  if (args.reference === args.policy) {
    throw argumentError(
      'INVALID_ARGUMENT',
      TRAINER,
      'reference',
      'a frozen copy of the policy',
      'the policy itself',
    );
  }
}

function resolveLog(log: GanpoTrainerArgs['log']): ((message: string) => void) | null {
  if (log === null) return null;
  if (log === undefined) return (message) => console.info(message);
  if (typeof log !== 'function') {
    throw argumentError('INVALID_OPTION', TRAINER, 'log', 'a function or null', typeof log);
  }
  return log;
}

/** The policy learning-rate schedule: warm-up, then cosine or linear decay, or constant. */
function resolveSchedule(
  args: GanpoTrainerArgs,
  learningRate: number,
  totalSteps: number,
): LearningRateSchedule {
  const warmupRatio = assertNumber(TRAINER, 'warmupRatio', args.warmupRatio ?? 0.1, { min: 0, max: 1 });
  const warmupSteps = Math.ceil(warmupRatio * totalSteps);
  const shape = assertOneOf(TRAINER, 'schedule', args.schedule ?? 'cosine', [
    'cosine',
    'linear',
    'constant',
  ] as const);
  if (shape === 'cosine') return warmupCosineSchedule({ learningRate, warmupSteps, totalSteps });
  if (shape === 'linear') return warmupLinearSchedule({ learningRate, warmupSteps, totalSteps });
  return () => learningRate;
}

/**
 * The trainer's GANPO options; `learningRate` is the policy's peak. A ratio given is used as is; the
 * preset's ratio is lowered so that the critic peaks at most at the preset's cap for its kind.
 */
function resolveGanpo(
  options: TrainerGanpoOptions,
  learningRate: number,
): NonNullable<TrainerConfig['ganpo']> {
  const preset = presetDefaults(TRAINER, options.preset);
  const given =
    options.learningRateRatio === undefined
      ? undefined
      : assertNumber(TRAINER, 'ganpo.learningRateRatio', options.learningRateRatio, { greaterThan: 0 });
  const { learningRateRatio: _ratio, weightDecay, ...create } = options;
  return {
    create,
    learningRateRatio: (critic) =>
      given ?? Math.min(preset.learningRateRatio, preset.maxCriticLearningRate(critic) / learningRate),
    weightDecay: assertNumber(TRAINER, 'ganpo.weightDecay', weightDecay ?? 0.01, { min: 0 }),
    betas: { ...preset.criticBetas },
  };
}
