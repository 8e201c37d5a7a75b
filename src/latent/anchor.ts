import * as tf from '@tensorflow/tfjs-core';
import { stopGradient } from '../ops/stop-gradient';
import type { LatentBatch } from './batch';
import { checkedLatentLoss, perSideMean } from './per-side';

/** Guards the denominator of {@link latentAnchorLoss} against an all-zero (or fully masked) reference. */
export const ANCHOR_EPSILON = 1e-12;

/**
 * The relative squared drift of one side, Σ m‖h_θ − h_ref‖² / max(Σ m‖h_ref‖², ε), as a scalar.
 * Unchecked core of {@link latentAnchorLoss}; call inside a tidy.
 */
function sideDrift(policy: tf.Tensor3D, reference: tf.Tensor3D, mask: tf.Tensor2D | undefined): tf.Scalar {
  const ref = stopGradient(reference);
  let num: tf.Tensor = tf.sum(tf.square(tf.sub(policy, ref)), -1);
  let den: tf.Tensor = tf.sum(tf.square(ref), -1);
  if (mask !== undefined) {
    const m = tf.cast(mask, 'float32');
    num = tf.mul(num, m);
    den = tf.mul(den, m);
  }
  return tf.div(tf.sum(num), tf.maximum(tf.sum(den), ANCHOR_EPSILON)) as tf.Scalar;
}

/**
 * Unchecked core of {@link latentAnchorLoss} (arguments already validated). Call inside a tidy or
 * a gradient function.
 */
export function latentAnchorCore(batch: LatentBatch): tf.Scalar {
  return perSideMean(batch, sideDrift);
}

/**
 * A paired latent anchor, the simplest regularizer that uses the information GANPO's default
 * generator uses (the reference latents of the same sequences), with no critic: the relative
 * squared distance of the policy's latents from the reference's, masked, averaged over the chosen
 * and rejected sides,
 *
 *     anchor = ½ Σ_side  Σ_{b,t} m_bt ‖h_θ,bt − h_ref,bt‖²  /  max(Σ_{b,t} m_bt ‖h_ref,bt‖², ε)
 *
 * (m the attention mask, all ones without one; ε = 1e-12 guards an all-zero reference). Dividing
 * by the reference's own squared norm makes it scale-free, so one weight λ fits any latent width
 * and scale: 0 while the policy equals its reference, 1 when the policy's latents are as far from
 * the reference's as the reference's are from 0. The denominator is a constant (no gradient flows
 * into the reference latents). It is the drift statistic `ganpo/drift` of the trainer's metrics,
 * made a loss. Add it to a preference loss with a weight λ:
 * `loss = L_pref + λ · latentAnchorLoss(batch)`; the trainer does so with
 * `regularizer: { kind: 'anchor', weight: λ }`.
 *
 * Shapes: see {@link LatentBatch} (B ≥ 1; the two sides may have different lengths).
 *
 * @returns a scalar the caller owns, differentiable w.r.t. the policy latents.
 * @throws GanpoError on bad latents or masks (rank 3, one width, one batch size, policy and
 *   reference of one side of one length, masks [B,T] of 0/1, finite values).
 * @see GANPO (arXiv 2601.22083), whose latent regularizer this baseline tests: the same reference
 *   latents, compared pair by pair instead of through a critic.
 */
export function latentAnchorLoss(batch: LatentBatch): tf.Scalar {
  return checkedLatentLoss('latentAnchorLoss', batch, latentAnchorCore);
}
