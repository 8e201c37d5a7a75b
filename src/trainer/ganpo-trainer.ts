import * as tf from '@tensorflow/tfjs-core';
import { getValidationLevel, withValidationLevel } from '../core/config';
import { argumentError, GanpoError } from '../core/errors';
import { assertNumber, assertOneOf } from '../core/validate';
import { chanceLevel } from '../divergence/divergences';
import { causalLogProbs } from '../logprobs/sequence-log-probs';
import { type DpoLossArgs, dpoLoss } from '../losses/dpo';
import { orpoLoss } from '../losses/orpo';
import { simpoLoss } from '../losses/simpo';
import type { PreferenceLoss } from '../losses/types';
import { kernelFlags } from '../ops/kernel-flags';
import { stopGradient } from '../ops/stop-gradient';
import { outsideTape } from '../ops/tape';
import { AdamW, type AdamWState } from '../optim/adamw';
import { clipGradNorm } from '../optim/clip';
import { type LearningRateSchedule, warmupCosineSchedule, warmupLinearSchedule } from '../optim/schedules';
import { ganpoLoss } from '../regularizer/ganpo-loss';
import {
  GanpoRegularizer,
  type GanpoRegularizerCreateArgs,
  type GanpoRegularizerState,
  type SerializedTensor,
} from '../regularizer/ganpo-regularizer';
import {
  type CollatedSequences,
  type CollateOptions,
  collatePreferencePairs,
  disposePreferenceBatch,
  type PreferenceBatch,
  type PreferencePair,
} from './collate';
import { BatchSampler, type BatchSamplerState } from './sampler';

/**
 * What the trainer needs of a causal language model: one forward pass that returns the logits and
 * the last hidden state (GANPO's latent), and the variables to train. `logits[:, t]` predicts
 * `inputIds[:, t+1]`. Inputs are right-padded, so a causal model needs no attention mask.
 */
export interface CausalLM {
  /** One forward pass: logits [B,T,V] and last hidden state [B,T,H] of right-padded ids [B,T]. */
  forward(
    inputIds: tf.Tensor2D,
    options: { training: boolean },
  ): { logits: tf.Tensor3D; hidden: tf.Tensor3D };
  readonly trainableVariables: tf.Variable[];
  /** A deep copy with its own weights; needed only for `reference: 'copy'`. */
  clone?(): CausalLM;
  /** Frees the model's weights; called on a copy the trainer made, never on the user's models. */
  dispose?(): void;
}

/** The preference objective: any loss of this package with its options. */
export type PreferenceObjective =
  | ({ type: 'dpo' } & Omit<
      DpoLossArgs,
      | 'policyChosenLogps'
      | 'policyRejectedLogps'
      | 'referenceChosenLogps'
      | 'referenceRejectedLogps'
      | 'chosenLengths'
      | 'rejectedLengths'
      | 'weights'
    >)
  | {
      type: 'simpo';
      beta?: number;
      gammaBetaRatio?: number;
      labelSmoothing?: number;
      lossType?: 'sigmoid' | 'hinge';
    }
  | { type: 'orpo'; beta?: number };

/** GANPO options of the trainer (see {@link GanpoRegularizer.create}); `false` turns GANPO off. */
export type TrainerGanpoOptions = Omit<GanpoRegularizerCreateArgs, 'inputDim' | 'optimizer'> & {
  /**
   * Discriminator learning rate as a fraction of the policy's (it follows the same schedule).
   * Default 0.5 (the official code: half the policy's learning rate).
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
   * The frozen reference model: `'copy'` (the trainer copies the policy with its `clone()` at
   * construction, as TRL does when no `ref_model` is given, and disposes the copy with the trainer),
   * or your own frozen model. Omit it after {@link GanpoTrainer.precomputeReference} to train without
   * a reference model in memory (`evaluate` of DPO losses then has no reference).
   */
  reference?: CausalLM | 'copy';
  /** Hidden size H of `forward(...).hidden` (the discriminators' input). */
  hiddenSize: number;
  /** The preference loss. Default `{ type: 'dpo', beta: 0.1 }` (TRL, official GANPO runs). */
  objective?: PreferenceObjective;
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
}

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
  'ganpo/adversarial_loss'?: number;
  'ganpo/discriminator_loss_chosen'?: number;
  'ganpo/discriminator_loss_rejected'?: number;
  /** Monitoring estimate of D_Ra: 2·(chance-level loss − discriminator loss), mean over both. */
  'ganpo/divergence'?: number;
}

