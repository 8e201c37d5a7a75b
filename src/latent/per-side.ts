import * as tf from '@tensorflow/tfjs-core';
import { type LatentBatch, validateLatentBatch } from './batch';

/**
 * A loss of one side's latents: the policy's [B,T,H], the reference's [B,T,H] (a constant) and the
 * side's optional [B,T] mask, to a scalar. Unchecked; called inside a tidy or a gradient function.
 */
export type LatentSideLoss = (
  policy: tf.Tensor3D,
  reference: tf.Tensor3D,
  mask: tf.Tensor2D | undefined,
) => tf.Scalar;

/**
 * ½ (side(chosen) + side(rejected)): the critic-free latent losses weigh the chosen and rejected
 * sides equally. Unchecked (the batch is already validated); call inside a tidy or a
 * gradient function.
 */
export function perSideMean(batch: LatentBatch, side: LatentSideLoss): tf.Scalar {
  const chosen = side(batch.policyChosenLatents, batch.referenceChosenLatents, batch.chosenMask);
  const rejected = side(batch.policyRejectedLatents, batch.referenceRejectedLatents, batch.rejectedMask);
  return tf.mul(tf.add(chosen, rejected), 0.5) as tf.Scalar;
}

/**
 * The public boundary of a critic-free latent loss: validates the batch once under the public
 * function's name `where` (before any tensor is made, so a refusal leaves none), then runs the
 * unchecked `core` in a tidy; the caller owns the scalar returned.
 */
export function checkedLatentLoss(
  where: string,
  batch: LatentBatch,
  core: (batch: LatentBatch) => tf.Scalar,
): tf.Scalar {
  validateLatentBatch(where, batch);
  return tf.tidy(() => core(batch));
}
