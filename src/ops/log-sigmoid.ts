import * as tf from '@tensorflow/tfjs-core';
import { assertTensor } from '../core/validate';

/**
 * Numerically stable log σ(x) = −softplus(−x), elementwise, differentiable.
 *
 * tfjs 4.22's own `tf.logSigmoid` has a gradient that crashes on intermediate tensors (it does not
 * save its input), so every ganpo loss uses this form. `softplus` is stable for large |x|: at
 * x = −200 the value is −200 and the gradient 1; at x = +200 both are ~0.
 *
 * @param x - float tensor of any shape.
 * @returns log σ(x), same shape.
 */
export function logSigmoid<T extends tf.Tensor>(x: T): T {
  assertTensor('logSigmoid', 'x', x);
  return tf.neg(tf.softplus(tf.neg(x))) as T;
}
