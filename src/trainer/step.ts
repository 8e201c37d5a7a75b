import * as tf from '@tensorflow/tfjs-core';
import { getValidationLevel, withValidationLevel } from '../core/config';
import { GanpoError } from '../core/errors';
import { latentAnchorCore } from '../latent/anchor';
import { validateLatentBatch } from '../latent/batch';
import { latentMmdCore } from '../latent/mmd';
import { stopGradient } from '../ops/stop-gradient';
import { connectedZero, outsideTape } from '../ops/tape';
import type { AdamW } from '../optim/adamw';
import { clipGradNorm } from '../optim/clip';
import { ganpoObjectiveCore } from '../regularizer/ganpo-objective';
import type { GanpoRegularizer } from '../regularizer/ganpo-regularizer';
import type { CollatedSequences, PreferenceBatch } from './collate';
import type { LatentPenalty } from './config';
import { type CausalLM, forwardSide, type SideOutputs } from './forward';
import { type DiscriminatorLosses, meanStatistics, namedStatistics, type StepStatistics } from './metrics';
import { objectiveLoss, type PreferenceObjective, preferenceStatistics } from './objective';
import {
  cachedReference,
  liveReference,
  type ReferenceEntry,
  type ReferenceOutputs,
  referenceTensors,
} from './reference';

/**
 * Internal switches of the trainer's step. Not exported from the package: the benchmark flips them
 * to measure what each path costs (bench/suites/ganpo-step.ts), tests check that both paths agree.
 */
export const trainerFlags = {
  /**
   * k = 1: the discriminator step reuses the latents of the policy's forward inside the gradient
   * pass (else a separate no-grad policy forward, as under gradient accumulation).
   */
  reuseForwardLatents: true,
};

/** What one optimizer step reads and updates (the trainer's parts). */
export interface StepContext {
  readonly policy: CausalLM;
  readonly reference?: CausalLM;
  readonly regularizer: GanpoRegularizer | null;
  /** The critic-free latent regularizer (anchor or MMD, with its λ), or `null` without one. */
  readonly latentPenalty: Readonly<LatentPenalty> | null;
  readonly objective: PreferenceObjective;
  readonly optimizer: AdamW;
  readonly batchSize: number;
  readonly gradientAccumulationSteps: number;
  readonly maxGradNorm: number | null;
  readonly latentDim: number;
  /** Critic learning rate as a fraction of the policy's; `null` = leave the critic optimizer's rate alone. */
  readonly discriminatorLearningRateRatio: number | null;
  readonly referenceCache: readonly ReferenceEntry[] | null;
  /** `training` of the policy's forward: false with `disableDropout` (no dropout). */
  readonly policyTraining: boolean;
  /** Error context of thrown errors. */
  readonly where: string;
}

/** What a step did: `applied` when the policy was updated, else skipped by a non-finite guard. */
export interface StepOutcome {
  applied: boolean;
  /** Mean statistics over micro-batches (`null` when skipped). */
  statistics: StepStatistics | null;
  /** Policy gradient norm before clipping (NaN when skipped before the update). */
  gradNorm: number;
  /** The discriminator step's losses, when it ran. */
  discriminator: DiscriminatorLosses | null;
}

const SKIPPED: StepOutcome = { applied: false, statistics: null, gradNorm: Number.NaN, discriminator: null };

/**
 * One optimizer step on a collated batch (see {@link GanpoTrainer} for the order). Every tensor that
 * must outlive a micro-batch is pushed on `keep`, which the caller frees even if the step throws.
 */
