import { argumentError } from '../core/errors';
import { describeArgument } from '../core/instance';
import { assertKnownKeys } from '../core/options';
import { assertArgs, assertNumber, assertObject, assertOneOf } from '../core/validate';
import { MLPDiscriminator } from '../discriminators/mlp';
import type { Discriminator } from '../discriminators/types';
import { type LearningRateSchedule, warmupCosineSchedule, warmupLinearSchedule } from '../optim/schedules';
import { GanpoRegularizer, type GanpoRegularizerOptions } from '../regularizer/ganpo-regularizer';
import { type GanpoPreset, presetDefaults } from '../regularizer/preset';
import { SETTINGS_KEYS } from '../regularizer/types';
import type { CollateOptions } from './collate';
import type { CausalLM } from './forward';
import type { TrainerMetrics } from './metrics';
import { type PreferenceObjective, resolveObjective } from './objective';
import type { GanpoTrainerOptions, TrainerRegularizerOptions } from './options';
import { syncReference } from './sync-reference';

export type { GanpoTrainerOptions, TrainerRegularizerOptions } from './options';

/** Error context of the trainer's messages. */
export const TRAINER = 'GanpoTrainer';

/**
 * The trainer's critic learning rate per preset (see `TrainerRegularizerOptions.criticLearningRateRatio`):
 * ratio × the policy's rate, with the critic's peak capped at `maxPeak` (by critic kind): a faster
 * transformer critic runs away from the policy, a slower MLP critic stays at chance
 * (docs/troubleshooting.md, "The trainer's critic learning rate"); `'official'` is the official
 * code's half rate.
 */
const CRITIC_LEARNING_RATE: Record<GanpoPreset, { ratio: number; maxPeak: { mlp: number; other: number } }> =
  {
    recommended: { ratio: 2, maxPeak: { mlp: Number.POSITIVE_INFINITY, other: 2e-3 } },
    official: { ratio: 0.5, maxPeak: { mlp: Number.POSITIVE_INFINITY, other: Number.POSITIVE_INFINITY } },
  };

/** A critic-free latent regularizer of the trainer: `weight` × the anchor or the MMD term. @inline */
export interface LatentPenalty {
  kind: 'anchor' | 'mmd';
  weight: number;
}

/** The regularizer as the trainer runs it. */
export type TrainerRegularizer =
  | { kind: 'none' }
  /** A critic-free latent regularizer: λ·latentAnchorLoss or λ·latentMmdLoss. */
  | LatentPenalty
  /** A regularizer the user built: used as given (its optimizer unscheduled), not disposed. */
  | { kind: 'given'; regularizer: GanpoRegularizer }
  | {
      kind: 'build';
      /** What the trainer passes to `new GanpoRegularizer` (with the critic optimizer). */
      options: Omit<Extract<GanpoRegularizerOptions, { latentDim: number }>, 'optimizer'>;
      /** Critic learning rate ÷ policy learning rate (at every step), given the critic built. */
      learningRateRatio: (critic: Discriminator) => number;
      weightDecay: number;
      /** AdamW β1/β2 of the critic optimizer (from the preset). */
      betas: { beta1: number; beta2: number };
    };

/** {@link GanpoTrainerOptions} validated, with every default filled in. */
export interface TrainerConfig {
  policy: CausalLM;
  reference: CausalLM | 'copy' | 'initial' | undefined;
  latentDim: number;
  objective: PreferenceObjective;
  batchSize: number;
  gradientAccumulationSteps: number;
  totalSteps: number;
  /** Policy learning rate by step (warm-up + decay). */
  schedule: LearningRateSchedule;
  /** What `schedule` is: its shape, peak and warm-up steps (for the PyTorch handoff's config). */
  scheduleSpec: ScheduleSpec;
  maxGradNorm: number | null;
  seed: number;
  collate: CollateOptions;
  onStep?: (metrics: TrainerMetrics) => void;
  /** Policy AdamW weight decay. */
  weightDecay: number;
  /** Whether the policy's gradient pass runs without dropout (`training: false`). */
  disableDropout: boolean;
  /** TR-DPO's reference sync (α, every k steps), or `null` without `referenceSync`. */
  syncReference: { alpha: number; steps: number } | null;
  /** Batch size of `precomputeReference`. */
  precomputeRefBatchSize: number;
  regularizer: TrainerRegularizer;
}

