import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { withSharedClones } from '../ops/wasm/shared-clone';
import { AdamW } from '../optim/adamw';
import { GanpoRegularizer } from '../regularizer/ganpo-regularizer';
import { loadCheckpoint, saveCheckpoint, type TrainerCheckpoint } from './checkpoint';
import {
  type CollateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  type PreferencePair,
} from './collate';
import { type GanpoTrainerArgs, resolveTrainerConfig, TRAINER, type TrainerConfig } from './config';
import { evaluatePreference } from './evaluate';
import type { CausalLM } from './forward';
import { initialReference } from './initial-reference';
import { appliedMetrics, ganpoMetrics, skippedMetrics, type TrainerMetrics } from './metrics';
import { trainingSummary } from './notices';
import type { PreferenceObjective } from './objective';
import { precomputeReference, type ReferenceEntry, validateReferenceCache } from './reference';
import { BatchSampler } from './sampler';
import { runTrainStep, type StepOutcome } from './step';
import { syncReference } from './sync-reference';

export type { TrainerCheckpoint } from './checkpoint';
export type { GanpoTrainerArgs, TrainerGanpoOptions } from './config';
export type { CausalLM } from './forward';
export type { TrainerMetrics } from './metrics';
export type {
  DpoObjectiveOptions,
  LegacyPreferenceObjective,
  OrpoObjectiveOptions,
  PreferenceObjective,
  SimpoObjectiveOptions,
} from './objective';
export type { ReferenceEntry } from './reference';

/**
 * A preference-optimization trainer for tfjs causal LMs: DPO family, SimPO or ORPO, with or without
 * the GANPO latent adversarial regularizer, AdamW with warm-up + cosine/linear schedule, gradient
 * accumulation, global-norm clipping, a non-finite guard, TRL's metric keys and exact resume.
 *
 * One optimizer step (GANPO on), in the official order:
 * 1. collate the batch; reference log-probs and latents (live model, or the precomputed cache);
 * 2. the policy forward (inside `tf.variableGrads`) gives the policy latents and the finiteness
 *    check, before anything changes;
 * 3. one discriminator step on the whole batch's detached latents (its own gradient pass, with the
 *    policy's tape paused), then
 * 4. the gradient of preference + λ·adversarial with the updated discriminators;
 * 5. clip, schedule, AdamW step.
 * With gradient accumulation (k > 1 micro-batches) steps 2-3 use a no-grad policy forward of the
 * whole batch instead, then step 4 runs per micro-batch on (preference + λ·adversarial)/k, summed.
 *
 * @example
 * ```ts
 * const trainer = new GanpoTrainer({ policy, reference: policy.clone(), hiddenSize: 64,
 *   collate: { padTokenId: 0, eosTokenId: 2, maxLength: 64 }, learningRate: 1e-3, totalSteps: 200 });
 * await trainer.train(pairs);
 * ```
 */
export class GanpoTrainer {
  readonly policy: CausalLM;
  readonly reference?: CausalLM;
  private readonly ownsReference: boolean;
  readonly regularizer: GanpoRegularizer | null;
  readonly objective: PreferenceObjective;
  readonly optimizer: AdamW;
  readonly batchSize: number;
  readonly gradientAccumulationSteps: number;
  readonly totalSteps: number;
  private readonly config: TrainerConfig;
  private readonly discriminatorLearningRateRatio: number;
  private cache: ReferenceEntry[] | null = null;
  private sampler: BatchSampler | null = null;
  private steps = 0;
  private disposed = false;

