import * as tf from '@tensorflow/tfjs-core';
import { assertArgs, assertTensor } from '../core/validate';
import { validatePairInputs } from './pair-inputs';

/**
 * The SFT / NLL term on chosen tokens as TRL computes it (`nll_loss`, used by `rpo_alpha`, the `sft`
 * loss type and ORPO): cross-entropy averaged over **all** scored tokens of the batch,
 *
 *     nll = −Σ_b sum[b] / max(Σ_b count[b], 1)
 *
 * Pass the chosen responses' {@link sequenceLogProbs} (or causalLogProbs) output. Add it to a
 * preference loss with your weight, e.g. RPO: `dpo.loss + rpoAlpha · nll`.
 *
 * @returns scalar, differentiable w.r.t. `sum`.
 */
export function nllLoss(args: { sum: tf.Tensor1D; count: tf.Tensor1D }): tf.Scalar {
  assertArgs('nllLoss', args, '{ sum, count }');
  const { sum, count } = args;
  // Both are required (validatePairInputs skips missing optional inputs).
  assertTensor('nllLoss', 'sum', sum);
  assertTensor('nllLoss', 'count', count);
  validatePairInputs('nllLoss', [
    ['sum', sum],
    ['count', count],
  ]);
  return tf.tidy(() => tf.div(tf.neg(tf.sum(sum)), tf.maximum(tf.sum(count), 1)) as tf.Scalar);
}
