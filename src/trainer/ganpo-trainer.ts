import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { brandClass } from '../core/instance';
import { log } from '../core/log';
import { strictOption } from '../discriminators/state-dict';
import { withLeanGradients } from '../ops/lean-gradients';
import { registerWasmTrainingKernels } from '../ops/wasm-training-kernels';
import type { AdamW } from '../optim/adamw';
import type { GanpoRegularizer } from '../regularizer/ganpo-regularizer';
import { buildTrainerParts } from './build';
import {
  type CollateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  type PreferencePair,
} from './collate';
import {
  type GanpoTrainerOptions,
  type LatentPenalty,
  resolveTrainerConfig,
  TRAINER,
  type TrainerConfig,
} from './config';
import { evaluatePreference } from './evaluate';
import type { CausalLM } from './forward';
import { skippedMetrics, stepMetrics, type TrainerMetrics } from './metrics';
import { trainingSummary } from './notices';
import type { PreferenceObjective } from './objective';
import { precomputeReference, type ReferenceEntry, validateReferenceCache } from './reference';
import { BatchSampler } from './sampler';
import { runTrainStep, type StepOutcome } from './step';
import { checkStepInputs } from './step-inputs';
import { syncReference } from './sync-reference';
import { loadTrainerState, saveTrainerState, type TrainerState } from './trainer-state';

export type { GanpoTrainerOptions, TrainerRegularizerOptions } from './config';
export type { CausalLM } from './forward';
export type { TrainerMetrics } from './metrics';
export type {
  DpoObjectiveOptions,
  OrpoObjectiveOptions,
  PreferenceObjective,
  SimpoObjectiveOptions,
} from './objective';
export type { ReferenceEntry } from './reference';
export type { TrainerState } from './trainer-state';

/** What library modules (the PyTorch handoff) read of a trainer beyond its public members. */
export interface TrainerInternals {
  config: TrainerConfig;
  /** Critic learning rate ÷ policy learning rate; `null` when the trainer does not schedule the critics. */
  criticLearningRateRatio: number | null;
}

const internals = new WeakMap<GanpoTrainer, TrainerInternals>();

/** The resolved configuration of a trainer (library-internal). */
export function trainerInternals(trainer: GanpoTrainer): TrainerInternals | undefined {
  return internals.get(trainer);
}

/**
 * A preference-optimization trainer for tfjs causal LMs: DPO family, SimPO or ORPO, with or without
 * the GANPO latent adversarial regularizer, AdamW with warm-up + cosine/linear schedule, gradient
 * accumulation, global-norm clipping, a non-finite guard, TRL's metric keys and exact resume.
 *
 * One optimizer step (GANPO, the default regularizer), in the official order:
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
 * With `regularizer: { kind: 'anchor', weight }` (or `'mmd'`) step 4 adds λ·latentAnchorLoss
 * (λ·latentMmdLoss) instead and there is no discriminator step; with `regularizer: false` only the preference loss trains.
 *
 * @example
 * ```ts
 * const trainer = new GanpoTrainer({
 *   model: { policy, reference: 'copy', latentDim: 64 },
 *   data: { collate: { padTokenId: 0, eosTokenId: 2, maxLength: 64 } },
 *   training: { learningRate: 1e-3, totalSteps: 200 },
 * });
 * await trainer.train(pairs);
 * ```
 */
export class GanpoTrainer {
  /** The model being trained. */
  readonly policy: CausalLM;
  /** The frozen reference model (undefined with a precomputed reference only). */
  readonly reference?: CausalLM;
  private readonly ownsReference: boolean;
  /** The GANPO regularizer (built by the trainer or given), `null` with the anchor or without one. */
  readonly regularizer: GanpoRegularizer | null;
  private readonly ownsRegularizer: boolean;
  /** The critic-free latent regularizer (`regularizer: { kind: 'anchor' | 'mmd', weight }`), else `null`. */
  readonly latentPenalty: Readonly<LatentPenalty> | null;
  /** The preference loss. */
  readonly objective: PreferenceObjective;
  /** The policy's AdamW. */
  readonly optimizer: AdamW;
  /** Pairs per optimizer step. */
  readonly batchSize: number;
  /** Micro-batches per optimizer step. */
  readonly gradientAccumulationSteps: number;
  /** The schedule's length in optimizer steps. */
  readonly totalSteps: number;
  private readonly config: TrainerConfig;
  /** Critic learning rate ÷ policy learning rate; `null` when the trainer does not schedule the critics. */
  private readonly discriminatorLearningRateRatio: number | null;
  private cache: ReferenceEntry[] | null = null;
  private sampler: BatchSampler | null = null;
  private steps = 0;
  private disposed = false;
  /**
   * Whether the summary of what is trained was sent. It goes out at the first step: a trainer built
   * only to precompute a reference cache or to evaluate trains nothing and says nothing.
   */
  private announced = false;