  /** Validates `args` and builds the optimizers (and the regularizer unless `ganpo: false`); see {@link GanpoTrainerArgs}. */
  constructor(args: GanpoTrainerArgs) {
    const config = resolveTrainerConfig(args);
    this.config = config;
    this.policy = config.policy;
    this.objective = config.objective;
    this.batchSize = config.batchSize;
    this.gradientAccumulationSteps = config.gradientAccumulationSteps;
    this.totalSteps = config.totalSteps;
    this.optimizer = new AdamW({ learningRate: config.schedule(0), weightDecay: config.weightDecay });
    if (config.ganpo === null) {
      this.regularizer = null;
      this.discriminatorLearningRateRatio = 0;
    } else {
      // The learning rate is set once the critics exist: its default depends on their kind.
      const criticOptimizer = new AdamW({
        learningRate: 0,
        weightDecay: config.ganpo.weightDecay,
        ...config.ganpo.betas,
      });
      this.regularizer = GanpoRegularizer.create({
        ...config.ganpo.create,
        inputDim: config.hiddenSize,
        optimizer: criticOptimizer,
      });
      this.discriminatorLearningRateRatio = config.ganpo.learningRateRatio(
        this.regularizer.discriminators.chosen,
      );
      criticOptimizer.learningRate = config.schedule(0) * this.discriminatorLearningRateRatio;
    }
    // Last, so that a refused constructor leaves no copy behind.
    this.ownsReference = args.reference === 'copy' || args.reference === 'initial';
    this.reference =
      args.reference === 'copy'
        ? (args.policy.clone as () => CausalLM)()
        : args.reference === 'initial'
          ? initialReference(args.policy, TRAINER)
          : args.reference;
    config.log?.(trainingSummary(config, this.regularizer, args.reference));
  }

  /** Optimizer steps taken so far. */
  get step(): number {
    return this.steps;
  }

  private get collateOptions(): CollateOptions {
    return this.config.collate;
  }

  /**
   * Runs the reference model once over `pairs` and caches its summed log-probs (and, with GANPO,
   * its latents) by pair index, so that {@link train} needs no reference model in memory. Cached
   * and live references give the same steps (the model is causal and inputs are right-padded).
   * `batchSize` pairs per forward, default `precomputeRefBatchSize`. Refused with `syncRefModel`.
   */
  precomputeReference(
    pairs: readonly PreferencePair[],
    batchSize = this.config.precomputeRefBatchSize,
  ): ReferenceEntry[] {
    this.assertLive('precomputeReference');
    this.refuseCacheWithSync('precomputeReference');
    if (!this.reference) {
      throw new GanpoError(
        'INVALID_STATE',
        `${TRAINER}.precomputeReference: no reference model was given to the trainer`,
      );
    }
    return precomputeReference(this.reference, pairs, {
      batchSize,
      collate: this.collateOptions,
      hiddenSize: this.config.hiddenSize,
      withLatents: this.regularizer !== null,
    });
  }

  /**
   * Uses a cache from {@link precomputeReference} (indexed like the training pairs), e.g. read back
   * with `referenceCacheFromBytes`. Checked whole before it replaces the current cache: finite
   * log-probs, positive integer lengths, and with GANPO latents of exactly length × hiddenSize
   * values on both sides (a cache made for another hidden size is refused).
   */
  setReferenceCache(entries: ReferenceEntry[] | null): void {
    this.assertLive('setReferenceCache');
    if (entries !== null) {
      this.refuseCacheWithSync('setReferenceCache');
      validateReferenceCache(`${TRAINER}.setReferenceCache`, entries, {
        hiddenSize: this.config.hiddenSize,
        withLatents: this.regularizer !== null,
      });
    }
    this.cache = entries;
  }

  /**
   * A precomputed reference is stale after the first TR-DPO sync, so it is refused with
   * `syncRefModel` (as TRL refuses `precompute_ref_log_probs` with `sync_ref_model`).
   */
  private refuseCacheWithSync(method: string): void {
    if (this.config.syncReference !== null) {
      throw new GanpoError(
        'INVALID_STATE',
        `${TRAINER}.${method}: a precomputed reference cannot follow the reference updates of syncRefModel (TR-DPO); train with the live reference`,
      );
    }
  }

