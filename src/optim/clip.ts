import * as tf from '@tensorflow/tfjs-core';
import { argumentError } from '../core/errors';
import { assertNumber } from '../core/validate';

// tf.norm accepts only p ∈ {1, 2, ∞}; PyTorch accepts any p.
function pNorm(x: tf.Tensor, p: number): tf.Tensor {
  if (p === 2) return tf.sqrt(tf.sum(tf.square(x)));
  if (p === 1) return tf.sum(tf.abs(x));
  return tf.pow(tf.sum(tf.pow(tf.abs(x), p)), 1 / p);
}

/** Options of {@link clipGradNorm}. @inline */
export interface ClipGradNormOptions {
  /** p of the norm: a number ≥ 1 or `Infinity` (max-abs). Default 2 (PyTorch). */
  normType?: number;
  /**
   * Throw when the total norm is NaN or ±Infinity instead of scaling by it (one read-back).
   * Default false (PyTorch 1.13's default).
   */
  errorIfNonfinite?: boolean;
}

/** What {@link clipGradNorm} returns; the caller owns every tensor. @inline */
export interface ClipGradNormResult<G> {
  /** The scaled gradients, same keys / order as the input (new tensors; the input is not disposed). */
  grads: G;
  /** The total norm of the gradients *before* clipping (PyTorch's return value), a scalar. */
  totalNorm: tf.Scalar;
}

/**
 * Global-norm gradient clipping with `torch.nn.utils.clip_grad_norm_` semantics:
 *
 *     total = ‖(‖g₁‖_p, …, ‖g_k‖_p)‖_p        (max |g| for p = ∞)
 *     scale = min(maxNorm / (total + 1e-6), 1)
 *     gᵢ ← gᵢ · scale
 *
 * Note the 1e-6 in the denominator (so even gradients just under `maxNorm` are not touched, and
 * gradients are always multiplied, by exactly 1 when small) — unlike TensorFlow's
 * `clip_by_global_norm`, which divides by max(total, maxNorm).
 *
 * @param grads - a name → gradient map (as from `tf.variableGrads`) or an array of gradients.
 * @param maxNorm - the largest allowed total norm, > 0.
 * @returns `{ grads, totalNorm }`; an empty input gives `totalNorm` 0 (as PyTorch).
 * @throws GanpoError on a bad `maxNorm` / `normType`, a non-tensor gradient, or (with
 *   `errorIfNonfinite`) a non-finite total norm.
 * @see https://pytorch.org/docs/1.13/generated/torch.nn.utils.clip_grad_norm_.html
 */
export function clipGradNorm<G extends tf.NamedTensorMap | tf.Tensor[]>(
  grads: G,
  maxNorm: number,
  options: ClipGradNormOptions = {},
): ClipGradNormResult<G> {
  const where = 'clipGradNorm';
  assertNumber(where, 'maxNorm', maxNorm, { greaterThan: 0 });
  const p = options.normType ?? 2;
  if (p !== Number.POSITIVE_INFINITY) assertNumber(where, 'normType', p, { min: 1 });
  if (grads === null || typeof grads !== 'object') {
    throw argumentError(
      'INVALID_ARGUMENT',
      where,
      'grads',
      'a name → tensor map or a tensor array',
      String(grads),
    );
  }
  const keys = Array.isArray(grads) ? grads.map((_, i) => String(i)) : Object.keys(grads);
  const list = Array.isArray(grads) ? grads : keys.map((k) => (grads as tf.NamedTensorMap)[k]);
  list.forEach((g, i) => {
    if (!(g instanceof tf.Tensor) || g.isDisposed) {
      throw argumentError('INVALID_ARGUMENT', where, `grads.${keys[i]}`, 'a live tensor', String(g));
    }
  });
  const tensors = list as tf.Tensor[];
  const result = tf.tidy(() => {
    if (tensors.length === 0) return { totalNorm: tf.scalar(0), scaled: [] as tf.Tensor[] };
    const totalNorm =
      p === Number.POSITIVE_INFINITY
        ? tf.max(tf.stack(tensors.map((g) => tf.max(tf.abs(g)))))
        : pNorm(tf.stack(tensors.map((g) => pNorm(g, p))), p);
    const scale = tf.minimum(tf.div(maxNorm, tf.add(totalNorm, 1e-6)), 1);
    return { totalNorm: totalNorm as tf.Scalar, scaled: tensors.map((g) => tf.mul(g, scale)) };
  });
  if (options.errorIfNonfinite) {
    const total = result.totalNorm.dataSync()[0] as number;
    if (!Number.isFinite(total)) {
      tf.dispose([result.totalNorm, ...result.scaled]);
      throw argumentError('NON_FINITE', where, 'grads', `a finite total norm of order ${p}`, String(total));
    }
  }
  const out = Array.isArray(grads)
    ? result.scaled
    : Object.fromEntries(keys.map((k, i) => [k, result.scaled[i] as tf.Tensor]));
  return { grads: out as G, totalNorm: result.totalNorm };
}