export function runTrainStep(
  context: StepContext,
  batch: PreferenceBatch,
  indices: readonly number[] | undefined,
  learningRate: number,
  keep: tf.Tensor[],
): StepOutcome {
  const reference = referenceOutputs(context, batch, indices);
  if (reference) keep.push(...referenceTensors(reference));

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
  const regularizer = context.regularizer;
  const referenceHidden = reference?.hidden ?? null;
  const discriminator = { result: null as DiscriminatorLosses | null };
  const fusedDiscriminatorStep =
    regularizer !== null &&
    referenceHidden !== null &&
    context.gradientAccumulationSteps === 1 &&
    trainerFlags.reuseForwardLatents
      ? (policyChosen: tf.Tensor3D, policyRejected: tf.Tensor3D): void => {
          discriminator.result = discriminatorStep(
            context,
            regularizer,
            batch,
            learningRate,
            policyChosen,
            policyRejected,
            referenceHidden,
          );
        }
      : null;
  if (regularizer && reference && referenceHidden && !fusedDiscriminatorStep) {
    const probe = tf.tidy(() => {
      const chosen = forwardSide(context.policy, batch.chosen, context.policyTraining);
      const rejected = forwardSide(context.policy, batch.rejected, context.policyTraining);
      return {
        chosen: { logps: chosen.logps, hidden: chosen.hidden },
        rejected: { logps: rejected.logps, hidden: rejected.hidden },
      };
    });
    keep.push(probe.chosen.logps, probe.rejected.logps, probe.chosen.hidden, probe.rejected.hidden);
    if (!allFinite(finitenessChecks(probe.chosen, probe.rejected, reference))) return SKIPPED;
    discriminator.result = discriminatorStep(
      context,
      regularizer,
      batch,
      learningRate,
      probe.chosen.hidden,
      probe.rejected.hidden,
      referenceHidden,
    );
  }

  // 4. Policy gradient, accumulated over micro-batches.
  const k = context.gradientAccumulationSteps;
  const microBatchSize = context.batchSize / k;
  let gradientSum: tf.Tensor[] | null = null;
  const statistics: StepStatistics[] = [];
  for (let j = 0; j < k; j++) {
    const out = microBatchGradients(context, {
      batch,
      start: j * microBatchSize,
      size: microBatchSize,
      reference,
      fusedDiscriminatorStep,
    });
    if (out === null) return SKIPPED;
    statistics.push(out.statistics);
    gradientSum = accumulate(gradientSum, out.grads);
    keep.push(...gradientSum); // freed by the caller even if a later micro-batch throws
  }

  // 5. Clip, guard, step.
  const gradNorm = applyPolicyUpdate(context, gradientSum as tf.Tensor[], learningRate);
  if (!Number.isFinite(gradNorm)) return { ...SKIPPED, discriminator: discriminator.result };
  return {
    applied: true,
    statistics: meanStatistics(statistics),
    gradNorm,
    discriminator: discriminator.result,
  };
}

/** The reference outputs of the batch: from the cache, the live reference model, or none. */
function referenceOutputs(
  context: StepContext,
  batch: PreferenceBatch,
  indices: readonly number[] | undefined,
): ReferenceOutputs | null {
  const withLatents = context.regularizer !== null || context.latentPenalty !== null;
  if (context.referenceCache && indices) {
    return cachedReference(context.referenceCache, indices, batch, {
      latentDim: context.latentDim,
      withLatents,
      where: `${context.where}.step`,
    });
  }
  if (context.reference) return liveReference(context.reference, batch, withLatents);
  return null;
}

/** The tensors the non-finite guard checks: policy and reference log-probs and latents. */
function finitenessChecks(
  policyChosen: { logps: tf.Tensor; hidden: tf.Tensor },
  policyRejected: { logps: tf.Tensor; hidden: tf.Tensor },
  reference: ReferenceOutputs,
): tf.Tensor[] {
  const hidden = reference.hidden as NonNullable<ReferenceOutputs['hidden']>;
  return [
    policyChosen.logps,
    policyRejected.logps,
    reference.logps.chosen,
    reference.logps.rejected,
    policyChosen.hidden,
    policyRejected.hidden,
    hidden.chosen,
    hidden.rejected,
  ];
}

/** Whether every value of every tensor is finite (one read-back). */
function allFinite(tensors: readonly tf.Tensor[]): boolean {
  const flag = tf.tidy(() => tf.all(tf.stack(tensors.map((x) => tf.all(tf.isFinite(x))))));
  const ok = flag.dataSync()[0] === 1;
  flag.dispose();
  return ok;
}

/** One discriminator step at the policy's learning rate × the discriminator ratio. */
function discriminatorStep(
  context: StepContext,
  regularizer: GanpoRegularizer,
  batch: PreferenceBatch,
  learningRate: number,
  policyChosen: tf.Tensor3D,
  policyRejected: tf.Tensor3D,
  referenceHidden: { chosen: tf.Tensor3D; rejected: tf.Tensor3D },
): DiscriminatorLosses {
  if (context.discriminatorLearningRateRatio !== null) {
    (regularizer.optimizer as AdamW).learningRate = learningRate * context.discriminatorLearningRateRatio;
  }
  return regularizer.discriminatorStep({
    policyChosenLatents: policyChosen,
    policyRejectedLatents: policyRejected,
    referenceChosenLatents: referenceHidden.chosen,
    referenceRejectedLatents: referenceHidden.rejected,
    chosenMask: batch.chosen.attentionMask,
    rejectedMask: batch.rejected.attentionMask,
  });
}

