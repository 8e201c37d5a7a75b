import { argumentError } from '../core/errors';
import { assertArgs, assertNumber } from '../core/validate';

/** A learning-rate schedule: optimizer step index (0-based) → learning rate. */
export type LearningRateSchedule = (step: number) => number;

/** Options of {@link warmupCosineSchedule}. @inline */
export interface WarmupCosineScheduleArgs {
  /** Peak learning rate (the optimizer's base lr in transformers). */
  learningRate: number;
  /** Linear warm-up steps from 0 to `learningRate`. Default 0. */
  warmupSteps?: number;
  /** Total training steps (the cosine reaches its end here). */
  totalSteps: number;
  /** Number of cosine waves over the decay phase. Default 0.5 (transformers: decay to 0 once). */
  numCycles?: number;
}

/** Options of {@link warmupLinearSchedule}. @inline */
export interface WarmupLinearScheduleArgs {
  learningRate: number;
  /** Default 0. */
  warmupSteps?: number;
  totalSteps: number;
}

function checkCommon(where: string, lr: number, warmup: number, total: number): void {
  assertNumber(where, 'learningRate', lr, { min: 0 });
  assertNumber(where, 'warmupSteps', warmup, { min: 0, integer: true });
  assertNumber(where, 'totalSteps', total, { min: 1, integer: true });
  if (warmup > total) {
    throw argumentError(
      'OUT_OF_RANGE',
      where,
      'warmupSteps',
      `at most totalSteps (${total})`,
      String(warmup),
    );
  }
}

function checkStep(where: string, step: number): void {
  assertNumber(where, 'step', step, { min: 0, integer: true });
}

/**
 * Linear warm-up then cosine decay, the formula of transformers' `get_cosine_schedule_with_warmup`:
 *
 *     step < warmup:  lr · step / max(1, warmup)
 *     else:           lr · max(0, ½(1 + cos(π · numCycles · 2 · progress))),
 *                     progress = (step − warmup) / max(1, total − warmup)
 *
 * Like transformers', it is not clamped at `totalSteps`: past the end the cosine rises again.
 * As with a PyTorch `LambdaLR`, the first optimizer step uses `schedule(0)` — 0 when there is a
 * warm-up — and the schedule is advanced after each step: set
 * `optimizer.learningRate = schedule(k)` before the k-th (0-based) update.
 *
 * @see transformers.optimization.get_cosine_schedule_with_warmup
 */
export function warmupCosineSchedule(args: WarmupCosineScheduleArgs): LearningRateSchedule {
  const where = 'warmupCosineSchedule';
  assertArgs(where, args, '{ learningRate, totalSteps, warmupSteps? }');
  const { learningRate, totalSteps } = args;
  const warmupSteps = args.warmupSteps ?? 0;
  const numCycles = args.numCycles ?? 0.5;
  checkCommon(where, learningRate, warmupSteps, totalSteps);
  assertNumber(where, 'numCycles', numCycles, { greaterThan: 0 });
  return (step: number): number => {
    checkStep(where, step);
    if (step < warmupSteps) return (learningRate * step) / Math.max(1, warmupSteps);
    const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    return learningRate * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * progress)));
  };
}

/**
 * Linear warm-up then linear decay to 0 at `totalSteps`, the formula of transformers'
 * `get_linear_schedule_with_warmup`:
 *
 *     step < warmup:  lr · step / max(1, warmup)
 *     else:           lr · max(0, (total − step) / max(1, total − warmup))
 *
 * Same stepping convention as {@link warmupCosineSchedule}.
 *
 * @see transformers.optimization.get_linear_schedule_with_warmup
 */
export function warmupLinearSchedule(args: WarmupLinearScheduleArgs): LearningRateSchedule {
  const where = 'warmupLinearSchedule';
  assertArgs(where, args, '{ learningRate, totalSteps, warmupSteps? }');
  const { learningRate, totalSteps } = args;
  const warmupSteps = args.warmupSteps ?? 0;
  checkCommon(where, learningRate, warmupSteps, totalSteps);
  return (step: number): number => {
    checkStep(where, step);
    if (step < warmupSteps) return (learningRate * step) / Math.max(1, warmupSteps);
    return learningRate * Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  };
}
