import * as tf from '@tensorflow/tfjs-core';
import { logSigmoid } from '../ops/log-sigmoid';

/** The f-divergences of Wang et al. 2023 ("Beyond Reverse KL", arXiv 2309.16240), TRL's `f_divergence_type`. */
export type FDivergence = 'reverse_kl' | 'forward_kl' | 'js_divergence' | 'alpha_divergence';

/** Every {@link FDivergence} accepted by `dpoLoss({ fDivergence })`. */
export const F_DIVERGENCES: readonly FDivergence[] = [
  'reverse_kl',
  'forward_kl',
  'js_divergence',
  'alpha_divergence',
];

/** Exponents are capped here before `exp` so float32 stays finite (e^80 ≈ 5.5e34 < 3.4e38). */
export const EXP_CAP = 80;

/**
 * exp(min(x, cap)) with PyTorch's clamp gradient: e^x below the cap, exactly 0 above it. Composing
 * tf.minimum and tf.exp instead multiplies an overflowing upstream gradient by the 0 of the clamp
 * (∞·0 = NaN); here the zero is selected, never multiplied.
 */
export function cappedExp(x: tf.Tensor1D, cap: number = EXP_CAP): tf.Tensor1D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor1D;
    const save = args[1] as tf.GradSaveFunc;
    const value = tf.exp(tf.minimum(input, cap));
    save([input, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, v] = saved as [tf.Tensor, tf.Tensor];
          return tf.where(tf.lessEqual(xs, cap), tf.mul(dy, v), tf.zerosLike(dy));
        }),
    };
  });
  return f(x) as tf.Tensor1D;
}

/**
 * The f-divergence score s = g(u) of a policy/reference log-ratio u, as TRL's
 * `DPOTrainer._compute_loss` (trl/trainer/dpo_trainer.py) computes `chosen_scores`/`rejected_scores`:
 *
 * - `reverse_kl`: g(u) = u (standard DPO)
 * - `forward_kl`: g(u) = −exp(min(−u, 80))
 * - `js_divergence`: g(u) = log σ(u)
 * - `alpha_divergence`: g(u) = exp(min((α−1)u, 80)) / (α−1), and g(u) = u when |α − 1| < 1e-6 (the
 *   limit of the difference g(u_c) − g(u_r)).
 *
 * α is TRL's `f_alpha_divergence_coef` (default 0.5): α = 1 is reverse KL, α = 0 gives −e^{−u},
 * forward KL. TRL clamps the alpha-divergence exponent at 80 in float32; ganpo applies the same cap
 * to `forward_kl`, which TRL leaves unclamped (it only bites at u < −80, where TRL's float32 score
 * is already −∞ and its loss inf or NaN).
 */
export function fDivergenceTransform(u: tf.Tensor1D, divergence: FDivergence, alpha: number): tf.Tensor1D {
  return tf.tidy(() => {
    switch (divergence) {
      case 'reverse_kl':
        return tf.clone(u);
      case 'forward_kl':
        return tf.neg(cappedExp(tf.neg(u) as tf.Tensor1D)) as tf.Tensor1D;
      case 'js_divergence':
        return logSigmoid(u);
      case 'alpha_divergence': {
        const a = alpha - 1;
        if (Math.abs(a) < 1e-6) return tf.clone(u);
        return tf.div(cappedExp(tf.mul(u, a) as tf.Tensor1D), a) as tf.Tensor1D;
      }
    }
  });
}
