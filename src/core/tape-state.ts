import * as tf from '@tensorflow/tfjs-core';

/**
 * Whether tfjs is recording a gradient tape right now (inside `tf.variableGrads`, `tf.grad`, ...),
 * read from `tf.engine().state.gradientDepth` (public in tfjs-core 4.x; false with any other engine
 * layout).
 */
export function insideGradientTape(): boolean {
  const state = (tf.engine() as unknown as { state?: { gradientDepth?: number } }).state;
  return (state?.gradientDepth ?? 0) > 0;
}
