import * as tf from '@tensorflow/tfjs-core';

/**
 * `tf.variable(init, trainable, name)` that then disposes `init`: the variable holds its own copy of
 * the data, and the initial tensor would otherwise stay alive (a leak that outlives the variable's
 * `dispose()`). `init` is disposed even when the variable cannot be made (a duplicate name).
 */
export function ownedVariable<R extends tf.Rank>(
  init: tf.Tensor<R>,
  trainable: boolean,
  name?: string,
): tf.Variable<R> {
  try {
    return tf.variable(init, trainable, name);
  } finally {
    init.dispose();
  }
}
