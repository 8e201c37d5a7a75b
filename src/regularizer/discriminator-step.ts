import * as tf from '@tensorflow/tfjs-core';
import { argumentError, GanpoError } from '../core/errors';
import { inCriticUpdate } from '../discriminators/critic-calls';
import type { Discriminator } from '../discriminators/types';
import type { GanLoss } from '../divergence/gan-loss';
import type { LatentBatch } from '../latent/batch';
import { connectedZero } from '../ops/tape';
import { driftSums, readStep } from './diagnostics';
import { scoredSets, scoreSets, sideDiscriminatorLoss } from './discriminator-loss';
import { SIDES, type SixMeans, type SixValues } from './means';
import type { MeanEstimator, PerSide, Scoring } from './types';

/** What a discriminator update needs from its regularizer (read only; the means are previewed). */
export interface DiscriminatorUpdateParts {
  discriminators: Readonly<PerSide<Discriminator>>;
  optimizer: tf.Optimizer;
  means: SixMeans;
  estimator: MeanEstimator;
  ganLoss: GanLoss;
  negatives: boolean;
  /** A discriminator whose loss is below this skips its update (0: never). */
  lossFloor: number;
  scoring: Scoring;
}

/** What one applied discriminator update measured; the caller commits the means. */
export interface DiscriminatorUpdate {
  /** Each discriminator's loss L_D. */
  losses: PerSide<number>;
  /** This batch's six set means. */
  batchMeans: SixValues;
  /** The means after this batch (what {@link SixMeans.commit} stores). */
  pendingMeans: SixValues;
  /** Per-side critic accuracy of this batch. */
  accuracy: PerSide<number>;
  /** The latent drift ratio of this batch. */
  drift: number;
}

/**
 * One optimizer step on both discriminators minimising L_D(chosen) + L_D(rejected) on already
 * checked latents: score the three sets per discriminator in training mode (`scoring`: one call
 * per set in the official order, or one call per critic on the concatenated sets),
 * preview the means with this batch, differentiate, and apply the gradients only when both losses
 * are finite, except those of a discriminator whose loss is below `lossFloor` (it keeps its weights
 * and optimizer state this step). The means are not committed here.
 *
 * A failure inside the gradient pass (e.g. NaN scores from diverged weights) ends the pass with a
 * connected zero and is rethrown once the tape is released (see `connectedZero`); a non-finite loss
 * is refused before the optimizer step. Either way no optimizer state changes and no tensor is left
 * behind (the spectral-norm power iteration of the forward has already moved u and v).
 *
 * @throws GanpoError `NON_FINITE` naming `loss` for non-finite scores or losses.
 */
export function discriminatorUpdate(
  where: string,
  parts: DiscriminatorUpdateParts,
  args: LatentBatch,
): DiscriminatorUpdate {
  // The latents are constants here: only the critics' weights are differentiated.
  return inCriticUpdate(() => applyUpdate(where, parts, args));
}

function applyUpdate(where: string, parts: DiscriminatorUpdateParts, args: LatentBatch): DiscriminatorUpdate {
  const {
    policyChosenLatents,
    policyRejectedLatents,
    referenceChosenLatents,
    referenceRejectedLatents,
    chosenMask,
    rejectedMask,
  } = args;
  const sets = scoredSets(args);
  // The batch means and the means this step would commit (committed only once the loss is finite).
  const previewed = { batch: null as SixValues | null, pending: null as SixValues | null };
  // Diagnostics from the latents this step already has, read back with the batch means.
  const drift = tf.tidy(() =>
    tf.concat([
      driftSums(policyChosenLatents, referenceChosenLatents, chosenMask),
      driftSums(policyRejectedLatents, referenceRejectedLatents, rejectedMask),
    ]),
  ) as tf.Tensor1D;
  const measured = { accuracy: { chosen: 0, rejected: 0 }, drift: 0 };
  const lossParts: tf.Scalar[] = [];
  const variables = [
    ...parts.discriminators.chosen.trainableVariables,
    ...parts.discriminators.rejected.trainableVariables,
  ];
  const computeLoss = (): tf.Scalar => {
    const scores = scoreSets(parts.discriminators, sets, parts.negatives ? [] : ['opposite'], parts.scoring);
    const { batchMeans, accuracy, driftRatio } = readStep(scores, drift);
    measured.accuracy = accuracy;
    measured.drift = driftRatio;
    const means = parts.means.preview(batchMeans);
    previewed.batch = batchMeans;
    previewed.pending = means;
    const sideLosses = SIDES.map((side) =>
      // 'batch': means omitted, so the losses use the batch means with gradient (RaGAN).
      sideDiscriminatorLoss(scores[side], parts.estimator === 'ema' ? means[side] : undefined, {
        ganLoss: parts.ganLoss,
        negatives: parts.negatives,
      }),
    );
    for (const p of sideLosses) lossParts.push(tf.keep(p));
    return tf.add(sideLosses[0] as tf.Scalar, sideLosses[1] as tf.Scalar) as tf.Scalar;
  };
  let failure: unknown;
  const { value, grads } = tf.variableGrads(() => {
    try {
      return computeLoss();
    } catch (e) {
      failure = e;
      return connectedZero(variables);
    }
  }, variables);
  drift.dispose();
  if (failure !== undefined) {
    tf.dispose([value, ...lossParts, ...Object.values(grads)]);
    if (failure instanceof GanpoError && failure.code === 'NON_FINITE') {
      throw argumentError(
        'NON_FINITE',
        where,
        'loss',
        'finite discriminator scores and losses',
        failure.message,
      );
    }
    throw failure;
  }

  const losses = lossParts.map((p) => p.dataSync()[0] as number);
  tf.dispose(lossParts);
  value.dispose();
  if (!losses.every(Number.isFinite)) {
    tf.dispose(grads);
    throw argumentError(
      'NON_FINITE',
      where,
      'loss',
      'finite discriminator losses',
      `chosen ${losses[0]}, rejected ${losses[1]}`,
    );
  }
  // A critic already below the loss floor keeps its weights this step (its gradients are dropped).
  SIDES.forEach((side, i) => {
    if ((losses[i] as number) >= parts.lossFloor) return;
    for (const v of parts.discriminators[side].trainableVariables) {
      grads[v.name]?.dispose();
      delete grads[v.name];
    }
  });
  if (Object.keys(grads).length > 0) parts.optimizer.applyGradients(grads);
  tf.dispose(grads);
  return {
    losses: { chosen: losses[0] as number, rejected: losses[1] as number },
    batchMeans: previewed.batch as SixValues,
    pendingMeans: previewed.pending as SixValues,
    accuracy: measured.accuracy,
    drift: measured.drift,
  };
}
