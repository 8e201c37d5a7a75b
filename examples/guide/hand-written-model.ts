// docs/guide.md, "Your own model": any model as a CausalLM, here one written with plain tensors.
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from 'ganpo';

/** h = tanh(oneHot(ids)·E·W), logits = h·U: the shape of any causal LM's forward. */
export function handWrittenLM(vocabSize: number, latentDim: number): CausalLM & { dispose(): void } {
  const init = (rows: number, cols: number, seed: number) =>
    tf.tidy(() => tf.variable(tf.randomNormal([rows, cols], 0, 0.1, 'float32', seed))); // frees the initial value
  const E = init(vocabSize, latentDim, 1);
  const W = init(latentDim, latentDim, 2);
  const U = init(latentDim, vocabSize, 3);
  return {
    // One pass giving new tensors (the trainer disposes them), computed from the variables so that
    // gradients reach them: no dataSync, no tf.keep.
    forward(inputIds) {
      return tf.tidy(() => {
        const [b, t] = inputIds.shape;
        const oneHot = tf.cast(tf.oneHot(tf.reshape(inputIds, [-1]), vocabSize), 'float32');
        const h = tf.tanh(tf.matMul(tf.matMul(oneHot, E), W));
        const logits = tf.matMul(h, U);
        return {
          logits: tf.reshape(logits, [b, t, vocabSize]) as tf.Tensor3D,
          hidden: tf.reshape(h, [b, t, latentDim]) as tf.Tensor3D,
        };
      });
    },
    // Every variable the forward reads that should train (the trainer logs their parameter count).
    trainableVariables: [E, W, U],
    dispose: () => tf.dispose([E, W, U]),
  };
}
