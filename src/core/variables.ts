import * as tf from '@tensorflow/tfjs-core';

/**
 * `tf.variable(init, trainable, name)` that then disposes `init`: the variable holds its own copy of
 * the data, and the initial tensor would otherwise stay alive (a leak that outlives the variable's
 * `dispose()`).
 */
export function ownedVariable<R extends tf.Rank>(
  init: tf.Tensor<R>,
  trainable: boolean,
  name?: string,
): tf.Variable<R> {
  const v = tf.variable(init, trainable, name);
  init.dispose();
  return v;
}