  /**
   * One optimizer step on `pairs` (`batchSize` of them). `indices` are the pairs' positions in the
   * training set, needed only with a precomputed reference cache.
   *
   * Non-finite guard: when the policy's or the reference's log-probs or latents on this batch are
   * not finite, the step is skipped and nothing changes (weights, optimizer states, means, step
   * count of the schedule); when the policy gradient is not finite after the discriminator step, the
   * policy update is skipped (the discriminators have moved). Both are reported as `skipped: true`.
   */
  trainStep(pairs: readonly PreferencePair[], indices?: readonly number[]): TrainerMetrics {
    const where = `${TRAINER}.trainStep`;
    this.assertLive('trainStep');
    if (!Array.isArray(pairs) || pairs.length !== this.batchSize) {
      throw argumentError(
        'SHAPE_MISMATCH',
        where,
        'pairs',
        `${this.batchSize} pairs (batchSize)`,
        Array.isArray(pairs) ? `${pairs.length}` : typeof pairs,
      );
    }
    if (this.cache && (!indices || indices.length !== pairs.length)) {
      throw argumentError(
        'INVALID_ARGUMENT',
        where,
        'indices',
        `${pairs.length} indices into the reference cache`,
        String(indices?.length),
      );
    }
    if (!this.cache && !this.reference && this.objective.kind === 'dpo') {
      throw new GanpoError(
        'INVALID_STATE',
        `${where}: DPO needs a reference model or a precomputed reference cache`,
      );
    }
    // The learning rates are set only once the step is known to go ahead (a skipped step changes
    // nothing, optimizer hyper-parameters included).
    const learningRate = this.config.schedule(this.steps);
    const batch = collatePreferencePairs(pairs, this.collateOptions);
    const keep: tf.Tensor[] = [];
    try {
      // On wasm the step's saved tensors share their buffers instead of being copied (see
      // withSharedClones); elsewhere this is a plain call.
      const outcome = withSharedClones(() =>
        runTrainStep(
          {
            policy: this.policy,
            reference: this.reference,
            regularizer: this.regularizer,
            objective: this.objective,
            optimizer: this.optimizer,
            batchSize: this.batchSize,
            gradientAccumulationSteps: this.gradientAccumulationSteps,
            maxGradNorm: this.config.maxGradNorm,
            hiddenSize: this.config.hiddenSize,
            discriminatorLearningRateRatio: this.discriminatorLearningRateRatio,
            referenceCache: this.cache,
            policyTraining: !this.config.disableDropout,
            where: TRAINER,
          },
          batch,
          indices,
          learningRate,
          keep,
        ),
      );
      if (outcome.applied) {
        this.steps += 1;
        this.syncReferenceIfDue();
      }
      return this.report(this.metricsOf(outcome, learningRate));
    } catch (e) {
      // Value validation (level 'full') rejects non-finite logits/latents before anything changed.
      if (e instanceof GanpoError && e.code === 'NON_FINITE') {
        return this.report(skippedMetrics(this.steps, learningRate));
      }
      throw e;
    } finally {
      tf.dispose(keep);
      disposePreferenceBatch(batch);
    }
  }

  /**
   * TR-DPO: after every k-th applied optimizer step (TRL's `global_step % ref_model_sync_steps == 0`
   * in `SyncRefModelCallback.on_step_end`), θ_ref ← α·θ + (1 − α)·θ_ref. The next steps' reference
   * log-probs and GANPO reference latents come from the synced model.
   */
  private syncReferenceIfDue(): void {
    const sync = this.config.syncReference;
    if (sync === null || this.steps % sync.steps !== 0) return;
    syncReference(
      this.policy.trainableVariables,
      (this.reference as CausalLM).trainableVariables,
      sync.alpha,
    );
  }

  private metricsOf(outcome: StepOutcome, learningRate: number): TrainerMetrics {
    const ganLoss = this.regularizer ? this.regularizer.ganLoss : null;
    if (!outcome.applied || outcome.statistics === null) {
      return {
        ...skippedMetrics(this.steps, learningRate),
        ...ganpoMetrics(ganLoss, outcome.discriminator, Number.NaN, this.regularizer?.diagnostics ?? null),
      };
    }
    if (this.regularizer) {
      this.regularizer.observeLosses(outcome.statistics.preferenceLoss, outcome.statistics.adversarialLoss);
    }
    return appliedMetrics({
      step: this.steps,
      learningRate,
      gradNorm: outcome.gradNorm,
      statistics: outcome.statistics,
      adversarialWeight: this.regularizer ? this.regularizer.weight : null,
      ganLoss,
      discriminator: outcome.discriminator,
      diagnostics: this.regularizer?.diagnostics ?? null,
    });
  }

  private report(metrics: TrainerMetrics): TrainerMetrics {
    this.config.onStep?.(metrics);
    return metrics;
  }

