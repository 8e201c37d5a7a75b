import * as tf from '@tensorflow/tfjs-core';
import { stopGradient } from '../ops/stop-gradient';
import type { LatentBatch } from './batch';
import { checkedLatentLoss, perSideMean } from './per-side';

/** Guards the kernel scale of {@link latentMmdLoss} against an all-zero (or fully masked) reference. */
export const MMD_EPSILON = 1e-12;

/**
 * Bandwidths of the kernel mixture, in units of the reference latents' mean squared norm: three
 * Gaussian kernels spanning a factor 20 around the reference's own scale (a mixture of bandwidths
 * instead of one tuned width, as in Li et al. 2015, arXiv 1502.02761).
 */
export const MMD_BANDWIDTHS: readonly number[] = Object.freeze([0.1, 0.5, 2]);

/** Pairwise squared distances [N, M] of the rows of a [N, H] and b [M, H], at least 0. */
function squaredDistances(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const aa = tf.sum(tf.square(a), -1, true);
  const bb = tf.reshape(tf.sum(tf.square(b), -1), [1, -1]);
  return tf.relu(tf.sub(tf.add(aa, bb), tf.mul(tf.matMul(a, b, false, true), 2))) as tf.Tensor2D;
}

/** wᵀ K w with K = the kernel mixture on squared distances `d` at scale s². */
function weightedKernel(d: tf.Tensor2D, scale: tf.Scalar, w: tf.Tensor1D, v: tf.Tensor1D): tf.Scalar {
  const k = tf.div(
    tf.addN(MMD_BANDWIDTHS.map((c) => tf.exp(tf.neg(tf.div(d, tf.mul(scale, c)))))),
    MMD_BANDWIDTHS.length,
  );
  return tf.sum(tf.mul(tf.matMul(tf.reshape(w, [1, -1]), k), tf.reshape(v, [1, -1]))) as tf.Scalar;
}

/**
 * Squared MMD of one side between the policy's and the reference's latent vectors, every unmasked
 * position a sample with weight m/Σm. The self-distances of a set are 0 on the diagonal exactly
 * (the expansion ‖a‖² + ‖b‖² − 2a·b leaves rounding there). Unchecked; call inside a tidy.
 */
function sideMmd(policy: tf.Tensor3D, reference: tf.Tensor3D, mask: tf.Tensor2D | undefined): tf.Scalar {
  const H = policy.shape[2];
  const p = tf.reshape(policy, [-1, H]) as tf.Tensor2D;
  const r = tf.reshape(stopGradient(reference), [-1, H]) as tf.Tensor2D;
  const m = mask === undefined ? tf.ones([p.shape[0]]) : tf.reshape(tf.cast(mask, 'float32'), [-1]);
  // A fully masked side has no samples: weights 0, MMD² 0.
  const w = tf.div(m, tf.maximum(tf.sum(m), 1)) as tf.Tensor1D;
  const scale = tf.maximum(tf.sum(tf.mul(w, tf.sum(tf.square(r), -1))), MMD_EPSILON) as tf.Scalar;
  const offDiagonal = tf.sub(1, tf.eye(p.shape[0]));
  const self = (x: tf.Tensor2D) => tf.mul(squaredDistances(x, x), offDiagonal) as tf.Tensor2D;
  const pp = weightedKernel(self(p), scale, w, w);
  const rr = weightedKernel(self(r), scale, w, w);
  const pr = weightedKernel(squaredDistances(p, r), scale, w, w);
  return tf.sub(tf.add(pp, rr), tf.mul(pr, 2)) as tf.Scalar;
}

/**
 * Unchecked core of {@link latentMmdLoss} (arguments already validated). Call inside a tidy or a
 * gradient function.
 */
export function latentMmdCore(batch: LatentBatch): tf.Scalar {
  return perSideMean(batch, sideMmd);
}

/**
 * An unpaired latent distribution match with no critic: the squared maximum mean discrepancy
 * between the set of the policy's latent vectors and the set of the reference's (every unmasked
 * position of every sequence one sample; which policy vector came from which sequence is not used),
 * averaged over the chosen and rejected sides,
 *
 *     mmd = ½ Σ_side MMD²(P_side, R_side)
 *     MMD²(P, R) = Σ_ij w_i w_j [k(p_i, p_j) + k(r_i, r_j) − 2 k(p_i, r_j)]
 *     k(x, y) = ⅓ Σ_{c ∈ (0.1, 0.5, 2)} exp(−‖x − y‖² / (c·s²)),   s² = max(Σ_i w_i ‖r_i‖², ε)
 *
 * with w_i = m_i / Σ m (m the attention mask, all ones without one) and ε = 1e-12. It is the
 * biased (V-statistic) MMD² of Gretton et al. 2012 (JMLR 13, "A kernel two-sample test") with a
 * mixture of Gaussian kernels (Li et al. 2015, arXiv 1502.02761): 0 when the two sets coincide,
 * positive otherwise, at most 2. The bandwidths follow the reference latents' mean squared norm s²
 * (a constant, like the reference terms), so one weight λ fits any latent width and scale.
 *
 * GANPO (arXiv 2601.22083) argues for matching the policy's latent distribution to the
 * reference's rather than individual latents; this term does that without a critic, the
 * non-adversarial counterpart of its divergence, where {@link latentAnchorLoss} compares pair by
 * pair. Add it to a preference loss with a weight λ: `loss = L_pref + λ · latentMmdLoss(batch)`;
 * the trainer does so with `regularizer: { kind: 'mmd', weight: λ }`.
 *
 * Shapes: see {@link LatentBatch} (B ≥ 1; the two sides may have different lengths). Cost and
 * memory grow as (B·T)² per side: three [B·T, B·T] kernel matrices.
 *
 * @returns a scalar the caller owns, differentiable w.r.t. the policy latents.
 * @throws GanpoError on bad latents or masks (rank 3, one width, one batch size, policy and
 *   reference of one side of one length, masks [B,T] of 0/1, finite values).
 */
export function latentMmdLoss(batch: LatentBatch): tf.Scalar {
  return checkedLatentLoss('latentMmdLoss', batch, latentMmdCore);
}