/** Rows `start … start+size` of one side of a batch (new tensors). */
function sliceSide(side: CollatedSequences, start: number, size: number): CollatedSequences {
  return {
    inputIds: tf.slice(side.inputIds, start, size),
    attentionMask: tf.slice(side.attentionMask, start, size),
    completionMask: tf.slice(side.completionMask, start, size),
    completionLengths: tf.slice(side.completionLengths, start, size),
  };
}

interface MicroBatch {
  batch: PreferenceBatch;
  start: number;
  size: number;
  reference: ReferenceOutputs | null;
  /** k = 1 with GANPO: the discriminator step to run on the pass's own (detached) latents. */
  fusedDiscriminatorStep: ((policyChosen: tf.Tensor3D, policyRejected: tf.Tensor3D) => void) | null;
}

/**
 * The gradient of (preference + λ·L_reg)/k on one micro-batch and its statistics, or `null`
 * when the fused finiteness guard or discriminator step refused the batch (nothing changed).
 */
function microBatchGradients(
  context: StepContext,
  micro: MicroBatch,
): { grads: tf.Tensor[]; statistics: StepStatistics } | null {
  const k = context.gradientAccumulationSteps;
  const variables = context.policy.trainableVariables;
  let abandoned = false;
  const out = tf.tidy(() => {
    const slice = <T extends tf.Tensor>(x: T): T => tf.slice(x, micro.start, micro.size) as T;
    const chosen = sliceSide(micro.batch.chosen, micro.start, micro.size);
    const rejected = sliceSide(micro.batch.rejected, micro.start, micro.size);
    const reference = micro.reference;
    const referenceLogps = reference
      ? { chosen: slice(reference.logps.chosen), rejected: slice(reference.logps.rejected) }
      : null;
    const monitor: tf.Tensor1D[] = [];
    // Inside the tape, value checks would throw on a NaN batch and strand the tape's tensors (tfjs
    // does not clean up after a throwing gradient function); the trainer checks finiteness itself
    // (the probe / fused check before the D step, the gradient norm before the update).
    const level = getValidationLevel() === 'full' ? 'shapes' : getValidationLevel();
    // A user model that throws inside the pass would strand the tape and every tensor it saved: the
    // error is caught, the pass ends with a connected zero, and the error is rethrown afterwards.
    let failure: { error: unknown } | null = null;
    const { value, grads } = tf.variableGrads(() => {
      try {
        return withValidationLevel(level, () => {
          const policyChosen = forwardSide(context.policy, chosen, context.policyTraining);
          const policyRejected = forwardSide(context.policy, rejected, context.policyTraining);
          if (micro.fusedDiscriminatorStep && reference?.hidden) {
            // Nothing has changed yet when either check fails; a connected zero ends the pass.
            const abandon = (): tf.Scalar => {
              abandoned = true;
              return connectedZero([policyChosen.logps, policyRejected.logps]);
            };
            if (!allFinite(finitenessChecks(policyChosen, policyRejected, reference))) return abandon();
            // The D step (its own variableGrads) on detached latents, with this tape paused: recorded
            // here it would only add kernels and memory (its results are constants for this gradient).
            const step = micro.fusedDiscriminatorStep;
            const [detachedChosen, detachedRejected] = [
              stopGradient(policyChosen.hidden),
              stopGradient(policyRejected.hidden),
            ];
            try {
              outsideTape(() => step(detachedChosen, detachedRejected));
            } catch (e) {
              // A non-finite discriminator loss: refused before the D optimizer step.
              if (e instanceof GanpoError && e.code === 'NON_FINITE') return abandon();
              throw e;
            }
          }
          // The latent terms compare each policy latent with its sequence's reference latent.
          const referenceHidden = reference?.hidden
            ? { chosen: slice(reference.hidden.chosen), rejected: slice(reference.hidden.rejected) }
            : null;
          const { total, statistics } = microBatchLoss(context, policyChosen, policyRejected, {
            chosen,
            rejected,
            referenceLogps,
            referenceHidden,
          });
          monitor.push(tf.keep(statistics));
          return tf.div(total, k) as tf.Scalar;
        });
      } catch (error) {
        failure = { error };
        return connectedZero(variables);
      }
    }, variables);
    value.dispose();
    if (failure !== null) {
      tf.dispose([...Object.values(grads), ...monitor]);
      throw (failure as { error: unknown }).error;
    }
    if (abandoned) {
      tf.dispose(Object.values(grads));
      return { grads: [] as tf.Tensor[], monitor: tf.zeros([0]) };
    }
    return {
      grads: variables.map((v) => grads[v.name] as tf.Tensor),
      monitor: monitor[0] as tf.Tensor,
    };
  });
  if (abandoned) {
    out.monitor.dispose();
    return null;
  }
  const statistics = namedStatistics(out.monitor.dataSync());
  out.monitor.dispose();
  return { grads: out.grads, statistics };
}

