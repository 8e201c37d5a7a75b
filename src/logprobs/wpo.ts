import * as tf from '@tensorflow/tfjs-core';
import { assertArgs, assertFinite, assertRank, assertSameLength } from '../core/validate';
import { stopGradient } from '../ops/stop-gradient';
import {
  type CausalLogProbsArgs,
  type SequenceLogProbsArgs,
  shiftForCausal,
  validateSequenceArgs,
} from './sequence-log-probs';

/**
 * Per-sequence WPO log-weight (Weighted Preference Optimization, Zhou et al. 2024, arXiv 2406.11827,
 * eq. 2, as TRL's `use_weighting`): the mask-averaged log-probability of each token *relative to the
 * policy's own sampling distribution*,
 *
 *     w[b] = Σ_t mask[b,t] · (log p(y_t) − log Σ_v p(v)²) / max(Σ_t mask[b,t], 1)
 *
 * computed without gradient (the weight is a constant, as under TRL's `torch.no_grad()`). Accepts
 * either the {@link sequenceLogProbs} arguments (`labels`, `mask`, no shift) or the
 * {@link causalLogProbs} ones (`inputIds`, `lossMask`, shifted). TRL divides by the raw token count; we
 * clamp it to 1 so rows without response tokens give weight 0 instead of NaN.
 *
 * @returns log-weights [B] (no gradient). Combine a pair with {@link wpoWeights}.
 */
export function wpoLogWeights(args: SequenceLogProbsArgs | CausalLogProbsArgs): tf.Tensor1D {
  validateSequenceArgs('wpoLogWeights', args);
  return tf.tidy(() => {
    const logits = stopGradient(args.logits);
    let labels: tf.Tensor2D;
    let mask: tf.Tensor2D;
    if ('inputIds' in args) {
      ({ labels, shiftedMask: mask } = shiftForCausal(args.inputIds, args.lossMask));
    } else {
      labels = args.labels;
      mask = tf.cast(args.mask, 'float32') as tf.Tensor2D;
    }
    const vocab = logits.shape[2];
    const lse = tf.logSumExp(logits, -1);
    // log Σ p² = logsumexp(2·logits) − 2·lse: no [B,T,V] log-softmax is needed.
    const lse2 = tf.logSumExp(tf.mul(logits, 2), -1);
    const picked = tf.sum(tf.mul(logits, tf.cast(tf.oneHot(labels, vocab), 'float32')), -1);
    const adjusted = tf.add(tf.sub(picked, lse2), lse); // (picked − lse) − (lse2 − 2·lse)
    const count = tf.maximum(tf.sum(mask, 1), 1);
    return tf.div(tf.sum(tf.mul(adjusted, mask), 1), count) as tf.Tensor1D;
  });
}

/**
 * WPO pair weight, TRL's `policy_weights = clamp(exp(w_chosen + w_rejected), max=1)`; multiply the
 * per-pair preference losses by it (`dpoLoss({ weights })`).
 *
 * @param args - the two log-weights:
 * @param args.chosenLogWeights - {@link wpoLogWeights} of the chosen responses [B].
 * @param args.rejectedLogWeights - {@link wpoLogWeights} of the rejected responses [B].
 * @returns weights in (0, 1], [B], no gradient.
 */
export function wpoWeights(args: {
  chosenLogWeights: tf.Tensor1D;
  rejectedLogWeights: tf.Tensor1D;
}): tf.Tensor1D {
  const where = 'wpoWeights';
  assertArgs(where, args, '{ chosenLogWeights, rejectedLogWeights }');
  const { chosenLogWeights, rejectedLogWeights } = args;
  assertRank(where, 'chosenLogWeights', chosenLogWeights, 1);
  assertRank(where, 'rejectedLogWeights', rejectedLogWeights, 1);
  assertSameLength(where, [
    ['chosenLogWeights', chosenLogWeights],
    ['rejectedLogWeights', rejectedLogWeights],
  ]);
  assertFinite(where, 'chosenLogWeights', chosenLogWeights);
  assertFinite(where, 'rejectedLogWeights', rejectedLogWeights);
  return tf.tidy(() =>
    stopGradient(tf.minimum(tf.exp(tf.add(chosenLogWeights, rejectedLogWeights)), 1) as tf.Tensor1D),
  );
}