const GROUPS = ['model', 'data', 'training', 'objective', 'referenceSync', 'regularizer', 'logging'];

/** A required option group: a plain object with only `keys`. */
function group<T extends object>(value: unknown, name: string, keys: readonly string[], expected: string): T {
  assertObject(TRAINER, name, value, expected);
  assertKnownKeys(TRAINER, value as object, keys, `${name}.`);
  return value as T;
}

/**
 * Validates the trainer's options (everything but building models and optimizers) and resolves
 * their defaults.
 *
 * @throws GanpoError `INVALID_ARGUMENT` / `INVALID_OPTION` naming the first bad option by its path
 *   (e.g. `training.learningRate`).
 */
export function resolveTrainerConfig(options: GanpoTrainerOptions): TrainerConfig {
  assertArgs(TRAINER, options, '{ model, data, training, ... }');
  assertKnownKeys(TRAINER, options, GROUPS);
  const model = group<GanpoTrainerOptions['model']>(
    options.model,
    'model',
    ['policy', 'reference', 'latentDim'],
    '{ policy, reference?, latentDim }',
  );
  const data = group<GanpoTrainerOptions['data']>(
    options.data,
    'data',
    ['collate', 'batchSize', 'precomputeRefBatchSize'],
    '{ collate, batchSize?, precomputeRefBatchSize? }',
  );
  const training = group<GanpoTrainerOptions['training']>(
    options.training,
    'training',
    [
      'learningRate',
      'totalSteps',
      'schedule',
      'warmupRatio',
      'weightDecay',
      'maxGradNorm',
      'gradientAccumulationSteps',
      'seed',
      'disableDropout',
    ],
    '{ learningRate, totalSteps, ... }',
  );
  const logging = group<NonNullable<GanpoTrainerOptions['logging']>>(
    options.logging ?? {},
    'logging',
    ['onStep'],
    '{ onStep? }',
  );
  assertModels(model);
  const latentDim = assertNumber(TRAINER, 'model.latentDim', model.latentDim, { min: 1, integer: true });
  const objective = resolveObjective(TRAINER, options.objective ?? { kind: 'dpo', beta: 0.1 });
  const learningRate = assertNumber(TRAINER, 'training.learningRate', training.learningRate, {
    greaterThan: 0,
  });
  const batchSize = assertNumber(TRAINER, 'data.batchSize', data.batchSize ?? 8, { min: 1, integer: true });
  const gradientAccumulationSteps = assertNumber(
    TRAINER,
    'training.gradientAccumulationSteps',
    training.gradientAccumulationSteps ?? 1,
    { min: 1, integer: true },
  );
  if (batchSize % gradientAccumulationSteps !== 0) {
    throw argumentError(
      'INVALID_OPTION',
      TRAINER,
      'training.gradientAccumulationSteps',
      `a divisor of data.batchSize ${batchSize}`,
      String(gradientAccumulationSteps),
    );
  }
  const totalSteps = assertNumber(TRAINER, 'training.totalSteps', training.totalSteps, {
    min: 1,
    integer: true,
  });
  const maxGradNorm =
    training.maxGradNorm === null
      ? null
      : assertNumber(TRAINER, 'training.maxGradNorm', training.maxGradNorm ?? 1.0, { greaterThan: 0 });
  const seed = assertNumber(TRAINER, 'training.seed', training.seed ?? 42, { integer: true });
  assertObject(TRAINER, 'data.collate', data.collate, '{ padTokenId, eosTokenId, ... }');
  if (logging.onStep !== undefined && typeof logging.onStep !== 'function') {
    throw argumentError('INVALID_OPTION', TRAINER, 'logging.onStep', 'a function', typeof logging.onStep);
  }
  return {
    policy: model.policy,
    reference: model.reference,
    latentDim,
    objective,
    batchSize,
    gradientAccumulationSteps,
    totalSteps,
    ...resolveSchedule(training, learningRate, totalSteps),
    maxGradNorm,
    seed,
    collate: data.collate,
    onStep: logging.onStep,
    weightDecay: assertNumber(TRAINER, 'training.weightDecay', training.weightDecay ?? 0, { min: 0 }),
    disableDropout: assertBoolean('training.disableDropout', training.disableDropout ?? true),
    syncReference: resolveSync(options.referenceSync, model),
    precomputeRefBatchSize: assertNumber(
      TRAINER,
      'data.precomputeRefBatchSize',
      data.precomputeRefBatchSize ?? batchSize,
      { min: 1, integer: true },
    ),
    regularizer: resolveRegularizer(options.regularizer, { learningRate, latentDim, seed }),
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
function resolveSync(
  sync: GanpoTrainerOptions['referenceSync'],
  model: GanpoTrainerOptions['model'],
): TrainerConfig['syncReference'] {
  if (sync === undefined) return null;
  group(sync, 'referenceSync', ['mixupAlpha', 'syncSteps'], '{ mixupAlpha?, syncSteps? }');
  const alpha = assertNumber(TRAINER, 'referenceSync.mixupAlpha', sync.mixupAlpha ?? 0.6, {
    greaterThan: 0,
    max: 1,
  });
  const steps = assertNumber(TRAINER, 'referenceSync.syncSteps', sync.syncSteps ?? 512, {
    min: 1,
    integer: true,
  });
  if (model.reference === undefined || model.reference === 'initial') {
    throw argumentError(
      'INVALID_OPTION',
      TRAINER,
      'referenceSync',
      "a reference model to sync (model.reference 'copy' or a CausalLM; 'initial' is a fixed snapshot)",
      model.reference === undefined ? 'no reference' : "model.reference 'initial'",
    );
  }
  if (model.reference !== 'copy') {
    // α = 0 checks the pairing and assigns nothing.
    syncReference(model.policy.trainableVariables, model.reference.trainableVariables, 0);
  }
  return { alpha, steps };
}

/** The policy and reference options: a CausalLM policy; a distinct reference, `'copy'`, `'initial'` or none. */
function assertModels(model: GanpoTrainerOptions['model']): void {
  const { policy, reference } = model;
  if (!policy || typeof policy.forward !== 'function' || !Array.isArray(policy.trainableVariables)) {
    throw argumentError(
      'INVALID_ARGUMENT',
      TRAINER,
      'model.policy',
      'a CausalLM { forward, trainableVariables }',
      typeof policy,
    );
  }
  if (policy.trainableVariables.length === 0) {
    throw argumentError(
      'INVALID_ARGUMENT',
      TRAINER,
      'model.policy',
      'a CausalLM with at least one trainable variable',
      'trainableVariables = []',
    );
  }
  if (reference === 'copy' && typeof policy.clone !== 'function') {
    throw argumentError(
      'INVALID_OPTION',
      TRAINER,
      'model.reference',
      "'copy' only for a policy with clone(); 'initial' (a weight snapshot) or a CausalLM otherwise",
      "'copy' with a policy that has no clone()",
    );
  }
  if (
    reference !== undefined &&
    reference !== 'copy' &&
    reference !== 'initial' &&
    typeof reference?.forward !== 'function'
  ) {
    throw argumentError(
      'INVALID_ARGUMENT',
      TRAINER,
      'model.reference',
      "a CausalLM, 'initial', 'copy' or undefined",
      typeof reference,
    );
  }
  if (reference === policy) {
    throw argumentError(
      'INVALID_ARGUMENT',
      TRAINER,
      'model.reference',
      'a frozen copy of the policy',
      'the policy itself',
    );
  }
}

/** The policy learning-rate schedule: warm-up, then cosine or linear decay, or constant. */
function resolveSchedule(
  training: GanpoTrainerOptions['training'],
  learningRate: number,
  totalSteps: number,
): { schedule: LearningRateSchedule; scheduleSpec: ScheduleSpec } {
  const warmupRatio = assertNumber(TRAINER, 'training.warmupRatio', training.warmupRatio ?? 0.1, {
    min: 0,
    max: 1,
  });
  const warmupSteps = Math.ceil(warmupRatio * totalSteps);
  const kind = assertOneOf(TRAINER, 'training.schedule', training.schedule ?? 'cosine', [
    'cosine',
    'linear',
    'constant',
  ] as const);
  const scheduleSpec = { kind, learningRate, warmupSteps };
  if (kind === 'cosine') {
    return { schedule: warmupCosineSchedule({ learningRate, warmupSteps, totalSteps }), scheduleSpec };
  }
  if (kind === 'linear') {
    return { schedule: warmupLinearSchedule({ learningRate, warmupSteps, totalSteps }), scheduleSpec };
  }
  return { schedule: () => learningRate, scheduleSpec: { ...scheduleSpec, warmupSteps: 0 } };
}

/** A resolved learning-rate schedule's parameters. */
export interface ScheduleSpec {
  kind: 'cosine' | 'linear' | 'constant';
  learningRate: number;
  warmupSteps: number;
}

/** The keys of the trainer's GANPO options. */
const GANPO_KEYS = [
  'kind',
  ...SETTINGS_KEYS.filter((k) => k !== 'optimizer'),
  'critic',
  'seed',
  'criticLearningRateRatio',
  'criticWeightDecay',
];

/**
 * The trainer's regularizer. For GANPO options, `learningRate` is the policy's peak: a critic ratio
 * given is used as is; the preset's ratio is lowered so that the critic peaks at most at the
 * preset's cap for its kind. The critics' seed defaults to the trainer's.
 */
function resolveRegularizer(
  value: GanpoTrainerOptions['regularizer'],
  context: { learningRate: number; latentDim: number; seed: number },
): TrainerRegularizer {
  if (value === false) return { kind: 'none' };
  if (value instanceof GanpoRegularizer) {
    if (value.latentDim !== context.latentDim) {
      throw argumentError(
        'SHAPE_MISMATCH',
        TRAINER,
        'regularizer',
        `a regularizer of latentDim ${context.latentDim} (model.latentDim)`,
        `latentDim ${value.latentDim}`,
      );
    }
    return { kind: 'given', regularizer: value };
  }
  const described = describeArgument(value, GanpoRegularizer);
  if (described.includes('another copy of ganpo')) {
    throw argumentError(
      'INVALID_ARGUMENT',
      TRAINER,
      'regularizer',
      'a GanpoRegularizer, options, or false',
      described,
    );
  }
  const options = (value ?? {}) as TrainerRegularizerOptions;
  assertObject(
    TRAINER,
    'regularizer',
    options,
    "GANPO options, { kind: 'anchor' | 'mmd', weight }, a GanpoRegularizer or false",
  );
  const kind = assertOneOf(TRAINER, 'regularizer.kind', options.kind ?? 'ganpo', [
    'ganpo',
    'anchor',
    'mmd',
  ] as const);
  if (kind !== 'ganpo') {
    assertKnownKeys(TRAINER, options, ['kind', 'weight'], 'regularizer.');
    const weight = (options as { weight?: unknown }).weight;
    return { kind, weight: assertNumber(TRAINER, 'regularizer.weight', weight, { min: 0 }) };
  }
  assertKnownKeys(TRAINER, options, GANPO_KEYS, 'regularizer.');
  const ganpo = options as Extract<TrainerRegularizerOptions, { kind?: 'ganpo' }>;
  const preset = presetDefaults(TRAINER, ganpo.preset);
  const rule = CRITIC_LEARNING_RATE[ganpo.preset ?? 'recommended'];
  const given =
    ganpo.criticLearningRateRatio === undefined
      ? undefined
      : assertNumber(TRAINER, 'regularizer.criticLearningRateRatio', ganpo.criticLearningRateRatio, {
          greaterThan: 0,
        });
  const { kind: _kind, criticLearningRateRatio: _ratio, criticWeightDecay, seed, ...settings } = ganpo;
  return {
    kind: 'build',
    // The trainer's seed is the critics' default unless the critic options carry their own.
    options: {
      ...settings,
      latentDim: context.latentDim,
      seed: seed ?? (hasOwnSeed(settings.critic) ? undefined : context.seed),
    },
    learningRateRatio: (critic) =>
      given ??
      Math.min(
        rule.ratio,
        (critic instanceof MLPDiscriminator ? rule.maxPeak.mlp : rule.maxPeak.other) / context.learningRate,
      ),
    weightDecay: assertNumber(TRAINER, 'regularizer.criticWeightDecay', criticWeightDecay ?? 0.01, {
      min: 0,
    }),
    betas: { beta1: preset.criticOptimizer.beta1, beta2: preset.criticOptimizer.beta2 },
  };
}

/** Whether critic options carry their own `seed` (which then seeds the critics instead of the trainer's). */
function hasOwnSeed(critic: unknown): boolean {
  return typeof critic === 'object' && critic !== null && (critic as { seed?: unknown }).seed !== undefined;
}