/**
 * The micro-batch objective (preference, plus λ·L_reg with GANPO or the anchor) and its statistics
 * stacked in {@link STEP_STATISTICS} order (the regularizer loss is NaN without a regularizer).
 */
function microBatchLoss(
  context: StepContext,
  policyChosen: SideOutputs,
  policyRejected: SideOutputs,
  sides: {
    chosen: CollatedSequences;
    rejected: CollatedSequences;
    referenceLogps: { chosen: tf.Tensor1D; rejected: tf.Tensor1D } | null;
    referenceHidden: { chosen: tf.Tensor3D; rejected: tf.Tensor3D } | null;
  },
): { total: tf.Scalar; statistics: tf.Tensor1D } {
  const preference = objectiveLoss(context.objective, {
    policy: {
      chosen: policyChosen.logps,
      rejected: policyRejected.logps,
      chosenMean: policyChosen.mean,
      rejectedMean: policyRejected.mean,
    },
    reference: sides.referenceLogps,
    lengths: { chosen: sides.chosen.completionLengths, rejected: sides.rejected.completionLengths },
  });
  let total: tf.Scalar = preference.loss;
  let regularizerLoss: tf.Scalar = tf.scalar(Number.NaN);
  const latents = sides.referenceHidden
    ? {
        policyChosenLatents: policyChosen.hidden,
        policyRejectedLatents: policyRejected.hidden,
        referenceChosenLatents: sides.referenceHidden.chosen,
        referenceRejectedLatents: sides.referenceHidden.rejected,
        chosenMask: sides.chosen.attentionMask,
        rejectedMask: sides.rejected.attentionMask,
      }
    : null;
  // The models' outputs are the trainer's inputs: checked here once (shapes: this runs inside the
  // gradient tape), then the latent terms run unchecked.
  if (latents)
    validateLatentBatch(`${context.where}.trainStep`, latents, context.latentDim, 'model.latentDim');
  if (context.regularizer && latents) {
    const ganpo = ganpoObjectiveCore(
      `${context.where}.trainStep`,
      context.regularizer,
      preference.loss,
      latents,
    );
    total = ganpo.loss;
    regularizerLoss = ganpo.regularizerLoss;
  } else if (context.latentPenalty !== null && latents) {
    const { kind, weight } = context.latentPenalty;
    regularizerLoss = kind === 'anchor' ? latentAnchorCore(latents) : latentMmdCore(latents);
    total = tf.add(preference.loss, tf.mul(regularizerLoss, weight)) as tf.Scalar;
  }
  const statistics = tf.stack([
    ...preferenceStatistics(preference, policyChosen.logps, policyRejected.logps),
    policyChosen.logitsMean,
    policyRejected.logitsMean,
    regularizerLoss,
  ]) as tf.Tensor1D;
  return { total, statistics };
}
/** `sum + grads` element-wise (or `grads` for the first micro-batch); frees the inputs. */
function accumulate(sum: tf.Tensor[] | null, grads: tf.Tensor[]): tf.Tensor[] {
  if (sum === null) return grads;
  const next = sum.map((g, i) => tf.add(g, grads[i] as tf.Tensor));
  tf.dispose([...sum, ...grads]);
  return next;
}

/**
 * Clips the summed gradient and, when its norm is finite, applies one AdamW step at `learningRate`.
 * Frees `grads`.
 *
 * @returns the gradient norm before clipping (not finite = the update was skipped).
 */
function applyPolicyUpdate(context: StepContext, grads: tf.Tensor[], learningRate: number): number {
  const clipped = clipGradNorm(grads, context.maxGradNorm ?? Number.MAX_VALUE);
  tf.dispose(grads);
  const gradNorm = clipped.totalNorm.dataSync()[0] as number;
  clipped.totalNorm.dispose();
  if (!Number.isFinite(gradNorm)) {
    tf.dispose(clipped.grads);
    return gradNorm;
  }
  const named: tf.NamedTensorMap = {};
  context.policy.trainableVariables.forEach((v, i) => {
    named[v.name] = clipped.grads[i] as tf.Tensor;
  });
  context.optimizer.learningRate = learningRate;
  context.optimizer.applyGradients(named);
  tf.dispose(clipped.grads);
  return gradNorm;
}
