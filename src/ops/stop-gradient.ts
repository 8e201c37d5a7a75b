import * as tf from '@tensorflow/tfjs-core';
import { assertTensor } from '../core/validate';

/**
 * Identity in the forward pass, zero gradient in the backward pass (PyTorch's `x.detach()`,
 * JAX's `lax.stop_gradient`). tfjs has no such op.
 *
 * The `clone` is required: `customGrad` must return a new tensor, and returning `x` itself makes
 * tfjs route the gradient through the original op.
 *
 * @param x - any float tensor.
 * @returns a new tensor equal to `x` whose gradient is zero.
 *
 * @example
 * ```ts
 * // d/dx of x·stopGradient(x) is x (the second factor is a constant), not 2x
 * const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, stopGradient(x))));
 * ```
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  assertTensor('stopGradient', 'x', x);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
  }));
  return f(x) as T;
}