  /**
   * Trains on `pairs` until `totalSteps` optimizer steps are done (or `steps` more), drawing
   * batches with a seeded shuffling sampler (its position is part of the checkpoint). Yields to the
   * event loop between steps so progress bars and UIs stay live.
   */
  async train(pairs: readonly PreferencePair[], options: { steps?: number } = {}): Promise<TrainerMetrics[]> {
    const where = `${TRAINER}.train`;
    this.assertLive('train');
    if (!Array.isArray(pairs) || pairs.length < this.batchSize) {
      throw argumentError(
        'SHAPE_MISMATCH',
        where,
        'pairs',
        `at least batchSize = ${this.batchSize} pairs`,
        Array.isArray(pairs) ? String(pairs.length) : typeof pairs,
      );
    }
    if (this.sampler === null) {
      this.sampler = new BatchSampler({
        datasetSize: pairs.length,
        batchSize: this.batchSize,
        seed: this.config.seed,
        dropLast: true,
      });
    }
    const target = Math.min(this.totalSteps, this.steps + (options.steps ?? this.totalSteps));
    const history: TrainerMetrics[] = [];
    while (this.steps < target) {
      const { indices } = this.sampler.next();
      const metrics = this.trainStep(
        indices.map((i) => pairs[i] as PreferencePair),
        indices,
      );
      history.push(metrics);
      if (metrics.skipped && history.length > 3 * this.totalSteps) break;
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
    return history;
  }

  /**
   * Preference metrics on held-out pairs (no update): mean loss and TRL's reward metrics
   * (`eval_loss`, `eval_rewards/*`, `eval_logps/*`).
   */
  evaluate(pairs: readonly PreferencePair[], batchSize = this.batchSize): Record<string, number> {
    this.assertLive('evaluate');
    return evaluatePreference(
      {
        policy: this.policy,
        reference: this.reference,
        objective: this.objective,
        collate: this.collateOptions,
      },
      pairs,
      batchSize,
    );
  }

  /** The reference's variables when TR-DPO moves them (they belong in checkpoints then). */
  private get syncedReferenceVariables(): tf.Variable[] | undefined {
    return this.config.syncReference !== null ? this.reference?.trainableVariables : undefined;
  }

  /**
   * The whole training state as plain JSON: policy weights, policy and discriminator optimizer
   * states, the regularizer (discriminators, u/v, means), schedule position and data order, and the
   * reference weights with `syncRefModel`.
   * {@link restore} into a trainer built with the same arguments continues exactly.
   */
  checkpoint(): TrainerCheckpoint {
    this.assertLive('checkpoint');
    return saveCheckpoint({
      variables: this.policy.trainableVariables,
      referenceVariables: this.syncedReferenceVariables,
      optimizer: this.optimizer,
      regularizer: this.regularizer,
      sampler: this.sampler,
      step: this.steps,
    });
  }

  /**
   * Restores a {@link GanpoTrainer.checkpoint}. All or nothing: the whole checkpoint is checked
   * (format, step count, policy weights, sampler, optimizer, regularizer; values at level `'full'`)
   * before anything is applied, so a refused restore leaves the trainer exactly as it was.
   *
   * @throws GanpoError `INVALID_FORMAT`, `STATE_DICT_MISMATCH`, `OUT_OF_RANGE`, `NON_FINITE`.
   */
  restore(checkpoint: TrainerCheckpoint): void {
    this.assertLive('restore');
    const { sampler, step } = loadCheckpoint(`${TRAINER}.restore`, checkpoint, {
      variables: this.policy.trainableVariables,
      referenceVariables: this.syncedReferenceVariables,
      optimizer: this.optimizer,
      regularizer: this.regularizer,
      batchSize: this.batchSize,
    });
    this.sampler = sampler;
    this.steps = step;
  }

  /** True once {@link dispose} has run. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertLive(where: string): void {
    if (this.disposed) {
      throw new GanpoError('DISPOSED', `${TRAINER}.${where}: the trainer was disposed`, {
        argument: 'this',
        expected: 'a live trainer',
        received: 'a disposed one',
      });
    }
  }

  /**
   * Frees the regularizer, the optimizers and a reference copy the trainer made (never the user's
   * models). Idempotent; every other method then throws `GanpoError('DISPOSED')`.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer.dispose();
    this.regularizer?.dispose();
    if (this.ownsReference) this.reference?.dispose?.();
  }
}
