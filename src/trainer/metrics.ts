import { chanceLevel, type GanLoss } from '../divergence/gan-loss';
import type { GanpoDiagnostics, GanpoRegularizer } from '../regularizer/ganpo-regularizer';

/** The two critic losses of a discriminator step. */
export type DiscriminatorLosses = { lossChosen: number; lossRejected: number };

/** Metrics of one step, with TRL's keys plus GANPO's. */
export interface TrainerMetrics {
  step: number;
  /** True when the step was skipped by the non-finite guard (nothing changed). */
  skipped: boolean;
  loss: number;
  'rewards/chosen': number;
  'rewards/rejected': number;
  'rewards/accuracies': number;
  'rewards/margins': number;
  'logps/chosen': number;
  'logps/rejected': number;
  'logits/chosen': number;
  'logits/rejected': number;
  learning_rate: number;
  grad_norm: number;
  /**
   * The regularizer's term before its weight λ (GANPO's adversarial loss, or the latent anchor);
   * the total `loss` is L_pref + λ·this.
   */
  'ganpo/regularizer_loss'?: number;
  'ganpo/discriminator_loss_chosen'?: number;
  'ganpo/discriminator_loss_rejected'?: number;
  /** Monitoring estimate of D_Ra: 2·(chance-level loss − discriminator loss), mean over both. */
  'ganpo/divergence'?: number;
  /** Share of chosen pairs with D_w(reference) > D_w(policy) on the step's batch; 0.5 = chance. */
  'ganpo/critic_accuracy_chosen'?: number;
  /** Share of rejected pairs with D_l(reference) > D_l(policy); 0.5 = chance. */
  'ganpo/critic_accuracy_rejected'?: number;
  /** Σ‖h_θ − h_ref‖² / Σ‖h_ref‖² over the step's latents (see `GanpoDiagnostics.drift`). */
  'ganpo/drift'?: number;
}

/**
 * The per-micro-batch statistics of a step, in the order the step stacks them into one tensor (one
 * read-back per micro-batch).
 */
export const STEP_STATISTICS = [
  'preferenceLoss',
  'chosenReward',
  'rejectedReward',
  'accuracy',
  'chosenLogp',
  'rejectedLogp',
  'chosenLogit',
  'rejectedLogit',
  'regularizerLoss',
] as const;

/** One micro-batch's (or the step's mean) statistics by name; see {@link STEP_STATISTICS}. */
export type StepStatistics = Record<(typeof STEP_STATISTICS)[number], number>;

/** Names the values of a stacked statistics vector (ordered as {@link STEP_STATISTICS}). */
export function namedStatistics(values: ArrayLike<number>): StepStatistics {
  const out = {} as StepStatistics;
  STEP_STATISTICS.forEach((key, i) => {
    out[key] = values[i] as number;
  });
  return out;
}

/** The mean of each statistic over micro-batches (in order, as plain doubles). */
export function meanStatistics(perMicroBatch: readonly StepStatistics[]): StepStatistics {
  const out = {} as StepStatistics;
  for (const key of STEP_STATISTICS) {
    out[key] = perMicroBatch.reduce((sum, s) => sum + s[key], 0) / perMicroBatch.length;
  }
  return out;
}

/** The GANPO part of the metrics: nothing without a GANPO regularizer or a discriminator step. */
export function ganpoMetrics(
  ganLoss: GanLoss | null,
  discriminator: DiscriminatorLosses | null,
  regularizerLoss: number,
  diagnostics: GanpoDiagnostics | null = null,
): Partial<TrainerMetrics> {
  if (ganLoss === null || !discriminator) return {};
  const chance = chanceLevel(ganLoss);
  return {
    'ganpo/regularizer_loss': regularizerLoss,
    'ganpo/discriminator_loss_chosen': discriminator.lossChosen,
    'ganpo/discriminator_loss_rejected': discriminator.lossRejected,
    'ganpo/divergence': chance * 2 - (discriminator.lossChosen + discriminator.lossRejected),
    ...(diagnostics
      ? {
          'ganpo/critic_accuracy_chosen': diagnostics.criticAccuracy.chosen,
          'ganpo/critic_accuracy_rejected': diagnostics.criticAccuracy.rejected,
          'ganpo/drift': diagnostics.drift,
        }
      : {}),
  };
}

