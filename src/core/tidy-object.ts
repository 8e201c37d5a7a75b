import * as tf from '@tensorflow/tfjs-core';

/**
 * Internal: `tf.tidy` for functions returning a typed object of tensors. tfjs types `tidy` with
 * `TensorContainer`, which interfaces without an index signature do not satisfy; the runtime
 * behaviour (keep every tensor reachable from the result, dispose the rest) is the same.
 */
export function tidyObject<T extends object>(fn: () => T): T {
  return tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as T;
}