/** Cached reference outputs of one pair (see {@link GanpoTrainer.precomputeReference}). */
export interface ReferenceEntry {
  chosenLogp: number;
  rejectedLogp: number;
  /** Latents of the unpadded chosen sequence, row-major [Tc,H] (absent without GANPO). */
  chosenLatents?: Float32Array;
  rejectedLatents?: Float32Array;
  chosenLength: number;
  rejectedLength: number;
}

/** A whole training state as plain JSON; see {@link GanpoTrainer.checkpoint}. */
export interface TrainerCheckpoint {
  format: 'ganpo-trainer';
  version: 1;
  step: number;
  sampler: BatchSamplerState | null;
  /** Policy weights by position in `policy.trainableVariables`. */
  policy: SerializedTensor[];
  /** Policy AdamW state, slots keyed by position (`policy/0`, …). */
  optimizer: AdamWState;
  regularizer: GanpoRegularizerState | null;
}

const WHERE = 'GanpoTrainer';

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
  private readonly schedule: LearningRateSchedule;
  private readonly discriminatorLrRatio: number;
  private readonly collateOptions: CollateOptions;
  private readonly maxGradNorm: number | null;
  private readonly seed: number;
  private readonly onStep?: (m: TrainerMetrics) => void;
  private readonly hiddenSize: number;
  private cache: ReferenceEntry[] | null = null;
  private sampler: BatchSampler | null = null;
  private steps = 0;

  /** Validates `args` and builds the optimizers (and the regularizer unless `ganpo: false`); see {@link GanpoTrainerArgs}. */
  constructor(args: GanpoTrainerArgs) {
    if (args === null || typeof args !== 'object') {
      throw argumentError(
        'INVALID_ARGUMENT',
        WHERE,
        'args',
        '{ policy, collate, learningRate, totalSteps, ... }',
        String(args),
      );
    }
    if (
      !args.policy ||
      typeof args.policy.forward !== 'function' ||
      !Array.isArray(args.policy.trainableVariables)
    ) {
      throw argumentError(
        'INVALID_ARGUMENT',
        WHERE,
        'policy',
        'a CausalLM { forward, trainableVariables }',
        typeof args.policy,
      );
    }
    if (args.reference === 'copy' && typeof args.policy.clone !== 'function') {
      throw argumentError(
        'INVALID_OPTION',
        WHERE,
        'reference',
        "'copy' only for a policy with clone(), or a CausalLM",
        "'copy' with a policy that has no clone()",
      );
    }
    if (
      args.reference !== undefined &&
      args.reference !== 'copy' &&
      typeof args.reference?.forward !== 'function'
    ) {
      throw argumentError(
        'INVALID_ARGUMENT',
        WHERE,
        'reference',
        'a CausalLM or undefined',
        typeof args.reference,
      );
    }
    if (args.reference === args.policy) {
      throw argumentError(
        'INVALID_ARGUMENT',
        WHERE,
        'reference',
        'a frozen copy of the policy',
        'the policy itself',
      );
    }
    this.policy = args.policy;
    this.hiddenSize = assertNumber(WHERE, 'hiddenSize', args.hiddenSize, { min: 1, integer: true });
    this.objective = args.objective ?? { type: 'dpo', beta: 0.1 };
    assertOneOf(WHERE, 'objective.type', this.objective.type, ['dpo', 'simpo', 'orpo'] as const);
    const lr = assertNumber(WHERE, 'learningRate', args.learningRate, { greaterThan: 0 });
    this.batchSize = assertNumber(WHERE, 'batchSize', args.batchSize ?? 8, { min: 1, integer: true });
    this.gradientAccumulationSteps = assertNumber(
      WHERE,
      'gradientAccumulationSteps',
      args.gradientAccumulationSteps ?? 1,
      {
        min: 1,
        integer: true,
      },
    );
    if (this.batchSize % this.gradientAccumulationSteps !== 0) {
      throw argumentError(
        'INVALID_OPTION',
        WHERE,
        'gradientAccumulationSteps',
        `a divisor of batchSize ${this.batchSize}`,
        String(this.gradientAccumulationSteps),
      );
    }
    this.totalSteps = assertNumber(WHERE, 'totalSteps', args.totalSteps, { min: 1, integer: true });
    const warmupRatio = assertNumber(WHERE, 'warmupRatio', args.warmupRatio ?? 0.1, { min: 0, max: 1 });
    const warmupSteps = Math.ceil(warmupRatio * this.totalSteps);
    const kind = assertOneOf(WHERE, 'schedule', args.schedule ?? 'cosine', [
      'cosine',
      'linear',
      'constant',
    ] as const);
    this.schedule =
      kind === 'cosine'
        ? warmupCosineSchedule({ learningRate: lr, warmupSteps, totalSteps: this.totalSteps })
        : kind === 'linear'
          ? warmupLinearSchedule({ learningRate: lr, warmupSteps, totalSteps: this.totalSteps })
          : () => lr;
    this.maxGradNorm =
      args.maxGradNorm === null
        ? null
        : assertNumber(WHERE, 'maxGradNorm', args.maxGradNorm ?? 1.0, { greaterThan: 0 });
    this.seed = assertNumber(WHERE, 'seed', args.seed ?? 42, { integer: true });
    if (args.collate === null || typeof args.collate !== 'object') {
      throw argumentError(
        'INVALID_ARGUMENT',
        WHERE,
        'collate',
        '{ padTokenId, eosTokenId, ... }',
        String(args.collate),
      );
    }
    this.collateOptions = args.collate;
    this.onStep = args.onStep;
    this.optimizer = new AdamW({
      learningRate: this.schedule(0),
      weightDecay: assertNumber(WHERE, 'weightDecay', args.weightDecay ?? 0, { min: 0 }),
    });
    if (args.ganpo === false) {
      this.regularizer = null;
      this.discriminatorLrRatio = 0;
    } else {
      const g = args.ganpo ?? {};
      this.discriminatorLrRatio = assertNumber(WHERE, 'ganpo.learningRateRatio', g.learningRateRatio ?? 0.5, {
        greaterThan: 0,
      });
      const { learningRateRatio: _r, weightDecay, ...create } = g;
      this.regularizer = GanpoRegularizer.create({
        ...create,
        inputDim: this.hiddenSize,
        optimizer: new AdamW({
          learningRate: this.schedule(0) * this.discriminatorLrRatio,
          weightDecay: assertNumber(WHERE, 'ganpo.weightDecay', weightDecay ?? 0.01, { min: 0 }),
        }),
      });
    }
    // Last, so that a refused constructor leaves no copy behind.
    this.ownsReference = args.reference === 'copy';
    this.reference = args.reference === 'copy' ? (args.policy.clone as () => CausalLM)() : args.reference;
  }

  /** Optimizer steps taken so far. */
  get step(): number {
    return this.steps;
  }

  private collate(pairs: readonly PreferencePair[]): PreferenceBatch {
    return collatePreferencePairs(pairs, this.collateOptions);
  }

  private forward(
    model: CausalLM,
    side: CollatedSequences,
    training: boolean,
  ): { logps: tf.Tensor1D; mean: tf.Tensor1D; hidden: tf.Tensor3D; logitsMean: tf.Scalar } {
    const { logits, hidden } = model.forward(side.inputIds, { training });
    const lp = causalLogProbs({ logits, inputIds: side.inputIds, lossMask: side.completionMask });
    // TRL's logits/* metric: mean logit over completion positions (logits[:, t] scores token t+1).
    const logitsMean = tf.tidy(() => {
      const t = logits.shape[1];
      const m = tf.slice(side.completionMask, [0, 1], [-1, t - 1]);
      const perPos = tf.mean(tf.slice(logits, [0, 0, 0], [-1, t - 1, -1]), -1);
      return tf.div(tf.sum(tf.mul(perPos, m)), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
    });
    tf.dispose([logits, lp.perToken, lp.count]);
    return { logps: lp.sum, mean: lp.mean, hidden, logitsMean };
  }

  private preference(
    pol: { chosen: tf.Tensor1D; rejected: tf.Tensor1D; chosenMean: tf.Tensor1D; rejectedMean: tf.Tensor1D },
    ref: { chosen: tf.Tensor1D; rejected: tf.Tensor1D } | null,
    lengths: { chosen: tf.Tensor1D; rejected: tf.Tensor1D },
  ): PreferenceLoss {
    const o = this.objective;
    if (o.type === 'simpo') {
      const { type: _t, ...opts } = o;
      return simpoLoss({ ...opts, policyChosenLogps: pol.chosenMean, policyRejectedLogps: pol.rejectedMean });
    }
    if (o.type === 'orpo') {
      return orpoLoss({
        beta: o.beta,
        policyChosenLogps: pol.chosenMean,
        policyRejectedLogps: pol.rejectedMean,
      });
    }
    const { type: _t, ...opts } = o;
    return dpoLoss({
      ...opts,
      policyChosenLogps: pol.chosen,
      policyRejectedLogps: pol.rejected,
      referenceChosenLogps: ref?.chosen,
      referenceRejectedLogps: ref?.rejected,
      chosenLengths: lengths.chosen,
      rejectedLengths: lengths.rejected,
    });
  }

  /**
   * Runs the reference model once over `pairs` and caches its summed log-probs (and, with GANPO,
   * its latents) by pair index, so that {@link train} needs no reference model in memory. Cached
   * and live references give the same steps (the model is causal and inputs are right-padded).
   */
  precomputeReference(pairs: readonly PreferencePair[], batchSize = this.batchSize): ReferenceEntry[] {
    const where = `${WHERE}.precomputeReference`;
    if (!this.reference) {
      throw new GanpoError('INVALID_STATE', `${where}: no reference model was given to the trainer`);
    }
    const entries: ReferenceEntry[] = [];
    for (let start = 0; start < pairs.length; start += batchSize) {
      const batch = this.collate(pairs.slice(start, start + batchSize));
      try {
        const out = tf.tidy(() => {
          const c = this.forward(this.reference as CausalLM, batch.chosen, false);
          const r = this.forward(this.reference as CausalLM, batch.rejected, false);
          return [c.logps, r.logps, c.hidden, r.hidden];
        });
        const [lc, lr, hc, hr] = out.map((t) => t.dataSync()) as Float32Array[];
        tf.dispose(out);
        const h = this.hiddenSize;
        const t = batch.seqLength;
        for (let i = 0; i < batch.batchSize; i++) {
          const lenC = (batch.lengths.chosenPrompt[i] as number) + (batch.lengths.chosen[i] as number);
          const lenR = (batch.lengths.rejectedPrompt[i] as number) + (batch.lengths.rejected[i] as number);
          entries.push({
            chosenLogp: lc?.[i] as number,
            rejectedLogp: lr?.[i] as number,
            chosenLength: lenC,
            rejectedLength: lenR,
            ...(this.regularizer
              ? {
                  chosenLatents: (hc as Float32Array).slice(i * t * h, i * t * h + lenC * h),
                  rejectedLatents: (hr as Float32Array).slice(i * t * h, i * t * h + lenR * h),
                }
              : {}),
          });
        }
      } finally {
        disposePreferenceBatch(batch);
      }
    }
    return entries;
  }

  /** Uses a cache from {@link precomputeReference} (indexed like the training pairs). */
  setReferenceCache(entries: ReferenceEntry[] | null): void {
    this.cache = entries;
  }

  private referenceFromCache(
    indices: readonly number[],
    batch: PreferenceBatch,
  ): {
    logps: { chosen: tf.Tensor1D; rejected: tf.Tensor1D };
    hidden: { chosen: tf.Tensor3D; rejected: tf.Tensor3D } | null;
  } {
    const cache = this.cache as ReferenceEntry[];
    const rows = indices.map((i) => {
      const e = cache[i];
      if (!e)
        throw argumentError(
          'OUT_OF_RANGE',
          `${WHERE}.step`,
          'indices',
          `indices into the reference cache (${cache.length} entries)`,
          String(i),
        );
      return e;
    });
    const logps = {
      chosen: tf.tensor1d(rows.map((e) => e.chosenLogp)),
      rejected: tf.tensor1d(rows.map((e) => e.rejectedLogp)),
    };
    if (!this.regularizer) return { logps, hidden: null };
    const t = batch.seqLength;
    const h = this.hiddenSize;
    const pad = (key: 'chosenLatents' | 'rejectedLatents'): tf.Tensor3D => {
      const buf = new Float32Array(rows.length * t * h);
      rows.forEach((e, i) => {
        const src = e[key] as Float32Array;
        buf.set(src.subarray(0, Math.min(src.length, t * h)), i * t * h);
      });
      return tf.tensor3d(buf, [rows.length, t, h]);
    };
    return { logps, hidden: { chosen: pad('chosenLatents'), rejected: pad('rejectedLatents') } };
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
    const where = `${WHERE}.trainStep`;
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
    if (!this.cache && !this.reference && this.objective.type === 'dpo') {
      throw new GanpoError(
        'INVALID_STATE',
        `${where}: DPO needs a reference model or a precomputed reference cache`,
      );
    }
    // The learning rates are set only once the step is known to go ahead (a skipped step changes
    // nothing, optimizer hyper-parameters included).
    const lr = this.schedule(this.steps);
    const batch = this.collate(pairs);
    const keep: tf.Tensor[] = [];
    try {
      return this.step_(batch, indices, lr, keep);
    } catch (e) {
      // Value validation (level 'full') rejects non-finite logits/latents before anything changed.
      if (e instanceof GanpoError && e.code === 'NON_FINITE') return this.report(this.skippedMetrics(lr));
      throw e;
    } finally {
      tf.dispose(keep);
      disposePreferenceBatch(batch);
    }
  }

  private step_(
    batch: PreferenceBatch,
    indices: readonly number[] | undefined,
    lr: number,
    keep: tf.Tensor[],
  ): TrainerMetrics {
    // Reference outputs (constants).
    let ref: {
      logps: { chosen: tf.Tensor1D; rejected: tf.Tensor1D };
      hidden: { chosen: tf.Tensor3D; rejected: tf.Tensor3D } | null;
    } | null = null;
    if (this.cache && indices) {
      ref = this.referenceFromCache(indices, batch);
    } else if (this.reference) {
      const reference = this.reference;
      const [lc, lr, hc, hr] = tf.tidy(() => {
        const c = this.forward(reference, batch.chosen, false);
        const r = this.forward(reference, batch.rejected, false);
        return [c.logps, r.logps, c.hidden, r.hidden];
      }) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor3D, tf.Tensor3D];
      if (!this.regularizer) tf.dispose([hc, hr]);
      ref = {
        logps: { chosen: lc, rejected: lr },
        hidden: this.regularizer ? { chosen: hc, rejected: hr } : null,
      };
    }
    if (ref)
      keep.push(
        ref.logps.chosen,
        ref.logps.rejected,
        ...(ref.hidden ? [ref.hidden.chosen, ref.hidden.rejected] : []),
      );

    // 2-3. With GANPO: policy latents, the finiteness guard (before anything changes), and one
    // discriminator step on the whole batch's detached latents. Without GANPO nothing changes before
    // the optimizer step, so the gradient-norm check below is guard enough.
    //
    // k = 1 (fused, the official order): the latents come from the policy's one forward inside the
    // gradient pass (forward → detach → D step → generator loss with the updated D → backward), so
    // GANPO costs no extra policy forward. k > 1: the D step needs the whole batch's latents before
    // the first micro-batch's generator loss; getting them from the micro-batch forwards would keep
    // all k tapes alive at once (the memory of the unaccumulated batch, which is what accumulation
    // avoids), so a no-grad forward of the whole batch ("probe") gives them instead.
    const k = this.gradientAccumulationSteps;
    let dLoss: { lossChosen: number; lossRejected: number } | null = null;
    const dStep = (
      regularizer: GanpoRegularizer,
      policyChosen: tf.Tensor3D,
      policyRejected: tf.Tensor3D,
      refHidden: { chosen: tf.Tensor3D; rejected: tf.Tensor3D },
    ): void => {
      (regularizer.optimizer as AdamW).learningRate = lr * this.discriminatorLrRatio;
      dLoss = regularizer.discriminatorStep({
        policyChosen,
        policyRejected,
        referenceChosen: refHidden.chosen,
        referenceRejected: refHidden.rejected,
        chosenMask: batch.chosen.attentionMask,
        rejectedMask: batch.rejected.attentionMask,
      });
    };
    const finiteness = (
      pc: { logps: tf.Tensor; hidden: tf.Tensor },
      pr: { logps: tf.Tensor; hidden: tf.Tensor },
      refLogps: { chosen: tf.Tensor; rejected: tf.Tensor },
      refHidden: { chosen: tf.Tensor; rejected: tf.Tensor },
    ): boolean => {
      const flag = tf.tidy(() => {
        const checks = [
          pc.logps,
          pr.logps,
          refLogps.chosen,
          refLogps.rejected,
          pc.hidden,
          pr.hidden,
          refHidden.chosen,
          refHidden.rejected,
        ];
        return tf.all(tf.stack(checks.map((x) => tf.all(tf.isFinite(x)))));
      });
      const ok = flag.dataSync()[0] === 1;
      flag.dispose();
      return ok;
    };
    const fused =
      this.regularizer !== null && ref?.hidden != null && k === 1 && kernelFlags.reuseForwardLatents
        ? this.regularizer
        : null;
    if (this.regularizer && ref?.hidden && !fused) {
      const refHidden = ref.hidden;
      const refLogps = ref.logps;
      const probe = tf.tidy(() => {
        const c = this.forward(this.policy, batch.chosen, true);
        const r = this.forward(this.policy, batch.rejected, true);
        return { c: { logps: c.logps, hidden: c.hidden }, r: { logps: r.logps, hidden: r.hidden } };
      });
      keep.push(probe.c.logps, probe.r.logps, probe.c.hidden, probe.r.hidden);
      if (!finiteness(probe.c, probe.r, refLogps, refHidden)) return this.report(this.skippedMetrics(lr));
      dStep(this.regularizer, probe.c.hidden, probe.r.hidden, refHidden);
    }

    // 4. Policy gradient, accumulated over micro-batches.
    const micro = this.batchSize / k;
    const variables = this.policy.trainableVariables;
    let sum: tf.Tensor[] | null = null;
    let skipped = false;
    const stats: number[][] = [];
    for (let j = 0; j < k; j++) {
      const sl = <T extends tf.Tensor>(x: T): T => tf.slice(x, j * micro, micro) as T;
      const out = tf.tidy(() => {
        const side = (s: CollatedSequences): CollatedSequences => ({
          inputIds: sl(s.inputIds),
          attentionMask: sl(s.attentionMask),
          completionMask: sl(s.completionMask),
          completionLengths: sl(s.completionLengths),
        });
        const c = side(batch.chosen);
        const r = side(batch.rejected);
        const refMicro = ref ? { chosen: sl(ref.logps.chosen), rejected: sl(ref.logps.rejected) } : null;
        const monitor: tf.Tensor1D[] = [];
        // Inside the tape, value checks would throw on a NaN batch and strand the tape's tensors (tfjs
        // does not clean up after a throwing gradient function); the trainer checks finiteness itself
        // (the probe / fused check before the D step, the gradient norm before the update).
        const level = getValidationLevel() === 'full' ? 'shapes' : getValidationLevel();
        const { value, grads } = tf.variableGrads(
          () =>
            withValidationLevel(level, () => {
              const pc = this.forward(this.policy, c, true);
              const pr = this.forward(this.policy, r, true);
              if (fused && ref?.hidden) {
                // Nothing has changed yet when either check fails; a connected zero-weighted scalar ends
                // the pass cleanly (a throw out of here would strand the tape's saved tensors).
                const abandon = (): tf.Scalar => {
                  skipped = true;
                  return tf.mul(tf.add(tf.sum(pc.logps), tf.sum(pr.logps)), 0) as tf.Scalar;
                };
                if (!finiteness(pc, pr, ref.logps, ref.hidden)) return abandon();
                // The D step (its own variableGrads) on detached latents, with this tape paused: recorded
                // here it would only add kernels and memory (its results are constants for this gradient).
                const refHidden = ref.hidden;
                const [hc, hr] = [stopGradient(pc.hidden), stopGradient(pr.hidden)];
                try {
                  outsideTape(() => dStep(fused, hc, hr, refHidden));
                } catch (e) {
                  // A non-finite discriminator loss: refused before the D optimizer step.
                  if (e instanceof GanpoError && e.code === 'NON_FINITE') return abandon();
                  throw e;
                }
              }
              const pref = this.preference(
                { chosen: pc.logps, rejected: pr.logps, chosenMean: pc.mean, rejectedMean: pr.mean },
                refMicro,
                { chosen: c.completionLengths, rejected: r.completionLengths },
              );
              let total: tf.Scalar = pref.loss;
              let adv: tf.Scalar = tf.scalar(Number.NaN);
              if (this.regularizer) {
                const g = ganpoLoss({
                  regularizer: this.regularizer,
                  preference: pref,
                  policyChosenLatents: pc.hidden,
                  policyRejectedLatents: pr.hidden,
                  chosenMask: c.attentionMask,
                  rejectedMask: r.attentionMask,
                });
                total = g.loss;
                adv = g.adversarialLoss;
              }
              monitor.push(
                tf.keep(
                  tf.stack([
                    pref.loss,
                    tf.mean(pref.chosenRewards),
                    tf.mean(pref.rejectedRewards),
                    tf.mean(tf.cast(tf.greater(pref.chosenRewards, pref.rejectedRewards), 'float32')),
                    tf.mean(pc.logps),
                    tf.mean(pr.logps),
                    pc.logitsMean,
                    pr.logitsMean,
                    adv,
                  ]) as tf.Tensor1D,
                ),
              );
              return tf.div(total, k) as tf.Scalar;
            }),
          variables,
        );
        value.dispose();
        if (skipped) {
          tf.dispose(Object.values(grads));
          return { grads: [] as tf.Tensor[], monitor: tf.zeros([0]) };
        }
        return {
          grads: variables.map((v) => grads[v.name] as tf.Tensor),
          monitor: monitor[0] as tf.Tensor,
        };
      });
      if (skipped) {
        out.monitor.dispose();
        return this.report(this.skippedMetrics(lr));
      }
      stats.push(Array.from(out.monitor.dataSync()));
      out.monitor.dispose();
      if (sum === null) sum = out.grads;
      else {
        const prev: tf.Tensor[] = sum;
        sum = prev.map((g, i) => tf.add(g, out.grads[i] as tf.Tensor));
        tf.dispose([...prev, ...out.grads]);
      }
      keep.push(...sum); // freed by trainStep even if a later micro-batch throws
    }
    const grads = sum as tf.Tensor[];
    // 5. Clip, guard, step.
    const clipped = clipGradNorm(grads, this.maxGradNorm ?? Number.MAX_VALUE);
    tf.dispose(grads);
    const gradNorm = clipped.totalNorm.dataSync()[0] as number;
    clipped.totalNorm.dispose();
    if (!Number.isFinite(gradNorm)) {
      tf.dispose(clipped.grads);
      return this.report({ ...this.skippedMetrics(lr), ...this.ganpoMetrics(dLoss, Number.NaN) });
    }
    const named: tf.NamedTensorMap = {};
    variables.forEach((v, i) => {
      named[v.name] = clipped.grads[i] as tf.Tensor;
    });
    this.optimizer.learningRate = lr;
    this.optimizer.applyGradients(named);
    tf.dispose(clipped.grads);
    this.steps += 1;
    const avg = (i: number): number => stats.reduce((a, s) => a + (s[i] as number), 0) / stats.length;
    const metrics: TrainerMetrics = {
      step: this.steps,
      skipped: false,
      loss: avg(0) + (this.regularizer ? this.regularizer.weight * avg(8) : 0),
      'rewards/chosen': avg(1),
      'rewards/rejected': avg(2),
      'rewards/accuracies': avg(3),
      'rewards/margins': avg(1) - avg(2),
      'logps/chosen': avg(4),
      'logps/rejected': avg(5),
      'logits/chosen': avg(6),
      'logits/rejected': avg(7),
      learning_rate: lr,
      grad_norm: gradNorm,
      ...this.ganpoMetrics(dLoss, avg(8)),
    };
    return this.report(metrics);
  }

  private ganpoMetrics(
    d: { lossChosen: number; lossRejected: number } | null,
    adversarial: number,
  ): Partial<TrainerMetrics> {
    if (!this.regularizer || !d) return {};
    const chance = chanceLevel(this.regularizer.divergence);
    return {
      'ganpo/adversarial_loss': adversarial,
      'ganpo/discriminator_loss_chosen': d.lossChosen,
      'ganpo/discriminator_loss_rejected': d.lossRejected,
      'ganpo/divergence': chance * 2 - (d.lossChosen + d.lossRejected),
    };
  }

  private skippedMetrics(lr: number): TrainerMetrics {
    const nan = Number.NaN;
    return {
      step: this.steps,
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
      learning_rate: lr,
      grad_norm: nan,
    };
  }

  private report(m: TrainerMetrics): TrainerMetrics {
    this.onStep?.(m);
    return m;
  }

  /**
   * Trains on `pairs` until `totalSteps` optimizer steps are done (or `steps` more), drawing
   * batches with a seeded shuffling sampler (its position is part of the checkpoint). Yields to the
   * event loop between steps so progress bars and UIs stay live.
   */
  async train(pairs: readonly PreferencePair[], options: { steps?: number } = {}): Promise<TrainerMetrics[]> {
    const where = `${WHERE}.train`;
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
        seed: this.seed,
        dropLast: true,
      });
    }
    const target = Math.min(this.totalSteps, this.steps + (options.steps ?? this.totalSteps));
    const history: TrainerMetrics[] = [];
    while (this.steps < target) {
      const { indices } = this.sampler.next();
      const m = this.trainStep(
        indices.map((i) => pairs[i] as PreferencePair),
        indices,
      );
      history.push(m);
      if (m.skipped && history.length > 3 * this.totalSteps) break;
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
    return history;
  }

  /**
   * Preference metrics on held-out pairs (no update): mean loss and TRL's reward metrics, plus the
   * adversarial loss when GANPO is on and the discriminators have stepped.
   */
  evaluate(pairs: readonly PreferencePair[], batchSize = this.batchSize): Record<string, number> {
    const totals: Record<string, number> = {};
    let n = 0;
    for (let start = 0; start < pairs.length; start += batchSize) {
      const chunk = pairs.slice(start, start + batchSize);
      const batch = this.collate(chunk);
      try {
        const row = tf.tidy(() => {
          const pc = this.forward(this.policy, batch.chosen, false);
          const pr = this.forward(this.policy, batch.rejected, false);
          let ref: { chosen: tf.Tensor1D; rejected: tf.Tensor1D } | null = null;
          if (this.reference) {
            const rc = this.forward(this.reference, batch.chosen, false);
            const rr = this.forward(this.reference, batch.rejected, false);
            ref = { chosen: rc.logps, rejected: rr.logps };
          }
          const pref = this.preference(
            { chosen: pc.logps, rejected: pr.logps, chosenMean: pc.mean, rejectedMean: pr.mean },
            ref,
            { chosen: batch.chosen.completionLengths, rejected: batch.rejected.completionLengths },
          );
          return tf.stack([
            pref.loss,
            tf.mean(pref.chosenRewards),
            tf.mean(pref.rejectedRewards),
            tf.mean(tf.cast(tf.greater(pref.chosenRewards, pref.rejectedRewards), 'float32')),
            tf.mean(pc.logps),
            tf.mean(pr.logps),
          ]);
        });
        const v = row.dataSync();
        row.dispose();
        const w = chunk.length;
        [
          'loss',
          'rewards/chosen',
          'rewards/rejected',
          'rewards/accuracies',
          'logps/chosen',
          'logps/rejected',
        ].forEach((key, i) => {
          totals[key] = (totals[key] ?? 0) + (v[i] as number) * w;
        });
        n += w;
      } finally {
        disposePreferenceBatch(batch);
      }
    }
    const out: Record<string, number> = {};
    for (const [key, s] of Object.entries(totals)) out[`eval_${key}`] = s / n;
    out['eval_rewards/margins'] = (out['eval_rewards/chosen'] ?? 0) - (out['eval_rewards/rejected'] ?? 0);
    return out;
  }

  /**
   * The whole training state as plain JSON: policy weights, policy and discriminator optimizer
   * states, the regularizer (discriminators, u/v, means), schedule position and data order.
   * {@link restore} into a trainer built with the same arguments continues exactly.
   */
  checkpoint(): TrainerCheckpoint {
    const variables = this.policy.trainableVariables;
    const raw = this.optimizer.saveState();
    const pos = new Map(variables.map((v, i) => [v.name, `policy/${i}`]));
    const slots: AdamWState['slots'] = {};
    for (const [name, slot] of Object.entries(raw.slots)) slots[pos.get(name) ?? name] = slot;
    return {
      format: 'ganpo-trainer',
      version: 1,
      step: this.steps,
      sampler: this.sampler ? this.sampler.state : null,
      policy: variables.map((v) => ({ shape: [...v.shape], data: Array.from(v.dataSync()) })),
      optimizer: { ...raw, slots },
      regularizer: this.regularizer ? this.regularizer.getState() : null,
    };
  }

  /** Restores a {@link checkpoint} (all or nothing for the policy weights' shapes). */
  restore(ckpt: TrainerCheckpoint): void {
    const where = `${WHERE}.restore`;
    if (ckpt === null || typeof ckpt !== 'object' || ckpt.format !== 'ganpo-trainer' || ckpt.version !== 1) {
      throw argumentError(
        'INVALID_FORMAT',
        where,
        'checkpoint',
        "{ format: 'ganpo-trainer', version: 1, ... }",
        String(ckpt?.format),
      );
    }
    const variables = this.policy.trainableVariables;
    if (!Array.isArray(ckpt.policy) || ckpt.policy.length !== variables.length) {
      throw argumentError(
        'STATE_DICT_MISMATCH',
        where,
        'checkpoint.policy',
        `${variables.length} tensors`,
        String(ckpt.policy?.length),
      );
    }
    variables.forEach((v, i) => {
      const s = ckpt.policy[i] as SerializedTensor;
      if (!tf.util.arraysEqual(s.shape, v.shape) || s.data.length !== v.size) {
        throw argumentError(
          'STATE_DICT_MISMATCH',
          where,
          `checkpoint.policy[${i}]`,
          `shape [${v.shape}]`,
          `shape [${s.shape}]`,
        );
      }
    });
    if ((ckpt.regularizer === null) !== (this.regularizer === null)) {
      throw argumentError(
        'STATE_DICT_MISMATCH',
        where,
        'checkpoint.regularizer',
        this.regularizer ? 'a regularizer state' : 'null',
        String(ckpt.regularizer === null ? null : 'a state'),
      );
    }
    const byPos = new Map(variables.map((v, i) => [`policy/${i}`, v.name]));
    this.optimizer.loadState(ckpt.optimizer, { rename: (saved) => byPos.get(saved) ?? saved });
    if (this.regularizer && ckpt.regularizer) this.regularizer.loadState(ckpt.regularizer);
    variables.forEach((v, i) => {
      const s = ckpt.policy[i] as SerializedTensor;
      const t = tf.tensor(s.data, s.shape, v.dtype);
      v.assign(t);
      t.dispose();
    });
    this.sampler = ckpt.sampler ? BatchSampler.fromState(ckpt.sampler) : null;
    this.steps = ckpt.step;
  }

  /** Frees the regularizer, the optimizers and a reference copy the trainer made (never the user's models). */
  dispose(): void {
    this.optimizer.dispose();
    this.regularizer?.dispose();
    if (this.ownsReference) this.reference?.dispose?.();
  }
}