/** The metrics of a skipped step: NaN everywhere but the step count and the learning rate. */
export function skippedMetrics(step: number, learningRate: number): TrainerMetrics {
  const nan = Number.NaN;
  return {
    step,
    skipped: true,
    loss: nan,
    'rewards/chosen': nan,
    'rewards/rejected': nan,
    'rewards/accuracies': nan,
    'rewards/margins': nan,
    'logps/chosen': nan,
    'logps/rejected': nan,
    'logits/chosen': nan,
    'logits/rejected': nan,
    learning_rate: learningRate,
    grad_norm: nan,
  };
}

/**
 * The metrics of an applied step from its mean statistics. `loss` is the total objective
 * L_pref + λ·L_reg (λ = `regularizerWeight`, `null` without a regularizer).
 */
export function appliedMetrics(args: {
  step: number;
  learningRate: number;
  gradNorm: number;
  statistics: StepStatistics;
  regularizerWeight: number | null;
  ganLoss: GanLoss | null;
  discriminator: DiscriminatorLosses | null;
  diagnostics?: GanpoDiagnostics | null;
}): TrainerMetrics {
  const s = args.statistics;
  return {
    step: args.step,
    skipped: false,
    loss:
      s.preferenceLoss + (args.regularizerWeight !== null ? args.regularizerWeight * s.regularizerLoss : 0),
    'rewards/chosen': s.chosenReward,
    'rewards/rejected': s.rejectedReward,
    'rewards/accuracies': s.accuracy,
    'rewards/margins': s.chosenReward - s.rejectedReward,
    'logps/chosen': s.chosenLogp,
    'logps/rejected': s.rejectedLogp,
    'logits/chosen': s.chosenLogit,
    'logits/rejected': s.rejectedLogit,
    learning_rate: args.learningRate,
    grad_norm: args.gradNorm,
    ...(args.regularizerWeight !== null ? { 'ganpo/regularizer_loss': s.regularizerLoss } : {}),
    ...ganpoMetrics(args.ganLoss, args.discriminator, s.regularizerLoss, args.diagnostics ?? null),
  };
}

/**
 * The metrics of a step the trainer ran: skipped (NaN, plus the critics' losses when their step ran)
 * or applied. Tells a GANPO regularizer the step's losses (its "adversarial term dominates" watch).
 */
export function stepMetrics(
  outcome: {
    applied: boolean;
    statistics: StepStatistics | null;
    gradNorm: number;
    discriminator: DiscriminatorLosses | null;
  },
  context: {
    step: number;
    learningRate: number;
    regularizer: GanpoRegularizer | null;
    latentPenalty: { weight: number } | null;
  },
): TrainerMetrics {
  const { regularizer } = context;
  const ganLoss = regularizer ? regularizer.ganLoss : null;
  const diagnostics = regularizer?.diagnostics ?? null;
  if (!outcome.applied || outcome.statistics === null) {
    return {
      ...skippedMetrics(context.step, context.learningRate),
      ...ganpoMetrics(ganLoss, outcome.discriminator, Number.NaN, diagnostics),
    };
  }
  regularizer?.observeLosses(outcome.statistics.preferenceLoss, outcome.statistics.regularizerLoss);
  return appliedMetrics({
    step: context.step,
    learningRate: context.learningRate,
    gradNorm: outcome.gradNorm,
    statistics: outcome.statistics,
    regularizerWeight: regularizer ? regularizer.weight : (context.latentPenalty?.weight ?? null),
    ganLoss,
    discriminator: outcome.discriminator,
    diagnostics,
  });
}