  /**
   * Validates `options` and builds the optimizers (and the GANPO regularizer when it is given as
   * options); see {@link GanpoTrainerOptions}. The first training step sends a one-line summary of
   * what it trains to the library's logger (`setLogger`).
   */
  constructor(options: GanpoTrainerOptions) {
    const config = resolveTrainerConfig(options);
    // Kernels tfjs-backend-wasm lacks for training (the Embedding's gradient); a no-op elsewhere.
    registerWasmTrainingKernels();
    this.config = config;
    this.policy = config.policy;
    this.objective = config.objective;
    this.batchSize = config.batchSize;
    this.gradientAccumulationSteps = config.gradientAccumulationSteps;
    this.totalSteps = config.totalSteps;
    const parts = buildTrainerParts(config);
    this.optimizer = parts.optimizer;
    this.regularizer = parts.regularizer;
    this.ownsRegularizer = parts.ownsRegularizer;
    this.latentPenalty = parts.latentPenalty;
    this.discriminatorLearningRateRatio = parts.discriminatorLearningRateRatio;
    this.reference = parts.reference;
    this.ownsReference = parts.ownsReference;
    internals.set(this, { config, criticLearningRateRatio: this.discriminatorLearningRateRatio });
  }

  /** Whether the step needs the reference latents (any latent regularizer). */
  private get withLatents(): boolean {
    return this.regularizer !== null || this.latentPenalty !== null;
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
   * `batchSize` pairs per forward, default `data.precomputeRefBatchSize`. Refused with
   * `referenceSync`.
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
      latentDim: this.config.latentDim,
      withLatents: this.withLatents,
    });
  }

  /**
   * Uses a cache from {@link precomputeReference} (indexed like the training pairs), e.g. read back
   * with `referenceCacheFromBytes`. Checked whole before it replaces the current cache: finite
   * log-probs, positive integer lengths, and with a latent regularizer latents of exactly length ×
   * `model.latentDim` values on both sides (a cache made for another width is refused).
   */
  setReferenceCache(entries: ReferenceEntry[] | null): void {
    this.assertLive('setReferenceCache');
    if (entries !== null) {
      this.refuseCacheWithSync('setReferenceCache');
      validateReferenceCache(`${TRAINER}.setReferenceCache`, entries, {
        latentDim: this.config.latentDim,
        withLatents: this.withLatents,
      });
    }
    this.cache = entries;
  }

  /**
   * A precomputed reference is stale after the first TR-DPO sync, so it is refused with
   * `referenceSync` (as TRL refuses `precompute_ref_log_probs` with `sync_ref_model`).
   */
  private refuseCacheWithSync(method: string): void {
    if (this.config.syncReference !== null) {
      throw new GanpoError(
        'INVALID_STATE',
        `${TRAINER}.${method}: a precomputed reference cannot follow the reference updates of referenceSync (TR-DPO); train with the live reference`,
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
    this.assertLive('trainStep');
    checkStepInputs(`${TRAINER}.trainStep`, pairs, indices, {
      batchSize: this.batchSize,
      cached: this.cache !== null,
      needsReference: !this.reference && this.objective.kind === 'dpo',
    });
    // The learning rates are set only once the step is known to go ahead (a skipped step changes
    // nothing, optimizer hyper-parameters included).
    const learningRate = this.config.schedule(this.steps);
    if (!this.announced) {
      this.announced = true;
      log('info', trainingSummary(this.config, this.regularizer, this.config.reference));
    }
    const batch = collatePreferencePairs(pairs, this.collateOptions);
    const keep: tf.Tensor[] = [];
    try {
      // Backward passes free saved tensors and gradients as they go, and on wasm saved tensors share
      // their buffers instead of being copied (see withLeanGradients).
      const outcome = withLeanGradients(() =>
        runTrainStep(
          {
            policy: this.policy,
            reference: this.reference,
            regularizer: this.regularizer,
            latentPenalty: this.latentPenalty,
            objective: this.objective,
            optimizer: this.optimizer,
            batchSize: this.batchSize,
            gradientAccumulationSteps: this.gradientAccumulationSteps,
            maxGradNorm: this.config.maxGradNorm,
            latentDim: this.config.latentDim,
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
    return stepMetrics(outcome, {
      step: this.steps,
      learningRate,
      regularizer: this.regularizer,
      latentPenalty: this.latentPenalty,
    });
  }

  private report(metrics: TrainerMetrics): TrainerMetrics {
    this.config.onStep?.(metrics);
    return metrics;
  }

  /**
   * Trains on `pairs` until `totalSteps` optimizer steps are done (or `steps` more), drawing
   * batches with a sampler shuffled by `training.seed` (its position is part of the state). Yields to the
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

  /** The reference's variables when TR-DPO moves them (they belong in the state then). */
  private get syncedReferenceVariables(): tf.Variable[] | undefined {
    return this.config.syncReference !== null ? this.reference?.trainableVariables : undefined;
  }

  /**
   * The whole training state as plain JSON, the trainer's `state_dict`: policy weights, policy and
   * critic optimizer states, the regularizer (discriminators, u/v, means), schedule position and
   * data order, and the reference weights with `referenceSync`. {@link loadStateDict} into a
   * trainer built with the same options continues exactly.
   */
  stateDict(): TrainerState {
    this.assertLive('stateDict');
    return saveTrainerState({
      variables: this.policy.trainableVariables,
      referenceVariables: this.syncedReferenceVariables,
      optimizer: this.optimizer,
      regularizer: this.regularizer,
      sampler: this.sampler,
      step: this.steps,
    });
  }

  /**
   * Restores a {@link GanpoTrainer.stateDict}. All or nothing: the whole state is checked (format,
   * step count, policy weights, sampler, optimizer, regularizer; values at level `'full'`) before
   * anything is applied, so a refused load leaves the trainer exactly as it was. Exact or refused:
   * values a float32 variable cannot hold (NaN, ±Infinity, beyond ±3.4e38) are refused, and so is a
   * state that lacks a part the run needs to continue exactly, naming it: `sampler`, an optimizer
   * slot (`optimizer.slots.policy/3`), the critics' dropout streams (`regularizer.dropout`) or
   * their slots.
   *
   * @param options.strict - refuse missing parts. Default true (PyTorch's `load_state_dict`). With
   *   false they are left out and listed in `missingKeys`, and the resume is not exact there: a
   *   missing sampler restarts the data order at epoch 0, a missing slot restarts its variable's
   *   moments, missing dropout streams keep their current position (other masks).
   * @returns `missingKeys`: the parts not restored (empty when strict).
   * @throws GanpoError `INVALID_FORMAT`, `STATE_DICT_MISMATCH`, `OUT_OF_RANGE`, `NON_FINITE`.
   */
  loadStateDict(state: TrainerState, options?: { strict?: boolean }): { missingKeys: string[] } {
    const where = `${TRAINER}.loadStateDict`;
    this.assertLive('loadStateDict');
    const { sampler, step, missingKeys } = loadTrainerState(
      where,
      state,
      {
        variables: this.policy.trainableVariables,
        referenceVariables: this.syncedReferenceVariables,
        optimizer: this.optimizer,
        regularizer: this.regularizer,
        batchSize: this.batchSize,
      },
      strictOption(where, options),
    );
    this.sampler = sampler;
    this.steps = step;
    return { missingKeys };
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
   * Frees the optimizer, the regularizer the trainer built and a reference copy it made (never the
   * user's models or regularizer). Idempotent; every other method then throws
   * `GanpoError('DISPOSED')`.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer.dispose();
    if (this.ownsRegularizer) this.regularizer?.dispose();
    if (this.ownsReference) this.reference?.dispose?.();
  }
}
brandClass(GanpoTrainer, 'GanpoTrainer');
